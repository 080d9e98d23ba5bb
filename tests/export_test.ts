/**
 * Image builds with the real lifecycle: `--export` to an OCI layout (read by skopeo, unpacked
 * by umoci, its entrypoint run under bwrap) and `--publish` to a loopback registry, with and
 * without auth. The run image is a busybox root filesystem the test builds.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runLocald, testEnv } from "./support/locald.ts";
import { startRegistry } from "./support/registry.ts";
import { appDir, pushImages, unpackAndRun } from "./support/image_fixture.ts";
import { lifecycleDir } from "./support/tools.ts";
import { runProcess } from "./support/proc.ts";

const REPO = new URL("../", import.meta.url).pathname;

const run = (cmd: string[]) => runProcess(cmd);

Deno.test("--export writes an OCI layout with /workspace and /layers that runs under bwrap", async () => {
  const reg = await startRegistry();
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const builder = await pushImages(reg);
    const app = await appDir(t.root);
    const out = join(t.root, "image");
    const b = await runLocald(
      ["build", "-C", app, "-B", builder, "--export", "-t", "myapp", "--layout-dir", out, "--json"],
      { env: t.env },
    );
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stderr, /===> EXPORTER/);
    // The phases saw the standard paths.
    assert.match(b.stderr, /image-app: building in \/workspace with layers in \/layers\//);
    // deno-lint-ignore no-explicit-any
    const img = (b.json as any).image;
    assert.match(img.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(img.layout, out);

    const inspect = await run(["skopeo", "inspect", `oci:${out}`]);
    assert.equal(inspect.code, 0, inspect.stderr);
    const info = JSON.parse(inspect.stdout);
    assert.ok(info.Env.includes("CNB_LAYERS_DIR=/layers"), info.Env.join(" "));
    assert.ok(info.Env.includes("CNB_APP_DIR=/workspace"), info.Env.join(" "));
    assert.equal(info.Digest, img.digest);

    const { rootfs, run: r } = await unpackAndRun(out, t.root);
    for (
      const p of [
        "cnb/lifecycle/launcher",
        "cnb/process/web",
        "workspace/hello.txt",
        "layers/locald-fixtures_image-app/tool/bin/imgtool",
      ]
    ) {
      await Deno.lstat(join(rootfs, p));
    }
    // The image's entrypoint (the default process), run as a runtime would.
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /imgtool ran from \/layers\/locald-fixtures_image-app\/tool\/bin\/imgtool/,
    );
    assert.match(r.stdout, /app says: hello from the workspace in \/workspace/);

    // A second export re-uses the lifecycle's volume cache (restorer in, exporter out).
    const again = await runLocald(
      ["build", "-C", app, "-B", builder, "--export", "-t", "myapp", "--layout-dir", out],
      { env: t.env },
    );
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /Restoring data for "locald-fixtures\/image-app:tool" from cache/);
    assert.match(again.stderr, /Reusing cache layer 'locald-fixtures\/image-app:tool'/);
    // One digest per image: locald's (of the manifest it wrote), not also the exporter's id of
    // the manifest before locald rewrote its media types.
    assert.match(again.stderr, /\*\*\* Images:\n/);
    assert.doesNotMatch(again.stderr, /\*\*\* Images \(/);
    const shown = again.stderr.match(/image myapp:latest \((sha256:[0-9a-f]{64})\)/);
    assert.ok(shown, again.stderr);
    assert.equal(
      JSON.parse((await run(["skopeo", "inspect", `oci:${out}`])).stdout).Digest,
      shown[1],
    );

    // The dev environment is untouched by an image build (separate state): shell and exec say
    // that only an image build exists and what to run.
    const e = await runLocald(["exec", "-C", app, "--", "true"], { env: t.env });
    assert.equal(e.code, 4);
    assert.match(
      e.stderr,
      /^locald: .*app has only an image build \(--export or --publish\)\nhint: run `locald build -C [^`]*app`/,
    );
    const sh = await runLocald(["shell", "-C", app, "-c", "true"], { env: t.env });
    assert.equal(sh.code, 4);
    assert.match(sh.stderr, /has only an image build/);
    // ... and that bare build builds the development environment with the same builder.
    const dev = await runLocald(["build", "-C", app], { env: t.env });
    assert.equal(dev.code, 0, dev.stderr);
    assert.match(
      dev.stderr,
      new RegExp(`building as last time: -B ${builder.replaceAll(".", "\\.")} `),
    );
    const tool = await runLocald(["exec", "-C", app, "--", "imgtool"], { env: t.env });
    assert.equal(tool.code, 0, tool.stderr);
    assert.match(tool.stdout, /imgtool ran from \//);
  } finally {
    await reg.stop();
    await t.cleanup();
  }
});

Deno.test("--publish pushes to a registry, with and without credentials", async () => {
  const open = await startRegistry();
  const locked = await startRegistry({ auth: { user: "pat", password: "s3cret-pw" } });
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const builder = await pushImages(open);
    const app = await appDir(t.root);
    const ref = `${open.host}/test/app:1`;
    const p = await runLocald(["build", "-C", app, "-B", builder, "--publish", ref, "--json"], {
      env: t.env,
    });
    assert.equal(p.code, 0, p.stderr);
    // deno-lint-ignore no-explicit-any
    const digest = (p.json as any).image.digest;
    // The exporter's line does not repeat the digest (locald prints it, here in --json).
    assert.doesNotMatch(p.stderr, /\*\*\* Images \(/);
    const back = await run(["skopeo", "inspect", "--tls-verify=false", `docker://${ref}`]);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(JSON.parse(back.stdout).Digest, digest);

    // A registry that wants credentials: refused without, accepted with config.json auths.
    const target = `${locked.host}/test/app:1`;
    const denied = await runLocald(["build", "-C", app, "-B", builder, "--publish", target], {
      env: t.env,
    });
    assert.equal(denied.code, 3);
    assert.match(denied.stderr, /locald: the registry refused access .*\nhint: log in to it/);
    const dockerDir = join(t.root, "docker");
    await Deno.mkdir(dockerDir);
    await Deno.writeTextFile(
      join(dockerDir, "config.json"),
      JSON.stringify({ auths: { [locked.host]: { auth: btoa("pat:s3cret-pw") } } }),
    );
    const env = { ...t.env, DOCKER_CONFIG: dockerDir };
    const ok = await runLocald(["build", "-C", app, "-B", builder, "--publish", target, "--json"], {
      env,
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.doesNotMatch(ok.stderr + ok.stdout, /s3cret-pw|cGF0OnMzY3JldC1wdw/); // never printed
    // The private Docker config the lifecycle read them from is gone after the build.
    const leftover = await runProcess(["grep", "-rl", "cGF0OnMzY3JldC1wdw", t.localdHome]);
    assert.equal(leftover.stdout, "", "credentials left on disk");
    const dry = await runLocald([
      "build",
      "-C",
      app,
      "-B",
      builder,
      "--publish",
      target,
      "--dry-run",
      "--json",
    ], { env });
    assert.doesNotMatch(dry.stdout, /s3cret-pw|cGF0OnMzY3JldC1wdw|CNB_REGISTRY_AUTH/);
    const check = await run([
      "skopeo",
      "inspect",
      "--tls-verify=false",
      "--creds",
      "pat:s3cret-pw",
      `docker://${target}`,
    ]);
    // deno-lint-ignore no-explicit-any
    assert.equal(JSON.parse(check.stdout).Digest, (ok.json as any).image.digest);
  } finally {
    await open.stop();
    await locked.stop();
    await t.cleanup();
  }
});

Deno.test("image build errors: no run image, unwritable layout dir, -t without --export", async () => {
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const app = await appDir(t.root);
    const bp = join(REPO, "tests/fixtures/buildpacks/image-app");
    const none = await runLocald(["build", "-C", app, "-b", bp, "--export"], { env: t.env });
    assert.equal(none.code, 3);
    assert.match(none.stderr, /an image needs a run image.*\nhint: build with a builder/);
    await Deno.writeTextFile(join(t.root, "file"), "");
    const bad = await runLocald(
      ["build", "-C", app, "-b", bp, "--export", "--layout-dir", join(t.root, "file", "sub")],
      { env: t.env },
    );
    assert.equal(bad.code, 3);
    assert.match(
      bad.stderr,
      /cannot write the image layout to .*\nhint: choose a writable directory/,
    );
    const t2 = await runLocald(["build", "-C", app, "-b", bp, "-t", "x"], { env: t.env });
    assert.equal(t2.code, 2);
    // An image name the exporter would refuse stops the build before any phase runs.
    const upper = await runLocald(["build", "-C", app, "-b", bp, "--export", "-t", "MyApp"], {
      env: t.env,
    });
    assert.equal(upper.code, 3);
    assert.match(
      upper.stderr,
      /^locald: invalid image reference "MyApp:latest": .*lowercase\nhint: /,
    );
    assert.doesNotMatch(upper.stderr, /===> /);
  } finally {
    await t.cleanup();
  }
});
