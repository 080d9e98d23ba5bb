/**
 * The sandbox with real parts: the real lifecycle, real bwrap, hostile fixture buildpacks and
 * a loopback server. Each attack runs without the sandbox (it works, so the test could fail)
 * and with it (it is stopped, and the user sees why).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { MAIN, REPO, runLocald, testEnv } from "./support/locald.ts";
import { lifecycleDir } from "./support/tools.ts";
import { asUser } from "./support/unprivileged.ts";

const BPS = join(REPO, "tests/fixtures/buildpacks");
const FIXTURE_APP = join(REPO, "tests/fixtures/apps/everything");
const SECRET_KEY = "-----BEGIN OPENSSH PRIVATE KEY----- locald-test-key-5f3a";
const TOKEN = "ghp_localdTestToken0123456789";

/** A test environment whose HOME holds an SSH key and whose locald has a GITHUB_TOKEN. */
async function hostileEnv() {
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir(), GITHUB_TOKEN: TOKEN });
  await Deno.mkdir(join(t.home, ".ssh"), { mode: 0o700 });
  await Deno.writeTextFile(join(t.home, ".ssh", "id_ed25519"), SECRET_KEY + "\n", { mode: 0o600 });
  const app = join(t.root, "app");
  await Deno.mkdir(app);
  await Deno.writeTextFile(join(app, "main.txt"), "an app\n");
  const build = (bp: string, ...args: string[]) =>
    runLocald(["build", "-C", app, "-b", join(BPS, bp), ...args], { env: t.env });
  return { ...t, app, build };
}

