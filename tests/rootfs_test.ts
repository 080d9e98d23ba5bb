/**
 * Stack root filesystems (src/oci/rootfs.ts) from the real Debian trixie test images pushed to
 * a loopback registry: extracted once per digest through the layer applier, a killed extraction
 * leaves nothing used, `cache ls|prune` account for them; and the stack fixture is meaningful
 * (its program fails to load on this host, and runs in the run image).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ensureRootfs, listRootfs } from "../src/oci/rootfs.ts";
import { localdDirs } from "../src/config/paths.ts";
import { recordedLayout } from "../src/oci/root_layout.ts";
import { LocaldError } from "../src/errors.ts";
import type { Output } from "../src/output.ts";
import { layer, pushImage } from "./support/images.ts";
import { REPO, runLocald, type TestEnv, testEnv } from "./support/locald.ts";
import { startRegistry, type TestRegistry } from "./support/registry.ts";
import { runProcess } from "./support/proc.ts";
import { asUser, UID } from "./support/unprivileged.ts";
import {
  pushStackImages,
  STACK_APP,
  STACK_BUILD_TOOL,
  STACK_ENV,
  STACK_LIBRARY,
  STACK_PROGRAM,
  userlandLayer,
} from "./support/stack_images.ts";

/** A test with a loopback registry and a clean LOCALD_HOME, both gone afterwards. */
function withRegistry(name: string, fn: (reg: TestRegistry, t: TestEnv) => Promise<void>) {
  Deno.test({
    name,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const reg = await startRegistry();
      const t = await testEnv();
      try {
        await fn(reg, t);
      } finally {
        await reg.stop();
        await t.cleanup();
      }
    },
  });
}

async function tmpsUnder(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name)
      .filter((n) => n.startsWith(".tmp-"));
  } catch {
    return [];
  }
}

withRegistry(
  "the run image's root is extracted once per digest: trixie, its user, env and hard links; offline with pull policy never",
  async (reg, t) => {
    const { runImage } = await pushStackImages(reg);
    const r = await ensureRootfs(runImage, {
      env: t.env,
      dirs: localdDirs(t.env),
      what: "run image",
    });
    assert.equal(r.osRelease.VERSION_CODENAME, "trixie");
    assert.equal(r.osRelease.ID, "debian");
    assert.equal(r.user, "1000:1000");
    assert.ok(r.env.includes("CNB_USER_ID=1000"), r.env.join(" "));
    assert.ok(r.dir.startsWith(join(t.localdHome, "oci", "rootfs", r.digest.slice(7))));
    assert.ok(r.size > 20 << 20, `size ${r.size}`);
    // The image's etc/os-release is a relative link to ../usr/lib/os-release.
    assert.match(await Deno.readTextFile(join(r.dir, "etc/os-release")), /trixie/);
    assert.match(await Deno.readTextFile(join(r.dir, "etc/passwd")), /^cnb:x:1000:1000:/m);
    assert.ok(await Deno.stat(join(r.dir, "usr/lib/x86_64-linux-gnu", STACK_LIBRARY)));
    assert.ok(await Deno.stat(join(r.dir, "etc/issue")));
    // The image has no etc/hosts: an empty mount point for the host's (its resolv.conf is kept).
    assert.equal(await Deno.readTextFile(join(r.dir, "etc/hosts")), "");
    assert.notEqual(await Deno.readTextFile(join(r.dir, "etc/resolv.conf")), "");
    // A hard link in the userland (perl's versioned name) stays one file.
    const perl = await Deno.stat(join(r.dir, "usr/bin/perl"));
    const perlV = (await Array.fromAsync(Deno.readDir(join(r.dir, "usr/bin"))))
      .find((e) => /^perl5\.\d+\.\d+$/.test(e.name));
    assert.ok(perlV, "the userland has perl's versioned hard link");
    assert.equal((await Deno.stat(join(r.dir, "usr/bin", perlV.name))).ino, perl.ino);
    // No device node of the tarball was made.
    assert.equal(
      (await Deno.lstat(join(r.dir, "dev/null")).catch(() => undefined))?.isFile,
      undefined,
    );
    r.release();

    // Second call: nothing extracted again (same record, same tree).
    const record = await Deno.readTextFile(join(r.dir, "..", "rootfs.json"));
    const ino = (await Deno.stat(r.dir)).ino;
    const again = await ensureRootfs(runImage, {
      env: t.env,
      dirs: localdDirs(t.env),
      what: "run image",
    });
    assert.equal(again.dir, r.dir);
    assert.equal((await Deno.stat(again.dir)).ino, ino);
    assert.equal(await Deno.readTextFile(join(r.dir, "..", "rootfs.json")), record);
    // ... and with pull policy "never", no registry is asked.
    await reg.stop();
    const offline = await ensureRootfs(runImage, {
      env: t.env,
      dirs: localdDirs(t.env),
      what: "run image",
      pullPolicy: "never",
    });
    assert.equal(offline.digest, r.digest);
    again.release();
    offline.release();
    await assert.rejects(
      ensureRootfs(`${runImage}-never-pulled`, {
        env: t.env,
        dirs: localdDirs(t.env),
        what: "run image",
        pullPolicy: "never",
      }),
      /has not been pulled/,
    );
  },
);

