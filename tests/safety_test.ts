/**
 * Safety against hostile files and bad input (issue 12): names from files never leave their
 * directory, hostile builders cannot make locald read host files, project paths never reach
 * the launcher's bash as code, --layout-dir never deletes what was there.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { builtFixture, copyApp, fixture, FIXTURE_APP, FIXTURE_BP } from "./support/fixture.ts";
import { REPO, runLocald, spawnLocald, testEnv } from "./support/locald.ts";
import { startMirror } from "./support/mirror.ts";
import { appDir, pushImages } from "./support/image_fixture.ts";
import { lifecycleAsset, lifecycleDir, lifecycleMirrorDir } from "./support/tools.ts";
import { runProcess } from "./support/proc.ts";
import { startRegistry } from "./support/registry.ts";
import { layer, pushImage } from "./support/images.ts";
import { dirs } from "./support/tree.ts";
import { hostPlatform } from "../src/oci/manifest.ts";

const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);

/** One error line, a hint line, no stack trace and no "internal error". */
function oneLineError(stderr: string, message: RegExp) {
  assert.match(stderr, message);
  assert.match(stderr, /\nhint: /);
  assert.doesNotMatch(stderr, /internal error|\n\s+at /);
}

Deno.test("project.toml env names cannot write outside platform/env (traversal, a/b)", async () => {
  const f = await fixture();
  try {
    // platform/env is <LOCALD_HOME>/projects/<name>/platform/env: five levels below f.root.
    const victim = join(f.root, "victim");
    for (const name of ["../../../../../victim", "a/b"]) {
      await Deno.writeTextFile(
        join(f.app, "project.toml"),
        `[_]\nschema-version = "0.2"\n\n[[io.buildpacks.build.env]]\nname = "${name}"\nvalue = "owned"\n`,
      );
      const b = await f.build();
      assert.equal(b.code, 3, b.stderr);
      oneLineError(
        b.stderr,
        /project\.toml:\d+:\d+: io\.buildpacks\.build\.env\[0\]\.name .* is not a variable name/,
      );
      assert.equal(await exists(victim), false, "a file outside platform/env was written");
    }
  } finally {
    await f.cleanup();
  }
});

Deno.test("a buildpack version from buildpack.toml cannot place links outside the state", async () => {
  const f = await fixture();
  try {
    const bp = await copyApp(FIXTURE_BP, f.root, "bp");
    const toml = join(bp, "buildpack.toml");
    // <state>/buildpacks/<id>/<version>: four levels up is f.root's locald home's parent.
    await Deno.writeTextFile(
      toml,
      (await Deno.readTextFile(toml)).replace(
        'version = "1.0.0"',
        'version = "../../../../../planted"',
      ),
    );
    const b = await runLocald(["build", "-C", f.app, "-b", bp], { env: f.env });
    assert.equal(b.code, 3, b.stderr);
    oneLineError(b.stderr, /buildpack version "\.\.\/.*planted" is not a plain name/);
    assert.equal(await exists(join(f.root, "planted")), false, "a link was planted outside");
  } finally {
    await f.cleanup();
  }
});

Deno.test("env values: a NUL byte or 128 KiB are refused with the file and line", async () => {
  const f = await fixture();
  try {
    const file = join(f.root, "build.env");
    await Deno.writeTextFile(file, "GOOD=1\nBAD=a\0b\n");
    const nul = await f.build("--env-file", file);
    assert.equal(nul.code, 3, nul.stderr);
    oneLineError(nul.stderr, /build\.env:2: the value of BAD contains a NUL byte/);
    await Deno.writeTextFile(file, `BIG=${"x".repeat(130 * 1024)}\n`);
    const big = await f.build("--env-file", file);
    assert.equal(big.code, 3, big.stderr);
    oneLineError(big.stderr, /build\.env:1: the value of BIG is \d+ bytes long/);
    assert.ok(big.stderr.length < 2000, "the value itself is not printed");
    await Deno.writeTextFile(
      join(f.app, "project.toml"),
      `[[io.buildpacks.build.env]]\nname = "NUL"\nvalue = "a\\u0000b"\n`,
    );
    const toml = await f.build();
    assert.equal(toml.code, 3, toml.stderr);
    oneLineError(
      toml.stderr,
      /project\.toml:\d+:\d+: io\.buildpacks\.build\.env\[0\]\.value contains a NUL byte/,
    );
  } finally {
    await f.cleanup();
  }
});

