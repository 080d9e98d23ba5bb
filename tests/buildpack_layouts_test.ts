/**
 * Buildpack layouts and APIs as real buildpacks ship them: multi-platform buildpacks
 * (`linux/<arch>/bin/...`) are flattened for this machine, composite buildpacks bring their
 * parts through package.toml, and a Buildpack API the lifecycle cannot run is refused with the
 * range it can (exit 8), whether the buildpack is local or a builder's.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runLocald, testEnv } from "./support/locald.ts";
import { startRegistry } from "./support/registry.ts";
import { appDir, pushImages } from "./support/image_fixture.ts";
import { copyApp } from "./support/fixture.ts";
import { lifecycleDir } from "./support/tools.ts";
import { goArch } from "../src/hosts/target.ts";

const REPO = new URL("../", import.meta.url).pathname;
const FIXTURES = join(REPO, "tests/fixtures/buildpacks");

/** A buildpack declaring `api`, written into `root`. */
async function apiBuildpack(root: string, api: string) {
  const bp = join(root, `api-${api}`);
  await Deno.mkdir(join(bp, "bin"), { recursive: true });
  await Deno.writeTextFile(
    join(bp, "buildpack.toml"),
    `api = "${api}"\n[buildpack]\nid = "t/old-api"\nversion = "1.0.0"\n[[stacks]]\nid = "*"\n`,
  );
  for (const f of ["detect", "build"]) {
    await Deno.writeTextFile(join(bp, "bin", f), "#!/bin/sh\nexit 0\n");
    await Deno.chmod(join(bp, "bin", f), 0o755);
  }
  return { dir: bp, id: "t/old-api", version: "1.0.0" };
}

Deno.test("a multi-platform buildpack runs with this machine's linux/<arch> binaries", async () => {
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    // Paths as users have them: a space and a capital in the buildpack's directory.
    const parent = join(t.root, "My Buildpacks");
    await Deno.mkdir(parent);
    const bp = await copyApp(join(FIXTURES, "multi-platform"), parent, "multi-platform");
    const app = await appDir(t.root);
    const b = await runLocald(["build", "-C", app, "-b", bp], { env: t.env });
    assert.equal(b.code, 0, b.stderr);
    const arch = goArch(Deno.build.arch);
    assert.match(b.stderr, new RegExp(`building with the linux/${arch} binaries`));
    const e = await runLocald(["exec", "-C", app, "--", "arch-tool"], { env: t.env });
    assert.equal(e.code, 0, e.stderr);
    // The root's own files are there too (shared.txt beside buildpack.toml).
    assert.equal(
      e.stdout.trim(),
      `arch tool for linux/${arch}; shared data beside buildpack.toml`,
    );
    // A multi-platform buildpack without this machine's folder: one line, exit 8.
    await Deno.rename(join(bp, "linux", arch), join(bp, "linux", "elsewhere"));
    const none = await runLocald(["build", "-C", app, "-b", bp], { env: t.env });
    assert.equal(none.code, 8, none.stderr);
    assert.match(
      none.stderr,
      new RegExp(`is a multi-platform buildpack without a linux/${arch} build.*\\nhint: `),
    );
  } finally {
    await t.cleanup();
  }
});

Deno.test("a composite buildpack from a directory builds with the parts its package.toml names", async () => {
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const app = await appDir(t.root);
    const b = await runLocald(
      ["build", "-C", app, "-b", join(FIXTURES, "composite"), "--json"],
      { env: t.env },
    );
    assert.equal(b.code, 0, b.stderr);
    // deno-lint-ignore no-explicit-any
    assert.deepEqual((b.json as any).buildpacks.map((x: any) => x.id), [
      "locald-fixtures/multi-platform",
      "locald-fixtures/one-process",
    ]);
    const run = await runLocald(["run", "-C", app, "worker"], { env: t.env });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /worker ran in /);
    const tool = await runLocald(["exec", "-C", app, "--", "arch-tool"], { env: t.env });
    assert.equal(tool.code, 0, tool.stderr);

    // Without package.toml (and no builder): said plainly, nothing is built.
    const bare = join(t.root, "bare");
    await Deno.mkdir(bare);
    await Deno.copyFile(
      join(FIXTURES, "composite", "buildpack.toml"),
      join(bare, "buildpack.toml"),
    );
    const refused = await runLocald(["build", "-C", app, "-b", bare], { env: t.env });
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(
      refused.stderr,
      /is a composite buildpack and has no package.toml naming its parts, so without a builder there is nothing to build with\nhint: add a package.toml/,
    );
    assert.doesNotMatch(refused.stderr, /===> /); // no phase ran
    // A package.toml that leaves a part out names it.
    await Deno.writeTextFile(
      join(bare, "package.toml"),
      `[buildpack]\nuri = "."\n[[dependencies]]\nuri = ${
        JSON.stringify(join(FIXTURES, "one-process"))
      }\n`,
    );
    const partial = await runLocald(["build", "-C", app, "-b", bare], { env: t.env });
    assert.equal(partial.code, 3, partial.stderr);
    assert.match(
      partial.stderr,
      /composite buildpack .* needs locald-fixtures\/multi-platform@1.0.0, which its package.toml does not bring/,
    );
    // A registry URN is not something locald resolves: unsupported, said so.
    await Deno.writeTextFile(
      join(bare, "package.toml"),
      '[[dependencies]]\nuri = "urn:cnb:registry:locald-fixtures/multi-platform@1.0.0"\n',
    );
    const urn = await runLocald(["build", "-C", app, "-b", bare], { env: t.env });
    assert.equal(urn.code, 8, urn.stderr);
    assert.match(urn.stderr, /is not supported \(locald takes directories and images\)/);
  } finally {
    await t.cleanup();
  }
});

Deno.test("a Buildpack API outside the lifecycle's range exits 8 naming the range", async () => {
  const reg = await startRegistry();
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const app = await appDir(t.root);
    const old = await apiBuildpack(t.root, "0.6");
    const local = await runLocald(["build", "-C", app, "-b", old.dir], { env: t.env });
    assert.equal(local.code, 8, local.stderr);
    const words =
      /locald: buildpack t\/old-api@1.0.0 uses Buildpack API 0.6; lifecycle 0.21.17 supports Buildpack APIs 0.7 to 0.12\nhint: /;
    assert.match(local.stderr, words);
    assert.doesNotMatch(local.stderr, /===> /);
    // The same buildpack in a builder's order: the lifecycle refuses it, locald says why.
    const builder = await pushImages(reg, old);
    const viaBuilder = await runLocald(["build", "-C", app, "-B", builder], { env: t.env });
    assert.equal(viaBuilder.code, 8, viaBuilder.stderr);
    assert.match(viaBuilder.stderr, words);
  } finally {
    await reg.stop();
    await t.cleanup();
  }
});
