/**
 * Local builders: `-B ./builder.toml` builds with a builder described the way `pack builder
 * create` reads it (buildpack directories and images, order, run image, build env, stack id),
 * laid out locally and never pushed; an edited buildpack is in the next build. `builder
 * inspect` shows composite buildpacks' own orders nested, and image extensions with their
 * order, for builder.toml files and builder images alike.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runLocald, testEnv } from "./support/locald.ts";
import { startRegistry, type TestRegistry } from "./support/registry.ts";
import { appDir, pushImages } from "./support/image_fixture.ts";
import { copyApp } from "./support/fixture.ts";
import { layer, pushImage } from "./support/images.ts";
import { dirs, entriesOf } from "./support/tree.ts";
import { lifecycleDir } from "./support/tools.ts";
import { runProcess } from "./support/proc.ts";
import { hostPlatform } from "../src/oci/manifest.ts";
import { goArch } from "../src/hosts/target.ts";

const REPO = new URL("../", import.meta.url).pathname;
const FIXTURES = join(REPO, "tests/fixtures/buildpacks");

/** The one-process fixture as a buildpack image (a buildpackage), pushed to `reg`. */
async function pushOneProcessImage(reg: TestRegistry): Promise<string> {
  const bp = "cnb/buildpacks/locald-fixtures_one-process/1.0.0";
  const l = await layer([
    ...dirs("cnb", "cnb/buildpacks", "cnb/buildpacks/locald-fixtures_one-process"),
    ...await entriesOf(join(FIXTURES, "one-process"), bp),
  ]);
  await pushImage({ host: reg.host }, "test/one-process-bp", "1", {
    layers: [l],
    architecture: hostPlatform().architecture,
    labels: {
      "io.buildpacks.buildpackage.metadata": JSON.stringify({
        id: "locald-fixtures/one-process",
        version: "1.0.0",
      }),
    },
  });
  return `docker://${reg.host}/test/one-process-bp:1`;
}

/** An image extension as builders carry them (it would add curl to the run image). */
async function extension(root: string): Promise<string> {
  const dir = join(root, "curl-ext");
  await Deno.mkdir(join(dir, "bin"), { recursive: true });
  await Deno.writeTextFile(
    join(dir, "extension.toml"),
    'api = "0.10"\n[extension]\nid = "samples/curl"\nversion = "0.0.1"\n',
  );
  await Deno.writeTextFile(join(dir, "bin", "detect"), "#!/bin/sh\nexit 0\n");
  await Deno.writeTextFile(
    join(dir, "bin", "generate"),
    '#!/bin/sh\nprintf "FROM \\${base_image}\\nRUN apt-get install -y curl\\n" > "$CNB_OUTPUT_DIR/run.Dockerfile"\n',
  );
  for (const f of ["detect", "generate"]) await Deno.chmod(join(dir, "bin", f), 0o755);
  return dir;
}

