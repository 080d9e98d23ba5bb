/**
 * Builds in the stack's userland (issue 16, point 2): the phases run inside the builder image's
 * root filesystem under bwrap, with the builder's own lifecycle and ids. Real parts: the Debian
 * trixie test images (tests/support/stack_images.ts: a builder with the real lifecycle and the
 * stack fixture buildpack, whose build needs m4 and lua5.4, which only the build image has),
 * a loopback registry, real bwrap; as root, as uid 1000, and through the Lima stand-in.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runLocald, testEnv, wslTestEnv } from "./support/locald.ts";
import { startRegistry } from "./support/registry.ts";
import { startMirror } from "./support/mirror.ts";
import { lifecycleDir, lifecycleMirrorDir } from "./support/tools.ts";
import { copyApp } from "./support/fixture.ts";
import { asUser, UID } from "./support/unprivileged.ts";
import { pushStackImages, STACK_APP, STACK_BUILDPACK_ID } from "./support/stack_images.ts";
import { cachedLifecycle, pushBuilder } from "./support/builder_image.ts";
import { hostPlatform } from "../src/oci/manifest.ts";

const sanitize = { sanitizeResources: false, sanitizeOps: false };
const REPO = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

// deno-lint-ignore no-explicit-any
type Json = any;

async function record(localdHome: string): Promise<Json> {
  const projects = join(localdHome, "projects");
  for await (const e of Deno.readDir(projects)) {
    try {
      return JSON.parse(await Deno.readTextFile(join(projects, e.name, "build.json")));
    } catch { /* not this one */ }
  }
  throw new Error(`no build.json under ${projects}`);
}

