/** `locald cache ls|prune` on real builds. */
import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { copyApp, FIXTURE_APP, FIXTURE_BP } from "./support/fixture.ts";
import { runLocald, testEnv } from "./support/locald.ts";
import { lifecycleDir } from "./support/tools.ts";

Deno.test("cache ls shows projects and sizes; prune removes gone projects and leftovers only", async () => {
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const apps = [join(t.root, "kept"), join(t.root, "gone")];
    for (const app of apps) {
      await copyApp(FIXTURE_APP, t.root, basename(app));
      assert.equal(
        (await runLocald(["build", "-C", app, "-b", FIXTURE_BP], { env: t.env })).code,
        0,
      );
    }
    await Deno.remove(apps[1], { recursive: true });
    await Deno.mkdir(join(t.localdHome, "downloads"), { recursive: true });
    await Deno.writeTextFile(join(t.localdHome, "downloads", "x.tgz.part"), "partial");

    const ls = await runLocald(["cache", "ls", "--json"], { env: t.env });
    assert.equal(ls.code, 0, ls.stderr);
    // deno-lint-ignore no-explicit-any
    const listed = (ls.json as any).projects as {
      projectDir: string;
      exists: boolean;
      bytes: number;
    }[];
    assert.deepEqual(
      listed.map((p) => [p.projectDir, p.exists]).sort(),
      [[apps[1], false], [apps[0], true]].sort(),
    );
    assert.ok(listed.every((p) => p.bytes > 0));
    // deno-lint-ignore no-explicit-any
    assert.equal((ls.json as any).leftovers.length, 1);
    const human = await runLocald(["cache", "ls"], { env: t.env });
    assert.match(human.stdout, /gone .*\[project gone: prune removes it\]/);

    const dry = await runLocald(["cache", "prune", "--dry-run"], { env: t.env });
    assert.match(dry.stderr, /would remove .*gone/);
    assert.equal(
      (await runLocald(["cache", "ls", "--json"], { env: t.env }).then((r) =>
        r.json as { projects: unknown[] }
      )).projects.length,
      2,
    );

    const prune = await runLocald(["cache", "prune", "--json"], { env: t.env });
    assert.equal(prune.code, 0, prune.stderr);
    // deno-lint-ignore no-explicit-any
    assert.equal((prune.json as any).removed.length, 2); // the gone project and the .part file
    const e = await runLocald(["exec", "-C", apps[0], "--", "fixture-tool"], { env: t.env });
    assert.equal(e.code, 0, "the kept project still works");

    const allGone = await runLocald(["cache", "prune", "--all"], { env: t.env });
    assert.equal(allGone.code, 0);
    const after = await runLocald(["exec", "-C", apps[0], "--", "true"], { env: t.env });
    assert.equal(after.code, 4);
    const bad = await runLocald(["cache", "frob"], { env: t.env });
    assert.equal(bad.code, 2);
  } finally {
    await t.cleanup();
  }
});