withRegistry(
  "a whiteout in an upper layer removes the file, a hard link in it is one file; a damaged tree is extracted again",
  async (reg, t) => {
    const extra = await layer([
      { name: "etc/.wh.issue", content: "" },
      { name: "usr/local/bin/", type: "directory" },
      { name: "usr/local/bin/note", content: "#!/bin/sh\necho note\n", mode: 0o755 },
      { name: "usr/local/bin/note-again", type: "link", linkname: "usr/local/bin/note" },
    ]);
    await pushImage(reg, "stack/run-extra", "trixie", {
      layers: [await userlandLayer("run"), extra],
      env: STACK_ENV,
    });
    const r = await ensureRootfs(`${reg.host}/stack/run-extra:trixie`, {
      env: t.env,
      dirs: localdDirs(t.env),
      what: "run image",
    });
    assert.equal(await Deno.lstat(join(r.dir, "etc/issue")).catch(() => "gone"), "gone");
    assert.ok((await Deno.stat(join(r.dir, "etc/issue.net"))).isFile);
    const a = await Deno.stat(join(r.dir, "usr/local/bin/note"));
    const b = await Deno.stat(join(r.dir, "usr/local/bin/note-again"));
    assert.equal(a.ino, b.ino);
    assert.equal(r.osRelease.VERSION_CODENAME, "trixie");
    r.release();

    // A tree damaged since (a file removed) is extracted again with pull policy "always";
    // "if-not-present" uses it as it is.
    await Deno.remove(join(r.dir, "usr/local/bin/note"));
    const kept = await ensureRootfs(`${reg.host}/stack/run-extra:trixie`, {
      env: t.env,
      dirs: localdDirs(t.env),
      what: "run image",
    });
    assert.equal(
      await Deno.lstat(join(kept.dir, "usr/local/bin/note")).catch(() => "gone"),
      "gone",
    );
    kept.release();
    const warned: string[] = [];
    const out = { info() {}, warn: (l: string) => warned.push(l), progress: () => undefined };
    const fixed = await ensureRootfs(`${reg.host}/stack/run-extra:trixie`, {
      env: t.env,
      dirs: localdDirs(t.env),
      what: "run image",
      pullPolicy: "always",
      out: out as unknown as Output,
    });
    assert.equal(fixed.dir, r.dir);
    assert.ok((await Deno.stat(join(fixed.dir, "usr/local/bin/note"))).isFile);
    assert.match(warned.join("\n"), /was changed or damaged; extracting it again/);
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(join(r.dir, "../..")))).filter((e) =>
        e.name.startsWith(".tmp-")
      ),
      [],
    );
    fixed.release();
  },
);

