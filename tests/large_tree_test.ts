/**
 * A project with a large source tree (a node_modules-like tree from bench/lib/tree.ts, past the
 * stale check's head start): .gitignore files still decide what counts, and the environment
 * commands still say when the sources changed, without waiting for the walk to start.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runLocald } from "./support/locald.ts";
import { fixture } from "./support/fixture.ts";
import { makeTree } from "../bench/lib/tree.ts";
import { HEAD_START } from "../src/devenv/stale.ts";

Deno.test("large tree: .gitignore honoured at every level; stale line during a longer command", async () => {
  const f = await fixture();
  try {
    await makeTree(join(f.app, "web"), 3000, "node", true);
    // The ignored node_modules/ makes the counted tree small: add a counted one past the head start.
    await makeTree(join(f.app, "lib"), 3000, "flat", false);
    assert.ok(HEAD_START < 2000, "the tree must be larger than the check's head start");
    assert.equal((await f.build()).code, 0);
    // Ignored: the top-level node_modules/ rule of web/.gitignore, and a nested package's *.map.
    await Deno.writeTextFile(join(f.app, "web/node_modules/pkg3/index.js"), "changed");
    await Deno.writeTextFile(join(f.app, "web/src/app.log"), "ignored by *.log");
    assert.match((await f.build()).stderr, /is up to date/);
    const quiet = await runLocald(["exec", "-C", f.app, "--", "sleep", "1.5"], { env: f.env });
    assert.equal(quiet.code, 0);
    assert.doesNotMatch(quiet.stderr, /changed since/);
    // A counted file deep in the walk changes: a command that runs long enough hears of it...
    await Deno.writeTextFile(join(f.app, "lib/src/m0014/f99.ts"), "// changed\n", { append: true });
    const e = await runLocald(["exec", "-C", f.app, "--", "sleep", "1.5"], { env: f.env });
    assert.equal(e.code, 0);
    assert.match(e.stderr, /changed since its environment was built .*run `locald build`/);
    // ...and so do run and shell -c; a quick command still runs and exits with its own code.
    const r = await runLocald(["shell", "-C", f.app, "-c", "sleep 1.5; exit 3"], { env: f.env });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /changed since/);
    const quick = await runLocald(["exec", "-C", f.app, "--", "sh", "-c", "exit 4"], {
      env: f.env,
    });
    assert.equal(quick.code, 4);
    // The build sees the same change.
    assert.match((await f.build()).stderr, /===> BUILDER/);
    const after = await runLocald(["exec", "-C", f.app, "--", "sleep", "1.5"], { env: f.env });
    assert.doesNotMatch(after.stderr, /changed since/);
  } finally {
    await f.cleanup();
  }
});