function assertStopped(r: { code: number; stderr: string }, what: RegExp) {
  assert.equal(r.code, 6, r.stderr);
  assert.match(r.stderr, /sandbox: on \(/);
  assert.match(r.stderr, what);
  assert.match(r.stderr, /locald: the builder phase failed/);
  assert.match(r.stderr, /hint: a buildpack failed: its output is above\. It ran sandboxed/);
}

Deno.test("hostile buildpack reading ~/.ssh/id_ed25519: works unsandboxed, finds nothing in the sandbox", async () => {
  const h = await hostileEnv();
  try {
    const open = await h.build("hostile-read-home");
    assert.equal(open.code, 0, open.stderr);
    assert.ok(open.stderr.includes(SECRET_KEY), "without the sandbox the key leaks");

    const boxed = await h.build("hostile-read-home", "--sandbox");
    assertStopped(boxed, /hostile: secret not found at .*\/\.ssh\/id_ed25519/);
    assert.ok(!boxed.stderr.includes(SECRET_KEY) && !boxed.stdout.includes(SECRET_KEY));
  } finally {
    await h.cleanup();
  }
});

Deno.test("hostile buildpack writing outside the project and layers: works unsandboxed, fails in the sandbox", async () => {
  const h = await hostileEnv();
  try {
    const outside = join(h.root, "outside");
    await Deno.mkdir(outside);
    const target = join(outside, "planted");
    const open = await h.build("hostile-write-outside", "-e", `HOSTILE_TARGET=${target}`);
    assert.equal(open.code, 0, open.stderr);
    assert.equal(await Deno.readTextFile(target), "written by a buildpack\n");
    await Deno.remove(target);

    const boxed = await h.build(
      "hostile-write-outside",
      "-e",
      `HOSTILE_TARGET=${target}`,
      "--sandbox",
    );
    assertStopped(boxed, new RegExp(`hostile: could not write ${target}`));
    assert.deepEqual([...Deno.readDirSync(outside)], [], "nothing was written outside");
    // Nor did anything land in the real HOME.
    assert.deepEqual([...Deno.readDirSync(h.home)].map((e) => e.name), [".ssh"]);
  } finally {
    await h.cleanup();
  }
});

Deno.test("hostile buildpack hunting GITHUB_TOKEN: locald's environment is out of its reach through /proc, sandbox or not; -e passes it on purpose", async () => {
  const h = await hostileEnv();
  try {
    // Unsandboxed, as an ordinary user (the usual developer): the phases run in the build's
    // own mount and user namespace (the new generation of the layers), from which locald's
    // environment in /proc cannot be read. (As root they run in a user namespace anyway.)
    if (Deno.uid() === 0) {
      const u = await asUser({ LOCALD_LIFECYCLE_DIR: lifecycleDir(), GITHUB_TOKEN: TOKEN });
      try {
        const app = join(u.root, "app");
        await Deno.mkdir(app);
        await Deno.writeTextFile(join(app, "main.txt"), "an app\n");
        const bp = join(u.root, "bp");
        await new Deno.Command("cp", { args: ["-r", join(BPS, "hostile-env-secret"), bp] })
          .output();
        await u.chownToUser();
        const open = await u.locald(["build", "-C", app, "-b", bp]);
        assert.equal(open.code, 6, open.stderr);
        assert.match(open.stderr, /hostile: secret not found/);
        assert.ok(!open.stderr.includes(TOKEN));
        const boxed = await u.locald(["build", "-C", app, "-b", bp, "--sandbox"]);
        assertStopped(boxed, /hostile: secret not found/);
        assert.ok(!boxed.stderr.includes(TOKEN));
      } finally {
        await u.cleanup();
      }
    } else {
      const open = await h.build("hostile-env-secret");
      assert.equal(open.code, 6, open.stderr);
      assert.match(open.stderr, /hostile: secret not found/);
    }

    const boxed = await h.build("hostile-env-secret", "--sandbox");
    assertStopped(boxed, /hostile: secret not found/);
    assert.ok(!boxed.stderr.includes(TOKEN) && !boxed.stdout.includes(TOKEN));

    // Naming it with -e is how a build gets a secret: it arrives, sandbox or not.
    const named = await h.build("hostile-env-secret", "--sandbox", "-e", "GITHUB_TOKEN");
    assert.equal(named.code, 0, named.stderr);
    assert.match(
      named.stderr,
      new RegExp(`hostile: GITHUB_TOKEN=${TOKEN} \\(from my environment\\)`),
    );
  } finally {
    await h.cleanup();
  }
});

/** A TCP server on 127.0.0.1 that counts the lines it is sent. */
function loopbackServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const lines: string[] = [];
  const done = (async () => {
    for await (const conn of listener) {
      const text = await new Response(conn.readable).text();
      lines.push(...text.split("\n").filter(Boolean));
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    lines,
    async close() {
      listener.close();
      await done;
    },
  };
}

Deno.test("hostile buildpack calling a loopback server: reaches it unsandboxed and sandboxed, not with --network none", async () => {
  const h = await hostileEnv();
  const server = loopbackServer();
  try {
    const port = `HOSTILE_PORT=${server.port}`;
    const open = await h.build("hostile-network", "-e", port);
    assert.equal(open.code, 0, open.stderr);
    assert.match(open.stderr, /hostile: connected to 127\.0\.0\.1:/);
    assert.deepEqual(server.lines, ["hello from a buildpack"]);

    // The sandbox keeps the network by default (buildpacks download toolchains).
    const shared = await h.build("hostile-network", "-e", port, "--sandbox");
    assert.equal(shared.code, 0, shared.stderr);
    assert.match(shared.stderr, /sandbox: on \(--sandbox\); home hidden, network default/);
    assert.equal(server.lines.length, 2);

    const cut = await h.build("hostile-network", "-e", port, "--network", "none");
    assertStopped(cut, /hostile: cannot reach 127\.0\.0\.1:\d+/);
    assert.match(cut.stderr, /sandbox: on \(--network none\); home hidden, network none/);
    assert.match(cut.stderr, /home empty, no network\)/);
    assert.equal(server.lines.length, 2, "nothing reached the server");
  } finally {
    await server.close();
    await h.cleanup();
  }
});

Deno.test("a normal build in the sandbox as root: phases as uid 1000, files root's, and shell/exec/run --sandbox", async () => {
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir(), GITHUB_TOKEN: TOKEN });
  try {
    const app = join(t.root, "app");
    await new Deno.Command("cp", { args: ["-r", FIXTURE_APP, app] }).output();
    await Deno.writeTextFile(join(t.home, "private.txt"), "mine\n");
    const b = await runLocald(
      ["build", "-C", app, "-b", join(BPS, "everything"), "--sandbox", "--json"],
      { env: t.env },
    );
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stderr, /sandbox: on \(--sandbox\)/);
    // deno-lint-ignore no-explicit-any
    const summary = b.json as any;
    assert.deepEqual(summary.sandbox, { sandbox: true, network: "default", reason: "--sandbox" });
    const uid = Deno.uid();
    assert.match(b.stderr, new RegExp(`fixture: building in .* as uid ${uid === 0 ? 1000 : uid}`));
    const tool = join(
      summary.stateDir,
      "layers",
      "locald-fixtures_everything",
      "tools",
      "bin",
      "fixture-tool",
    );
    assert.equal((await Deno.stat(tool)).uid, uid, "files written in the sandbox are the caller's");
    // The cache works in the sandbox: a second build re-uses the cached layer.
    const again = await runLocald(
      ["build", "-C", app, "-b", join(BPS, "everything"), "--sandbox", "--force"],
      { env: t.env },
    );
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /fixture: reusing cached layer \(fingerprint v1\)/);
    // locald's own records in the state directory are out of a buildpack's reach.
    const record = join(summary.stateDir, "order.toml");
    const tamper = await runLocald([
      "build",
      "-C",
      app,
      "-b",
      join(BPS, "hostile-write-outside"),
      "--sandbox",
      "-e",
      `HOSTILE_TARGET=${record}`,
    ], { env: t.env });
    assert.equal(tamper.code, 6, tamper.stderr);
    assert.match(tamper.stderr, /hostile: could not write .*order\.toml/);
    assert.doesNotMatch(await Deno.readTextFile(record), /written by a buildpack/);
    assert.equal(
      (await runLocald(["build", "-C", app, "-b", join(BPS, "everything"), "--sandbox"], {
        env: t.env,
      })).code,
      0,
    );

    const env = { ...t.env, SSH_AUTH_SOCK: "/tmp/agent.sock" };
    const e = await runLocald([
      "exec",
      "-C",
      app,
      "--sandbox",
      "--",
      "sh",
      "-c",
      'ls -A "$HOME"; env | grep -E "^(GITHUB_TOKEN|SSH_AUTH_SOCK)=" || echo no-secrets; ' +
      "fixture-tool boxed; echo hi > written-inside; " +
      `touch ${summary.stateDir}/layers/x 2>/dev/null || echo layers-read-only; exit 5`,
    ], { env });
    assert.equal(e.code, 5, e.stderr); // the exit code comes through bwrap
    assert.match(
      e.stdout,
      /^no-secrets\nfixture-tool ran from .*\nargs: \[boxed\]\nlayers-read-only\n$/,
    );
    assert.equal(await Deno.readTextFile(join(app, "written-inside")), "hi\n");
    assert.equal((await Deno.stat(join(app, "written-inside"))).uid, uid);

    const r = await runLocald(["run", "-C", app, "--sandbox", "worker", "x"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /args: \[worker\] \[x\]/);
    const s = await runLocald(
      ["shell", "-C", app, "--sandbox", "-c", 'echo "$FIXTURE_PROFILE $LOCALD_SHELL"; ls -A ~'],
      { env: { ...env, SHELL: "/bin/bash" } },
    );
    assert.equal(s.code, 0, s.stderr);
    assert.equal(s.stdout, "from-profile-d 1\n");

    // --network none on a dev command cuts loopback too.
    const server = loopbackServer();
    try {
      const probe =
        `(echo x > /dev/tcp/127.0.0.1/${server.port}) 2>/dev/null && echo up || echo down`;
      const up = await runLocald(["exec", "-C", app, "--sandbox", "--", "bash", "-c", probe], {
        env,
      });
      assert.equal(up.stdout, "up\n");
      const down = await runLocald([
        "exec",
        "-C",
        app,
        "--network",
        "none",
        "--",
        "bash",
        "-c",
        probe,
      ], {
        env,
      });
      assert.equal(down.stdout, "down\n");
    } finally {
      await server.close();
    }
  } finally {
    await t.cleanup();
  }
});