Deno.test("a builder whose metadata files are symlinks is refused without reading the targets", async () => {
  const reg = await startRegistry();
  const t = await testEnv();
  try {
    // A host file the hostile builder points at (think /etc/shadow).
    const secret = join(t.root, "shadow");
    await Deno.writeTextFile(secret, "root:$6$SECRET-HASH:19000:0:99999:7:::\nSECRET-LINE-2\n");
    const arch = hostPlatform().architecture;
    const cases: [string, string][] = [
      ["run", "cnb/run.toml"],
      ["order", "cnb/order.toml"],
      ["stack", "cnb/stack.toml"],
      ["bptoml", "cnb/buildpacks/x_y/1.0.0/buildpack.toml"],
    ];
    for (const [tag, linked] of cases) {
      const files = [
        { name: "cnb/order.toml", content: '[[order]]\n[[order.group]]\nid = "x/y"\n' },
        { name: "cnb/run.toml", content: '[[images]]\nimage = "example.com/run:1"\n' },
        { name: "cnb/buildpacks/x_y/1.0.0/buildpack.toml", content: 'api = "0.10"\n' },
      ].filter((e) => e.name !== linked);
      const cnb = await layer([
        ...dirs("cnb", "cnb/buildpacks", "cnb/buildpacks/x_y", "cnb/buildpacks/x_y/1.0.0"),
        ...files,
        { name: linked, type: "symlink" as const, linkname: secret },
      ]);
      await pushImage({ host: reg.host }, "hostile/builder", tag, {
        layers: [cnb],
        architecture: arch,
      });
      const ref = `${reg.host}/hostile/builder:${tag}`;
      const p = await runLocald(["builder", "pull", ref], { env: t.env });
      assert.equal(p.code, 3, `${linked}: ${p.stderr}`);
      oneLineError(
        p.stderr,
        new RegExp(`hostile/builder:${tag} is refused: /${linked} is a symbolic link`),
      );
      assert.doesNotMatch(
        p.stderr + p.stdout,
        /SECRET/,
        `${linked}: a host file's lines were printed`,
      );
      const ls = await runLocald(["builder", "ls"], { env: t.env });
      assert.doesNotMatch(ls.stdout, new RegExp(`builder:${tag}`), "a refused builder is not kept");
    }
  } finally {
    await reg.stop();
    await t.cleanup();
  }
});

