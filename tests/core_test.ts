/**
 * The core Linux path, end to end with the real lifecycle: build, shell, exec, run, env, and
 * the errors users hit. Runs as whoever runs the suite (root in CI: the phases then run in a
 * user namespace); tests/unprivileged_test.ts repeats the main path as an ordinary user.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runLocald, spawnLocald, testEnv } from "./support/locald.ts";
import { startMirror } from "./support/mirror.ts";
import { buildpack, lifecycleDir, lifecycleMirrorDir } from "./support/tools.ts";
import { copyApp, fixture, FIXTURE_APP, FIXTURE_BP } from "./support/fixture.ts";

Deno.test("build with the real lifecycle downloaded from a mirror, then exec a tool from a layer", async () => {
  const mirror = await startMirror(lifecycleMirrorDir());
  const t = await testEnv({ LOCALD_LIFECYCLE_MIRROR: mirror.url });
  try {
    const app = await copyApp(FIXTURE_APP, t.root);
    const b = await runLocald(["build", "-C", app, "-b", FIXTURE_BP, "--json"], { env: t.env });
    assert.equal(b.code, 0, b.stderr);
    // Human output (phase headers, lifecycle output) on stderr; the summary on stdout.
    for (const phase of ["ANALYZER", "DETECTOR", "RESTORER", "BUILDER"]) {
      assert.match(b.stderr, new RegExp(`===> ${phase}`));
    }
    assert.match(b.stderr, /fixture: building/);
    // deno-lint-ignore no-explicit-any
    const summary = b.json as any;
    assert.deepEqual(summary.buildpacks, [{ id: "locald-fixtures/everything", version: "1.0.0" }]);
    assert.deepEqual(summary.processes.map((p: { type: string }) => p.type).sort(), [
      "web",
      "worker",
    ]);
    assert.ok(summary.durationsMs.builder >= 0);
    assert.equal(summary.platformApi, "0.15");
    // The state lives under LOCALD_HOME, not in the source tree.
    assert.ok(summary.stateDir.startsWith(t.localdHome), summary.stateDir);
    const entries = [...Deno.readDirSync(app)].map((e) => e.name).sort();
    assert.deepEqual(entries, ["README.md", "fixture.txt"]);

    // The tool is not on the host; it runs from the layer.
    const host = await new Deno.Command("sh", {
      args: ["-c", "command -v fixture-tool"],
      env: t.env,
    })
      .output();
    assert.notEqual(host.code, 0);
    const e = await runLocald(["exec", "-C", app, "--", "fixture-tool", "a b", "$HOME", "*"], {
      env: t.env,
    });
    assert.equal(e.code, 0, e.stderr);
    assert.match(
      e.stdout,
      new RegExp(`fixture-tool ran from ${summary.stateDir}/layers/.*/tools/bin/fixture-tool`),
    );
    assert.match(e.stdout, /args: \[a b\] \[\$HOME\] \[\*\]/);
    // The lifecycle was fetched once from the mirror.
    assert.equal(mirror.requestsFor("/lifecycle-v0.21.17+linux.x86-64.tgz").length, 1);
  } finally {
    await mirror.close();
    await t.cleanup();
  }
});

Deno.test("env gives every launch feature: env suffixes, env.launch, profile.d, exec.d, bin, lib", async () => {
  const f = await fixture();
  try {
    assert.equal((await f.build()).code, 0);
    const r = await runLocald(["env", "-C", f.app, "--format", "json"], {
      env: {
        ...f.env,
        FIXTURE_OVERRIDE: "host",
        FIXTURE_DEFAULT: "host-wins",
        FIXTURE_LIST: "/host",
      },
    });
    assert.equal(r.code, 0, r.stderr);
    // deno-lint-ignore no-explicit-any
    const env = r.json as any;
    assert.equal(env.FIXTURE_OVERRIDE, "layer-value"); // .override replaces
    assert.equal(env.FIXTURE_DEFAULT, undefined); // .default does not touch a set variable
    assert.equal(env.FIXTURE_LIST, "/fixture/prepended:/host"); // .prepend + .delim
    assert.equal(env.FIXTURE_LAUNCH, "launch-only"); // env.launch/
    assert.equal(env.FIXTURE_PROFILE, "from-profile-d"); // profile.d/
    assert.equal(env.FIXTURE_EXECD, "from-exec-d"); // exec.d/
    assert.equal(env.FIXTURE_BUILD_ONLY, undefined); // env.build/ is not launch env
    assert.equal(env.FIXTURE_WEB, undefined); // per-process env only for that process
    assert.match(env.PATH, /\/tools\/bin:/);
    assert.doesNotMatch(env.PATH, /build-only/); // build-only layers are not in the dev env
    assert.match(env.LD_LIBRARY_PATH, /\/tools\/lib$/);

    const plain = await runLocald(["env", "-C", f.app, "--format", "json"], { env: f.env });
    // deno-lint-ignore no-explicit-any
    const penv = plain.json as any;
    assert.equal(penv.FIXTURE_DEFAULT, "default-value");
    assert.equal(penv.FIXTURE_APPEND, "/fixture/appended");

    // Each format is accepted by its consumer.
    const sh = await runLocald(["env", "-C", f.app], { env: f.env });
    const bash = await new Deno.Command("bash", {
      args: ["-c", `${sh.stdout}\nfixture-tool x; echo "$FIXTURE_PROFILE"`],
      env: f.env,
      clearEnv: true,
    }).output();
    const bashOut = new TextDecoder().decode(bash.stdout);
    assert.match(bashOut, /fixture-tool ran from/);
    assert.match(bashOut, /from-profile-d/);
    const fish = await runLocald(["env", "-C", f.app, "--format", "fish"], { env: f.env });
    const fishRun = await new Deno.Command("fish", {
      args: ["--no-config", "-c", `${fish.stdout}\nfixture-tool y; echo $FIXTURE_EXECD`],
      env: f.env,
      clearEnv: true,
    }).output();
    const fishOut = new TextDecoder().decode(fishRun.stdout);
    assert.match(fishOut, /fixture-tool ran from/, new TextDecoder().decode(fishRun.stderr));
    assert.match(fishOut, /from-exec-d/);
    const dotenv = await runLocald(["env", "-C", f.app, "--format", "dotenv"], { env: f.env });
    assert.match(dotenv.stdout, /^FIXTURE_PROFILE="from-profile-d"$/m);
    const pwsh = await runLocald(["env", "-C", f.app, "--format", "pwsh"], { env: f.env });
    assert.match(pwsh.stdout, /^\$env:FIXTURE_LAUNCH = 'launch-only'$/m);
  } finally {
    await f.cleanup();
  }
});

Deno.test("run starts the default process, or a named one, with its own env and extra args", async () => {
  const f = await fixture();
  try {
    assert.equal((await f.build()).code, 0);
    const web = await runLocald(["run", "-C", f.app, "--", "extra"], { env: f.env });
    assert.equal(web.code, 0, web.stderr);
    assert.match(web.stdout, /web process FIXTURE_WEB=web-only args: extra/);
    const worker = await runLocald(["run", "-C", f.app, "worker", "x", "y z"], { env: f.env });
    assert.equal(worker.code, 0, worker.stderr);
    assert.match(worker.stdout, /fixture-tool ran from/);
    assert.match(worker.stdout, /args: \[worker\] \[x\] \[y z\]/);
    const none = await runLocald(["run", "-C", f.app, "nope"], { env: f.env });
    assert.equal(none.code, 3);
    assert.match(none.stderr, /no process type "nope".*\nhint: choose one of: web, worker/);
  } finally {
    await f.cleanup();
  }
});

Deno.test("a second build re-uses the cached layer and drops the build-only one", async () => {
  const f = await fixture();
  try {
    const first = await f.build("--json");
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /creating cached layer/);
    const second = await f.build("--json", "--force");
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /fixture: reusing cached layer \(fingerprint v1\)/);
    // deno-lint-ignore no-explicit-any
    const layers = (second.json as any).layers as { name: string; reused: boolean }[];
    assert.equal(layers.find((l) => l.name === "cached")?.reused, true);
    assert.equal(layers.find((l) => l.name === "build-only")?.reused, false);
    // A change the buildpack fingerprints invalidates the layer.
    await Deno.writeTextFile(join(f.app, "fixture.txt"), "v2\n");
    const third = await f.build();
    assert.match(third.stderr, /creating cached layer \(fingerprint v2\)/);
    // --clear-cache starts from nothing.
    await Deno.writeTextFile(join(f.app, "fixture.txt"), "v2\n");
    const cleared = await f.build("--clear-cache");
    assert.match(cleared.stderr, /creating cached layer \(fingerprint v2\)/);
    // The launch layers still work after all that.
    const e = await runLocald(["exec", "-C", f.app, "--", "fixture-cached-tool"], { env: f.env });
    assert.equal(e.stdout.trim(), "cached tool");
  } finally {
    await f.cleanup();
  }
});

Deno.test("a no-op rebuild skips the lifecycle; a one-file change or --force builds; stale envs warn", async () => {
  const f = await fixture();
  try {
    assert.equal((await f.build()).code, 0);
    const noop = await f.build("--json");
    assert.equal(noop.code, 0, noop.stderr);
    assert.doesNotMatch(noop.stderr, /===> ANALYZER/);
    assert.match(noop.stderr, /is up to date: nothing it depends on changed/);
    // deno-lint-ignore no-explicit-any
    assert.equal((noop.json as any).skipped, true);
    // A changed build-time variable is a changed input.
    const env = await f.build("-e", "SOMETHING=new");
    assert.match(env.stderr, /===> BUILDER/);
    // A source change: the environment is now older than the sources, and says so.
    await Deno.writeTextFile(join(f.app, "notes.txt"), "new file");
    const e = await runLocald(["exec", "-C", f.app, "--", "true"], { env: f.env });
    assert.equal(e.code, 0);
    assert.match(e.stderr, /changed since its environment was built .*run `locald build`/);
    const changed = await f.build("-e", "SOMETHING=new");
    assert.match(changed.stderr, /===> BUILDER/);
    const fresh = await runLocald(["exec", "-C", f.app, "--", "true"], { env: f.env });
    assert.doesNotMatch(fresh.stderr, /changed since/);
    // Ignored files do not count.
    await Deno.writeTextFile(join(f.app, ".gitignore"), "*.tmp\n");
    assert.match((await f.build("-e", "SOMETHING=new")).stderr, /===> BUILDER/);
    await Deno.writeTextFile(join(f.app, "scratch.tmp"), "ignored");
    assert.match((await f.build("-e", "SOMETHING=new")).stderr, /is up to date/);
    const forced = await f.build("-e", "SOMETHING=new", "--force");
    assert.match(forced.stderr, /===> BUILDER/);
  } finally {
    await f.cleanup();
  }
});

Deno.test("a failed build leaves the last good environment in place", async () => {
  const f = await fixture();
  try {
    assert.equal((await f.build()).code, 0);
    const failed = await f.build("-e", "FIXTURE_FAIL=1");
    assert.equal(failed.code, 6);
    const e = await runLocald(["exec", "-C", f.app, "--", "fixture-tool"], { env: f.env });
    assert.equal(e.code, 0, e.stderr);
    assert.equal((await f.build()).code, 0);
    assert.equal(
      (await runLocald(["exec", "-C", f.app, "--", "fixture-tool"], { env: f.env })).code,
      0,
    );
  } finally {
    await f.cleanup();
  }
});

Deno.test("Ctrl-C during a build: exit 130, the last good environment stays, the next build works", async () => {
  const f = await fixture();
  try {
    assert.equal((await f.build()).code, 0);
    const child = spawnLocald(
      ["build", "-C", f.app, "-b", FIXTURE_BP, "-e", "FIXTURE_SLEEP=5", "--force"],
      { env: f.env },
    );
    // Wait until the builder phase runs, then interrupt locald as a terminal's Ctrl-C would.
    const reader = child.stderr.getReader();
    let seen = "";
    while (!seen.includes("fixture: building")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    child.kill("SIGINT");
    let rest = "";
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    const status = await child.status;
    await child.stdout.cancel();
    assert.equal(status.code, 130, seen + rest);
    assert.match(rest, /locald: build interrupted during the builder phase\nhint: /);
    const e = await runLocald(["exec", "-C", f.app, "--", "fixture-tool"], { env: f.env });
    assert.equal(e.code, 0, e.stderr);
    const again = await f.build();
    assert.equal(again.code, 0, again.stderr);
    assert.equal(
      (await runLocald(["exec", "-C", f.app, "--", "fixture-tool"], { env: f.env })).code,
      0,
    );
  } finally {
    await f.cleanup();
  }
});

Deno.test("real third-party buildpacks from the CNB project: layers, processes, platform env", async () => {
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const app = join(t.root, "app");
    await Deno.mkdir(app);
    const args = [
      "build",
      "-C",
      app,
      "-b",
      buildpack("read-env-buildpack"),
      "-b",
      buildpack("simple-layers-buildpack"),
      "-e",
      "DETECT_ENV_BUILDPACK=1",
      "-e",
      "ENV1_CONTENTS=from -e",
    ];
    const b = await runLocald([...args, "--json"], { env: t.env });
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stderr, /making env1 layer/);
    assert.match(b.stderr, /making cached launch layer/);
    const again = await runLocald([...args, "--force"], { env: t.env });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /reusing cached launch layer/);
    const cat = await runLocald([
      "exec",
      "-C",
      app,
      "--",
      "cat",
      "env1-launch-deps/env1-launch-dep",
    ], {
      env: t.env,
    });
    assert.equal(cat.stdout.trim(), "from -e");
    const hello = await runLocald(["run", "-C", app, "hello"], { env: t.env });
    assert.equal(hello.stdout.trim(), "hello world");
  } finally {
    await t.cleanup();
  }
});

Deno.test("shell honours $SHELL (bash, zsh, fish) and marks the environment", async () => {
  const f = await fixture();
  try {
    assert.equal((await f.build()).code, 0);
    for (const sh of ["/bin/bash", "/usr/bin/zsh", "/usr/bin/fish"]) {
      const r = await runLocald(
        ["shell", "-C", f.app, "-c", "fixture-tool from-$LOCALD_SHELL; echo $FIXTURE_PROFILE"],
        { env: { ...f.env, SHELL: sh } },
      );
      assert.equal(r.code, 0, `${sh}: ${r.stderr}`);
      assert.match(r.stdout, /fixture-tool ran from .*\nargs: \[from-1\]\nfrom-profile-d/, sh);
    }
    // An interactive shell reads commands from stdin and keeps its exit code.
    const i = await runLocald(["shell", "-C", f.app], {
      env: { ...f.env, SHELL: "/bin/bash" },
      stdin: "fixture-tool interactive\nexit 7\n",
    });
    assert.equal(i.code, 7);
    assert.match(i.stdout, /args: \[interactive\]/);
    // A shell inside a shell says so instead of stacking environments.
    const nested = await runLocald(["shell", "-C", f.app], {
      env: { ...f.env, LOCALD_SHELL: "1" },
    });
    assert.equal(nested.code, 3);
    assert.match(nested.stderr, /already inside a locald shell/);
  } finally {
    await f.cleanup();
  }
});

Deno.test("exit codes and signals pass through exec", async () => {
  const f = await fixture();
  try {
    assert.equal((await f.build()).code, 0);
    const r = await runLocald(["exec", "-C", f.app, "--", "sh", "-c", "exit 42"], { env: f.env });
    assert.equal(r.code, 42);
    const missing = await runLocald(["exec", "-C", f.app, "--", "no-such-tool"], { env: f.env });
    assert.notEqual(missing.code, 0);
    // SIGTERM and SIGINT sent to locald reach the command, which exits on its own terms; no
    // orphan remains. (A terminal's Ctrl-C reaches the command directly, as its process group's.)
    for (const [sig, code] of [["SIGTERM", 42], ["SIGINT", 43]] as const) {
      const marker = join(f.root, `child-${sig}.pid`);
      const child = spawnLocald(
        [
          "exec",
          "-C",
          f.app,
          "--",
          "bash",
          "-c",
          `echo $$ > ${marker}; trap 'echo got-${sig}; exit ${code}' ${sig.slice(3)}; ` +
          "while :; do sleep 0.05; done",
        ],
        { env: f.env },
      );
      for (let i = 0; i < 200; i++) {
        try {
          if ((await Deno.readTextFile(marker)).trim()) break;
        } catch { /* not yet */ }
        await new Promise((r) => setTimeout(r, 25));
      }
      const pid = Number((await Deno.readTextFile(marker)).trim());
      child.kill(sig);
      const out = await child.output();
      assert.equal(out.code, code, sig);
      assert.match(new TextDecoder().decode(out.stdout), new RegExp(`got-${sig}`));
      const alive = await new Deno.Command("kill", { args: ["-0", String(pid)] }).output();
      assert.notEqual(alive.code, 0, `the command outlived locald (${sig})`);
    }
  } finally {
    await f.cleanup();
  }
});

/** Wait until some build under `home` holds its project's build lock (flock). */
async function buildLockHeld(home: string) {
  const probe =
    'for f in "$1"/projects/*/build.lock; do [ -e "$f" ] && ! flock -n "$f" true && exit 0; done; exit 1';
  for (let i = 0; i < 1200; i++) {
    const p = await new Deno.Command("sh", { args: ["-c", probe, "sh", home] }).output();
    if (p.code === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("the first build never took its lock");
}

Deno.test("two builds of one project do not interleave: the second waits and says so", async () => {
  const f = await fixture({ FIXTURE_SLOW: "1" });
  try {
    const a = spawnLocald(["build", "-C", f.app, "-b", FIXTURE_BP, "-e", "FIXTURE_SLEEP=1"], {
      env: f.env,
    });
    await buildLockHeld(f.localdHome);
    const b = await f.build();
    const ao = await a.output();
    assert.equal(ao.code, 0, new TextDecoder().decode(ao.stderr));
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stderr, /waiting for another build of .* to finish/);
  } finally {
    await f.cleanup();
  }
});

Deno.test("errors users hit: one line, a hint, an exit code", async (t) => {
  const f = await fixture();
  try {
    await t.step("nothing detected lists each buildpack and its verdict", async () => {
      const empty = join(f.root, "empty");
      await Deno.mkdir(empty);
      const r = await runLocald(
        ["build", "-C", empty, "-b", FIXTURE_BP, "-b", buildpack("simple-layers-buildpack")],
        { env: f.env },
      );
      assert.equal(r.code, 7);
      assert.match(r.stderr, /locald: no buildpack detected for .*empty/);
      assert.match(r.stderr, /locald-fixtures\/everything@1\.0\.0: fail/);
      assert.match(r.stderr, /\nhint: /);
    });
    await t.step("missing directory", async () => {
      const r = await runLocald(["build", "-C", join(f.root, "nope")], { env: f.env });
      assert.equal(r.code, 3);
      assert.match(r.stderr, /^locald: project directory .*nope does not exist\nhint: /);
    });
    // Root reads everything: as root, tests/unprivileged_test.ts covers this as uid 1000.
    await t.step({
      name: "unreadable directory",
      ignore: Deno.uid() === 0,
      fn: async () => {
        const dir = join(f.root, "locked");
        await Deno.mkdir(dir, { mode: 0o000 });
        const r = await runLocald(["build", "-C", dir], { env: f.env });
        assert.equal(r.code, 3);
        assert.match(r.stderr, /cannot be read/);
      },
    });
    await t.step("malformed project.toml gives file:line:column", async () => {
      await Deno.writeTextFile(
        join(f.app, "project.toml"),
        '[_]\nschema-version = "0.2"\n[io.buildpacks\n',
      );
      const r = await f.build();
      assert.equal(r.code, 3);
      assert.match(r.stderr, /project\.toml:3:\d+: /);
      assert.doesNotMatch(r.stderr, /\n\s+at /); // no stack trace
      await Deno.remove(join(f.app, "project.toml"));
    });
    await t.step("bad -e syntax", async () => {
      const r = await f.build("-e", "1BAD=x");
      assert.equal(r.code, 2);
      assert.match(r.stderr, /bad -e "1BAD=x"/);
    });
    await t.step("unsupported platform API", async () => {
      const r = await f.build("--platform-api", "0.3");
      assert.equal(r.code, 8);
      assert.match(r.stderr, /platform API 0\.3 is not supported/);
      assert.match(r.stderr, /hint: use --platform-api with one of 0\.12, 0\.13, 0\.14, 0\.15/);
    });
    await t.step("shell before any build", async () => {
      const fresh = join(f.root, "fresh");
      await Deno.mkdir(fresh);
      for (const cmd of [["shell"], ["exec", "--", "true"], ["run"], ["env"]]) {
        const r = await runLocald([cmd[0], "-C", fresh, ...cmd.slice(1)], { env: f.env });
        assert.equal(r.code, 4, cmd.join(" "));
        assert.match(r.stderr, /has not been built yet\nhint: run `locald build -C .*fresh` first/);
      }
    });
    await t.step("the lifecycle an environment was built with has gone", async () => {
      const copy = join(f.root, "lifecycle-copy");
      await new Deno.Command("cp", { args: ["-a", lifecycleDir(), copy] }).output();
      const env = { ...f.env, LOCALD_LIFECYCLE_DIR: copy };
      assert.equal(
        (await runLocald(["build", "-C", f.app, "-b", FIXTURE_BP, "--force"], { env })).code,
        0,
      );
      await Deno.remove(copy, { recursive: true });
      const r = await runLocald(["exec", "-C", f.app, "--", "true"], { env: f.env });
      assert.equal(r.code, 4);
      assert.match(
        r.stderr,
        /the lifecycle .* was built with is gone .*\nhint: run `locald build --force/,
      );
    });
    await t.step("a failing buildpack names the phase", async () => {
      const r = await f.build("-e", "FIXTURE_FAIL=1");
      assert.equal(r.code, 6);
      assert.match(r.stderr, /locald: the builder phase failed/);
    });
    await t.step("usage errors exit 2 with the usage", async () => {
      const r = await runLocald(["build", "--nope"], { env: f.env });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /unknown flag --nope\nRun `locald help build` for its flags/);
      const u = await runLocald(["frobnicate"], { env: f.env });
      assert.equal(u.code, 2);
      const x = await runLocald(["exec"], { env: f.env });
      assert.equal(x.code, 2);
      assert.match(x.stderr, /no command given\nUsage:\n {2}locald exec/);
    });
  } finally {
    await f.cleanup();
  }
});

Deno.test("dry-run prints the plan without running or writing anything", async () => {
  const f = await fixture();
  try {
    const r = await f.build("--dry-run", "--json");
    assert.equal(r.code, 0, r.stderr);
    // deno-lint-ignore no-explicit-any
    const plan = (r.json as any).plan;
    assert.deepEqual(plan.steps.map((s: { name: string }) => s.name), [
      "analyzer",
      "detector",
      "restorer",
      "builder",
    ]);
    for (const s of plan.steps) {
      for (
        const k of [
          "CNB_LAYERS_DIR",
          "CNB_APP_DIR",
          "CNB_PLATFORM_DIR",
          "CNB_BUILDPACKS_DIR",
          "CNB_ORDER_PATH",
          "CNB_USER_ID",
        ]
      ) {
        assert.ok(s.env[k], `${s.name} sets ${k}`);
      }
    }
    let wrote = true;
    try {
      await Deno.stat(join(f.localdHome, "projects"));
    } catch {
      wrote = false;
    }
    assert.equal(wrote, false);
  } finally {
    await f.cleanup();
  }
});
