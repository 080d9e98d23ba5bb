/**
 * A builder with image extensions, as the CNB samples have them: a vim extension (always
 * detects, generates a build.Dockerfile), a curl extension (detects when the app asks,
 * generates a run.Dockerfile that switches the run image), and a buildpack that requires what
 * they provide. locald runs detection with the extensions and applies no Dockerfile:
 * development builds say which extensions were not applied; image builds stop when a
 * run.Dockerfile would change the image.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO, runLocald, testEnv } from "./support/locald.ts";
import { startRegistry } from "./support/registry.ts";
import { appDir, pushImages, unpackAndRun } from "./support/image_fixture.ts";
import { lifecycleDir } from "./support/tools.ts";
import { exists } from "../src/util/fs.ts";

const fixture = (kind: string, name: string, id: string) => ({
  dir: join(REPO, "tests/fixtures", kind, name),
  id,
  version: "0.0.1",
});

Deno.test("builder with image extensions: detection runs them, unapplied Dockerfiles are named", async () => {
  const reg = await startRegistry();
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const builder = await pushImages(
      reg,
      fixture("buildpacks", "hello-extensions", "locald-fixtures/hello-extensions"),
      [
        fixture("extensions", "vim", "locald-fixtures/vim"),
        fixture("extensions", "curl", "locald-fixtures/curl"),
      ],
    );
    const app = await appDir(t.root);

    // Development build: the vim extension detects and generates a build.Dockerfile.
    const dev = await runLocald(["build", "-C", app, "-B", builder, "--json"], { env: t.env });
    assert.equal(dev.code, 0, dev.stderr);
    assert.match(dev.stderr, /vim extension: generating a build\.Dockerfile/);
    assert.match(
      dev.stderr,
      /warning: image extensions not applied .*: locald-fixtures\/vim@0\.0\.1 \(build\.Dockerfile\)\n/,
    );
    assert.match(dev.stderr, /hello-extensions: vim is /);
    // deno-lint-ignore no-explicit-any
    assert.deepEqual((dev.json as any).buildpacks, [
      { id: "locald-fixtures/hello-extensions", version: "0.0.1" },
    ]);
    // Before platform API 0.13 the lifecycle lays the Dockerfiles out differently.
    const older = await runLocald(
      ["build", "-C", app, "-B", builder, "--platform-api", "0.12", "--force"],
      { env: t.env },
    );
    assert.equal(older.code, 0, older.stderr);
    assert.match(
      older.stderr,
      /not applied .*: locald-fixtures\/vim@0\.0\.1 \(build\.Dockerfile\)\n/,
    );
    const run = await runLocald(["run", "-C", app], { env: t.env });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /hello from the extensions app/);

    // An image build: the build.Dockerfile is not applied either, and the image is made.
    const out = join(t.root, "image");
    const img = await runLocald(
      ["build", "-C", app, "-B", builder, "--export", "--layout-dir", out],
      { env: t.env },
    );
    assert.equal(img.code, 0, img.stderr);
    assert.match(img.stderr, /image extensions not applied .*locald-fixtures\/vim@0\.0\.1/);
    const { run: inImage } = await unpackAndRun(out, t.root);
    assert.equal(inImage.code, 0, inImage.stderr);
    assert.match(inImage.stdout, /hello from the extensions app/);

    // The app asks for curl: its extension switches the run image with a run.Dockerfile.
    await Deno.writeTextFile(join(app, "needs-curl"), "");
    const dev2 = await runLocald(["build", "-C", app, "-B", builder], { env: t.env });
    assert.equal(dev2.code, 0, dev2.stderr);
    assert.match(
      dev2.stderr,
      /not applied .*: locald-fixtures\/vim@0\.0\.1 \(build\.Dockerfile\), locald-fixtures\/curl@0\.0\.1 \(run\.Dockerfile\)/,
    );
    const out2 = join(t.root, "image2");
    const refused = await runLocald(
      ["build", "-C", app, "-B", builder, "--export", "--layout-dir", out2],
      { env: t.env },
    );
    assert.equal(refused.code, 8, refused.stderr);
    assert.match(
      refused.stderr,
      /locald: image extensions that change the run image cannot be applied: locald-fixtures\/curl@0\.0\.1 \(run\.Dockerfile\)\nhint: /,
    );
    assert.equal(await exists(out2), false);
    // The development environment from before is still there and works.
    const again = await runLocald(["run", "-C", app], { env: t.env });
    assert.equal(again.code, 0, again.stderr);
  } finally {
    await reg.stop();
    await t.cleanup();
  }
});