Deno.test("a project path with bash syntax never runs as code in the launcher", async () => {
  const f = await fixture();
  try {
    const evil = join(f.root, 'x";echo INJECTED-$((6*7));"');
    await Deno.rename(f.app, evil);
    const b = await runLocald(["build", "-C", evil, "-b", FIXTURE_BP], { env: f.env });
    assert.equal(b.code, 3, b.stderr);
    oneLineError(
      b.stderr,
      /the project directory .* contains "\\"", which the launcher's bash would run as code/,
    );
    // Built through a symlink without those characters (as the hint says), it works.
    const link = join(f.root, "app-link");
    await Deno.symlink(evil, link);
    const ok = await runLocald(["build", "-C", link, "-b", FIXTURE_BP], { env: f.env });
    assert.equal(ok.code, 0, ok.stderr);
    const viaLink = await runLocald(["exec", "-C", link, "--", "printenv", "FIXTURE_PROFILE"], {
      env: f.env,
    });
    assert.equal(viaLink.code, 0, viaLink.stderr);
    assert.equal(viaLink.stdout.trim(), "from-profile-d");
    assert.doesNotMatch(viaLink.stdout + viaLink.stderr, /INJECTED-42/);
    // A build made before the check (a build record naming the path): exec refuses it.
    const { localdDirs, projectPaths } = await import("../src/config/paths.ts");
    const from = projectPaths(localdDirs(f.env), link);
    const to = projectPaths(localdDirs(f.env), evil);
    await Deno.rename(from.state, to.state);
    const rec = JSON.parse(await Deno.readTextFile(to.buildRecord));
    rec.projectDir = evil;
    rec.layersDir = to.layers;
    await Deno.writeTextFile(to.buildRecord, JSON.stringify(rec));
    const e = await runLocald(["exec", "-C", evil, "--", "true"], { env: f.env });
    assert.equal(e.code, 3, e.stderr);
    oneLineError(e.stderr, /contains "\\"", which the launcher's bash would run as code/);
    assert.doesNotMatch(e.stdout + e.stderr, /INJECTED-42/);
  } finally {
    await f.cleanup();
  }
});

Deno.test("--layout-dir never replaces the user's files, the project or its parents", async () => {
  const f = await fixture();
  try {
    const mine = join(f.root, "mine");
    await Deno.mkdir(mine);
    await Deno.writeTextFile(join(mine, "notes.txt"), "keep me");
    const exp = (dir: string, cwd?: string) =>
      runLocald(["build", "-C", f.app, "-b", FIXTURE_BP, "--export", "--layout-dir", dir], {
        env: f.env,
        cwd,
      });
    const full = await exp(mine);
    assert.equal(full.code, 3, full.stderr);
    oneLineError(
      full.stderr,
      /--layout-dir .*mine holds files \(notes\.txt\) and is not an image layout locald wrote/,
    );
    assert.equal(await Deno.readTextFile(join(mine, "notes.txt")), "keep me");
    for (const [dir, cwd] of [[".", f.app], [f.app, undefined], [f.root, undefined]]) {
      const r = await exp(dir!, cwd);
      assert.equal(r.code, 3, r.stderr);
      oneLineError(r.stderr, /is the project directory or one of its parents/);
    }
    assert.equal(
      await Deno.readTextFile(join(f.app, "fixture.txt")),
      await Deno.readTextFile(join(FIXTURE_APP, "fixture.txt")),
    );
    // An OCI layout someone else wrote is theirs too.
    const other = join(f.root, "other");
    await Deno.mkdir(join(other, "blobs"), { recursive: true });
    await Deno.writeTextFile(join(other, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
    await Deno.writeTextFile(join(other, "index.json"), '{"schemaVersion":2,"manifests":[]}');
    const o = await exp(other);
    assert.equal(o.code, 3, o.stderr);
    assert.match(o.stderr, /is not an image layout locald wrote/);
  } finally {
    await f.cleanup();
  }
});

Deno.test("--publish: buildpacks hunting for credentials find none, with or without --sandbox", async () => {
  const open = await startRegistry();
  const locked = await startRegistry({ auth: { user: "pat", password: "s3cret-pw" } });
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir(), LOCALD_DEBUG: "1" });
  try {
    const builder = await pushImages(open, {
      dir: join(REPO, "tests/fixtures/buildpacks/hostile-find-credentials"),
      id: "locald-fixtures/hostile-find-credentials",
      version: "1.0.0",
    });
    const app = await appDir(t.root);
    const dockerDir = join(t.root, "docker");
    await Deno.mkdir(dockerDir);
    await Deno.writeTextFile(
      join(dockerDir, "config.json"),
      JSON.stringify({ auths: { [locked.host]: { auth: btoa("pat:s3cret-pw") } } }),
    );
    const env = { ...t.env, DOCKER_CONFIG: dockerDir };
    for (const extra of [[], ["--sandbox"]]) {
      const target = `${locked.host}/test/hunted:${extra.length}`;
      const p = await runLocald(
        ["build", "-C", app, "-B", builder, "--publish", target, "--json", ...extra],
        { env },
      );
      assert.equal(p.code, 0, p.stderr);
      // The hunt ran in both phases that run buildpack code, and found nothing.
      assert.match(p.stderr, /hostile: detect hunted for credentials \(found: 0\)/);
      assert.match(p.stderr, /hostile: build hunted for credentials \(found: 0\)/);
      assert.doesNotMatch(p.stderr, /found credentials/);
      assert.doesNotMatch(p.stderr + p.stdout, /s3cret-pw|cGF0OnMzY3JldC1wdw/);
      // ... and the push, which needed them, went through.
      const check = await runProcess([
        "skopeo",
        "inspect",
        "--tls-verify=false",
        "--creds",
        "pat:s3cret-pw",
        `docker://${target}`,
      ]);
      assert.equal(check.code, 0, check.stderr);
      // deno-lint-ignore no-explicit-any
      assert.equal(JSON.parse(check.stdout).Digest, (p.json as any).image.digest);
    }
    const leftover = await runProcess(["grep", "-rl", "cGF0OnMzY3JldC1wdw", t.localdHome]);
    assert.equal(leftover.stdout, "", "credentials left on disk");
  } finally {
    await open.stop();
    await locked.stop();
    await t.cleanup();
  }
});

async function until(what: string, check: () => Promise<boolean>, ms = 60_000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test("cache prune leaves a download in progress alone", async () => {
  const asset = `/${lifecycleAsset()}`;
  // The mirror sends part of the lifecycle tarball, then stalls: a download in progress.
  const m = await startMirror(lifecycleMirrorDir(), { [asset]: { stallAfter: 65536, times: 1 } });
  const t = await testEnv({ LOCALD_LIFECYCLE_MIRROR: m.url });
  const part = join(t.localdHome, "downloads", `${lifecycleAsset()}.part`);
  const setup = spawnLocald(["setup"], { env: t.env });
  try {
    await until(
      "the partial download",
      async () => ((await Deno.stat(part).catch(() => undefined))?.size ?? 0) > 0,
    );
    const p = await runLocald(["cache", "prune", "--json"], { env: t.env });
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stderr, /left .*\.part alone: another locald is using it/);
    // deno-lint-ignore no-explicit-any
    assert.deepEqual((p.json as any).inUse, [part]);
    assert.ok(await exists(part), "prune removed a download in progress");
  } finally {
    setup.kill("SIGKILL");
    await setup.output();
  }
  try {
    // The killed download is a leftover now; the next setup resumes it and installs.
    const again = await runLocald(["setup"], { env: t.env });
    assert.equal(again.code, 0, again.stderr);
    assert.ok(m.requestsFor(asset).some((r) => r.range), "the download resumed");
  } finally {
    await m.close();
    await t.cleanup();
  }
});

Deno.test("cache prune --all leaves a project being built alone, and its build finishes", async () => {
  const f = await builtFixture();
  try {
    const { localdDirs, projectPaths } = await import("../src/config/paths.ts");
    const paths = projectPaths(localdDirs(f.env), f.app);
    const build = spawnLocald(
      ["build", "-C", f.app, "-b", FIXTURE_BP, "--force", "-e", "FIXTURE_SLEEP=3"],
      { env: f.env },
    );
    // The build holds its lock from before it starts its new generation until it ends.
    const current = JSON.parse(await Deno.readTextFile(paths.buildRecord)).generation;
    await until(
      "the build to start",
      async () =>
        (await Array.fromAsync(Deno.readDir(join(paths.state, "generations"))))
          .some((e) => !e.name.startsWith(current)),
    );
    const p = await runLocald(["cache", "prune", "--all", "--json"], {
      env: f.env,
      signal: AbortSignal.timeout(20_000),
    });
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stderr, /left .* alone: another locald is using it/);
    // deno-lint-ignore no-explicit-any
    assert.deepEqual((p.json as any).inUse, [paths.state]);
    const b = await build.output();
    assert.equal(b.code, 0, new TextDecoder().decode(b.stderr));
    const e = await runLocald(["exec", "-C", f.app, "--", "fixture-tool"], { env: f.env });
    assert.equal(e.code, 0, e.stderr);
    // Once nobody builds it, prune --all removes it.
    const later = await runLocald(["cache", "prune", "--all"], { env: f.env });
    assert.equal(later.code, 0, later.stderr);
    assert.equal(await exists(paths.state), false);
  } finally {
    await f.cleanup();
  }
});

