import assert from "node:assert/strict";
import { join } from "node:path";
import { rootLayout, stackStep, stackSystem, userEntries } from "./stack.ts";
import type { SandboxOptions } from "./sandbox.ts";
import type { Step } from "./types.ts";
import { nativeHost } from "./native.ts";
import { spawn } from "./spawn.ts";
import { checkSandbox } from "./sandbox_check.ts";

/**
 * A small but different userland: static busybox as /usr/bin/*, merged-/usr links, its own
 * os-release, passwd without the test's ids, resolv.conf as a link into /run (as systemd
 * images have it), and /opt with content (a mount lands beside it).
 */
async function busyboxRoot(dir: string): Promise<string> {
  const root = join(dir, "Root Fs ü");
  for (const d of ["usr/bin", "etc", "opt/vendor", "var/tmp", "home/cnb", "root", "proc", "tmp"]) {
    await Deno.mkdir(join(root, d), { recursive: true });
  }
  await Deno.copyFile("/usr/bin/busybox", join(root, "usr/bin/busybox"));
  await Deno.chmod(join(root, "usr/bin/busybox"), 0o755);
  for (const tool of ["sh", "cat", "id", "ls", "touch", "echo", "pwd", "readlink", "test"]) {
    await Deno.symlink("busybox", join(root, "usr/bin", tool));
  }
  await Deno.symlink("usr/bin", join(root, "bin"));
  await Deno.writeTextFile(join(root, "etc/os-release"), 'ID=teststack\nVERSION_ID="1"\n');
  await Deno.writeTextFile(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  await Deno.writeTextFile(join(root, "etc/group"), "root:x:0:\n");
  await Deno.symlink("../run/systemd/resolve/stub-resolv.conf", join(root, "etc/resolv.conf"));
  await Deno.writeTextFile(join(root, "opt/vendor/file"), "from the image\n");
  return root;
}

const step = (s: Partial<Step>): Step => ({
  name: "probe",
  argv: ["sh", "-c", "true"],
  env: { PATH: "/usr/bin:/bin", HOME: "/home/cnb" },
  cwd: "/",
  dropRoot: true,
  mounts: [],
  ...s,
});

Deno.test("userEntries: adds the user and group only where the image has none", () => {
  const u = { uid: 1001, gid: 1001, name: "ann", home: "/home/ann", shell: "/bin/bash" };
  const added = userEntries("root:x:0:0::/root:/bin/sh", "root:x:0:\nann:x:5:\n", u)!;
  assert.equal(added.passwd, "root:x:0:0::/root:/bin/sh\nann:x:1001:1001::/home/ann:/bin/bash\n");
  // The name is taken in group (by another id): prefixed, never a second "ann".
  assert.equal(added.group, "root:x:0:\nann:x:5:\nlocald-ann:x:1001:\n");
  assert.equal(
    userEntries("ann:x:1001:1001::/h:/bin/sh\n", "ann:x:1001:\n", u),
    undefined,
  );
  // A name from the environment cannot add fields.
  const odd = userEntries("", "", { ...u, name: "a:b\nc" })!;
  assert.equal(odd.passwd.split("\n")[0].split(":").length, 7);
});

Deno.test("rootLayout: binds the top level, opens up a directory only where a mount needs room", async () => {
  const dir = await Deno.makeTempDir({ prefix: "locald-stack-" });
  try {
    const root = await busyboxRoot(dir);
    const plain = rootLayout(root, []);
    assert.deepEqual(plain.find((e) => e.path === "/bin"), { path: "/bin", symlink: "usr/bin" });
    assert.deepEqual(plain.find((e) => e.path === "/opt"), { path: "/opt", source: `${root}/opt` });
    // Private directories of the image are never shown.
    assert.equal(plain.some((e) => e.path === "/proc" || e.path === "/tmp"), false);
    // A mount at /opt/app: /opt has no such directory, so it is opened up; the mount point
    // that exists (/home/cnb) needs nothing.
    const l = rootLayout(root, [{ path: "/opt/app" }, { path: "/home/cnb" }], "/guest");
    assert.deepEqual(l.find((e) => e.path === "/opt"), { path: "/opt", dir: true });
    assert.deepEqual(l.find((e) => e.path === "/opt/vendor"), {
      path: "/opt/vendor",
      source: "/guest/opt/vendor",
    });
    assert.deepEqual(l.find((e) => e.path === "/home"), { path: "/home", source: "/guest/home" });
    // A file mount over a link (resolv.conf -> /run/...): /etc is opened up, the link dropped.
    const e = rootLayout(root, [{ path: "/etc/resolv.conf", file: true }]);
    assert.deepEqual(e.find((x) => x.path === "/etc"), { path: "/etc", dir: true });
    assert.equal(e.some((x) => x.path === "/etc/resolv.conf"), false);
    assert.ok(e.some((x) => x.path === "/etc/os-release"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stackStep: a build step is sandboxed (allow-listed env, empty HOME); a dev command keeps its own", () => {
  const o: SandboxOptions = { bwrap: "/usr/bin/bwrap", uid: 1000, gid: 1000, system: [] };
  const env = { PATH: "/usr/bin", HOME: "/home/ann", AWS_SECRET_ACCESS_KEY: "s" };
  const build = stackStep(step({ env }), o);
  assert.equal(build.env.AWS_SECRET_ACCESS_KEY, undefined);
  assert.ok(build.argv.join(" ").includes("--tmpfs /home/ann"));
  const dev = stackStep(step({ env, dropRoot: false }), { ...o, dev: true });
  assert.equal(dev.env.AWS_SECRET_ACCESS_KEY, "s");
  const a = dev.argv.join(" ");
  assert.ok(a.includes("--bind /home/ann /home/ann"), a);
  assert.ok(a.includes("--bind /tmp /tmp"), a);
  assert.ok(!a.includes("--tmpfs /home/ann"), a);
  // The host's processes, as on the host: no namespaces but the user's and the mounts'; the
  // host's /tmp is bound, no tmpfs below it. A build step keeps its own.
  assert.ok(!a.includes("--unshare-all") && !a.includes("--tmpfs /tmp "), a);
  assert.ok(a.includes("--unshare-user") && a.includes("--bind /proc /proc"), a);
  const b = build.argv.join(" ");
  assert.ok(b.includes("--unshare-all --share-net") && b.includes("--proc /proc"), b);
  assert.ok(b.includes("--tmpfs /tmp "), b);
});

Deno.test({
  name: "stackStep: a dev command sees the host's processes; a build step has its own (real bwrap)",
  ignore: !(await checkSandbox(Deno.env.toObject())).available,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "locald-stack-" });
    try {
      const root = await busyboxRoot(dir);
      const home = join(dir, "home");
      await Deno.mkdir(home);
      const a = await checkSandbox(Deno.env.toObject());
      const o: SandboxOptions = {
        bwrap: a.bwrap!,
        uid: Deno.uid() ?? 0,
        gid: Deno.gid() ?? 0,
        system: [],
      };
      const hostPid = Deno.readLinkSync("/proc/self/ns/pid");
      const ns = async (dev: boolean) => {
        const s = step({
          argv: ["sh", "-c", "readlink /proc/self/ns/pid; test -e /proc/$PPID && echo parent"],
          env: { PATH: "/usr/bin:/bin", HOME: home },
          dropRoot: !dev,
        });
        const res = await spawn(
          nativeHost({ uid: Deno.uid() ?? 0 }).wrap(
            stackStep(s, { ...o, dev, system: stackSystem(s, { root, dev }) }),
          ),
          { mode: "capture", echo: false },
        );
        assert.equal(res.code, 0, res.output);
        return res.output;
      };
      assert.equal(await ns(true), `${hostPid}\nparent\n`);
      const own = await ns(false);
      assert.ok(!own.startsWith(hostPid), own);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stackStep: runs in the image's userland with the host's name resolution and room for mounts (real bwrap)",
  ignore: !(await checkSandbox(Deno.env.toObject())).available,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "locald-stack-" });
    try {
      const root = await busyboxRoot(dir);
      // The project (a name with a space) is shown where the image has a directory of its own
      // (/opt), so /opt is opened up around it.
      const app = join(dir, "My App");
      await Deno.mkdir(app);
      const passwd = join(dir, "passwd");
      await Deno.writeTextFile(
        passwd,
        userEntries("root:x:0:0:root:/root:/bin/sh\n", "", {
          uid: 1234,
          gid: 1234,
          name: "cnb",
          home: "/home/cnb",
          shell: "/bin/sh",
        })!.passwd,
      );
      const a = await checkSandbox(Deno.env.toObject());
      const base: SandboxOptions = {
        bwrap: a.bwrap!,
        uid: Deno.uid() ?? 0,
        gid: Deno.gid() ?? 0,
        system: [],
        inside: { uid: 1234, gid: 1234 },
      };
      const s = step({
        argv: [
          "sh",
          "-c",
          "cat /etc/os-release; cat /opt/vendor/file; echo made > /opt/app/out; id -u; " +
          "cat /etc/resolv.conf; grep ^cnb: /etc/passwd; test -e /usr/bin/apt-get || echo no-apt; " +
          `ls "${root}" >/dev/null 2>&1 && echo sees-host || echo sealed`,
        ],
        env: { PATH: "/usr/bin:/bin", HOME: "/home/cnb" },
        cwd: "/opt/app",
        mounts: [{ source: app, path: "/opt/app", writable: true }],
      });
      const system = stackSystem(s, { root, etc: { "/etc/passwd": passwd } });
      const res = await spawn(
        nativeHost({ uid: Deno.uid() ?? 0 }).wrap(stackStep(s, { ...base, system })),
        { mode: "capture", echo: false },
      );
      assert.equal(res.code, 0, res.output);
      const resolv = await Deno.readTextFile("/etc/resolv.conf");
      assert.equal(
        res.output,
        'ID=teststack\nVERSION_ID="1"\nfrom the image\n1234\n' + resolv +
          (resolv.endsWith("\n") ? "" : "\n") +
          "cnb:x:1234:1234::/home/cnb:/bin/sh\nno-apt\nsealed\n",
      );
      assert.equal(await Deno.readTextFile(join(app, "out")), "made\n");
      // Nothing was written into the shared root.
      assert.equal((await Array.fromAsync(Deno.readDir(join(root, "opt")))).length, 1);

      // A dev command: the user's HOME (here a directory under the test dir) and /tmp are the
      // host's, and so is the environment.
      const home = join(dir, "home");
      await Deno.mkdir(home);
      await Deno.writeTextFile(join(home, ".gitconfig"), "[user]\n");
      const marker = await Deno.makeTempFile({ prefix: "locald-stack-tmp-" });
      const d = step({
        argv: ["sh", "-c", `cat "$HOME/.gitconfig"; cat ${marker} && echo tmp-shared; echo $FOO`],
        env: { PATH: "/usr/bin:/bin", HOME: home, FOO: "kept" },
        cwd: app,
        dropRoot: false,
        mounts: [{ path: app, writable: true }],
      });
      const dsys = stackSystem(d, { root, dev: true });
      const dres = await spawn(
        nativeHost({ uid: Deno.uid() ?? 0 }).wrap(
          stackStep(d, { ...base, inside: undefined, system: dsys, dev: true }),
        ),
        { mode: "capture", echo: false },
      );
      await Deno.remove(marker);
      assert.equal(dres.code, 0, dres.output);
      assert.equal(dres.output, "[user]\ntmp-shared\nkept\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
