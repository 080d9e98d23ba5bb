/**
 * Rebuilds with the real lifecycle: what a buildpack finds in its layers directory on the
 * next build, and what a failed, interrupted or concurrent rebuild does to the environment and
 * the buildpack cache. The counting fixture buildpack counts its builds in two cached layers
 * (build-only and launch) and appends its process type to launch.toml as the CNB samples do.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { denoArgs, REPO, runLocald, spawnLocald, testEnv } from "./support/locald.ts";
import { lifecycleDir } from "./support/tools.ts";
import { startRegistry } from "./support/registry.ts";
import { appDir, pushImages } from "./support/image_fixture.ts";

const COUNTING_BP = join(REPO, "tests/fixtures/buildpacks/counting");

async function counting() {
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  const app = join(t.root, "My App");
  await Deno.mkdir(app);
  await Deno.writeTextFile(join(app, "main.txt"), "hello\n");
  const build = (...args: string[]) =>
    runLocald(["build", "-C", app, "-b", COUNTING_BP, "--force", ...args], { env: t.env });
  const count = async () => {
    const r = await runLocald(["exec", "-C", app, "--", "count-tool"], { env: t.env });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  return { ...t, app, build, count };
}

Deno.test("a buildpack that appends to launch.toml builds again and again with one process type", async () => {
  const f = await counting();
  try {
    for (let i = 1; i <= 3; i++) {
      const b = await f.build("--json");
      assert.equal(b.code, 0, b.stderr);
      // deno-lint-ignore no-explicit-any
      const processes = (b.json as any).processes;
      assert.deepEqual(processes.map((p: { type: string }) => p.type), ["web"]);
      assert.equal(await f.count(), `counter=${i} bcache=${i}`);
    }
    const r = await runLocald(["run", "-C", f.app], { env: f.env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "counter=3 bcache=3");
  } finally {
    await f.cleanup();
  }
});

Deno.test("a rebuild that fails in a buildpack keeps the last good environment and its cache", async () => {
  const f = await counting();
  try {
    for (let i = 0; i < 2; i++) assert.equal((await f.build()).code, 0);
    assert.equal(await f.count(), "counter=2 bcache=2");
    const bad = await f.build("-e", "COUNT_FAIL=1");
    assert.equal(bad.code, 6, bad.stderr);
    // The buildpack counted to 3 before it failed; none of that is kept.
    assert.match(bad.stderr, /counting: counter=3 bcache=3/);
    assert.match(bad.stderr, /hint: a buildpack failed/);
    assert.equal(await f.count(), "counter=2 bcache=2");
    const good = await f.build();
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stderr, /counting: counter=3 bcache=3/);
    assert.equal(await f.count(), "counter=3 bcache=3");
  } finally {
    await f.cleanup();
  }
});

/** Start a slow rebuild; resolves once the buildpack has counted and is waiting. */
async function slowBuild(
  f: Awaited<ReturnType<typeof counting>>,
  seconds: number,
  env: Record<string, string> = f.env,
) {
  const marker = join(f.root, `marker-${crypto.randomUUID()}`);
  const child = spawnLocald([
    "build",
    "-C",
    f.app,
    "-b",
    COUNTING_BP,
    "--force",
    "-e",
    `COUNT_SLEEP=${seconds}`,
    "-e",
    `COUNT_MARKER=${marker}`,
  ], { env });
  const output = child.output();
  for (let i = 0; i < 600; i++) {
    try {
      await Deno.lstat(marker);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await Deno.lstat(marker); // the buildpack got there
  return { child, output };
}

/**
 * Wait until no process started for this test (its command line names the test's root, as the
 * phases' and the buildpack's do) is left: a locald killed outright leaves its phase running.
 */
async function orphansGone(root: string) {
  for (let i = 0; i < 600; i++) {
    const p = await new Deno.Command("pgrep", { args: ["-f", "--", root], stdout: "null" })
      .output();
    if (p.code === 1) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`processes under ${root} still running after 60 s`);
}

Deno.test("a rebuild cut by SIGINT, SIGTERM or SIGHUP keeps the last good environment and its cache", async () => {
  const f = await counting();
  try {
    assert.equal((await f.build()).code, 0);
    let n = 1;
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
      const { child, output } = await slowBuild(f, 3);
      child.kill(sig);
      const r = await output;
      const stderr = new TextDecoder().decode(r.stderr);
      assert.equal(r.code, 130, stderr);
      assert.match(stderr, /build interrupted during the builder phase/);
      // While cut, and after: the last good environment, whole.
      assert.equal(await f.count(), `counter=${n} bcache=${n}`);
      const good = await f.build();
      assert.equal(good.code, 0, good.stderr);
      n++;
      assert.equal(await f.count(), `counter=${n} bcache=${n}`, sig);
    }
    // locald itself killed outright: nothing it could clean up, still the last good state.
    const { child, output } = await slowBuild(f, 2);
    child.kill("SIGKILL");
    await output;
    await orphansGone(f.root); // the orphaned phase and buildpack finish their sleep
    assert.equal(await f.count(), `counter=${n} bcache=${n}`);
    assert.equal((await f.build()).code, 0);
    assert.equal(await f.count(), `counter=${n + 1} bcache=${n + 1}`);
  } finally {
    await f.cleanup();
  }
});

Deno.test("exec keeps working during a rebuild, and a process started before it keeps its tools", async () => {
  const f = await counting();
  try {
    assert.equal((await f.build()).code, 0);
    // Started before the rebuild, uses the environment's tool after the rebuild is done.
    const longRunning = spawnLocald(
      ["exec", "-C", f.app, "--", "bash", "-c", "sleep 6; count-tool"],
      { env: f.env },
    ).output();
    const { output } = await slowBuild(f, 3);
    let done = false;
    const building = output.then((r) => {
      done = true;
      return r;
    });
    const seen: string[] = [];
    while (!done) {
      const r = await runLocald(["exec", "-C", f.app, "--", "count-tool"], { env: f.env });
      assert.equal(r.code, 0, `exec during the rebuild: ${r.stderr}`);
      seen.push(r.stdout.trim());
    }
    assert.equal((await building).code, 0);
    assert.ok(seen.length >= 2, `exec ran ${seen.length} times during the rebuild`);
    // Each exec saw one whole environment: the last good one, then the new one.
    for (const s of seen) assert.match(s, /^counter=(1 bcache=1|2 bcache=2)$/);
    assert.equal(seen[0], "counter=1 bcache=1");
    const lr = await longRunning;
    assert.equal(lr.code, 0, new TextDecoder().decode(lr.stderr));
    assert.equal(new TextDecoder().decode(lr.stdout).trim(), "counter=2 bcache=2");
  } finally {
    await f.cleanup();
  }
});

Deno.test("a build whose output is closed (locald build 2>&1 | head -n 1) finishes and keeps its cache", async () => {
  const f = await counting();
  try {
    assert.equal((await f.build()).code, 0);
    const argv = [
      Deno.execPath(),
      ...denoArgs([
        "build",
        "-C",
        f.app,
        "-b",
        COUNTING_BP,
        "--force",
        // Output keeps coming after head has gone.
        "-e",
        "COUNT_SLEEP=1",
      ]),
    ];
    const script = `${argv.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ")} 2>&1 | head -n 1
echo "exit=\${PIPESTATUS[0]}"`;
    const r = await new Deno.Command("bash", { args: ["-c", script], env: f.env, stdout: "piped" })
      .output();
    const out = new TextDecoder().decode(r.stdout);
    assert.match(out, /exit=0$/m, out);
    assert.equal(await f.count(), "counter=2 bcache=2");
    const again = await f.build();
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await f.count(), "counter=3 bcache=3");
  } finally {
    await f.cleanup();
  }
});