const asRoot = Deno.uid() === 0;

/** A tmpfs at `dir` (root only: tests run as root in CI), unmounted by the returned function. */
async function tmpfs(dir: string, options: string): Promise<() => Promise<void>> {
  await Deno.mkdir(dir, { recursive: true });
  const m = await runProcess(["mount", "-t", "tmpfs", "-o", options, "tmpfs", dir]);
  assert.equal(m.code, 0, m.stderr);
  return async () => {
    await runProcess(["umount", "-l", dir]);
  };
}

Deno.test({
  name: "a read-only LOCALD_HOME: one line naming the path, a hint, exit 10",
  ignore: !asRoot,
  fn: async () => {
    const f = await fixture();
    const home = join(f.root, "ro-home");
    const unmount = await tmpfs(home, "size=64m");
    try {
      const env: Record<string, string> = { ...f.env, LOCALD_HOME: home };
      const b = await runLocald(["build", "-C", f.app, "-b", FIXTURE_BP], { env });
      assert.equal(b.code, 0, b.stderr);
      await Deno.mkdir(join(home, "downloads"));
      await Deno.writeTextFile(join(home, "downloads", "x.tgz.part"), "partial");
      const r = await runProcess(["mount", "-o", "remount,ro", home]);
      assert.equal(r.code, 0, r.stderr);
      const noLifecycle = { ...env };
      delete noLifecycle.LOCALD_LIFECYCLE_DIR;
      const cases: [string[], Record<string, string>][] = [
        [["build", "-C", f.app, "-b", FIXTURE_BP, "--force"], env],
        [["setup"], noLifecycle],
        [["cache", "prune"], env],
        [["cache", "prune", "--all"], env],
      ];
      for (const [args, e] of cases) {
        const p = await runLocald(args, { env: e });
        assert.equal(p.code, 10, `${args.join(" ")}: ${p.stderr}`);
        oneLineError(
          p.stderr,
          new RegExp(`locald: cannot .* ${home}/.*: the file system is read-only`),
        );
        assert.match(p.stderr, /hint: .*LOCALD_HOME to a writable directory/);
      }
      // Reading still works: the environment is usable from a read-only home.
      const e = await runLocald(["exec", "-C", f.app, "--", "fixture-tool"], { env });
      assert.equal(e.code, 0, e.stderr);
    } finally {
      await unmount();
      await f.cleanup();
    }
  },
});

