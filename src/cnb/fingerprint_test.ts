import assert from "node:assert/strict";
import { join } from "node:path";
import { compileIgnore, compileInclude, treeDigest } from "./fingerprint.ts";

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

Deno.test("include patterns match a path or anything beneath it, as pack applies them", () => {
  const inc = compileInclude(["src", "*.json", "docs/", "!src/secret"]);
  assert.equal(inc("src", true), true);
  assert.equal(inc("src/a/b.ts", false), true); // beneath an included directory
  assert.equal(inc("package.json", false), true);
  assert.equal(inc("lib/x.json", false), true);
  assert.equal(inc("docs/guide.md", false), true);
  assert.equal(inc("docs", false), false); // a file named docs: dir-only rule
  assert.equal(inc("src/secret/key", false), false); // the later negation wins
  assert.equal(inc("README.md", false), false);
  assert.equal(inc("test/a.ts", false), false);
});

Deno.test("tree digest with include counts only what include names", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "src"));
    await Deno.writeTextFile(join(dir, "src", "main.js"), "a");
    const d1 = await treeDigest(dir, { include: ["src"] });
    await Deno.writeTextFile(join(dir, "README.md"), "not part of the app");
    await Deno.mkdir(join(dir, "notes"));
    assert.equal(await treeDigest(dir, { include: ["src"] }), d1);
    await Deno.writeTextFile(join(dir, "src", "more.js"), "b");
    assert.notEqual(await treeDigest(dir, { include: ["src"] }), d1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
