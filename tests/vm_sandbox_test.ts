/**
 * `--sandbox` and image builds through the Lima backend (and `--sandbox` through WSL's, whose
 * host wraps the sandboxed step the same way, in the distribution): the Lima host wraps the sandboxed
 * step, so bwrap runs inside the VM with the VM's bwrap, ids and system directories. Carried
 * by the recording stand-in limactl (tests/standins/limactl.ts), which runs `limactl shell`'s
 * command on this machine (as root: as uid 1000 in a user namespace, so bwrap nests a second
 * user namespace inside it, as it would run as the VM's unprivileged user).
 *
 * What these tests cannot prove: that a VM boots; that the VM's provisioning really installs
 * bubblewrap and that Ubuntu 24.04's AppArmor accepts locald's profile and then lets bwrap
 * create user namespaces (this machine has no AppArmor restriction); that virtiofs shows the
 * layers and the layout with the same ownership; that a registry on the Mac's loopback is
 * reachable from the VM (here the "VM" shares this machine's network).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { guestArgv, limaSession } from "./support/lima_session.ts";
import { startRegistry } from "./support/registry.ts";
import { appDir, pushImages } from "./support/image_fixture.ts";
import { runProcess } from "./support/proc.ts";

const REPO = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const FIXTURES = join(REPO, "tests", "fixtures");
const SECRET_KEY = "-----BEGIN OPENSSH PRIVATE KEY----- locald-vm-test-key-9c1e";

Deno.test("LOCALD_BACKEND=lima --sandbox: bwrap runs inside the VM and hides the VM user's ~/.ssh from a hostile buildpack; exec --sandbox too (stand-in limactl: no VM, no AppArmor)", async () => {
  const s = await limaSession();
  try {
    const app = join(s.root, "app");
    await Deno.mkdir(app);
    await Deno.writeTextFile(join(app, "main.txt"), "an app\n");
    await Deno.mkdir(join(s.guestHome, ".ssh"), { recursive: true, mode: 0o700 });
    const key = join(s.guestHome, ".ssh", "id_ed25519");
    await Deno.writeTextFile(key, SECRET_KEY + "\n", { mode: 0o600 });
    const bp = join(FIXTURES, "buildpacks", "hostile-read-home");

    // Unsandboxed (a local buildpack is trusted by default), the key leaks: the test can fail.
    const open = await s.run(["build", "-C", app, "-b", bp]);
    assert.equal(open.code, 0, open.stderr);
    assert.ok(open.stderr.includes(SECRET_KEY), "without the sandbox the key leaks");
    assert.doesNotMatch(open.stderr, /sandbox: on/);

    // The probe told locald about the VM's bwrap and system directories; kept with the facts.
    const facts = JSON.parse(await Deno.readTextFile(join(s.limaHome, "_locald", "guest.json")));
    assert.equal(facts.sandbox.bwrap, "/usr/bin/bwrap");
    assert.equal(facts.sandbox.works, true);
    assert.ok(facts.sandbox.system.some((e: { path: string }) => e.path === "/usr"));

    // doctor reports the VM's sandbox, not this machine's.
    const doc = await s.run(["doctor", "--json"]);
    // deno-lint-ignore no-explicit-any
    const check = (doc.json as any).checks.find((c: { id: string }) => c.id === "sandbox");
    assert.equal(check.status, "ok", JSON.stringify(check));
    assert.equal(check.summary, "available in the locald VM: bwrap at /usr/bin/bwrap");

    // exec and shell -c with --sandbox: bwrap in the VM, the home empty.
    const cat = ["sh", "-c", 'cat "$HOME/.ssh/id_ed25519"'];
    const plain = await s.run(["exec", "-C", app, "--", ...cat]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout, SECRET_KEY + "\n");
    const boxedExec = await s.run(["exec", "--sandbox", "-C", app, "--", ...cat]);
    assert.notEqual(boxedExec.code, 0);
    assert.match(boxedExec.stderr, /No such file or directory/);
    assert.ok(!boxedExec.stdout.includes(SECRET_KEY));
    const boxedShell = await s.run([
      "shell",
      "--sandbox",
      "-C",
      app,
      "-c",
      'ls -A "$HOME"; echo "home=$HOME"',
    ]);
    assert.equal(boxedShell.code, 0, boxedShell.stderr);
    assert.equal(boxedShell.stdout, `home=${s.guestHome}\n`, "HOME is there, and empty");
    let calls = await s.calls();
    const execCall = calls.findLast((c) =>
      c.argv.includes("/usr/bin/bwrap") && c.argv.some((a) => a.includes(".ssh/id_ed25519"))
    );
    assert.ok(execCall, "exec --sandbox went through limactl shell ... bwrap");
    assert.equal(guestArgv(execCall)[0], "/usr/bin/bwrap");

    // Sandboxed, the same buildpack finds nothing, and the user is told why it failed.
    const boxed = await s.run(["build", "-C", app, "-b", bp, "--sandbox"]);
    assert.equal(boxed.code, 6, boxed.stderr);
    assert.match(boxed.stderr, /sandbox: on \(/);
    assert.match(boxed.stderr, /hostile: secret not found at .*\/\.ssh\/id_ed25519/);
    assert.match(boxed.stderr, /hint: a buildpack failed: its output is above\. It ran sandboxed/);
    assert.ok(!boxed.stderr.includes(SECRET_KEY) && !boxed.stdout.includes(SECRET_KEY));

    // Every phase went `limactl shell --workdir / locald env -i -- K=V... bwrap ... -- PHASE`,
    // with the VM user's ids and the VM user's home hidden under a tmpfs.
    calls = await s.calls();
    const builder = calls.findLast((c) =>
      c.argv.includes("/usr/bin/bwrap") && c.argv.some((a) => a.endsWith("/lifecycle/builder"))
    );
    assert.ok(builder, "the builder phase ran under bwrap through limactl shell");
    const inner = guestArgv(builder);
    assert.equal(inner[0], "/usr/bin/bwrap");
    const uid = Deno.uid() === 0 ? "1000" : String(Deno.uid());
    assert.deepEqual(inner.slice(inner.indexOf("--uid"), inner.indexOf("--uid") + 2), [
      "--uid",
      uid,
    ]);
    const tmpfs = inner.flatMap((a, i) => (a === "--tmpfs" ? [inner[i + 1]] : []));
    assert.ok(tmpfs.includes(s.guestHome), tmpfs.join(" "));
    assert.ok(builder.argv.includes(`HOME=${s.guestHome}`));
    assert.equal(inner[inner.indexOf("--") + 1].endsWith("/lifecycle/builder"), true);
  } finally {
    await s.close();
  }
});

Deno.test("LOCALD_BACKEND=lima --sandbox: a VM without bwrap is a one-line error saying to re-provision; facts cached by an older locald are probed again (stand-in limactl)", async () => {
  const s = await limaSession();
  try {
    const app = join(s.root, "app");
    await Deno.mkdir(app);
    await Deno.writeTextFile(join(app, "main.txt"), "an app\n");
    const bp = join(FIXTURES, "buildpacks", "hostile-read-home");
    assert.equal((await s.run(["vm", "start"])).code, 0);
    const file = join(s.limaHome, "_locald", "guest.json");
    const facts = JSON.parse(await Deno.readTextFile(file));

    // What the VM told locald when it had no bwrap (an instance made before it was provisioned).
    await Deno.writeTextFile(
      file,
      JSON.stringify({ ...facts, sandbox: { ...facts.sandbox, bwrap: "", works: false } }),
    );
    const before = (await s.calls()).length;
    const r = await s.run(["build", "-C", app, "-b", bp, "--sandbox"]);
    assert.equal(r.code, 8, r.stderr);
    assert.match(
      r.stderr,
      /^locald: cannot sandbox this build \(.*\): the locald VM has no bwrap \(bubblewrap\)$/m,
    );
    assert.match(r.stderr, /^hint: `locald vm rm && locald vm start` re-creates the VM/m);
    const after = await s.calls();
    assert.ok(
      !after.slice(before).some((c) => c.argv.some((a) => a.includes("/lifecycle/"))),
      "no phase ran",
    );
    const doc = await s.run(["doctor", "--json"]);
    // deno-lint-ignore no-explicit-any
    const check = (doc.json as any).checks.find((c: { id: string }) => c.id === "sandbox");
    assert.equal(check.status, "warn");
    assert.match(check.summary, /^not available in the locald VM: no bwrap in the VM/);
    assert.match(check.hint, /locald vm rm && locald vm start/);

    // Facts without the sandbox part (cached by an older locald): asked again, then it works.
    const { sandbox: _, ...old } = facts;
    await Deno.writeTextFile(file, JSON.stringify(old));
    const e = await s.run(["build", "-C", app, "-b", bp, "--sandbox"]);
    assert.match(e.stderr, /sandbox: on \(/, e.stderr);
    assert.match(e.stderr, /hostile: secret not found at /);
    assert.equal(JSON.parse(await Deno.readTextFile(file)).sandbox.bwrap, "/usr/bin/bwrap");
  } finally {
    await s.close();
  }
});

Deno.test("LOCALD_BACKEND=lima --export: the phases see /workspace and /layers under bwrap in the VM, and skopeo reads the layout (stand-in limactl: no VM; registry reached on this machine's loopback)", async () => {
  const reg = await startRegistry();
  const s = await limaSession();
  try {
    const builder = await pushImages(reg);
    const app = await appDir(s.root);
    const out = join(s.root, "image");
    const b = await s.run(
      ["build", "-C", app, "-B", builder, "--export", "-t", "myapp", "--layout-dir", out, "--json"],
    );
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stderr, /===> EXPORTER/);
    assert.match(b.stderr, /image-app: building in \/workspace with layers in \/layers\//);
    // deno-lint-ignore no-explicit-any
    const img = (b.json as any).image;
    assert.match(img.digest, /^sha256:[0-9a-f]{64}$/);

    const inspect = await runProcess(["skopeo", "inspect", `oci:${out}`]);
    assert.equal(inspect.code, 0, inspect.stderr);
    const info = JSON.parse(inspect.stdout);
    assert.ok(info.Env.includes("CNB_LAYERS_DIR=/layers"), info.Env.join(" "));
    assert.ok(info.Env.includes("CNB_APP_DIR=/workspace"), info.Env.join(" "));
    assert.equal(info.Digest, img.digest);

    // The exporter ran through limactl shell, under the VM's bwrap, with the remapped mounts.
    const exporter = (await s.calls()).find((c) =>
      c.argv.some((a) => a.endsWith("/lifecycle/exporter"))
    );
    assert.ok(exporter, "the exporter ran through limactl shell");
    const inner = guestArgv(exporter);
    assert.equal(inner[0], "/usr/bin/bwrap");
    const binds = inner.flatMap((
      a,
      i,
    ) => (a === "--bind" ? [`${inner[i + 1]}>${inner[i + 2]}`] : []));
    // /workspace is the build's copy of the project; the OCI layout is /layout-repo.
    assert.ok(binds.some((m) => m.endsWith("/image/workspace>/workspace")), binds.join(" "));
    assert.ok(binds.some((m) => m.endsWith("/image/layout>/layout-repo")), binds.join(" "));
    assert.ok(binds.some((m) => m.endsWith(">/layers")), binds.join(" "));
  } finally {
    await s.close();
    await reg.stop();
  }
});

Deno.test("LOCALD_BACKEND=wsl --sandbox: bwrap runs inside the distribution and hides its user's ~/.ssh from a hostile buildpack; exec --sandbox too (stand-in wsl.exe)", async () => {
  const { runLocald, wslTestEnv } = await import("./support/locald.ts");
  const { startMirror } = await import("./support/mirror.ts");
  const { lifecycleMirrorDir } = await import("./support/tools.ts");
  const mirror = await startMirror(lifecycleMirrorDir());
  const t = await wslTestEnv({ LOCALD_LIFECYCLE_MIRROR: mirror.url });
  const wsl = t.wsl;
  const run = (args: string[]) => runLocald(args, { env: t.env });
  try {
    const app = join(t.root, "app");
    await Deno.mkdir(app);
    await Deno.writeTextFile(join(app, "main.txt"), "an app\n");
    // The distribution user's home (the stand-in's).
    const home = join(wsl, "home");
    await Deno.mkdir(join(home, ".ssh"), { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(join(home, ".ssh", "id_ed25519"), SECRET_KEY + "\n", { mode: 0o600 });
    const bp = join(FIXTURES, "buildpacks", "hostile-read-home");

    const open = await run(["build", "-C", app, "-b", bp]);
    assert.equal(open.code, 0, open.stderr);
    assert.ok(open.stderr.includes(SECRET_KEY), "without the sandbox the key leaks");

    const boxed = await run(["build", "-C", app, "-b", bp, "--sandbox"]);
    assert.equal(boxed.code, 6, boxed.stderr);
    assert.match(boxed.stderr, /sandbox: on \(/);
    assert.match(boxed.stderr, /hostile: secret not found at .*\/\.ssh\/id_ed25519/);
    assert.ok(!boxed.stderr.includes(SECRET_KEY) && !boxed.stdout.includes(SECRET_KEY));

    const cat = ["sh", "-c", 'cat "$HOME/.ssh/id_ed25519"'];
    const boxedExec = await run(["exec", "--sandbox", "-C", app, "--", ...cat]);
    assert.notEqual(boxedExec.code, 0);
    assert.ok(!boxedExec.stdout.includes(SECRET_KEY));
    const plain = await run(["exec", "-C", app, "--", ...cat]);
    assert.equal(plain.stdout, SECRET_KEY + "\n", plain.stderr);

    // The phases and the sandboxed exec: wsl.exe -d DISTRO ... --exec ... bwrap, Linux paths.
    const calls = await t.calls();
    for (
      const c of [
        calls.findLast((c) => c.argv.some((a) => a.endsWith("/lifecycle/builder"))),
        calls.findLast((c) =>
          c.argv.includes("/usr/bin/bwrap") && c.argv.some((a) => a.includes(".ssh/id_ed25519"))
        ),
      ]
    ) {
      assert.ok(c, "went through wsl.exe");
      assert.deepEqual(c.argv.slice(0, 2), ["-d", "Ubuntu-24.04"]);
      const inner = c.argv.slice(c.argv.indexOf("/usr/bin/bwrap"));
      assert.ok(inner.length > 1 && inner.includes("--unshare-all"), c.argv.join(" "));
      const tmpfs = inner.flatMap((a, i) => (a === "--tmpfs" ? [inner[i + 1]] : []));
      assert.ok(tmpfs.includes(home), tmpfs.join(" "));
      assert.ok(inner.includes(app), "the app at its distro path");
    }
  } finally {
    await mirror.close();
    await t.cleanup();
  }
});