withRegistry(
  "a killed extraction leaves nothing used; the next run works; cache ls and prune count roots",
  async (reg, t) => {
    const { runImage } = await pushStackImages(reg);
    const base = join(t.localdHome, "oci", "rootfs");
    // A locald process extracting the run image, killed while it writes the tree.
    const script =
      `import { ensureRootfs } from ${JSON.stringify(join(REPO, "src/oci/rootfs.ts"))};\n` +
      `import { localdDirs } from ${JSON.stringify(join(REPO, "src/config/paths.ts"))};\n` +
      `const env = Deno.env.toObject();\n` +
      `await ensureRootfs(${
        JSON.stringify(runImage)
      }, { env, dirs: localdDirs(env), what: "run image" });\n` +
      `console.log("done");\n`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--config", join(REPO, "deno.json"), script],
      env: t.env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let killed = false;
    for (let i = 0; i < 600 && !killed; i++) {
      await new Promise((r) => setTimeout(r, 25));
      for (const tmp of await tmpsUnder(base)) {
        const usr = await Array.fromAsync(Deno.readDir(join(base, tmp, "root", "usr")))
          .catch(() => []);
        if (usr.length) {
          child.kill("SIGKILL");
          killed = true;
          break;
        }
      }
    }
    const status = await child.output();
    assert.ok(
      killed,
      `the extraction was not caught midway: ${new TextDecoder().decode(status.stdout)}`,
    );
    assert.equal(
      (await listRootfs(localdDirs(t.env).rootfs)).length,
      0,
      "a killed extraction left a usable root",
    );
    const hexDirs = (await Array.fromAsync(Deno.readDir(base))).filter((e) =>
      /^[0-9a-f]{64}$/.test(e.name)
    );
    assert.deepEqual(hexDirs, []);
    assert.equal((await tmpsUnder(base)).length, 1);

    let ls = await runLocald(["cache", "ls", "--json"], { env: t.env });
    assert.equal(ls.code, 0, ls.stderr);
    // deno-lint-ignore no-explicit-any
    assert.ok((ls.json as any).leftovers.some((p: string) => p.startsWith(join(base, ".tmp-"))));

    // The next run extracts it completely.
    const r = await ensureRootfs(runImage, {
      env: t.env,
      dirs: localdDirs(t.env),
      what: "run image",
    });
    assert.equal(r.osRelease.VERSION_CODENAME, "trixie");
    const hexDir = join(r.dir, "..");

    // A project whose build record names the root keeps it; while ensureRootfs's caller holds
    // it, prune leaves it alone even with no project.
    ls = await runLocald(["cache", "ls", "--json"], { env: t.env });
    // deno-lint-ignore no-explicit-any
    const roots = (ls.json as any).rootfs as {
      path: string;
      refs: string[];
      size: number;
      usedBy: string[];
    }[];
    assert.deepEqual(roots.map((x) => [x.path, x.refs, x.usedBy]), [[hexDir, [runImage], []]]);
    assert.ok(roots[0].size > 20 << 20);
    const human = await runLocald(["cache", "ls"], { env: t.env });
    assert.match(human.stdout, /stack root filesystems \(1/);
    assert.match(
      human.stdout,
      /\/stack\/run:trixie {2}\(Debian GNU\/Linux 13 \(trixie\)\) {2}unused/,
    );

    let prune = await runLocald(["cache", "prune", "--json"], { env: t.env });
    assert.equal(prune.code, 0, prune.stderr);
    // deno-lint-ignore no-explicit-any
    const p1 = prune.json as any;
    assert.ok(p1.removed.some((x: string) => x.includes("/.tmp-")), "the leftover was removed");
    assert.deepEqual(p1.inUse, [hexDir]);
    assert.match(
      prune.stderr,
      /left the root filesystem of .* alone: another locald is using it/,
    );
    assert.ok(await Deno.stat(join(hexDir, "rootfs.json")));
    r.release();

    // A project's build record that names the root keeps it.
    const app = join(t.root, "app");
    await Deno.mkdir(app);
    const state = join(t.localdHome, "projects", "app-0123456789ab");
    await Deno.mkdir(state, { recursive: true });
    await Deno.writeTextFile(
      join(state, "build.json"),
      JSON.stringify({
        projectDir: app,
        builtAt: new Date().toISOString(),
        userland: "stack",
        stack: { runImage: { ref: runImage, digest: r.digest, root: r.dir } },
      }),
    );
    prune = await runLocald(["cache", "prune", "--json"], { env: t.env });
    // deno-lint-ignore no-explicit-any
    assert.deepEqual((prune.json as any).removed, []);
    ls = await runLocald(["cache", "ls", "--json"], { env: t.env });
    // deno-lint-ignore no-explicit-any
    assert.deepEqual((ls.json as any).rootfs[0].usedBy, [app]);

    // Once the project is gone, prune removes its state and then the root nobody names.
    await Deno.remove(app);
    prune = await runLocald(["cache", "prune", "--json"], { env: t.env });
    // deno-lint-ignore no-explicit-any
    assert.deepEqual((prune.json as any).removed, [state, hexDir]);
    assert.equal(await Deno.lstat(hexDir).catch(() => "gone"), "gone");
    assert.deepEqual(await listRootfs(localdDirs(t.env).rootfs), []);
    // ... and it is extracted again on demand.
    const back = await ensureRootfs(runImage, {
      env: t.env,
      dirs: localdDirs(t.env),
      what: "run image",
    });
    assert.equal(back.dir, r.dir);
    back.release();
  },
);

withRegistry(
  "the stack builder's root: real lifecycle and fixture; its program fails to load on this host and runs in the run image",
  async (reg, t) => {
    const { builder, runImage } = await pushStackImages(reg);
    const b = await ensureRootfs(builder, { env: t.env, dirs: localdDirs(t.env), what: "builder" });
    const runRoot = await ensureRootfs(runImage, {
      env: t.env,
      dirs: localdDirs(t.env),
      what: "run image",
    });
    assert.equal(b.osRelease.VERSION_CODENAME, "trixie");
    for (const p of ["cnb/lifecycle/lifecycle", "cnb/lifecycle/launcher"]) {
      assert.ok((await Deno.stat(join(b.dir, p))).isFile, p);
    }
    assert.equal(await Deno.readLink(join(b.dir, "cnb/lifecycle/detector")), "lifecycle");
    assert.match(await Deno.readTextFile(join(b.dir, "cnb/run.toml")), new RegExp(runImage));
    assert.ok(
      await Deno.stat(join(b.dir, "cnb/buildpacks/locald-fixtures_stack/1.0.0/bin/build")),
    );
    assert.match(await Deno.readTextFile(join(b.dir, "etc/passwd")), /^cnb:x:1000:1000:/m);
    assert.ok(b.env.includes("CNB_USER_ID=1000") && b.env.includes("CNB_GROUP_ID=1000"));
    // The build-time tool is in the build image only; the library in both stack images.
    assert.ok(await Deno.stat(join(b.dir, "usr/bin", STACK_BUILD_TOOL)));
    assert.equal(
      await Deno.lstat(join(runRoot.dir, "usr/bin", STACK_BUILD_TOOL)).catch(() => "no"),
      "no",
    );
    assert.ok(await Deno.stat(join(runRoot.dir, "usr/lib/x86_64-linux-gnu", STACK_LIBRARY)));

    // This host has neither the library nor the tool ...
    const ldconfig = await runProcess(["ldconfig", "-p"]);
    assert.equal(
      ldconfig.stdout.includes(STACK_LIBRARY),
      false,
      "the host has the stack library",
    );
    assert.notEqual((await runProcess(["sh", "-c", `command -v ${STACK_BUILD_TOOL}`])).code, 0);
    // ... so the program the fixture installs fails to load here (a loader error) ...
    const prog = join(b.dir, "usr/bin", STACK_PROGRAM);
    const onHost = await runProcess([prog, "-v"]);
    assert.notEqual(onHost.code, 0);
    assert.match(
      onHost.stderr,
      /version `GLIBC_2\.\d+' not found|liblua5\.4\.so\.0: cannot open/,
    );
    // ... and the fixture's build fails on the host for lack of the build-time tool.
    const layers = await Deno.makeTempDir({ dir: t.root });
    const build = await new Deno.Command(
      join(b.dir, "cnb/buildpacks/locald-fixtures_stack/1.0.0/bin/build"),
      { args: [layers], cwd: STACK_APP, stdout: "piped", stderr: "piped" },
    ).output();
    assert.equal(build.code, 1);
    assert.match(new TextDecoder().decode(build.stderr), /m4 is needed at build time/);

    // In the run image's root the same program runs.
    const inRun = await runProcess([
      "bwrap",
      "--ro-bind",
      runRoot.dir,
      "/",
      "--proc",
      "/proc",
      "--dev",
      "/dev",
      "--tmpfs",
      "/tmp",
      "--ro-bind",
      prog,
      `/tmp/${STACK_PROGRAM}`,
      "--clearenv",
      "--setenv",
      "PATH",
      "/usr/bin:/bin",
      `/tmp/${STACK_PROGRAM}`,
      "-e",
      "print(_VERSION .. ' on ' .. io.open('/etc/os-release'):read('a'):match('VERSION_CODENAME=(%w+)'))",
    ]);
    assert.equal(inRun.code, 0, inRun.stderr);
    assert.equal(inRun.stdout.trim(), "Lua 5.4 on trixie");

    // The fixture buildpack builds the app in the build image (as the builder's user) ...
    const sandbox = (root: string) => [
      "bwrap",
      "--ro-bind",
      root,
      "/",
      "--proc",
      "/proc",
      "--dev",
      "/dev",
      "--tmpfs",
      "/tmp",
      "--clearenv",
      "--die-with-parent",
    ];
    const built = await Deno.makeTempDir({ dir: t.root });
    await Deno.chmod(built, 0o777);
    const inBuild = await runProcess([
      ...sandbox(b.dir),
      ...["--ro-bind", STACK_APP, "/tmp/app", "--bind", built, "/tmp/layers"],
      ...["--chdir", "/tmp/app", "--unshare-user", "--uid", "1000", "--gid", "1000"],
      ...["--setenv", "PATH", "/usr/bin:/bin"],
      "/cnb/buildpacks/locald-fixtures_stack/1.0.0/bin/build",
      "/tmp/layers",
    ]);
    assert.equal(inBuild.code, 0, inBuild.stderr);
    assert.match(inBuild.stdout, /expanding main\.lua\.m4 with m4 \(GNU M4\)/);
    assert.match(await Deno.readTextFile(join(built, "launch.toml")), /type = "web"/);
    // ... and its web process serves from the run image, on a port reached from the host.
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    const web = new Deno.Command(sandbox(runRoot.dir)[0], {
      args: [
        ...sandbox(runRoot.dir).slice(1),
        ...["--ro-bind", built, "/tmp/layers"],
        ...["--setenv", "PATH", "/tmp/layers/lua/bin:/usr/bin:/bin", "--setenv", "PORT", `${port}`],
        "stack-web",
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      let page = "";
      for (let i = 0; i < 100 && !page; i++) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/cgi-bin/hello`);
          page = await res.text();
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      assert.equal(page, "os: Debian GNU/Linux 13 (trixie)\nhello from the stack (Lua 5.4)\n");
    } finally {
      web.kill("SIGKILL");
      await web.output();
    }
    b.release();
    runRoot.release();
  },
);