Deno.test("--sandbox without bwrap on PATH: one line, the install command, exit 8, nothing built", async () => {
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const app = join(t.root, "app");
    await new Deno.Command("cp", { args: ["-r", FIXTURE_APP, app] }).output();
    const noBwrap = join(t.root, "empty-bin");
    await Deno.mkdir(noBwrap);
    const env = { ...t.env, PATH: noBwrap };
    const r = await runLocald(["build", "-C", app, "-b", join(BPS, "everything"), "--sandbox"], {
      env,
    });
    assert.equal(r.code, 8);
    assert.match(
      r.stderr,
      /^locald: cannot sandbox this build \(--sandbox\): bwrap \(bubblewrap\) is not installed or not on PATH\nhint: .*install.* bubblewrap.*\n$/,
    );
    let built = true;
    try {
      await Deno.stat(join(t.localdHome, "projects"));
    } catch {
      built = false;
    }
    assert.equal(built, false, "nothing was built or written");

    const doc = await runLocald(["doctor", "--json"], { env });
    // deno-lint-ignore no-explicit-any
    const sandbox = (doc.json as any).checks.find((c: any) => c.id === "sandbox");
    assert.equal(sandbox.status, "warn");
    assert.equal(sandbox.data.available, false);
    assert.match(sandbox.data.reason, /bwrap \(bubblewrap\) is not installed/);
    assert.match(sandbox.data.fix, /bubblewrap/);

    const ok = await runLocald(["doctor", "--json"], { env: t.env });
    assert.equal(ok.code, 0, ok.stderr);
    // deno-lint-ignore no-explicit-any
    const checks = (ok.json as any).checks as any[];
    assert.deepEqual(checks.map((c) => c.id).slice(0, 4), [
      "backend",
      "lifecycle",
      "sandbox",
      "disk",
    ]);
    const good = checks.find((c) => c.id === "sandbox");
    assert.equal(good.data.available, true);
    assert.match(good.data.bwrap, /\/bwrap$/);
    const lc = checks.find((c) => c.id === "lifecycle");
    assert.deepEqual(
      [lc.data.installed, lc.data.version, lc.data.path, lc.data.source],
      [true, "0.21.17", lifecycleDir(), "LOCALD_LIFECYCLE_DIR"],
    );
    const human = await runLocald(["doctor"], { env });
    assert.match(human.stdout, /^warn\s+sandbox\s+not available: bwrap .*\n\s+fix: .*bubblewrap/m);
  } finally {
    await t.cleanup();
  }
});