Deno.test({
  name: "a full disk: the lifecycle download, a builder's extraction and a new project say so",
  ignore: !asRoot,
  fn: async () => {
    const m = await startMirror(lifecycleMirrorDir());
    const reg = await startRegistry();
    const f = await fixture({ LOCALD_LIFECYCLE_MIRROR: m.url });
    const home = join(f.root, "full-home");
    const unmount = await tmpfs(home, "size=1m");
    try {
      const env: Record<string, string> = { ...f.env, LOCALD_HOME: home };
      const noLifecycle = { ...env };
      delete noLifecycle.LOCALD_LIFECYCLE_DIR;
      const full = /locald: (cannot .*: )?no space left on the device\nhint: free some space/;
      const s = await runLocald(["setup"], { env: noLifecycle });
      assert.equal(s.code, 10, s.stderr);
      oneLineError(s.stderr, full);
      // A builder whose layer is small on the wire and large on disk (4 MiB of zeros).
      const arch = hostPlatform().architecture;
      const cnb = await layer([
        ...dirs("cnb", "cnb/buildpacks", "cnb/buildpacks/x_y", "cnb/buildpacks/x_y/1.0.0"),
        { name: "cnb/order.toml", content: '[[order]]\n[[order.group]]\nid = "x/y"\n' },
        { name: "cnb/buildpacks/x_y/1.0.0/big", content: new Uint8Array(4 << 20) },
      ]);
      await pushImage({ host: reg.host }, "big/builder", "1", {
        layers: [cnb],
        architecture: arch,
      });
      const p = await runLocald(["builder", "pull", `${reg.host}/big/builder:1`], { env });
      assert.equal(p.code, 10, p.stderr);
      oneLineError(p.stderr, full);
      assert.doesNotMatch(p.stderr, /not a valid tar archive/);
      // A new project on a full disk.
      await runProcess(["dd", "if=/dev/zero", `of=${join(home, "fill")}`, "bs=4k", "count=1024"]);
      const b = await runLocald(["build", "-C", f.app, "-b", FIXTURE_BP], { env });
      assert.equal(b.code, 10, b.stderr);
      assert.match(b.stderr, /no space left on the device|the disk is full/);
      assert.match(b.stderr, /\nhint: free some space/);
      assert.doesNotMatch(b.stderr, /internal error/);
    } finally {
      await unmount();
      await m.close();
      await reg.stop();
      await f.cleanup();
    }
  },
});

Deno.test("paths that are not UTF-8: LOCALD_HOME and the working directory", async () => {
  const f = await fixture();
  try {
    const main = join(REPO, "main.ts");
    const deno = `${Deno.execPath()} run -A --quiet --config ${join(REPO, "deno.json")} ${main}`;
    // Deno's own APIs cannot carry these bytes: bash sets them up.
    const home = await runProcess([
      "bash",
      "-c",
      `LOCALD_HOME=$'${f.root}/h\\xff' ${deno} exec -C ${f.app} -- true`,
    ], {
      env: f.env,
    });
    assert.equal(home.code, 3, home.stderr);
    oneLineError(home.stderr, /LOCALD_HOME is set to a path that is not valid UTF-8/);
    const cwd = await runProcess([
      "bash",
      "-c",
      `mkdir -p $'${f.root}/d\\xff' && cd $'${f.root}/d\\xff' && ${deno} build -b ${FIXTURE_BP}`,
    ], { env: f.env });
    assert.equal(cwd.code, 3, cwd.stderr);
    oneLineError(cwd.stderr, /is not valid UTF-8: locald works only with UTF-8 paths/);
  } finally {
    await f.cleanup();
  }
});

