/**
 * Dev commands of a stack build run in the run image (issue 16, point 3): the real launcher
 * (the builder's /cnb/lifecycle) under the real bwrap over a run image root, with the project,
 * the layers, HOME, /tmp, stdin, exit codes and the host's network. The root here is made from
 * this host's programs with its own os-release (tests/support/stack_record.ts), so what a
 * command sees is told apart from the host by that file; tests/stack_images_test.ts runs the
 * same commands against real Debian images.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runLocald, spawnLocald, testEnv, wslTestEnv } from "./support/locald.ts";
import { startMirror } from "./support/mirror.ts";
import { startRegistry } from "./support/registry.ts";
import { appDir, pushImages } from "./support/image_fixture.ts";
import { builtFixture, FIXTURE_APP, FIXTURE_BP } from "./support/fixture.ts";
import { asUser, sh, UID } from "./support/unprivileged.ts";
import { lifecycleDir, lifecycleMirrorDir } from "./support/tools.ts";
import { guestArgv, limaSession } from "./support/lima_session.ts";
import {
  foreignPrograms,
  makeBuilderRoot,
  makeRunRoot,
  makeStackRecord,
  recordPath,
  RUN_OS_RELEASE,
} from "./support/stack_record.ts";

async function stackFixture() {
  const f = await builtFixture();
  const runRoot = await makeRunRoot(join(f.root, "run-root"));
  const builderRoot = await makeBuilderRoot(join(f.root, "builder-root"));
  const record = await recordPath(f.localdHome);
  await makeStackRecord(record, { runRoot, builderRoot });
  const locald = (args: string[], o: { stdin?: string; env?: Record<string, string> } = {}) =>
    runLocald([args[0], "-C", f.app, ...args.slice(1)], {
      env: { ...f.env, ...o.env },
      stdin: o.stdin,
    });
  return { ...f, runRoot, builderRoot, record, locald };
}

Deno.test("stack build: exec, env, run and shell run in the run image", async (t) => {
  const f = await stackFixture();
  try {
    await t.step("exec sees the run image's /etc, the layers' tools and the project", async () => {
      const r = await f.locald(["exec", "--", "cat", "/etc/os-release"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, RUN_OS_RELEASE);
      const host = await Deno.readTextFile("/etc/os-release");
      assert.notEqual(r.stdout, host);
      const tool = await f.locald(["exec", "--", "fixture-tool", "a b"]);
      assert.equal(tool.code, 0, tool.stderr);
      assert.match(
        tool.stdout,
        /^fixture-tool ran from \/.*\/tools\/bin\/fixture-tool\nargs: \[a b\]\n$/,
      );
      // The project is writable; what is written is on the host.
      const w = await f.locald(["exec", "--", "sh", "-c", "echo made > made.txt"]);
      assert.equal(w.code, 0, w.stderr);
      assert.equal(await Deno.readTextFile(join(f.app, "made.txt")), "made\n");
      await Deno.remove(join(f.app, "made.txt")); // the sources as built again
      // The host's name resolution.
      const hosts = await f.locald(["exec", "--", "cat", "/etc/hosts", "/etc/resolv.conf"]);
      assert.equal(
        hosts.stdout,
        (await Deno.readTextFile("/etc/hosts")) + (await Deno.readTextFile("/etc/resolv.conf")),
      );
    });

    await t.step("exit codes, stdin and HOME pass through", async () => {
      const r = await f.locald(["exec", "--", "sh", "-c", 'read x; echo "got:$x"; exit 7'], {
        stdin: "hello\n",
      });
      assert.equal(r.code, 7, r.stderr);
      assert.equal(r.stdout, "got:hello\n");
      await Deno.writeTextFile(join(f.home, ".gitconfig"), "[user]\n\tname = Ann\n");
      const g = await f.locald([
        "exec",
        "--",
        "sh",
        "-c",
        'cat "$HOME/.gitconfig"; echo x > "$HOME/new"',
      ]);
      assert.equal(g.stdout, "[user]\n\tname = Ann\n", g.stderr);
      assert.equal(await Deno.readTextFile(join(f.home, "new")), "x\n");
      // A HOME that does not exist: an empty one, not a bwrap error.
      const noHome = await f.locald(["exec", "--", "sh", "-c", 'echo "$HOME"; ls -A "$HOME"'], {
        env: { HOME: join(f.root, "no-such-home") },
      });
      assert.equal(noHome.code, 0, noHome.stderr);
      assert.equal(noHome.stdout, "/home/locald\n");
      // Killed by a signal: 128+N, as on the host.
      const k = await f.locald(["exec", "--", "sh", "-c", "kill -TERM $$"]);
      assert.equal(k.code, 143, k.stderr);
    });

    await t.step("a port a command opens in the run image is reachable on the host", async () => {
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (l.addr as Deno.NetAddr).port;
      l.close();
      const server = spawnLocald([
        "exec",
        "-C",
        f.app,
        "--",
        "busybox",
        "httpd",
        "-f",
        "-p",
        `127.0.0.1:${port}`,
        "-h",
        f.app,
      ], { env: f.env });
      let body = "";
      for (let i = 0; i < 200 && !body; i++) {
        try {
          const r = await fetch(`http://127.0.0.1:${port}/fixture.txt`);
          body = await r.text();
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      server.kill("SIGTERM");
      await server.output();
      assert.equal(body, await Deno.readTextFile(join(f.app, "fixture.txt")));
    });

    await t.step("SIGTERM and SIGINT reach the command in the run image", async () => {
      for (const [sig, code] of [["SIGTERM", 42], ["SIGINT", 43]] as const) {
        const marker = join(f.root, `child-${sig}.pid`);
        const child = spawnLocald([
          "exec",
          "-C",
          f.app,
          "--",
          "bash",
          "-c",
          `echo $$ > ${marker}; trap 'echo got-${sig}; exit ${code}' ${sig.slice(3)}; ` +
          "while :; do sleep 0.05; done",
        ], { env: f.env });
        for (let i = 0; i < 400; i++) {
          try {
            if ((await Deno.readTextFile(marker)).trim()) break;
          } catch { /* not yet */ }
          await new Promise((r) => setTimeout(r, 25));
        }
        child.kill(sig);
        const out = await child.output();
        assert.equal(out.code, code, `${sig}: ${new TextDecoder().decode(out.stderr)}`);
        assert.equal(new TextDecoder().decode(out.stdout), `got-${sig}\n`);
      }
    });

    await t.step(
      "the user has a passwd and group entry; the shared root is untouched",
      async () => {
        const r = await f.locald(["exec", "--", "id"]);
        assert.equal(r.stdout, "uid=0(root) gid=0(root) groups=0(root)\n", r.stderr);
        assert.equal(
          await Deno.readTextFile(join(f.runRoot, "etc/passwd")),
          "root:x:0:0:root:/root:/bin/bash\n",
        );
      },
    );

    await t.step("the ssh agent's socket is there, also outside HOME and /tmp", async () => {
      // Where a desktop session keeps it: /run/user/UID/... (here a directory under /run).
      const dir = await Deno.makeTempDir({ dir: Deno.uid() === 0 ? "/run" : f.root });
      const sock = join(dir, "agent.sock");
      const l = Deno.listen({ transport: "unix", path: sock });
      try {
        const r = await f.locald([
          "exec",
          "--",
          "sh",
          "-c",
          'test -S "$SSH_AUTH_SOCK" && echo there',
        ], {
          env: { SSH_AUTH_SOCK: sock },
        });
        assert.equal(r.stdout, "there\n", r.stderr);
        // A socket that is gone (an agent that ended) is left out, not an error.
        const gone = await f.locald(["exec", "--", "true"], {
          env: { SSH_AUTH_SOCK: join(dir, "gone.sock") },
        });
        assert.equal(gone.code, 0, gone.stderr);
      } finally {
        l.close();
        await Deno.remove(dir, { recursive: true });
      }
    });

    await t.step("--sandbox keeps its walls in the run image: HOME hidden", async () => {
      await Deno.writeTextFile(join(f.home, "secret"), "s3cret\n");
      const r = await f.locald([
        "exec",
        "--sandbox",
        "--",
        "sh",
        "-c",
        'ls -A "$HOME"; echo "home=$HOME"; cat /etc/os-release',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `home=${f.home}\n${RUN_OS_RELEASE}`);
      const plain = await f.locald(["exec", "--", "cat", join(f.home, "secret")]);
      assert.equal(plain.stdout, "s3cret\n");
    });

    await t.step("env computes the environment in the run image", async () => {
      // The app's .profile runs in the run image: it reads the image's os-release.
      await Deno.writeTextFile(
        join(f.app, ".profile"),
        'export IMAGE_OS="$(. /etc/os-release; echo "$ID")"\n',
      );
      const r = await f.locald(["env", "--format", "json"]);
      assert.equal(r.code, 0, r.stderr);
      // deno-lint-ignore no-explicit-any
      const vars = r.json as any;
      assert.equal(vars.IMAGE_OS, "locald-test");
      assert.equal(vars.FIXTURE_EXECD, "from-exec-d");
      assert.equal(vars.FIXTURE_PROFILE, "from-profile-d");
      await Deno.remove(join(f.app, ".profile"));
    });

    await t.step("run starts a process type through /cnb/process/TYPE", async () => {
      const r = await f.locald(["run", "web", "x"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^web process FIXTURE_WEB=web-only args: x\n/);
    });

    await t.step("shell: the user's shell if the image has it, else bash (said once)", async () => {
      const zsh = { SHELL: "/usr/bin/zsh" };
      const a = await f.locald(["shell", "-c", 'echo "$0"'], { env: zsh });
      assert.equal(a.code, 0, a.stderr);
      assert.equal(a.stdout, "/bin/bash\n");
      assert.equal(
        a.stderr,
        "locald: the run image (registry.test/run:test) has no /usr/bin/zsh; using /bin/bash\n",
      );
      const b = await f.locald(["shell", "-c", 'echo "$0"'], { env: zsh });
      assert.equal(b.stdout, "/bin/bash\n");
      assert.equal(b.stderr, "");
      const own = await f.locald(["shell", "-c", 'echo "$0"'], { env: { SHELL: "/bin/sh" } });
      assert.equal(own.stdout, "/bin/sh\n", own.stderr);
      // Interactive: bash with locald's rc file (from the project's state), the environment
      // applied after the user's ~/.bashrc, stdin read, the exit code kept.
      await Deno.writeTextFile(join(f.home, ".bashrc"), "export FROM_BASHRC=yes\n");
      const i = await f.locald(["shell"], {
        env: { SHELL: "/bin/bash" },
        stdin:
          'echo "$FROM_BASHRC $FIXTURE_PROFILE"; fixture-tool in; cat /etc/os-release; exit 7\n',
      });
      assert.equal(i.code, 7, i.stderr);
      assert.match(i.stdout, /^yes from-profile-d\nfixture-tool ran from .*\nargs: \[in\]\n/);
      assert.ok(i.stdout.endsWith(RUN_OS_RELEASE), i.stdout);
      assert.match(i.stderr, /locald: entering the environment of /);
    });
  } finally {
    await f.cleanup();
  }
});