Deno.test("user namespaces switched off: doctor says why and the exact sysctl, --sandbox refuses", async () => {
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const app = join(t.root, "app");
    await new Deno.Command("cp", { args: ["-r", FIXTURE_APP, app] }).output();
    // A user namespace of our own where user.max_user_namespaces is 0: the kernel really
    // refuses bwrap's namespaces there, as on a host with the sysctl set.
    const inside = async (...args: string[]) => {
      const o = await new Deno.Command("unshare", {
        args: [
          "--user",
          "--map-root-user",
          "sh",
          "-c",
          'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"',
          "sh",
          Deno.execPath(),
          "run",
          "-A",
          "--quiet",
          "--config",
          join(REPO, "deno.json"),
          MAIN,
          ...args,
        ],
        env: t.env,
        clearEnv: true,
      }).output();
      const dec = new TextDecoder();
      return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
    };
    const doc = await inside("doctor", "--json");
    // deno-lint-ignore no-explicit-any
    const sandbox = JSON.parse(doc.stdout).checks.find((c: any) => c.id === "sandbox");
    assert.equal(sandbox.data.available, false, doc.stderr);
    assert.equal(sandbox.data.userns.maxUserNamespaces, 0);
    assert.match(
      sandbox.data.reason,
      /user namespaces are switched off \(user\.max_user_namespaces = 0\)/,
    );
    assert.match(sandbox.data.fix, /sysctl -w user\.max_user_namespaces=15000$/);

    const b = await inside("build", "-C", app, "-b", join(BPS, "everything"), "--sandbox");
    assert.equal(b.code, 8);
    assert.match(
      b.stderr,
      /^locald: cannot sandbox this build \(--sandbox\): user namespaces are switched off .*\nhint: (sudo )?sysctl -w user\.max_user_namespaces=15000\n$/,
    );
  } finally {
    await t.cleanup();
  }
});

