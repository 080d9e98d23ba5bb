import assert from "node:assert/strict";
import { join } from "node:path";
import { compileIgnore, treeDigest } from "./fingerprint.ts";

Deno.test("ignore patterns follow .gitignore rules", () => {
  const ig = compileIgnore(["node_modules/", "*.log", "/build", "docs/**/*.tmp", "!keep.log"]);
  assert.equal(ig("node_modules", true), true);
  assert.equal(ig("a/node_modules", true), true);
  assert.equal(ig("node_modules", false), false); // dir-only rule
  assert.equal(ig("x/y.log", false), true);
  assert.equal(ig("keep.log", false), false);
  assert.equal(ig("build", true), true);
  assert.equal(ig("src/build", true), false); // anchored
  assert.equal(ig("docs/a/b/c.tmp", false), true);
  assert.equal(ig("src/main.ts", false), false);
});

Deno.test("tree digest changes with a file and ignores what is ignored", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "a.txt"), "a");
    await Deno.writeTextFile(join(dir, ".gitignore"), "tmp/\n");
    await Deno.mkdir(join(dir, "tmp"));
    await Deno.mkdir(join(dir, ".git"));
    const d1 = await treeDigest(dir, { gitignore: true });
    await Deno.writeTextFile(join(dir, "tmp", "x"), "ignored");
    await Deno.writeTextFile(join(dir, ".git", "HEAD"), "ignored");
    assert.equal(await treeDigest(dir, { gitignore: true }), d1);
    await Deno.writeTextFile(join(dir, "a.txt"), "changed");
    assert.notEqual(await treeDigest(dir, { gitignore: true }), d1);
    const d2 = await treeDigest(dir, { gitignore: true });
    await Deno.writeTextFile(join(dir, "excluded.md"), "x");
    assert.equal(await treeDigest(dir, { gitignore: true, exclude: ["*.md"] }), d2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