/** What a stack build must have made: the layer from the build image, the record's fields. */
async function assertStackBuilt(localdHome: string, builderRef: string) {
  const rec = await record(localdHome);
  assert.equal(rec.userland, "stack");
  assert.equal(rec.stack.builder.ref, builderRef);
  assert.match(rec.stack.builder.digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(rec.stack.uid, 1000);
  assert.equal(rec.stack.gid, 1000);
  // The roots are the images' own: trixie for both, m4 only in the builder's.
  for (const r of [rec.stack.builder.root, rec.stack.runImage.root]) {
    assert.match(await Deno.readTextFile(join(r, "etc/os-release")), /trixie/);
  }
  await Deno.lstat(join(rec.stack.builder.root, "usr/bin/m4"));
  await assert.rejects(Deno.lstat(join(rec.stack.runImage.root, "usr/bin/m4")));
  // The launcher is the builder's own, in its root filesystem.
  assert.equal(rec.lifecycle.launcher, join(rec.stack.builder.root, "cnb/lifecycle/launcher"));
  // The buildpack copied the build image's lua5.4 into its launch layer.
  const bin = join(rec.layersDir, STACK_BUILDPACK_ID.replace("/", "_"), "lua", "bin");
  const lua = await Deno.stat(join(bin, "lua5.4"));
  assert.ok(lua.isFile && lua.size > 0);
  return rec;
}

Deno.test({
  name: "stack build: the phases run in the builder's image (its m4, its lifecycle, its ids); " +
    "--host fails at the buildpack's own tool with a hint to --stack; switching rebuilds; doctor",
  ...sanitize,
  fn: async () => {
    const reg = await startRegistry();
    const mirror = await startMirror(lifecycleMirrorDir());
    // No LOCALD_LIFECYCLE_DIR: a stack build with this builder must download no lifecycle (the
    // mirror is there for the host build, which does).
    const t = await testEnv({ LOCALD_LIFECYCLE_MIRROR: mirror.url });
    try {
      const { builder, runImage } = await pushStackImages(reg);
      const app = await copyApp(STACK_APP, t.root, "My App");
      const run = (...a: string[]) => runLocald(a, { env: t.env });

      // auto: a builder image and bwrap here, so the stack. The dry run extracts nothing.
      const pull = await run("builder", "pull", builder);
      assert.equal(pull.code, 0, pull.stderr);
      const plan = await run("build", "-C", app, "-B", builder, "--dry-run", "--json");
      assert.equal(plan.code, 0, plan.stderr);
      assert.equal(plan.json && (plan.json as Json).userland.mode, "stack");
      const steps = (plan.json as Json).plan.steps;
      assert.equal(steps[0].argv[0], "/cnb/lifecycle/analyzer");
      assert.equal(steps[0].env.CNB_BUILDPACKS_DIR, "/cnb/buildpacks");
      assert.equal(steps[0].env.CNB_ORDER_PATH, "/cnb/order.toml");
      assert.equal(steps[0].env.CNB_USER_ID, "1000");

      const b = await run("build", "-C", app, "-B", builder, "--json");
      assert.equal(b.code, 0, b.stderr);
      assert.match(b.stderr, /userland: stack, in .*builder:trixie \(auto: builder /);
      assert.match(b.stderr, /stack: expanding main\.lua\.m4 with m4 \(GNU M4\)/);
      assert.doesNotMatch(b.stderr, /downloading|lifecycle v0\.21\.17 \(/i);
      assert.equal((b.json as Json).userland.mode, "stack");
      const rec = await assertStackBuilt(t.localdHome, builder);
      assert.equal(rec.stack.runImage.ref, runImage);
      // Nothing of locald's own lifecycle was installed.
      await assert.rejects(Deno.lstat(join(t.localdHome, "tools", "lifecycle")));

      // Unchanged: up to date.
      const again = await run("build", "-C", app, "-B", builder);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /is up to date/);

      // --host is another build (the mode is in the fingerprint): it runs, on this host, where
      // the buildpack's build-time tool is missing; its own error, and a hint to --stack.
      const host = await run("build", "-C", app, "-B", builder, "--host");
      assert.equal(host.code, 6, host.stderr);
      assert.doesNotMatch(host.stderr, /is up to date/);
      assert.match(host.stderr, /m4 is needed at build time and is not installed here/);
      assert.match(host.stderr, /hint: .*ran on this host's userland \(--host\).*--stack/);
      // The failed host build left the stack build's environment as it was.
      assert.equal((await record(t.localdHome)).userland, "stack");

      // doctor explains the choice for the project: auto -> stack; project.toml says host.
      const doc = await run("doctor", "-C", app, "--json");
      const check = (doc.json as Json).checks.find((c: Json) => c.id === "userland");
      assert.equal(check.data.mode, "stack", JSON.stringify(check));
      assert.equal(check.data.lastBuild, "stack");
      assert.equal(check.data.builder, builder);
      assert.match(check.summary, /^stack for .*My App \(auto: builder /);
      await Deno.writeTextFile(join(app, "project.toml"), '[dev.locald]\nuserland = "host"\n');
      const doc2 = await run("doctor", "-C", app);
      assert.match(
        doc2.stdout,
        /userland\s+host for .*project\.toml\); its last build ran on stack/,
      );

      // --stack with only -b directories: one line, a hint, exit 2.
      const noBuilder = await run(
        "build",
        "-C",
        app,
        "-b",
        join(REPO, "tests/fixtures/buildpacks/stack"),
        "--stack",
      );
      assert.equal(noBuilder.code, 2, noBuilder.stderr);
      assert.match(noBuilder.stderr, /--stack needs a builder/);
      assert.match(noBuilder.stderr, /hint: add -B BUILDER/);
    } finally {
      await t.cleanup();
      await mirror.close();
      await reg.stop();
    }
  },
});

Deno.test({
  name: "stack build as an ordinary user (uid 1000): the builder's ids inside, the user's on disk",
  ...sanitize,
  fn: async () => {
    const reg = await startRegistry();
    const u = await asUser();
    try {
      const { builder } = await pushStackImages(reg);
      const app = await copyApp(STACK_APP, u.root);
      await u.chownToUser();
      const b = await u.locald(["build", "-C", app, "-B", builder, "--stack"]);
      assert.equal(b.code, 0, b.stderr);
      assert.match(b.stderr, /userland: stack, in .* \(--stack\); uid 1000/);
      assert.match(b.stderr, /stack: installed lua5\.4/);
      const rec = await assertStackBuilt(join(u.root, "locald"), builder);
      const st = await Deno.stat(join(rec.layersDir, STACK_BUILDPACK_ID.replace("/", "_"), "lua"));
      assert.equal(st.uid, UID);
    } finally {
      await u.cleanup();
      await reg.stop();
    }
  },
});

Deno.test({
  name: "LOCALD_BACKEND=lima: a stack build runs bwrap inside the VM over the builder's root " +
    "filesystem (stand-in limactl: no VM)",
  ...sanitize,
  fn: async () => {
    // What this cannot prove: that a VM boots, that virtiofs shows the extracted root with its
    // modes and links, that the VM's AppArmor lets bwrap in (see vm_sandbox_test.ts).
    const reg = await startRegistry();
    const mirror = await startMirror(lifecycleMirrorDir());
    const standins = join(REPO, "tests", "standins");
    const t = await testEnv({
      LOCALD_BACKEND: "lima",
      LOCALD_LIMACTL: join(standins, "limactl"),
      LOCALD_LIFECYCLE_MIRROR: mirror.url,
    });
    t.env.LOCALD_VM_MOUNTS = `${t.root}:${join(REPO, "tests", "fixtures")}`;
    try {
      const { builder } = await pushStackImages(reg);
      const app = await copyApp(STACK_APP, t.root);
      const b = await runLocald(["build", "-C", app, "-B", builder], { env: t.env });
      assert.equal(b.code, 0, b.stderr);
      assert.match(b.stderr, /userland: stack, in .*\(auto: builder /);
      assert.match(b.stderr, /stack: expanding main\.lua\.m4 with m4/);
      const rec = await assertStackBuilt(t.localdHome, builder);
      // Every phase went `limactl shell ... bwrap ... /cnb/lifecycle/PHASE`, the builder's root
      // bound as the system, the builder's uid inside.
      const calls = (await Deno.readTextFile(join(t.localdHome, "lima", "standin-calls.jsonl")))
        .split("\n").filter(Boolean).map((l) => JSON.parse(l) as { argv: string[] });
      const phase = calls.findLast((c) => c.argv.includes("/cnb/lifecycle/builder"));
      assert.ok(phase, "the builder phase ran through limactl shell");
      assert.equal(phase.argv[0], "shell");
      const bwrap = phase.argv.findIndex((a) => a.endsWith("/bwrap"));
      assert.ok(bwrap > 0, phase.argv.join(" "));
      const inner = phase.argv.slice(bwrap);
      assert.ok(inner.includes(join(rec.stack.builder.root, "usr")), "the image's /usr is bound");
      assert.deepEqual(inner.slice(inner.indexOf("--uid"), inner.indexOf("--uid") + 4), [
        "--uid",
        "1000",
        "--gid",
        "1000",
      ]);
    } finally {
      await t.cleanup();
      await mirror.close();
      await reg.stop();
    }
  },
});

Deno.test({
  name: "stack image build: --export runs every phase, the exporter too, in the builder's image; " +
    "the image's hello process runs on the run image",
  ...sanitize,
  fn: async () => {
    const reg = await startRegistry();
    const t = await testEnv();
    try {
      const { builder } = await pushStackImages(reg);
      const app = await copyApp(STACK_APP, t.root);
      const layout = join(t.root, "image");
      const b = await runLocald(
        ["build", "-C", app, "-B", builder, "--export", "-t", "stackapp", "--layout-dir", layout],
        { env: t.env },
      );
      assert.equal(b.code, 0, b.stderr);
      assert.match(b.stderr, /userland: stack, in /);
      assert.match(b.stderr, /stack: expanding main\.lua\.m4 with m4/);
      // The exporter took the launcher from the builder's own /cnb/lifecycle.
      assert.match(b.stderr, /Did not find SBOM launcher\.sbom\.\w+\.json in \/cnb\/lifecycle/);
      const bundle = join(t.root, "bundle");
      const unpack = await new Deno.Command("umoci", {
        args: ["unpack", "--rootless", "--image", `${layout}:latest`, bundle],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(unpack.code, 0, new TextDecoder().decode(unpack.stderr));
      const rootfs = join(bundle, "rootfs");
      assert.match(await Deno.readTextFile(join(rootfs, "etc/os-release")), /trixie/);
      const hello = await new Deno.Command("bwrap", {
        args: [
          ...["--bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"],
          ...[
            "--unshare-all",
            "--die-with-parent",
            "--clearenv",
            "--setenv",
            "PATH",
            "/usr/bin:/bin",
          ],
          ...["--setenv", "CNB_PLATFORM_API", "0.13", "--chdir", "/workspace"],
          "--",
          "/cnb/process/hello",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(hello.stdout);
      assert.equal(hello.code, 0, new TextDecoder().decode(hello.stderr));
      assert.match(out, /hello from the stack/);
    } finally {
      await t.cleanup();
      await reg.stop();
    }
  },
});

Deno.test({
  name: "auto falls back to the host, saying why, when the builder's image cannot be had " +
    "(registry gone); --stack then stops the build",
  ...sanitize,
  fn: async () => {
    const reg = await startRegistry();
    const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
    try {
      const { builder } = await pushStackImages(reg);
      const app = await copyApp(join(REPO, "tests/fixtures/apps/everything"), t.root);
      const bp = join(REPO, "tests/fixtures/buildpacks/everything");
      const build = (...a: string[]) =>
        runLocald(["build", "-C", app, "-B", builder, "-b", bp, ...a], { env: t.env });
      // A host build pulls the builder's /cnb and the run image's manifest, not their roots.
      const host = await build("--host");
      assert.equal(host.code, 0, host.stderr);
      assert.equal((await record(t.localdHome)).userland, "host");
      await reg.stop();
      const auto = await build("--force");
      assert.equal(auto.code, 0, auto.stderr);
      assert.match(
        auto.stderr,
        /userland: host \(auto: not in the image of the builder .*\(cannot get its root filesystem: /,
      );
      const stack = await build("--force", "--stack");
      assert.notEqual(stack.code, 0, stack.stderr);
      assert.match(stack.stderr, /^hint: /m);
      assert.doesNotMatch(stack.stderr, /internal error/);
    } finally {
      await t.cleanup();
      await reg.stop().catch(() => {});
    }
  },
});

Deno.test({
  name: "auto stays on the host with a builder whose image holds no system (no /bin/sh), and " +
    "says so once; --stack with it is refused",
  ...sanitize,
  fn: async () => {
    const reg = await startRegistry();
    const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
    try {
      const { runImage } = await pushStackImages(reg);
      // The small test builder: /cnb and a base layer with no shell.
      const arch = hostPlatform().architecture;
      await pushBuilder(reg, "test/builder", "1", {
        architecture: arch,
        lifecycle: await cachedLifecycle(),
      });
      const builder = `${reg.host}/test/builder:1-${arch}`;
      const app = await copyApp(join(REPO, "tests/fixtures/apps/everything"), t.root);
      const build = (...a: string[]) =>
        runLocald(["build", "-C", app, "-B", builder, "--run-image", runImage, ...a], {
          env: t.env,
        });
      const b = await build();
      assert.equal(b.code, 0, b.stderr);
      const said = b.stderr.match(/userland: host \(auto: not in the image of the builder .*\)/g);
      assert.equal(said?.length, 1, b.stderr);
      assert.match(said![0], /\(no \/bin\/sh in its image\)/);
      assert.equal((await record(t.localdHome)).userland, "host");
      const s = await build("--stack", "--force");
      assert.equal(s.code, 3, s.stderr);
      assert.match(s.stderr, /--stack: the builder .* is not a system to build in/);
    } finally {
      await t.cleanup();
      await reg.stop();
    }
  },
});

Deno.test({
  name: "LOCALD_BACKEND=wsl: a stack build extracts the roots inside the distribution and runs " +
    "bwrap there; exec runs in the run image (stand-in wsl.exe: no Windows, no distro)",
  ...sanitize,
  fn: async () => {
    // What this cannot prove: Windows' view of the distribution (\\wsl.localhost), which is
    // the path itself here, nor that a real distribution's bwrap may create user namespaces.
    const reg = await startRegistry();
    const t = await wslTestEnv();
    const wsl = t.wsl;
    try {
      const { builder, runImage } = await pushStackImages(reg);
      const app = await copyApp(STACK_APP, t.root, "My App");
      const b = await runLocald(["build", "-C", app, "-B", builder], { env: t.env });
      assert.equal(b.code, 0, b.stderr);
      assert.match(b.stderr, /userland: stack, in .*\(auto: builder /);
      assert.match(b.stderr, /stack: expanding main\.lua\.m4 with m4/);
      // The roots live on the distribution's disk (its locald state), not in LOCALD_HOME.
      const state = join(wsl, "home", ".local", "share", "locald");
      const rec = await assertStackBuilt(state, builder);
      assert.equal(rec.stack.runImage.ref, runImage);
      for (const r of [rec.stack.builder.root, rec.stack.runImage.root]) {
        assert.ok(r.startsWith(join(state, "oci", "rootfs") + "/"), r);
        // Real links, made by the distribution's tar (Windows could not make them).
        assert.equal((await Deno.lstat(join(r, "bin"))).isSymlink, true);
        const hex = r.split("/").at(-2)!;
        const meta = JSON.parse(await Deno.readTextFile(join(r, "..", "rootfs.json")));
        assert.equal(meta.digest, `sha256:${hex}`);
        assert.equal(meta.osRelease.VERSION_CODENAME, "trixie");
        assert.match(meta.treeDigest, /^[0-9a-f]{64}$/);
      }
      await assert.rejects(Deno.lstat(join(t.localdHome, "oci", "rootfs")));
      const calls = t.calls;
      const all = await calls();
      const tar = all.filter((c) => c.argv.join(" ").includes("tar -x -p -m --no-same-owner"));
      assert.equal(tar.length, 2, "both roots were extracted by tar in the distribution");
      // Every phase: wsl.exe -d DISTRO --exec ... bwrap ... /cnb/lifecycle/PHASE, with Linux
      // paths: the builder's root bound as the system, the app at its distro path.
      const phase = all.findLast((c) => c.argv.includes("/cnb/lifecycle/builder"));
      assert.ok(phase, "the builder phase ran through wsl.exe");
      assert.deepEqual(phase.argv.slice(0, 2), ["-d", "Ubuntu-24.04"]);
      const bwrap = phase.argv.indexOf("/usr/bin/bwrap");
      assert.ok(bwrap > 0, phase.argv.join(" "));
      const inner = phase.argv.slice(bwrap);
      assert.ok(inner.includes(join(rec.stack.builder.root, "usr")), "the image's /usr is bound");
      assert.ok(inner.includes(app), "the app is bound at its distro path");
      assert.ok(inner.every((a) => !/^[A-Za-z]:\\|^\\\\/.test(a)), "no Windows path reaches bwrap");

      // Dev commands run in the run image, through wsl.exe and the distribution's bwrap.
      const exec = (...a: string[]) => runLocald(["exec", "-C", app, "--", ...a], { env: t.env });
      const os = await exec("cat", "/etc/os-release");
      assert.equal(os.code, 0, os.stderr);
      assert.match(os.stdout, /VERSION_CODENAME=trixie/);
      assert.notEqual(os.stdout, await Deno.readTextFile("/etc/os-release"));
      const prog = await exec("lua5.4", "-e", "print(_VERSION)");
      assert.equal(prog.code, 0, prog.stderr);
      assert.equal(prog.stdout, "Lua 5.4\n");
      const last = (await calls()).findLast((c) => c.argv.includes("print(_VERSION)"));
      assert.ok(last, "exec went through wsl.exe");
      const devInner = last.argv.slice(last.argv.indexOf("/usr/bin/bwrap"));
      assert.ok(devInner.length > 1, "bwrap ran in the distribution");
      assert.equal(devInner[devInner.indexOf("--") + 1], "/cnb/lifecycle/launcher");
      assert.ok(devInner.includes(join(rec.stack.runImage.root, "usr")), "the run image's /usr");

      // Windows cannot read the distribution's links (\\wsl.localhost shows /bin -> usr/bin as a
      // reparse point): locald reads a root's layout, shells and passwd from its record. Shown
      // here by forbidding locald (deno --deny-read) every entry of both trees, while the
      // distribution (the stand-in, another process) reads them as before.
      const denied: string[] = [];
      for (const r of [rec.stack.builder.root, rec.stack.runImage.root]) {
        for await (const e of Deno.readDir(r)) denied.push(join(r, e.name));
      }
      const blind = { env: t.env, denoFlags: [`--deny-read=${denied.join(",")}`] };
      const rebuilt = await runLocald(["build", "-C", app, "-B", builder], blind);
      assert.equal(rebuilt.code, 0, rebuilt.stderr);
      assert.match(rebuilt.stderr, /userland: stack, in .*\(auto: builder /);
      const phase2 = (await calls()).findLast((c) => c.argv.includes("/cnb/lifecycle/builder"))!;
      const inner2 = phase2.argv.slice(phase2.argv.indexOf("/usr/bin/bwrap"));
      assert.ok(
        inner2.some((a, k) =>
          a === "--symlink" && inner2[k + 1] === "usr/bin" && inner2[k + 2] === "/bin"
        ),
        "/bin -> usr/bin from the record",
      );
      assert.ok(inner2.includes(join(rec.stack.builder.root, "usr")), "the image's /usr is bound");
      const blindExec = await runLocald(
        ["exec", "-C", app, "--", "lua5.4", "-e", "print(1)"],
        blind,
      );
      assert.equal(blindExec.code, 0, blindExec.stderr);
      assert.equal(blindExec.stdout, "1\n");
      const sh = await runLocald(["shell", "-C", app], { ...blind, stdin: "echo in-$0\n" });
      assert.equal(sh.code, 0, sh.stderr);
      assert.match(sh.stdout, /^in-/m);
      // A run image extracted by an older locald (no layout in its record): a dev command says
      // to build again in one line; the build extracts it again, and exec works.
      const runRec = join(rec.stack.runImage.root, "..", "rootfs.json");
      const { layout: _, ...older } = JSON.parse(await Deno.readTextFile(runRec));
      await Deno.writeTextFile(runRec, JSON.stringify(older));
      const stale = await runLocald(["exec", "-C", app, "--", "true"], blind);
      assert.equal(stale.code, 4, stale.stderr);
      assert.match(
        stale.stderr,
        /^locald: the root filesystem at .* has no recorded layout \(extracted by an older locald, or gone\)\nhint: run `locald build` again/,
      );
      const renewed = await runLocald(["build", "-C", app, "-B", builder], { env: t.env });
      assert.equal(renewed.code, 0, renewed.stderr);
      assert.match(renewed.stderr, /was extracted by an older locald; extracting it again/);
      const fresh = await runLocald(["exec", "-C", app, "--", "true"], blind);
      assert.equal(fresh.code, 0, fresh.stderr);

      // `layers` stays a plain directory (Windows cannot make the generation's link there).
      assert.ok(!(await Deno.lstat(rec.layersDir)).isSymlink, rec.layersDir);
      // An image build switches its layers through such a link: one line, nothing run.
      const img = await runLocald(["build", "-C", app, "-B", builder, "--export"], {
        env: t.env,
      });
      assert.equal(img.code, 8, img.stderr);
      assert.match(
        img.stderr,
        /^locald: image builds \(--export, --publish\) do not run through wsl yet: .*\nhint: run locald inside the distribution/m,
      );

      // doctor asks the distribution: its bwrap works, so auto is the stack.
      const doc = await runLocald(["doctor", "-C", app, "--json"], { env: t.env });
      const checks = (doc.json as Json).checks;
      const sandbox = checks.find((c: Json) => c.id === "sandbox");
      assert.equal(
        sandbox.summary,
        "available in the WSL distribution Ubuntu-24.04: bwrap at /usr/bin/bwrap",
      );
      const userland = checks.find((c: Json) => c.id === "userland");
      assert.match(userland.summary, /^stack for .*My App \(auto: builder /);

      // cache ls|prune account for the roots on the distribution's disk.
      const ls = await runLocald(["cache", "ls", "--json"], { env: t.env });
      assert.equal(ls.code, 0, ls.stderr);
      const roots = (ls.json as Json).rootfs as Json[];
      assert.deepEqual(
        roots.map((r) => r.path).sort(),
        [rec.stack.builder.root, rec.stack.runImage.root].map((r) => join(r, "..")).sort(),
      );
      assert.ok(roots.every((r) => r.usedBy.length === 1), JSON.stringify(roots));
      await Deno.remove(app, { recursive: true });
      const prune = await runLocald(["cache", "prune", "--json"], { env: t.env });
      assert.equal(prune.code, 0, prune.stderr);
      for (const r of [rec.stack.builder.root, rec.stack.runImage.root]) {
        assert.ok((prune.json as Json).removed.includes(join(r, "..")), prune.stderr);
        await assert.rejects(Deno.lstat(r));
      }
    } finally {
      await t.cleanup();
      await reg.stop();
    }
  },
});
