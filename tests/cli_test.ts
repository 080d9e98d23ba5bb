/**
 * First contact with the command line, as a user meets it (main.ts in a subprocess, a real
 * build with the real lifecycle): flags before the command, short answers to mistakes,
 * subcommand help, and the words locald prints (hints, doctor, times, the README's claims).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO, runLocald, testEnv } from "./support/locald.ts";
import { builtFixture, copyApp, FIXTURE_APP, FIXTURE_BP } from "./support/fixture.ts";
import { lifecycleDir } from "./support/tools.ts";
import { COMMANDS } from "../src/cli/registry.ts";
import { devcontainerDoc } from "../src/devenv/devcontainer.ts";

const readme = () => Deno.readTextFile(join(REPO, "README.md"));

Deno.test("-C before the command: exec, run, env and shell use it; every command takes it", async () => {
  const f = await builtFixture();
  try {
    // The project is reached only through -C: the current directory is elsewhere.
    const opts = { env: f.env, cwd: f.root };
    const exec = await runLocald(["-C", f.app, "exec", "--", "fixture-tool", "a"], opts);
    assert.equal(exec.code, 0, exec.stderr);
    assert.match(exec.stdout, /fixture-tool ran from .*\nargs: \[a\]/);
    const run = await runLocald([`--dir=${f.app}`, "run", "worker"], opts);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /fixture-tool ran from/);
    const env = await runLocald(["-C", f.app, "--format", "json", "env"], opts);
    assert.equal(env.code, 0, env.stderr);
    assert.ok(JSON.parse(env.stdout).PATH.includes(f.localdHome));
    const shell = await runLocald(["-C", f.app, "shell", "-c", "fixture-tool"], {
      ...opts,
      env: { ...f.env, SHELL: "/bin/bash" },
    });
    assert.equal(shell.code, 0, shell.stderr);
    // A second -C is relative to the first, as with git.
    const app = f.app.slice(f.root.length + 1);
    const both = await runLocald(["-C", f.root, "exec", "-C", app, "--", "fixture-tool"], {
      env: f.env,
      cwd: "/",
    });
    assert.equal(both.code, 0, both.stderr);
    const gone = await runLocald(["-C", join(f.root, "nope"), "exec", "--", "true"], opts);
    assert.equal(gone.code, 3);
    assert.match(gone.stderr, /project directory .*nope does not exist/);
    for (const c of COMMANDS) {
      const r = await runLocald(["-C", f.app, c.name, "--help"], opts);
      assert.equal(r.code, 0, `locald -C DIR ${c.name} --help: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^locald ${c.name}: `));
    }
  } finally {
    await f.cleanup();
  }
});

Deno.test("mistakes: exit 2, at most 6 lines, the nearest match, not the whole help", async () => {
  const t = await testEnv();
  try {
    const cases: [string[], RegExp][] = [
      [["biuld"], /unknown command "biuld"\ndid you mean `build`\?/],
      [["-C", ".", "exce", "--", "true"], /unknown command "exce"\ndid you mean `exec`\?/],
      [["ls"], /did you mean `builder ls` or `cache ls`\?/],
      [["build", "--forse"], /locald build: unknown flag --forse\ndid you mean `--force`\?/],
      [["build", "-force"], /did you mean `--force`\?/],
      [["--forse", "build"], /did you mean `--force`\?/],
      [["exec", "--sandbx", "--", "true"], /did you mean `--sandbox`\?/],
      [["builder", "pul"], /unknown subcommand "pul" .*\ndid you mean `pull`\?/],
      [["cache", "prune", "--al"], /locald cache prune: unknown flag --al\ndid you mean `--all`\?/],
      [["builder", "ls", "--platform", "x"], /locald builder ls: unknown flag --platform/],
      [["build", "--pull-policy", "alway"], /takes "always", .*\ndid you mean `always`\?/],
      [["env", "--format", "jsno"], /did you mean `json`\?/],
      [["help", "biuld"], /did you mean `build`\?/],
    ];
    for (const [argv, want] of cases) {
      const r = await runLocald(argv, { env: t.env });
      const what = `locald ${argv.join(" ")}`;
      assert.equal(r.code, 2, `${what}: ${r.stderr}`);
      assert.equal(r.stdout, "", what);
      assert.match(r.stderr, want, what);
      const lines = r.stderr.trimEnd().split("\n");
      assert.ok(lines.length <= 6, `${what}: ${lines.length} lines\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /Commands:|Flags:/, what);
    }
  } finally {
    await t.cleanup();
  }
});

Deno.test("no HOME: commands that keep nothing there run; the rest say so once, exit 3", async () => {
  // main resolves the home's map on first use (ctx.dirs), not before every command.
  const t = await testEnv();
  try {
    const env = { ...t.env };
    delete env.HOME;
    delete env.LOCALD_HOME;
    const version = await runLocald(["version"], { env });
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^locald /);
    const usage = await runLocald(["cache", "bogus"], { env });
    assert.equal(usage.code, 2, usage.stderr);
    const ls = await runLocald(["cache", "ls"], { env });
    assert.equal(ls.code, 3, ls.stderr);
    assert.match(
      ls.stderr,
      /^locald: cannot tell where to keep locald's data: HOME is not set\nhint: set LOCALD_HOME/,
    );
    // doctor reports the disk check's failure and still runs the others.
    const doctor = await runLocald(["doctor", "--json"], { env });
    const checks = (doctor.json as { checks: { id: string; status: string; summary: string }[] })
      .checks;
    const disk = checks.find((c) => c.id === "disk");
    assert.equal(disk?.status, "fail");
    assert.match(disk!.summary, /HOME is not set/);
    assert.ok(checks.some((c) => c.id === "backend"), JSON.stringify(checks));
  } finally {
    await t.cleanup();
  }
});

Deno.test("builder, cache and vm subcommands have their own help and flags", async () => {
  const t = await testEnv();
  try {
    for (const c of COMMANDS.filter((c) => c.subcommands)) {
      const top = await runLocald([c.name, "--help"], { env: t.env });
      assert.equal(top.code, 0);
      for (const s of c.subcommands!) {
        assert.ok(top.stdout.includes(`\n  ${s.name}`) && top.stdout.includes(s.summary));
        for (const argv of [[c.name, s.name, "--help"], ["help", c.name, s.name]]) {
          const r = await runLocald(argv, { env: t.env });
          assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr}`);
          assert.ok(r.stdout.startsWith(`locald ${c.name} ${s.name}: ${s.summary}\n`), r.stdout);
          // Its own flags, and none of its siblings' that it does not take.
          const own = new Set(s.flags.map((f) => f.name));
          for (const f of c.flags) {
            const listed = r.stdout.includes(`--${f.name}`);
            assert.equal(listed, own.has(f.name), `${argv.join(" ")}: --${f.name}`);
          }
        }
      }
    }
    const build = await runLocald(["build", "--help"], { env: t.env });
    const usage = build.stdout.slice(
      build.stdout.indexOf("Usage:"),
      build.stdout.indexOf("\n\n", build.stdout.indexOf("Usage:")),
    );
    for (const flag of ["--export", "--publish", "--run-image", "--pull-policy", "--layout-dir"]) {
      assert.ok(usage.includes(flag), `build usage misses ${flag}:\n${usage}`);
    }
    // The README shows the same usage.
    const block = usage.split("\n").slice(1).map((l) => l.slice(2)).join("\n");
    assert.ok((await readme()).includes(block), "README's build usage differs from --help");
  } finally {
    await t.cleanup();
  }
});

Deno.test("no lifecycle: the hint names LOCALD_LIFECYCLE_DIR; doctor claims no checksum for it", async () => {
  const t = await testEnv({ LOCALD_LIFECYCLE_MIRROR: "http://127.0.0.1:9/lifecycle" });
  try {
    const app = await copyApp(FIXTURE_APP, t.root);
    // The download cannot happen (nothing listens there): what now?
    const b = await runLocald(["build", "-C", app, "-b", FIXTURE_BP], { env: t.env });
    assert.equal(b.code, 5, b.stderr);
    assert.match(b.stderr, /\nhint: .*LOCALD_LIFECYCLE_MIRROR.*LOCALD_LIFECYCLE_DIR=DIR/);

    const none = await runLocald(["doctor", "--json"], { env: t.env });
    // deno-lint-ignore no-explicit-any
    const check = (doc: any) => doc.checks.find((c: { id: string }) => c.id === "lifecycle");
    assert.match(check(none.json).hint, /locald setup.*LOCALD_LIFECYCLE_DIR/);

    const own = { ...t.env, LOCALD_LIFECYCLE_DIR: lifecycleDir() };
    const human = await runLocald(["doctor"], { env: own });
    const line = human.stdout.split("\n").find((l) => /lifecycle/.test(l) && /0\.21/.test(l));
    assert.ok(line, human.stdout);
    assert.match(line, /LOCALD_LIFECYCLE_DIR: used as it is, not verified/);
    assert.doesNotMatch(line, /pinned|checksums file/);
    const json = await runLocald(["doctor", "--json"], { env: own });
    assert.equal(check(json.json).data.verified, false);

    const bogus = await runLocald(["doctor", "--json"], {
      env: { ...t.env, LOCALD_LIFECYCLE_DIR: t.root },
    });
    assert.equal(check(bogus.json).status, "fail");
    assert.match(check(bogus.json).hint, /point LOCALD_LIFECYCLE_DIR at an unpacked lifecycle/);
  } finally {
    await t.cleanup();
  }
});

Deno.test("times read as 'N minutes ago' for people; --json keeps the ISO time", async () => {
  const f = await builtFixture();
  try {
    const again = await f.build();
    assert.match(again.stderr, /since the build (just now|\d+ seconds? ago) \(use --force/);
    const ls = await runLocald(["cache", "ls"], { env: f.env });
    assert.match(ls.stdout, /built (just now|\d+ seconds? ago)/);
    assert.doesNotMatch(ls.stdout, /\d{4}-\d\d-\d\dT/);
    const json = await runLocald(["cache", "ls", "--json"], { env: f.env });
    // deno-lint-ignore no-explicit-any
    assert.match((json.json as any).projects[0].builtAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    await Deno.writeTextFile(join(f.app, "new-file"), "x");
    const stale = await runLocald(["exec", "-C", f.app, "--", "true"], { env: f.env });
    assert.match(
      stale.stderr,
      /changed since its environment was built \((just now|\d+ seconds? ago)\)/,
    );
  } finally {
    await f.cleanup();
  }
});

Deno.test("README: run TYPE -- ARGS replaces the process's arguments, as locald does", async () => {
  const f = await builtFixture();
  try {
    // web's launch.toml gives it args = ["from-launch.toml"].
    const own = await runLocald(["run", "-C", f.app], { env: f.env });
    assert.equal(own.code, 0, own.stderr);
    assert.match(own.stdout, /args: from-launch\.toml\n/);
    const replaced = await runLocald(["run", "-C", f.app, "web", "--", "mine"], { env: f.env });
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.match(replaced.stdout, /args: mine\n/);
    assert.doesNotMatch(replaced.stdout, /from-launch\.toml/);
    const text = await readme();
    assert.match(text, /locald run worker -- --verbose +# another process type; ARGS replace/);
    assert.match(text, /ARGS _replace_ the\s+arguments the buildpack gave the process type/);
    assert.doesNotMatch(text, /with extra arguments/);
    const help = await runLocald(["help", "run"], { env: f.env });
    assert.match(help.stdout, /ARGS replace the arguments the buildpack gave the process/);
  } finally {
    await f.cleanup();
  }
});

Deno.test("README: the devcontainer claim matches what the file mounts; -C wording", async () => {
  const doc = devcontainerDoc({
    projectDir: "/home/me/app",
    runImage: "example.org/run:1",
    layersDir: "/home/me/.local/share/locald/projects/app-1/image/layers",
    platformApi: "0.13",
    remoteEnv: {},
  });
  // The layers come from a directory on the building machine.
  assert.deepEqual(doc.mounts, [{
    source: "/home/me/.local/share/locald/projects/app-1/image/layers",
    target: "/layers",
    type: "bind",
  }]);
  const text = (await readme()).replace(/\s+/g, " ");
  const para = text.slice(text.indexOf("`locald devcontainer` writes"));
  assert.match(
    para,
    /^`locald devcontainer` writes a `devcontainer.json` for VS Code's Dev Containers and the devcontainers CLI on the machine that built the image/,
  );
  assert.match(para, /layers bind-mounted at `\/layers` from this machine's `\$LOCALD_HOME`/);
  assert.match(para, /Not for GitHub Codespaces or a remote Docker host/);
  assert.doesNotMatch(text, /for VS Code, Codespaces/);
  // -C: where it goes and what it does, as the parser does it.
  assert.match(text, /Every command accepts it, before or after the command's name/);
  assert.match(text, /a second `-C` is relative to the first/);
  assert.doesNotMatch(text, /`-C DIR` works on every command/);
});
