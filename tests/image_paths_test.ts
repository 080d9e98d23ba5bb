/**
 * Image builds from paths as users have them: locald's state under a macOS-shaped home
 * (`/Users/Ada/Library/Application Support/locald`: capitals, a space), a project folder
 * `MyApp` under a non-ASCII parent, a buildpack inside the project (project.toml
 * `uri = "./my-buildpack"`), and project.toml `exclude`/`include` shaping `/workspace` (and
 * the fingerprint) as pack does. The image is unpacked by umoci and run under bwrap.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO, runLocald, testEnv } from "./support/locald.ts";
import { startRegistry } from "./support/registry.ts";
import { pushImages, unpackAndRun } from "./support/image_fixture.ts";
import { lifecycleDir } from "./support/tools.ts";
import { runProcess } from "./support/proc.ts";
import { exists } from "../src/util/fs.ts";
import { asUser } from "./support/unprivileged.ts";

const IMAGE_APP_BP = join(REPO, "tests/fixtures/buildpacks/image-app");

/** A macOS-shaped home and project, with the image-app buildpack inside the project. */
async function macProject(projectToml: string) {
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  const home = join(t.root, "Users", "Ada");
  // locald's state goes where it goes on a Mac: XDG_DATA_HOME stands for ~/Library/...
  const { LOCALD_HOME: _, ...rest } = t.env;
  const dataHome = join(home, "Library", "Application Support");
  const env = { ...rest, HOME: home, XDG_DATA_HOME: dataHome };
  const app = join(home, "Développement", "MyApp");
  await Deno.mkdir(join(app, "secrets"), { recursive: true });
  await Deno.mkdir(join(app, "src"));
  const cp = await runProcess(["cp", "-r", IMAGE_APP_BP, join(app, "my-buildpack")]);
  assert.equal(cp.code, 0, cp.stderr);
  await Deno.writeTextFile(join(app, "hello.txt"), "hello from the workspace");
  await Deno.writeTextFile(join(app, "README.md"), "# not for the image");
  await Deno.writeTextFile(join(app, "secrets", "token"), "s3cret");
  await Deno.writeTextFile(join(app, "src", "main.sh"), "echo main");
  await Deno.writeTextFile(join(app, "project.toml"), projectToml);
  const state = join(dataHome, "locald");
  return { ...t, env, app, state };
}

const GROUP = '[[io.buildpacks.group]]\nuri = "./my-buildpack"\n';

Deno.test("--export and --publish from a macOS-shaped state path, buildpack inside the project, exclude", async () => {
  const reg = await startRegistry();
  const m = await macProject(
    `[_]\nschema-version = "0.2"\n[io.buildpacks]\nexclude = ["README.md", "secrets/"]\n` +
      GROUP,
  );
  try {
    const builder = await pushImages(reg);
    const out = join(m.root, "Users", "Ada", "Images", "MyApp");
    const b = await runLocald(
      ["build", "-C", m.app, "-B", builder, "--export", "--layout-dir", out, "--json"],
      { env: m.env },
    );
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stderr, /===> EXPORTER/);
    // locald's state really is under the macOS-shaped path.
    assert.ok(await exists(join(m.state, "projects")), m.state);
    assert.match(b.stderr, /image-app: building in \/workspace with layers in \/layers\//);

    const { rootfs, run } = await unpackAndRun(out, m.root);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /app says: hello from the workspace in \/workspace/);
    // exclude shaped /workspace; the buildpack inside the project is part of it, as with pack.
    assert.ok(await exists(join(rootfs, "workspace", "hello.txt")));
    assert.ok(await exists(join(rootfs, "workspace", "src", "main.sh")));
    assert.ok(await exists(join(rootfs, "workspace", "my-buildpack", "bin", "build")));
    assert.equal(await exists(join(rootfs, "workspace", "README.md")), false);
    assert.equal(await exists(join(rootfs, "workspace", "secrets")), false);

    // The image names its run image as a registry does, never by a path on this machine.
    const cfg = await runProcess(["skopeo", "inspect", "--config", `oci:${out}`]);
    assert.equal(cfg.code, 0, cfg.stderr);
    const labels = JSON.parse(cfg.stdout).config.Labels;
    const meta = JSON.parse(labels["io.buildpacks.lifecycle.metadata"]);
    const run1 = await runProcess([
      "skopeo",
      "inspect",
      "--tls-verify=false",
      `docker://${reg.host}/test/run:1`,
    ]);
    assert.equal(meta.runImage.reference, `${reg.host}/test/run@${JSON.parse(run1.stdout).Digest}`);
    assert.doesNotMatch(cfg.stdout, /Ada|Application Support|layout-repo/);
    // The digest locald reports is the layout's.
    const inspect = await runProcess(["skopeo", "inspect", `oci:${out}`]);
    // deno-lint-ignore no-explicit-any
    assert.equal(JSON.parse(inspect.stdout).Digest, (b.json as any).image.digest);
    // The image build worked on a copy: the project is as it was, and no copy is left over.
    const tree = await runProcess(["find", m.app, "-newer", join(m.app, "project.toml")]);
    assert.equal(tree.stdout, "");
    const copies = await runProcess(["find", m.state, "-name", "workspace"]);
    assert.equal(copies.stdout, "");

    const ref = `${reg.host}/ada/myapp:1`;
    const p = await runLocald(["build", "-C", m.app, "-B", builder, "--publish", ref], {
      env: m.env,
    });
    assert.equal(p.code, 0, p.stderr);
    const pushed = await runProcess(["skopeo", "inspect", "--tls-verify=false", `docker://${ref}`]);
    assert.equal(pushed.code, 0, pushed.stderr);
  } finally {
    await reg.stop();
    await m.cleanup();
  }
});