Deno.test("settings and trust rules decide when no flag does; bad settings point at the line", async () => {
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const app = join(t.root, "app");
    await new Deno.Command("cp", { args: ["-r", FIXTURE_APP, app] }).output();
    const config = join(t.home, ".config", "locald", "config.toml");
    await Deno.mkdir(join(t.home, ".config", "locald"), { recursive: true });
    const plan = async (...args: string[]) => {
      const r = await runLocald(
        ["build", "-C", app, "-b", join(BPS, "everything"), "--dry-run", "--json", ...args],
        { env: t.env },
      );
      assert.equal(r.code, 0, r.stderr);
      // deno-lint-ignore no-explicit-any
      return (r.json as any).sandbox;
    };
    // No settings: local buildpacks are trusted.
    assert.deepEqual(await plan(), {
      sandbox: false,
      network: "default",
      reason: "local buildpacks are trusted",
    });
    await Deno.writeTextFile(config, "trust-local-buildpacks = false\n");
    assert.equal((await plan()).sandbox, true);
    assert.match((await plan()).reason, /trust-local-buildpacks = false in .*config\.toml/);
    assert.equal((await plan("--sandbox=false")).sandbox, false);

    await Deno.writeTextFile(config, 'sandbox = "always"\n');
    const real = await runLocald(["build", "-C", app, "-b", join(BPS, "everything")], {
      env: t.env,
    });
    assert.equal(real.code, 0, real.stderr);
    assert.match(real.stderr, /sandbox: on \(sandbox = "always" in .*config\.toml\)/);

    await Deno.writeTextFile(config, 'sandbox = "never"\n');
    assert.equal((await plan()).sandbox, false);
    assert.equal((await plan("--network", "none")).sandbox, true); // only the sandbox cuts it

    await Deno.writeTextFile(config, '# mine\nsandbox = "sometimes"\n');
    const bad = await runLocald(["build", "-C", app, "-b", join(BPS, "everything")], {
      env: t.env,
    });
    assert.equal(bad.code, 3);
    assert.match(
      bad.stderr,
      /^locald: .*config\.toml:2:1: sandbox must be "always", "untrusted" or "never"\nhint: /,
    );
    await Deno.writeTextFile(config, "sandbox-typo = 1\n");
    const typo = await runLocald(["build", "-C", app, "-b", join(BPS, "everything"), "--dry-run"], {
      env: t.env,
    });
    assert.equal(typo.code, 0);
    assert.match(typo.stderr, /warning: .*config\.toml:1:1: unknown setting sandbox-typo/);

    const clash = await runLocald(
      ["build", "-C", app, "-b", join(BPS, "everything"), "--sandbox=false", "--network", "none"],
      { env: t.env },
    );
    assert.equal(clash.code, 2);
    assert.match(clash.stderr, /--network none needs the sandbox/);
    const badNet = await runLocald(["exec", "-C", app, "--network", "off", "--", "true"], {
      env: t.env,
    });
    assert.equal(badNet.code, 2);
    assert.match(badNet.stderr, /--network takes "none" or "default" \(got "off"\)/);
  } finally {
    await t.cleanup();
  }
});