Deno.test("without a mount namespace (no bwrap), failed and cut rebuilds still keep the last good environment", async () => {
  const f = await counting();
  try {
    // Everything on PATH but bwrap: no namespace can be made, so `layers` is renamed instead.
    const bin = join(f.root, "bin-without-bwrap");
    await Deno.mkdir(bin);
    for await (const e of Deno.readDir("/usr/bin")) {
      if (e.name !== "bwrap") await Deno.symlink(join("/usr/bin", e.name), join(bin, e.name));
    }
    const noNs = { ...f.env, PATH: bin };
    const layers = async () => {
      const b = await f.build("--json");
      assert.equal(b.code, 0, b.stderr);
      // deno-lint-ignore no-explicit-any
      return await Deno.lstat(join((b.json as any).stateDir, "layers"));
    };
    assert.ok((await layers()).isSymlink, "with bwrap: a link to the generation");
    const run = (...args: string[]) =>
      runLocald(["build", "-C", f.app, "-b", COUNTING_BP, "--force", ...args], { env: noNs });
    const bad = await run("-e", "COUNT_FAIL=1");
    assert.equal(bad.code, 6, bad.stderr);
    assert.equal(await f.count(), "counter=1 bcache=1");
    const { child, output } = await slowBuild(f, 3, noNs);
    child.kill("SIGTERM");
    assert.equal((await output).code, 130);
    assert.equal(await f.count(), "counter=1 bcache=1");
    // Killed outright mid-build: the next build puts the last good layers back first.
    const killed = await slowBuild(f, 2, noNs);
    killed.child.kill("SIGKILL");
    await killed.output;
    await orphansGone(f.root); // the orphaned phase and buildpack finish their sleep
    const good = await run("--json");
    assert.equal(good.code, 0, good.stderr);
    // deno-lint-ignore no-explicit-any
    const state = (good.json as any).stateDir;
    assert.ok((await Deno.lstat(join(state, "layers"))).isDirectory, "without: the directory");
    assert.equal(await f.count(), "counter=2 bcache=2");
    // And back: the next build with bwrap makes it a generation again, cache and all.
    assert.ok((await layers()).isSymlink);
    assert.equal(await f.count(), "counter=3 bcache=3");
  } finally {
    await f.cleanup();
  }
});

Deno.test("an image build that fails keeps the last image build's layers (a devcontainer's /layers)", async () => {
  const reg = await startRegistry();
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const builder = await pushImages(reg);
    const app = await appDir(t.root);
    const exp = (...args: string[]) =>
      runLocald(["build", "-C", app, "-B", builder, "--export", "--json", ...args], {
        env: t.env,
      });
    const good = await exp();
    assert.equal(good.code, 0, good.stderr);
    // deno-lint-ignore no-explicit-any
    const image = (good.json as any).stateDir; // the image build's state
    const tool = join(image, "layers", "locald-fixtures_image-app", "tool", "bin", "imgtool");
    const record = await Deno.readTextFile(join(image, "build.json"));
    await Deno.lstat(tool);
    const bad = await exp("-e", "IMAGE_APP_FAIL=1");
    assert.equal(bad.code, 6, bad.stderr);
    assert.match(bad.stderr, /image-app: failing on purpose/);
    // The last good image build is still whole: its layers and its record.
    await Deno.lstat(tool);
    assert.equal(await Deno.readTextFile(join(image, "build.json")), record);
    const again = await exp();
    assert.equal(again.code, 0, again.stderr);
    await Deno.lstat(tool);
  } finally {
    await t.cleanup();
    await reg.stop();
  }
});