Deno.test("project.toml include shapes /workspace in the image and the dev build's fingerprint", async () => {
  const reg = await startRegistry();
  const m = await macProject(
    `[io.buildpacks]\ninclude = ["hello.txt", "src"]\n` + GROUP,
  );
  try {
    const builder = await pushImages(reg);
    const out = join(m.root, "layout");
    const b = await runLocald(
      ["build", "-C", m.app, "-B", builder, "--export", "--layout-dir", out],
      { env: m.env },
    );
    assert.equal(b.code, 0, b.stderr);
    const { rootfs, run } = await unpackAndRun(out, m.root);
    assert.equal(run.code, 0, run.stderr);
    const ls = await runProcess(["find", ".", "-mindepth", "1"], {
      cwd: join(rootfs, "workspace"),
    });
    assert.deepEqual(ls.stdout.trim().split("\n").sort(), [
      "./hello.txt",
      "./src",
      "./src/main.sh",
    ]);

    // A development build counts only what include names.
    const dev = await runLocald(["build", "-C", m.app, "-B", builder], { env: m.env });
    assert.equal(dev.code, 0, dev.stderr);
    await Deno.writeTextFile(join(m.app, "README.md"), "# edited, not part of the app");
    await Deno.writeTextFile(join(m.app, "notes.txt"), "new, not part of the app");
    const same = await runLocald(["build", "-C", m.app, "-B", builder], { env: m.env });
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stderr, /is up to date/);
    await Deno.writeTextFile(join(m.app, "src", "main.sh"), "echo changed");
    const changed = await runLocald(["build", "-C", m.app, "-B", builder], { env: m.env });
    assert.equal(changed.code, 0, changed.stderr);
    assert.doesNotMatch(changed.stderr, /is up to date/);
    assert.match(changed.stderr, /===> BUILDER/);
  } finally {
    await reg.stop();
    await m.cleanup();
  }
});

Deno.test("--export with locald's state inside the project: the state is not copied into /workspace", async () => {
  const reg = await startRegistry();
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const builder = await pushImages(reg);
    const app = join(t.root, "ci-checkout");
    await Deno.mkdir(app);
    await Deno.writeTextFile(join(app, "hello.txt"), "hello from the workspace");
    // As a CI job that keeps locald's state (and its caches) in the checkout.
    const env = { ...t.env, LOCALD_HOME: join(app, ".locald") };
    const out = join(t.root, "layout");
    const b = await runLocald(
      ["build", "-C", app, "-B", builder, "--export", "--layout-dir", out],
      {
        env,
      },
    );
    assert.equal(b.code, 0, b.stderr);
    const { rootfs, run } = await unpackAndRun(out, t.root);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /app says: hello from the workspace in \/workspace/);
    assert.equal(await exists(join(rootfs, "workspace", ".locald")), false);
  } finally {
    await reg.stop();
    await t.cleanup();
  }
});

Deno.test({
  name: "--export as an ordinary user, read-only directories in the project and exclude",
  ignore: Deno.uid() !== 0, // needs root to become uid 1000; a non-root suite is that user
  async fn() {
    const reg = await startRegistry();
    const u = await asUser({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
    try {
      const builder = await pushImages(reg);
      const app = join(u.root, "MyApp");
      // A vendored Go module cache: read-only directories, as Go leaves them.
      const mod = join(app, "vendor-cache", "mod");
      await Deno.mkdir(mod, { recursive: true });
      await Deno.writeTextFile(join(mod, "go.mod"), "module x\n");
      await Deno.writeTextFile(join(app, "hello.txt"), "hello from the workspace");
      await Deno.writeTextFile(join(app, "notes.md"), "not for the image");
      await Deno.writeTextFile(join(app, "project.toml"), '[io.buildpacks]\nexclude = ["*.md"]\n');
      await u.chownToUser();
      await Deno.chmod(mod, 0o555);
      const out = join(u.root, "layout");
      const exportIt = () =>
        u.locald(["build", "-C", app, "-B", builder, "--export", "--layout-dir", out]);
      const b = await exportIt();
      assert.equal(b.code, 0, b.stderr);
      assert.match(b.stderr, /===> EXPORTER/);
      const { rootfs, run } = await unpackAndRun(out, u.root);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(await exists(join(rootfs, "workspace", "vendor-cache", "mod", "go.mod")));
      assert.equal(await exists(join(rootfs, "workspace", "notes.md")), false);
      // The copy went away after the build, read-only directories and all; a second export
      // starts from a fresh one.
      const copies = await runProcess(["find", u.env.LOCALD_HOME, "-name", "workspace"]);
      assert.equal(copies.stdout, "");
      const again = await exportIt();
      assert.equal(again.code, 0, again.stderr);
    } finally {
      await reg.stop();
      await runProcess(["chmod", "-R", "u+w", u.root]);
      await u.cleanup();
    }
  },
});