Deno.test("stack build: a run image without a shell, a root filesystem that is gone", async () => {
  const f = await stackFixture();
  try {
    const bare = await makeRunRoot(join(f.root, "bare-root"), { shells: false });
    await makeStackRecord(f.record, { runRoot: bare, builderRoot: f.builderRoot });
    const r = await f.locald(["shell", "-c", "true"], { env: { SHELL: "/usr/bin/fish" } });
    assert.equal(r.code, 8, r.stderr);
    assert.equal(
      r.stderr.split("\n")[0],
      "locald: the run image (registry.test/run:test) has no shell: looked for /usr/bin/fish, " +
        "/bin/bash, /usr/bin/bash, /bin/sh, /usr/bin/sh",
    );
    await Deno.remove(bare, { recursive: true });
    const gone = await f.locald(["exec", "--", "true"]);
    assert.equal(gone.code, 4);
    assert.match(gone.stderr, /the run image's root filesystem .* was built with is gone/);
    assert.match(gone.stderr, /hint: run `locald build -C .*` to extract it again/);
  } finally {
    await f.cleanup();
  }
});

Deno.test("host build: a program this host cannot load is one line suggesting --stack", async () => {
  const f = await builtFixture();
  try {
    const record = await recordPath(f.localdHome);
    const rec = JSON.parse(await Deno.readTextFile(record));
    // As a build with a builder records it.
    rec.runImage = "registry.test/run:trixie";
    await Deno.writeTextFile(record, JSON.stringify(rec));
    const bin = join(rec.layersDir, "locald-fixtures_everything", "tools", "bin");
    await foreignPrograms(bin);
    const r = await runLocald(["exec", "-C", f.app, "--", "newglibc"], { env: f.env });
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split("\n");
    // The loader's own line (from the program), then locald's line and hint.
    assert.match(lines[0], /version `GLIBC_2\.99' not found/);
    assert.match(
      lines[1],
      /^locald: this host cannot run the programs the build installed \(the stack of registry\.test\/run:trixie\): newglibc: it needs glibc 2\.99, this host has 2\.\d+$/,
    );
    assert.match(lines[2], /^hint: build in the stack's images instead: `locald build --stack -C /);
    const nl = await runLocald(["exec", "-C", f.app, "--", "noloader"], { env: f.env });
    assert.notEqual(nl.code, 0);
    assert.match(nl.stderr, /noloader: this host has no \/lib64\/ld-linux-x86-64\.so\.9/);
    // A program's own failure is its own: nothing added.
    const own = await runLocald(["exec", "-C", f.app, "--", "sh", "-c", "exit 3"], { env: f.env });
    assert.equal(own.code, 3);
    assert.equal(own.stderr, "");
  } finally {
    await f.cleanup();
  }
});

Deno.test({
  name: "stack build as an unprivileged user: the user's ids are named in the run image",
  ignore: Deno.uid() !== 0,
  async fn() {
    const u = await asUser({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
    try {
      const app = join(u.root, "app");
      assert.equal((await sh(["cp", "-r", FIXTURE_APP, app])).code, 0);
      assert.equal((await sh(["cp", "-r", FIXTURE_BP, join(u.root, "bp")])).code, 0);
      const runRoot = await makeRunRoot(join(u.root, "run-root"));
      const builderRoot = await makeBuilderRoot(join(u.root, "builder-root"));
      await u.chownToUser();
      const build = await u.locald(["build", "-C", app, "-b", join(u.root, "bp")]);
      assert.equal(build.code, 0, build.stderr);
      await makeStackRecord(await recordPath(u.env.LOCALD_HOME), { runRoot, builderRoot });
      await u.chownToUser();
      const name = (await sh(["id", "-un", String(UID)])).stdout.trim();
      const group = (await sh(["id", "-gn", String(UID)])).stdout.trim();
      const id = await u.locald([
        "exec",
        "-C",
        app,
        "--",
        "sh",
        "-c",
        'id; echo "$HOME"; cat /etc/os-release',
      ]);
      assert.equal(id.code, 0, id.stderr);
      assert.equal(
        id.stdout,
        `uid=${UID}(${name}) gid=${UID}(${group}) groups=${UID}(${group})\n${u.env.HOME}\n` +
          RUN_OS_RELEASE,
      );
      // The entries live in the project's state; the shared root keeps its own files.
      assert.equal(
        await Deno.readTextFile(join(runRoot, "etc/passwd")),
        "root:x:0:0:root:/root:/bin/bash\n",
      );
      const env = await u.locald(["env", "-C", app, "--format", "json"]);
      assert.equal(env.code, 0, env.stderr);
      assert.equal(JSON.parse(env.stdout).FIXTURE_EXECD, "from-exec-d");
      const run = await u.locald(["run", "-C", app, "web"]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^web process FIXTURE_WEB=web-only/);
    } finally {
      await u.cleanup();
    }
  },
});

Deno.test("stack build through Lima (stand-in limactl, no VM): bwrap over the run image runs in the VM", async () => {
  const s = await limaSession();
  try {
    const app = join(s.root, "app");
    assert.equal((await sh(["cp", "-r", FIXTURE_APP, app])).code, 0);
    const bp = join(s.root, "bp");
    assert.equal((await sh(["cp", "-r", FIXTURE_BP, bp])).code, 0);
    const build = await s.run(["build", "-C", app, "-b", bp]);
    assert.equal(build.code, 0, build.stderr);
    const runRoot = await makeRunRoot(join(s.root, "run-root"));
    const builderRoot = await makeBuilderRoot(join(s.root, "builder-root"));
    await makeStackRecord(await recordPath(s.localdHome), { runRoot, builderRoot });

    const r = await s.run([
      "exec",
      "-C",
      app,
      "--",
      "sh",
      "-c",
      'cat /etc/os-release; echo "$HOME"',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, RUN_OS_RELEASE + s.guestHome + "\n");
    const call = (await s.calls()).findLast((c) =>
      c.argv.some((a) => a.includes("cat /etc/os-release"))
    );
    assert.ok(call, "exec went through limactl shell");
    const inner = guestArgv(call);
    assert.equal(inner[0], "/usr/bin/bwrap");
    assert.equal(inner[inner.indexOf("--") + 1], "/cnb/lifecycle/launcher");
    const code = await s.run(["exec", "-C", app, "--", "sh", "-c", "exit 9"]);
    assert.equal(code.code, 9, code.stderr);
    const run = await s.run(["run", "-C", app, "web"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^web process FIXTURE_WEB=web-only/);
  } finally {
    await s.close();
  }
});

Deno.test("stack build through WSL, a distribution without bwrap (stand-in wsl.exe): one line, not a failure deep inside", async () => {
  const mirror = await startMirror(lifecycleMirrorDir());
  const t = await wslTestEnv({ LOCALD_LIFECYCLE_MIRROR: mirror.url });
  const wsl = t.wsl;
  try {
    const app = join(t.root, "app");
    assert.equal((await sh(["cp", "-r", FIXTURE_APP, app])).code, 0);
    const b = await runLocald(["build", "-C", app, "-b", FIXTURE_BP, "--json"], { env: t.env });
    assert.equal(b.code, 0, b.stderr);
    // deno-lint-ignore no-explicit-any
    const record = join((b.json as any).stateDir, "build.json");
    await makeStackRecord(record, {
      runRoot: await makeRunRoot(join(t.root, "run-root")),
      builderRoot: await makeBuilderRoot(join(t.root, "builder-root")),
    });
    // The distribution's PATH has what the probe uses, and no bwrap.
    const bin = join(t.root, "distro-bin");
    await Deno.mkdir(bin);
    for (const tool of ["sh", "id", "uname", "cat", "tail", "readlink", "env", "true"]) {
      const found = (await sh(["sh", "-c", `command -v ${tool}`])).stdout.trim();
      await Deno.symlink(found, join(bin, tool));
    }
    await Deno.writeTextFile(join(wsl, "path"), bin);
    const before = (await Deno.readTextFile(join(wsl, "calls.jsonl"))).split("\n").length;
    const r = await runLocald(["exec", "-C", app, "--", "true"], { env: t.env });
    assert.equal(r.code, 8, r.stderr);
    assert.equal(
      r.stderr.split("\n")[0],
      "locald: cannot run locald exec in the run image (registry.test/run:test) under bwrap: " +
        "the WSL distribution Ubuntu-24.04 has no bwrap (bubblewrap)",
    );
    assert.match(
      r.stderr.split("\n")[1],
      /^hint: install it in the distribution \(`wsl -d Ubuntu-24.04 -u root apt-get install -y bubblewrap`\)/,
    );
    const calls = (await Deno.readTextFile(join(wsl, "calls.jsonl"))).split("\n");
    assert.ok(
      !calls.slice(before - 1).some((c) => c.includes("launcher")),
      "no launcher ran",
    );
    // doctor asks the distribution too.
    const doc = await runLocald(["doctor", "-C", app, "--json"], { env: t.env });
    // deno-lint-ignore no-explicit-any
    const check = (doc.json as any).checks.find((c: { id: string }) => c.id === "sandbox");
    assert.equal(check.status, "warn", JSON.stringify(check));
    assert.match(
      check.summary,
      /^not available in the WSL distribution Ubuntu-24.04: no bwrap in the distribution/,
    );
    assert.match(check.hint, /apt-get install -y bubblewrap/);
    // A build that asks for the stack: the same line, before anything is extracted.
    const reg = await startRegistry();
    let stack;
    try {
      const builder = await pushImages(reg);
      stack = await runLocald(["build", "-C", app, "-B", builder, "--stack", "--trust-builder"], {
        env: t.env,
      });
    } finally {
      await reg.stop();
    }
    assert.equal(stack.code, 8, stack.stderr);
    assert.match(
      stack.stderr,
      /\nlocald: --stack: cannot build in the builder's image: cannot run this build in the builder's image under bwrap: the WSL distribution Ubuntu-24.04 has no bwrap \(bubblewrap\)\nhint: install it/,
    );
  } finally {
    await mirror.close();
    await t.cleanup();
  }
});

Deno.test("devcontainer of a stack image build: the environment is computed in the run image", async () => {
  const reg = await startRegistry();
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const builder = await pushImages(reg);
    const app = await appDir(t.root);
    const b = await runLocald(["build", "-C", app, "-B", builder, "--export", "--json"], {
      env: t.env,
    });
    assert.equal(b.code, 0, b.stderr);
    // The app's .profile reads the image's os-release: only the run image gives this value.
    await Deno.writeTextFile(
      join(app, ".profile"),
      'export IMAGE_OS="$(. /etc/os-release; echo "$ID")"\n',
    );
    const host = await runLocald(["devcontainer", "-C", app, "--json"], { env: t.env });
    assert.equal(host.code, 0, host.stderr);
    const file = join(app, ".devcontainer", "devcontainer.json");
    const hostId = (await Deno.readTextFile("/etc/os-release")).match(/^ID=(.*)$/m)![1];
    assert.equal(JSON.parse(await Deno.readTextFile(file)).remoteEnv.IMAGE_OS, hostId);

    // deno-lint-ignore no-explicit-any
    const record = join((b.json as any).stateDir, "build.json");
    await makeStackRecord(record, {
      runRoot: await makeRunRoot(join(t.root, "run-root")),
      builderRoot: await makeBuilderRoot(join(t.root, "builder-root")),
      runRef: JSON.parse(await Deno.readTextFile(record)).runImage,
    });
    const g = await runLocald(["devcontainer", "-C", app, "--json"], { env: t.env });
    assert.equal(g.code, 0, g.stderr);
    const doc = JSON.parse(await Deno.readTextFile(file));
    assert.equal(doc.remoteEnv.IMAGE_OS, "locald-test");
    assert.equal(
      doc.remoteEnv.PATH,
      "/layers/locald-fixtures_image-app/tool/bin:${containerEnv:PATH}",
    );
    assert.equal(doc.image, `${reg.host}/test/run:1`);
  } finally {
    await reg.stop();
    await t.cleanup();
  }
});

Deno.test("stack build: a bwrap that cannot create its namespaces is one line after it failed", async () => {
  const f = await stackFixture();
  try {
    // A bwrap that fails as one does where AppArmor or the kernel forbids user namespaces (the
    // test cannot switch those off for the whole machine): first on PATH, for locald's own
    // check as well.
    const bin = join(f.root, "fake-bin");
    await Deno.mkdir(bin);
    await Deno.writeTextFile(
      join(bin, "bwrap"),
      "#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n",
      { mode: 0o755 },
    );
    const r = await f.locald(["exec", "--", "true"], { env: { PATH: `${bin}:${f.env.PATH}` } });
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines[0], "bwrap: setting up uid map: Permission denied");
    assert.match(
      lines[1],
      /^locald: bwrap cannot start the run image \(registry\.test\/run:test\): /,
    );
    assert.match(lines[2], /^hint: /);
    // A command's own exit 1 in the run image is its own.
    const own = await f.locald(["exec", "--", "sh", "-c", "exit 1"]);
    assert.equal(own.code, 1);
    assert.equal(own.stderr, "");
  } finally {
    await f.cleanup();
  }
});
