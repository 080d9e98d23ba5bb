/**
 * The platform API of a build with a builder: the newest locald and its lifecycle support,
 * capped at the newest the builder's own lifecycle declares (io.buildpacks.lifecycle.apis), as
 * its buildpacks were tested with it; --platform-api chooses another.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runLocald, testEnv } from "./support/locald.ts";
import { startRegistry } from "./support/registry.ts";
import { appDir, pushImages } from "./support/image_fixture.ts";
import { lifecycleDir } from "./support/tools.ts";

const REPO = new URL("../", import.meta.url).pathname;
const EXEC = {
  dir: join(REPO, "tests/fixtures/buildpacks/exec-env"),
  id: "locald-fixtures/exec-env",
  version: "1.0.0",
};

Deno.test("a builder declaring platform APIs up to 0.14 builds at 0.14; --platform-api 0.15 opts in", async () => {
  const reg = await startRegistry();
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const apis = JSON.stringify({
      buildpack: { deprecated: [], supported: ["0.7", "0.8", "0.9", "0.10", "0.11", "0.12"] },
      platform: {
        deprecated: [],
        supported: ["0.7", "0.8", "0.9", "0.10", "0.11", "0.12", "0.13", "0.14"],
      },
    });
    const capped = await pushImages(reg, EXEC, [], {
      tag: "capped",
      labels: { "io.buildpacks.lifecycle.apis": apis },
    });
    const app = await appDir(t.root);
    const b = await runLocald(["build", "-C", app, "-B", capped, "--json"], { env: t.env });
    assert.equal(b.code, 0, b.stderr);
    // deno-lint-ignore no-explicit-any
    const j = b.json as any;
    assert.equal(j.platformApi, "0.14");
    assert.match(b.stderr, /platform API 0.14: the newest builder .*capped declares/);
    // 0.14 has no execution environments: the buildpack builds for production, as it would
    // on that builder's own lifecycle.
    assert.equal(j.execEnv, undefined);
    assert.match(b.stderr, /platform API 0.14 has no execution environments/);
    assert.match(b.stderr, /exec-env: building for production/);
    const plan = await runLocald(["build", "-C", app, "-B", capped, "--dry-run", "--json"], {
      env: t.env,
    });
    // deno-lint-ignore no-explicit-any
    assert.equal((plan.json as any).plan.steps[0].env.CNB_PLATFORM_API, "0.14");

    // Asked for: the newer API, and with it the development environment.
    const pinned = await runLocald(
      ["build", "-C", app, "-B", capped, "--platform-api", "0.15", "--json"],
      { env: t.env },
    );
    assert.equal(pinned.code, 0, pinned.stderr);
    // deno-lint-ignore no-explicit-any
    assert.equal((pinned.json as any).platformApi, "0.15");
    // deno-lint-ignore no-explicit-any
    assert.equal((pinned.json as any).execEnv, "development");

    // A builder that declares nothing: the newest both sides support.
    const open = await pushImages(reg, EXEC, [], { tag: "open" });
    const o = await runLocald(["build", "-C", app, "-B", open, "--json"], { env: t.env });
    assert.equal(o.code, 0, o.stderr);
    // deno-lint-ignore no-explicit-any
    assert.equal((o.json as any).platformApi, "0.15");
  } finally {
    await reg.stop();
    await t.cleanup();
  }
});
