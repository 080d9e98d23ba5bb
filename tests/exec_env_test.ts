/**
 * Execution environments (RFC 0134, platform API 0.15): development builds tell buildpacks
 * `development`, images `production`, `--exec-env` and project.toml's `[dev.locald] exec-env`
 * choose another. The detector skips buildpacks declared for other environments, the launcher
 * starts only the processes of the build's environment, and the fingerprint counts it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runLocald, testEnv } from "./support/locald.ts";
import { startRegistry } from "./support/registry.ts";
import { appDir, pushImages } from "./support/image_fixture.ts";
import { lifecycleDir } from "./support/tools.ts";
import { runProcess } from "./support/proc.ts";

const REPO = new URL("../", import.meta.url).pathname;
const EXEC = join(REPO, "tests/fixtures/buildpacks/exec-env");
const DEV_TOOLS = join(REPO, "tests/fixtures/buildpacks/dev-tools");

// deno-lint-ignore no-explicit-any
const ids = (json: any) => json.buildpacks.map((b: { id: string }) => b.id);

Deno.test("development builds are development builds; --exec-env and project.toml choose another", async () => {
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const app = await appDir(t.root);
    const build = (...extra: string[]) =>
      runLocald(["build", "-C", app, "-b", EXEC, "-b", DEV_TOOLS, "--json", ...extra], {
        env: t.env,
      });
    const dev = await build();
    assert.equal(dev.code, 0, dev.stderr);
    // deno-lint-ignore no-explicit-any
    const j = dev.json as any;
    assert.equal(j.execEnv, "development");
    assert.equal(j.platformApi, "0.15");
    assert.match(dev.stderr, /exec-env: building for development/);
    assert.doesNotMatch(dev.stderr, /pruning/);
    assert.deepEqual(ids(j), ["locald-fixtures/exec-env", "locald-fixtures/dev-tools"]);
    // Only this environment's processes (and the one for every environment).
    assert.deepEqual(
      j.processes.map((p: { type: string; default: boolean }) => [p.type, p.default]),
      [["console", false], ["watch", true]],
    );
    // The launcher gets the same value: it starts the development-only process.
    const run = await runLocald(["run", "-C", app], { env: t.env });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), "watching for changes, CNB_EXEC_ENV=development");
    const tools = await runLocald(["exec", "-C", app, "--", "sh", "-c", "built-for; debugger"], {
      env: t.env,
    });
    assert.equal(tools.stdout, "built for development\ndebugger ready\n", tools.stderr);
    const web = await runLocald(["run", "-C", app, "web"], { env: t.env });
    assert.equal(web.code, 3);
    assert.match(web.stderr, /no process type "web"/);

    // Nothing changed: up to date. Another environment is another build.
    const same = await build();
    assert.match(same.stderr, /is up to date/);
    const test = await build("--exec-env", "test");
    assert.equal(test.code, 0, test.stderr);
    assert.doesNotMatch(test.stderr, /is up to date/);
    assert.match(test.stderr, /exec-env: building for test/);
    const runTests = await runLocald(["run", "-C", app], { env: t.env });
    assert.equal(runTests.stdout.trim(), "running the tests", runTests.stderr);

    // --exec-env production: the detector skips the development tooling.
    const prod = await build("--exec-env", "production");
    assert.equal(prod.code, 0, prod.stderr);
    assert.deepEqual(ids(prod.json), ["locald-fixtures/exec-env"]);
    assert.match(prod.stderr, /pruning development dependencies/);
    const gone = await runLocald(["exec", "-C", app, "--", "debugger"], { env: t.env });
    assert.notEqual(gone.code, 0);

    // project.toml chooses the environment of development builds.
    await Deno.writeTextFile(
      join(app, "project.toml"),
      '[_]\nschema-version = "0.2"\n\n[dev.locald]\nexec-env = "test"\n\n' +
        '[[io.buildpacks.build.env]]\nname = "ONLY_IN_TEST"\nvalue = "yes"\nexec-env = "test"\n' +
        '[[io.buildpacks.build.env]]\nname = "ONLY_IN_PROD"\nvalue = "yes"\nexec-env = ["production"]\n',
    );
    const fromProject = await build();
    assert.equal(fromProject.code, 0, fromProject.stderr);
    // deno-lint-ignore no-explicit-any
    assert.equal((fromProject.json as any).execEnv, "test");
    const platformEnv = join(
      // deno-lint-ignore no-explicit-any
      (fromProject.json as any).stateDir,
      "platform",
      "env",
    );
    assert.deepEqual((await Array.fromAsync(Deno.readDir(platformEnv))).map((e) => e.name), [
      "ONLY_IN_TEST",
    ]);

    // Below platform API 0.15 there is no execution environment: an explicit one is refused,
    // the default is dropped with a note.
    const old = await build("--platform-api", "0.14", "--exec-env", "test");
    assert.equal(old.code, 8);
    assert.match(old.stderr, /execution environment "test" needs platform API 0.15.*\nhint: /);
    await Deno.remove(join(app, "project.toml"));
    const plain = await build("--platform-api", "0.14");
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stderr, /platform API 0.14 has no execution environments/);
    assert.match(plain.stderr, /exec-env: building for production/);
    const bad = await build("--exec-env", "not an env");
    assert.equal(bad.code, 2);
  } finally {
    await t.cleanup();
  }
});

Deno.test("image builds are production builds: the development tooling stays out", async () => {
  const reg = await startRegistry();
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const builder = await pushImages(reg, {
      dir: EXEC,
      id: "locald-fixtures/exec-env",
      version: "1.0.0",
    });
    const app = await appDir(t.root);
    const layout = join(t.root, "image");
    const img = await runLocald(
      [
        "build",
        "-C",
        app,
        "-B",
        builder,
        "-b",
        EXEC,
        "-b",
        DEV_TOOLS,
        "--export",
        "--layout-dir",
        layout,
        "--json",
      ],
      { env: t.env },
    );
    assert.equal(img.code, 0, img.stderr);
    // deno-lint-ignore no-explicit-any
    const j = img.json as any;
    assert.equal(j.execEnv, "production");
    assert.deepEqual(ids(j), ["locald-fixtures/exec-env"]);
    assert.match(img.stderr, /pruning development dependencies/);
    const cfg = await runProcess(["skopeo", "inspect", "--config", `oci:${layout}`]);
    assert.equal(cfg.code, 0, cfg.stderr);
    const config = JSON.parse(cfg.stdout).config;
    assert.equal(config.Labels["io.buildpacks.exec-env"], "production");
    assert.deepEqual(config.Entrypoint, ["/cnb/process/web"]);
  } finally {
    await reg.stop();
    await t.cleanup();
  }
});