withRegistry(
  "as an ordinary user: the whole run image is extracted, owned by the user, and prune removes it",
  async (reg) => {
    const { runImage } = await pushStackImages(reg);
    const u = await asUser();
    try {
      const script = join(u.root, "extract.ts");
      await Deno.writeTextFile(
        script,
        `import { ensureRootfs } from ${JSON.stringify(join(REPO, "src/oci/rootfs.ts"))};\n` +
          `import { localdDirs } from ${JSON.stringify(join(REPO, "src/config/paths.ts"))};\n` +
          `const env = Deno.env.toObject();\n` +
          `const r = await ensureRootfs(${JSON.stringify(runImage)}, ` +
          `{ env, dirs: localdDirs(env), what: "run image" });\n` +
          `console.log(JSON.stringify({ dir: r.dir, os: r.osRelease.VERSION_CODENAME }));\n`,
      );
      const bundle = join(u.root, "extract.js");
      const b = await runProcess([
        Deno.execPath(),
        ...["bundle", "-q", "--config", join(REPO, "deno.json"), script, "-o", bundle],
      ]);
      assert.equal(b.code, 0, b.stderr);
      await u.chownToUser();
      const res = await runProcess([
        ...["setpriv", `--reuid=${UID}`, `--regid=${UID}`, "--clear-groups", "--"],
        join(u.root, "deno"),
        ...["run", "-A", "--no-config", bundle],
      ], { env: u.env });
      assert.equal(res.code, 0, res.stderr);
      const { dir, os } = JSON.parse(res.stdout);
      assert.equal(os, "trixie");
      // Files root owns in the image (setuid ones too) belong to the user, without set-id bits.
      for (const p of ["etc/passwd", "etc/shadow", "usr/bin/passwd", "usr/bin/busybox"]) {
        const st = await Deno.lstat(join(dir, p));
        assert.equal(st.uid, UID, p);
        assert.equal(st.mode! & 0o6000, 0, p);
      }
      assert.equal((await Deno.stat(join(dir, "root"))).uid, UID);
      // The user's own prune removes it (nobody names it, nobody holds it).
      const prune = await u.locald(["cache", "prune", "--json"]);
      assert.equal(prune.code, 0, prune.stderr);
      assert.deepEqual(JSON.parse(prune.stdout).removed, [
        join(dir, ".."),
      ]);
      assert.equal(await Deno.lstat(dir).catch(() => "gone"), "gone");
    } finally {
      await u.cleanup();
    }
  },
);

