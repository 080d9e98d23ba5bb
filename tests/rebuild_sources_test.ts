/**
 * A rebuild walks the source tree once: the record holds the tree as the phases started from
 * it and when they ended, and the next walk (a build's, or the stale check's) takes changes
 * made before that end as the build's own (what buildpacks wrote into the app) and anything
 * later as the user's.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runLocald } from "./support/locald.ts";
import { fixture } from "./support/fixture.ts";
import { localdDirs, projectStateDir } from "../src/config/paths.ts";

Deno.test("a rebuild does not walk the tree again after its phases; what it wrote is its own, later changes are not", async () => {
  const f = await fixture();
  // The fixture buildpack writes vendor/installed into the app on every build.
  const build = (...args: string[]) => f.build("-e", "FIXTURE_WRITE_APP=1", ...args);
  const record = async () =>
    JSON.parse(
      await Deno.readTextFile(join(projectStateDir(localdDirs(f.env), f.app), "build.json")),
    );
  const exec = () => runLocald(["exec", "-C", f.app, "--", "true"], { env: f.env });
  const notes = join(f.app, "notes.txt");
  try {
    assert.equal((await build()).code, 0);
    assert.match(await Deno.readTextFile(join(f.app, "vendor/installed")), /^\d+\n$/);
    // A change: the rebuild records the tree before its phases and when they ended.
    await Deno.writeTextFile(notes, "one\n");
    const b = await build();
    assert.match(b.stderr, /===> BUILDER/);
    const pending = await record();
    assert.equal(typeof pending.sources.phasesEnd, "number", JSON.stringify(pending.sources));
    // What the buildpack wrote is the build's own: no stale line, and the next build is a
    // no-op that settles the record (the digest of the tree as it is, nothing pending).
    assert.doesNotMatch((await exec()).stderr, /changed since/);
    assert.match((await build()).stderr, /is up to date/);
    const settled = await record();
    assert.equal(settled.sources.phasesEnd, undefined);
    assert.notEqual(settled.sources.digest, pending.sources.digest);
    assert.match((await build()).stderr, /is up to date/);
    // Changes right after a build, within the same second as its end: each one is seen.
    const changes: [string, () => Promise<void>][] = [
      ["an edit", () => Deno.writeTextFile(notes, "two\n")],
      ["a chmod", () => Deno.chmod(notes, 0o600)],
      ["a removal", () => Deno.remove(join(f.app, "vendor/installed"))],
      ["a new file", () => Deno.writeTextFile(join(f.app, "new.txt"), "new\n")],
    ];
    for (const [what, change] of changes) {
      await Deno.writeTextFile(notes, `before ${what}\n`);
      assert.match((await build()).stderr, /===> BUILDER/, what);
      assert.equal(typeof (await record()).sources.phasesEnd, "number");
      await change();
      assert.match((await exec()).stderr, /changed since its environment was built/, what);
      assert.match((await build()).stderr, /===> BUILDER/, `${what} after the build`);
    }
    // Other inputs still count while the record is pending.
    assert.match((await build("-e", "SOMETHING=else")).stderr, /===> BUILDER/);
  } finally {
    await f.cleanup();
  }
});