Deno.test("-B ./builder.toml builds with a local builder, no image made; edits show up", async () => {
  const reg = await startRegistry();
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    // The run image (busybox) from the shared fixture; a buildpack image beside directories.
    await pushImages(reg);
    const bpImage = await pushOneProcessImage(reg);
    // A buildpack author's checkout, in a directory with a space and a capital.
    const authoring = join(t.root, "My Builder");
    await Deno.mkdir(join(authoring, "buildpacks"), { recursive: true });
    for (const name of ["composite", "multi-platform"]) {
      await copyApp(join(FIXTURES, name), join(authoring, "buildpacks"), name);
    }
    await Deno.writeTextFile(
      join(authoring, "builder.toml"),
      `description = "a builder an author iterates on"\n\n` +
        `[[buildpacks]]\nuri = "./buildpacks/composite"\n\n` +
        `[[buildpacks]]\nuri = "./buildpacks/multi-platform"\nid = "locald-fixtures/multi-platform"\n\n` +
        `[[buildpacks]]\nuri = "${bpImage}"\n\n` +
        `[[order]]\n[[order.group]]\nid = "locald-fixtures/composite"\n\n` +
        `[[build.env]]\nname = "FROM_BUILDER_TOML"\nvalue = "yes"\nsuffix = "default"\n\n` +
        `[stack]\nid = "io.buildpacks.stacks.test"\n\n` +
        `[run]\n[[run.images]]\nimage = "${reg.host}/test/run:1"\n`,
    );
    const app = await appDir(t.root);
    const b = await runLocald(
      ["build", "-C", app, "-B", "My Builder/builder.toml", "--json"],
      { env: t.env, cwd: t.root },
    );
    assert.equal(b.code, 0, b.stderr);
    // deno-lint-ignore no-explicit-any
    const j = b.json as any;
    assert.deepEqual(j.buildpacks.map((x: { id: string }) => x.id), [
      "locald-fixtures/multi-platform",
      "locald-fixtures/one-process",
    ]);
    // The analyzer read the run image builder.toml names: its target is busybox's.
    const analyzed = await Deno.readTextFile(join(j.stateDir, "layers", "analyzed.toml"));
    assert.match(analyzed, new RegExp(`${reg.host}/test/run/1`));
    assert.match(analyzed, /name = "busybox"/);
    const arch = goArch(Deno.build.arch);
    const tool = await runLocald(["exec", "-C", app, "--", "arch-tool"], { env: t.env });
    assert.equal(
      tool.stdout.trim(),
      `arch tool for linux/${arch}; shared data beside buildpack.toml`,
      tool.stderr,
    );
    const worker = await runLocald(["run", "-C", app, "worker"], { env: t.env });
    assert.match(worker.stdout, /worker ran in /, worker.stderr);
    // A bare build, from elsewhere, builds as last time: the relative path was made absolute.
    const bare = await runLocald(["build", "-C", app], { env: t.env, cwd: app });
    assert.equal(bare.code, 0, bare.stderr);
    assert.match(bare.stderr, /building as last time: -B \/.*\/My Builder\/builder.toml/);
    // build.env reaches the buildpacks, and the stack id the phases, as a builder image's do.
    assert.match(b.stderr, /multi-platform: FROM_BUILDER_TOML=yes/);
    const dirsOnly = join(authoring, "dirs-only.toml");
    await Deno.writeTextFile(
      dirsOnly,
      `[[buildpacks]]\nuri = "./buildpacks/multi-platform"\n` +
        `[[order]]\n[[order.group]]\nid = "locald-fixtures/multi-platform"\n` +
        `[[build.env]]\nname = "FROM_BUILDER_TOML"\nvalue = "yes"\n` +
        `[stack]\nid = "io.buildpacks.stacks.test"\n`,
    );
    const plan = await runLocald(["build", "-C", app, "-B", dirsOnly, "--dry-run", "--json"], {
      env: t.env,
    });
    assert.equal(plan.code, 0, plan.stderr);
    // deno-lint-ignore no-explicit-any
    const env = (plan.json as any).plan.steps[1].env;
    assert.equal(env.CNB_STACK_ID, "io.buildpacks.stacks.test");
    assert.match(env.CNB_BUILD_CONFIG_DIR, /\/local-builders\/[0-9a-f-]+\/cnb\/build-config$/);
    // Nothing was pushed: the registry has no image made from the builder.
    const catalog = await (await fetch(`http://${reg.host}/v2/_catalog`)).json();
    assert.deepEqual(catalog.repositories.sort(), [
      "test/builder",
      "test/one-process-bp",
      "test/run",
    ]);

    // The author edits a buildpack: the next build is not "up to date" and has the edit.
    const same = await runLocald(["build", "-C", app, "-B", join(authoring, "builder.toml")], {
      env: t.env,
    });
    assert.match(same.stderr, /is up to date/);
    await Deno.writeTextFile(
      join(authoring, "buildpacks", "multi-platform", "shared.txt"),
      "edited by the author\n",
    );
    const again = await runLocald(["build", "-C", app, "-B", join(authoring, "builder.toml")], {
      env: t.env,
    });
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /is up to date/);
    const edited = await runLocald(["exec", "-C", app, "--", "arch-tool"], { env: t.env });
    assert.equal(edited.stdout.trim(), `arch tool for linux/${arch}; edited by the author`);

    // The same builder exports an image on its run image.
    const layout = join(t.root, "image");
    const img = await runLocald(
      [
        "build",
        "-C",
        app,
        "-B",
        join(authoring, "builder.toml"),
        "--export",
        "--layout-dir",
        layout,
      ],
      { env: t.env },
    );
    assert.equal(img.code, 0, img.stderr);
    const inspect = await runProcess(["skopeo", "inspect", `oci:${layout}`]);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.ok(JSON.parse(inspect.stdout).Env.includes("CNB_APP_DIR=/workspace"));

    // Mistakes in builder.toml: one line and a hint each, nothing built.
    const broken = join(authoring, "broken.toml");
    await Deno.writeTextFile(broken, '[[buildpacks]]\nuri = "./nowhere"\n');
    const missing = await runLocald(["build", "-C", app, "-B", broken], { env: t.env });
    assert.equal(missing.code, 3, missing.stderr);
    assert.match(
      missing.stderr,
      /broken.toml: buildpacks\[0\] uri "\.\/nowhere" is not a directory\nhint: /,
    );
    await Deno.writeTextFile(
      broken,
      '[[buildpacks]]\nuri = "./buildpacks/multi-platform"\n[[order]]\n[[order.group]]\nid = "no/such"\n',
    );
    const unknown = await runLocald(["build", "-C", app, "-B", broken], { env: t.env });
    assert.equal(unknown.code, 3, unknown.stderr);
    assert.match(
      unknown.stderr,
      /order\[0\]\.group\[0\] names no\/such, which no \[\[buildpacks\]\] entry brings/,
    );
    const absent = await runLocald(["build", "-C", app, "-B", "./no-builder.toml"], {
      env: t.env,
      cwd: t.root,
    });
    assert.equal(absent.code, 3);
    assert.match(absent.stderr, /builder file .*no-builder.toml does not exist\nhint: /);
  } finally {
    await reg.stop();
    await t.cleanup();
  }
});