withRegistry(
  "WSL's writer (the distribution's tar over the flattened stream, stand-in wsl.exe): the applier's tree and layout record; an older record (no layout) extracted again; a hostile image refused before tar runs, nothing left",
  async (reg, t) => {
    const { distroRootfsWriter } = await import("../src/hosts/wsl_backend.ts");
    const { wslHost } = await import("../src/hosts/wsl.ts");
    const state = join(t.root, "wsl");
    await Deno.mkdir(state);
    const host = wslHost({
      wsl: join(REPO, "tests", "standins", "wsl.exe"),
      distro: "Ubuntu-24.04",
      hostEnv: { PATH: t.env.PATH, LOCALD_STANDIN_WSL: state },
    });
    const writer = distroRootfsWriter(
      host,
      {
        uid: 0,
        gid: 0,
        machine: "x86_64",
        target: { os: "linux", arch: "amd64" },
        login: { PATH: "/usr/bin:/bin", HOME: "/root" },
      },
      (p) => p,
    );
    const dirs = localdDirs(t.env);
    const distroRoots = join(state, "home", ".local", "share", "locald", "oci", "rootfs");
    const good = [
      await layer([
        { name: "etc/", type: "directory" },
        { name: "etc/os-release", type: "symlink", linkname: "../usr/lib/os-release" },
        { name: "usr/lib/os-release", content: "ID=debian\nVERSION_CODENAME=trixie\n" },
        { name: "bin", type: "symlink", linkname: "usr/bin" },
        { name: "usr/bin/sh", content: "#!", mode: 0o755 },
        { name: "usr/bin/dash", type: "link", linkname: "usr/bin/sh" },
        { name: "var/gone/x", content: "x" },
      ]),
      await layer([{ name: "var/.wh.gone", content: "" }, { name: "usr/bin/new", content: "n" }]),
    ];
    await pushImage(reg, "wslroot", "good", { layers: good });
    const ref = `${reg.host}/wslroot:good`;
    const viaApplier = await ensureRootfs(ref, { env: t.env, dirs, what: "run image" });
    const viaDistro = await ensureRootfs(ref, {
      env: t.env,
      dirs: { ...dirs, rootfs: distroRoots },
      what: "run image",
      writer,
    });
    const listing = async (root: string) => {
      const r = await runProcess([
        "sh",
        "-c",
        "find . -printf '%P %y %m %l %s %n\\n' | LC_ALL=C sort",
      ], { cwd: root });
      return r.stdout;
    };
    assert.ok(viaDistro.dir.startsWith(distroRoots + "/"), viaDistro.dir);
    assert.equal(await listing(viaDistro.dir), await listing(viaApplier.dir));
    assert.match(await listing(viaDistro.dir), /^usr\/bin\/dash f 755 {2}2 2$/m);
    assert.deepEqual(viaDistro.osRelease, viaApplier.osRelease);
    assert.equal(viaDistro.osRelease.VERSION_CODENAME, "trixie");
    // What the host reads of a root on WSL, recorded from the model: what the applier's tree
    // shows when read.
    assert.deepEqual(viaDistro.layout, viaApplier.layout);
    assert.deepEqual(viaDistro.layout!.shells, [
      "/bin/sh",
      "/usr/bin/sh",
      "/bin/dash",
      "/usr/bin/dash",
    ]);
    assert.equal(viaDistro.layout!.entries["bin"], "l:usr/bin");
    assert.equal(viaDistro.layout!.entries["etc/os-release"], "l:../usr/lib/os-release");
    viaApplier.release();
    viaDistro.release();
    const calls = () => Deno.readTextFile(join(state, "calls.jsonl")).then((t) => t.split("\n"));
    assert.equal((await calls()).filter((l) => l.includes("tar -x -p -m")).length, 1);

    // Pull policy always: the tree is measured again in the distribution, and kept as it is.
    const again = await ensureRootfs(ref, {
      env: t.env,
      dirs: { ...dirs, rootfs: distroRoots },
      what: "run image",
      writer,
      pullPolicy: "always",
    });
    again.release();
    assert.equal((await calls()).filter((l) => l.includes("tar -x -p -m")).length, 1);
    // A changed tree is found (the distribution's digest) and extracted again.
    await Deno.writeTextFile(join(again.dir, "usr/bin/new"), "changed");
    const fixed = await ensureRootfs(ref, {
      env: t.env,
      dirs: { ...dirs, rootfs: distroRoots },
      what: "run image",
      writer,
      pullPolicy: "always",
    });
    fixed.release();
    assert.equal(await Deno.readTextFile(join(fixed.dir, "usr/bin/new")), "n");
    assert.equal((await calls()).filter((l) => l.includes("tar -x -p -m")).length, 2);

    // A record an older locald wrote (no layout): one line where it is needed, and the next
    // extraction replaces it.
    const recPath = join(fixed.dir, "..", "rootfs.json");
    const { layout: _, ...old } = JSON.parse(await Deno.readTextFile(recPath));
    await Deno.writeTextFile(recPath, JSON.stringify(old));
    assert.throws(() => recordedLayout(fixed.dir), (e: Error) => {
      assert.ok(e instanceof LocaldError);
      assert.match(e.message, /has no recorded layout \(extracted by an older locald/);
      assert.match(e.hint!, /locald build/);
      return true;
    });
    const wsl = { env: t.env, dirs: { ...dirs, rootfs: distroRoots }, writer, needLayout: true };
    await assert.rejects(
      ensureRootfs(ref, { ...wsl, what: "run image", pullPolicy: "never" }),
      /the run image .* was extracted by an older locald and must be extracted again/,
    );
    const warned: string[] = [];
    const renewed = await ensureRootfs(ref, {
      ...wsl,
      what: "run image",
      out: {
        info() {},
        warn: (m: string) => warned.push(m),
        progress: () => undefined,
      } as unknown as Output,
    });
    renewed.release();
    assert.match(warned.join("\n"), /was extracted by an older locald; extracting it again/);
    assert.deepEqual(renewed.layout, viaApplier.layout);
    assert.deepEqual(recordedLayout(renewed.dir), viaApplier.layout);
    assert.equal((await calls()).filter((l) => l.includes("tar -x -p -m")).length, 3);

    await pushImage(reg, "wslroot", "hostile", {
      layers: [
        await layer([
          { name: "link", type: "symlink", linkname: "/" },
          { name: "link/escape", content: "x" },
        ]),
      ],
    });
    await assert.rejects(
      ensureRootfs(`${reg.host}/wslroot:hostile`, {
        env: t.env,
        dirs: { ...dirs, rootfs: distroRoots },
        what: "run image",
        writer,
      }),
      /refusing layer 1 of .*wslroot:hostile entry "link\/escape": its parent link is a symlink/,
    );
    assert.equal((await calls()).filter((l) => l.includes("tar -x -p -m")).length, 3, "no tar ran");
    assert.deepEqual(await tmpsUnder(distroRoots), []);
    assert.equal((await listRootfs(distroRoots)).length, 1);
  },
);
