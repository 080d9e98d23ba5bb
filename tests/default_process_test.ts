/**
 * The default process follows the platform spec in both kinds of build: a buildpack that
 * declares one process type and marks none default gives `locald run` no default, as the
 * exporter gives the image none; `--default-process` chooses one for both. And `build --json`
 * reports a failure as a JSON object on stdout.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runLocald, testEnv } from "./support/locald.ts";
import { startRegistry } from "./support/registry.ts";
import { appDir, pushImages } from "./support/image_fixture.ts";
import { lifecycleDir } from "./support/tools.ts";
import { runProcess } from "./support/proc.ts";

const REPO = new URL("../", import.meta.url).pathname;
const ONE = {
  dir: join(REPO, "tests/fixtures/buildpacks/one-process"),
  id: "locald-fixtures/one-process",
  version: "1.0.0",
};

async function entrypoint(layout: string): Promise<string[]> {
  const r = await runProcess(["skopeo", "inspect", "--config", `oci:${layout}`]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).config.Entrypoint ?? [];
}

Deno.test("one process and no default: neither `run` nor the image has one; --default-process sets both", async () => {
  const reg = await startRegistry();
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const app = await appDir(t.root);
    // Development build: the process is declared, but it is not the default.
    const dev = await runLocald(["build", "-C", app, "-b", ONE.dir, "--json"], { env: t.env });
    assert.equal(dev.code, 0, dev.stderr);
    // deno-lint-ignore no-explicit-any
    assert.deepEqual((dev.json as any).processes.map((p: any) => [p.type, p.default]), [
      ["worker", false],
    ]);
    const none = await runLocald(["run", "-C", app], { env: t.env });
    assert.equal(none.code, 3, none.stderr);
    assert.match(none.stderr, /no default process type in .*: no buildpack marked one default/);
    assert.match(none.stderr, /hint: name one \(`locald run worker`.*--default-process worker/);
    const named = await runLocald(["run", "-C", app, "worker"], { env: t.env });
    assert.equal(named.code, 0, named.stderr);
    assert.match(named.stdout, /worker ran in /);

    // The image of the same build: the exporter gives it no default either.
    const builder = await pushImages(reg, ONE);
    const layout = join(t.root, "image");
    const img = await runLocald(
      ["build", "-C", app, "-B", builder, "--export", "--layout-dir", layout],
      { env: t.env },
    );
    assert.equal(img.code, 0, img.stderr);
    assert.match(img.stderr, /no default process type/);
    assert.deepEqual(await entrypoint(layout), ["/cnb/lifecycle/launcher"]);

    // --default-process: the same type is the default in both.
    const chosen = await runLocald(
      ["build", "-C", app, "-b", ONE.dir, "--default-process", "worker"],
      { env: t.env },
    );
    assert.equal(chosen.code, 0, chosen.stderr);
    assert.match(chosen.stderr, /process types: worker \(default\)/);
    const runs = await runLocald(["run", "-C", app], { env: t.env });
    assert.equal(runs.code, 0, runs.stderr);
    assert.match(runs.stdout, /worker ran in /);
    const img2 = await runLocald(
      ["build", "-C", app, "-B", builder, "--export", "--layout-dir", layout, "-D", "worker"],
      { env: t.env },
    );
    assert.equal(img2.code, 0, img2.stderr);
    assert.match(img2.stderr, /Setting default process type 'worker'/);
    assert.deepEqual(await entrypoint(layout), ["/cnb/process/worker"]);

    // A type no buildpack declared: refused in the same words by both.
    for (const extra of [["-b", ONE.dir], ["-B", builder, "--export", "--layout-dir", layout]]) {
      const bad = await runLocald(
        ["build", "-C", app, ...extra, "--default-process", "web", "--force"],
        { env: t.env },
      );
      assert.equal(bad.code, 3, bad.stderr);
      assert.match(
        bad.stderr,
        /locald: --default-process web: the buildpacks declared no process type "web"\nhint: choose one of: worker\n/,
      );
    }
  } finally {
    await reg.stop();
    await t.cleanup();
  }
});

Deno.test("build --json prints a JSON failure object on stdout", async () => {
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const app = await appDir(t.root);
    // A buildpack whose build fails (exit 6), and a directory that is no buildpack (exit 3).
    const bp = join(t.root, "failing");
    await Deno.mkdir(join(bp, "bin"), { recursive: true });
    await Deno.writeTextFile(
      join(bp, "buildpack.toml"),
      'api = "0.10"\n[buildpack]\nid = "t/failing"\nversion = "1"\n[[targets]]\nos = "linux"\n',
    );
    await Deno.writeTextFile(join(bp, "bin", "detect"), "#!/bin/sh\nexit 0\n");
    await Deno.writeTextFile(join(bp, "bin", "build"), "#!/bin/sh\necho broken >&2\nexit 1\n");
    await Deno.chmod(join(bp, "bin", "detect"), 0o755);
    await Deno.chmod(join(bp, "bin", "build"), 0o755);
    const failed = await runLocald(["build", "-C", app, "-b", bp, "--json"], { env: t.env });
    assert.equal(failed.code, 6, failed.stderr);
    // deno-lint-ignore no-explicit-any
    const j = failed.json as any;
    assert.equal(j.ok, false, failed.stdout);
    assert.equal(j.command, "build");
    assert.equal(j.error.exitCode, 6);
    assert.match(j.error.message, /the builder phase failed/);
    assert.match(j.error.hint, /a buildpack failed/);
    const input = await runLocald(["build", "-C", app, "-b", t.root, "--json"], { env: t.env });
    assert.equal(input.code, 3);
    // deno-lint-ignore no-explicit-any
    assert.match((input.json as any).error.message, /is not a buildpack: it has no buildpack.toml/);
    // Without --json stdout stays empty.
    const plain = await runLocald(["build", "-C", app, "-b", t.root], { env: t.env });
    assert.equal(plain.stdout, "");
  } finally {
    await t.cleanup();
  }
});