Deno.test("builder inspect shows nested orders and image extensions", async () => {
  const reg = await startRegistry();
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const ext = await extension(t.root);
    // A builder.toml with a composite buildpack and an extension.
    const file = join(t.root, "builder.toml");
    await Deno.writeTextFile(
      file,
      `[[buildpacks]]\nuri = ${JSON.stringify(join(FIXTURES, "composite"))}\n` +
        `[[buildpacks]]\nuri = ${JSON.stringify(join(FIXTURES, "multi-platform"))}\n` +
        `[[buildpacks]]\nuri = ${JSON.stringify(join(FIXTURES, "one-process"))}\n` +
        `[[extensions]]\nuri = ${JSON.stringify(ext)}\n` +
        `[[order]]\n[[order.group]]\nid = "locald-fixtures/composite"\n` +
        `[[order-extensions]]\n[[order-extensions.group]]\nid = "samples/curl"\n`,
    );
    const nested = new RegExp(
      "Detection order:\n  Group #1:\n    locald-fixtures/composite@1.0.0 \\(composite\\)\n" +
        "      Group #1:\n        locald-fixtures/multi-platform@1.0.0\n" +
        "        locald-fixtures/one-process@1.0.0\n",
    );
    const extensions =
      /Extensions:\n {2}samples\/curl@0.0.1\nExtension order:\n {2}Group #1:\n {4}samples\/curl@0.0.1\n/;
    const local = await runLocald(["builder", "inspect", file], { env: t.env });
    assert.equal(local.code, 0, local.stderr);
    assert.match(local.stdout, nested);
    assert.match(local.stdout, extensions);
    // And it builds: the detector runs the extension from the local layout, whose Dockerfile a
    // development build does not apply (and says so).
    const app = await appDir(t.root);
    const built = await runLocald(["build", "-C", app, "-B", file], { env: t.env });
    assert.equal(built.code, 0, built.stderr);
    assert.match(built.stderr, /image extensions not applied .*samples\/curl/);

    // The same composition as a builder image (its /cnb as `pack builder create` writes it).
    const cnb = await layer([
      ...dirs(
        "cnb",
        "cnb/buildpacks",
        "cnb/buildpacks/locald-fixtures_composite",
        "cnb/buildpacks/locald-fixtures_multi-platform",
        "cnb/buildpacks/locald-fixtures_one-process",
        "cnb/extensions",
        "cnb/extensions/samples_curl",
      ),
      ...await entriesOf(
        join(FIXTURES, "composite"),
        "cnb/buildpacks/locald-fixtures_composite/1.0.0",
      ),
      ...await entriesOf(
        join(FIXTURES, "multi-platform"),
        "cnb/buildpacks/locald-fixtures_multi-platform/1.0.0",
      ),
      ...await entriesOf(
        join(FIXTURES, "one-process"),
        "cnb/buildpacks/locald-fixtures_one-process/1.0.0",
      ),
      ...await entriesOf(ext, "cnb/extensions/samples_curl/0.0.1"),
      {
        name: "cnb/order.toml",
        content: '[[order]]\n[[order.group]]\nid = "locald-fixtures/composite"\n' +
          'version = "1.0.0"\n\n[[order-extensions]]\n[[order-extensions.group]]\n' +
          'id = "samples/curl"\nversion = "0.0.1"\n',
      },
    ]);
    await pushImage({ host: reg.host }, "test/ext-builder", "1", {
      layers: [cnb],
      architecture: hostPlatform().architecture,
    });
    const image = await runLocald(["builder", "inspect", `${reg.host}/test/ext-builder:1`], {
      env: t.env,
    });
    assert.equal(image.code, 0, image.stderr);
    assert.match(image.stdout, nested);
    assert.match(image.stdout, extensions);
    const json = await runLocald(
      ["builder", "inspect", `${reg.host}/test/ext-builder:1`, "--json"],
      { env: t.env },
    );
    // deno-lint-ignore no-explicit-any
    const j = json.json as any;
    assert.deepEqual(j.extensions, [{ id: "samples/curl", version: "0.0.1" }]);
    assert.equal(j.order[0].group[0].order[0].group[1].id, "locald-fixtures/one-process");
  } finally {
    await reg.stop();
    await t.cleanup();
  }
});