Deno.test("a removed layers directory: exec says what happened, build brings it back", async () => {
  const f = await builtFixture();
  try {
    const { localdDirs, projectPaths } = await import("../src/config/paths.ts");
    const layers = projectPaths(localdDirs(f.env), f.app).layers;
    // `layers` is a link to the current generation: removing it loses nothing the next build
    // cannot point at again.
    await Deno.remove(layers, { recursive: true });
    const e = await runLocald(["exec", "-C", f.app, "--", "fixture-tool"], { env: f.env });
    assert.equal(e.code, 4, e.stderr);
    oneLineError(e.stderr, /the environment of .* is gone \(.*layers was removed\)/);
    const b = await f.build();
    assert.equal(b.code, 0, b.stderr);
    const again = await runLocald(["exec", "-C", f.app, "--", "fixture-tool"], { env: f.env });
    assert.equal(again.code, 0, again.stderr);
    // The layers themselves removed: not up to date, built again.
    await Deno.remove(await Deno.realPath(layers), { recursive: true });
    const rebuilt = await f.build();
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    assert.doesNotMatch(rebuilt.stderr, /up to date/);
    const third = await runLocald(["exec", "-C", f.app, "--", "fixture-tool"], { env: f.env });
    assert.equal(third.code, 0, third.stderr);
  } finally {
    await f.cleanup();
  }
});

Deno.test("builder pull --pull-policy always repairs a damaged extracted builder", async () => {
  const reg = await startRegistry();
  const t = await testEnv();
  try {
    const builder = await pushImages(reg);
    const p = await runLocald(["builder", "pull", builder, "--json"], { env: t.env });
    assert.equal(p.code, 0, p.stderr);
    const { cachedBuilder } = await import("../src/oci/builder_cache.ts");
    const { localdDirs } = await import("../src/config/paths.ts");
    const info = (await cachedBuilder(builder, localdDirs(t.env)))!;
    const order = join(info.cnbDir, "order.toml");
    const build = join(info.buildpacksDir, "locald-fixtures_image-app", "1.0.0", "bin", "build");
    const want = [await Deno.readTextFile(order), await Deno.readTextFile(build)];
    await Deno.remove(order);
    await Deno.writeTextFile(build, "#!/bin/sh\nexit 1\n");
    const again = await runLocald(["builder", "pull", builder, "--pull-policy", "always"], {
      env: t.env,
    });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /was changed or damaged; extracting it again/);
    assert.deepEqual([await Deno.readTextFile(order), await Deno.readTextFile(build)], want);
    // An intact builder is left as it is.
    const intact = await runLocald(["builder", "pull", builder, "--pull-policy", "always"], {
      env: t.env,
    });
    assert.equal(intact.code, 0, intact.stderr);
    assert.doesNotMatch(intact.stderr, /damaged/);
  } finally {
    await reg.stop();
    await t.cleanup();
  }
});

Deno.test("cache prune removes credentials a killed locald left, not those of a running phase", async () => {
  const t = await testEnv();
  try {
    const root = join(t.localdHome, "registry-auth");
    const left = join(root, "exporter-abc123");
    await Deno.mkdir(left, { recursive: true });
    await Deno.writeTextFile(join(left, "config.json"), '{"auths":{}}');
    // A phase with credentials running now holds the lock (shared) as withRegistryAuth does.
    const { acquireLock } = await import("../src/util/lock.ts");
    const { authLockPath } = await import("../src/cnb/image.ts");
    const running = await acquireLock(authLockPath(root), "test", undefined, { shared: true });
    const busy = await runLocald(["cache", "prune", "--json"], { env: t.env });
    running.release();
    assert.equal(busy.code, 0, busy.stderr);
    // deno-lint-ignore no-explicit-any
    assert.deepEqual((busy.json as any).inUse, [left]);
    assert.ok(await exists(left));
    const p = await runLocald(["cache", "prune", "--json"], { env: t.env });
    assert.equal(p.code, 0, p.stderr);
    // deno-lint-ignore no-explicit-any
    assert.deepEqual((p.json as any).removed, [left]);
    assert.equal(await exists(left), false);
  } finally {
    await t.cleanup();
  }
});
