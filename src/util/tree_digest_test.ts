import assert from "node:assert/strict";
import { join } from "node:path";
import {
  compileIgnore,
  compileInclude,
  LARGE_DIR,
  pacedTreeDigest,
  treeDigest,
} from "./tree_digest.ts";

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

Deno.test("nested .gitignore files count in their directory only; a .gitignore directory is no rule file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "a", "b"), { recursive: true });
    await Deno.mkdir(join(dir, "c", ".gitignore"), { recursive: true });
    await Deno.writeTextFile(join(dir, "a", ".gitignore"), "# generated\n*.gen\n!keep.gen\n");
    await Deno.writeTextFile(join(dir, "a", "b", "x.ts"), "x");
    const d1 = await treeDigest(dir, { gitignore: true });
    // Ignored under a/ (at any depth), counted elsewhere; `!` re-includes.
    await Deno.writeTextFile(join(dir, "a", "b", "out.gen"), "1");
    assert.equal(await treeDigest(dir, { gitignore: true }), d1);
    await Deno.writeTextFile(join(dir, "top.gen"), "1");
    const d2 = await treeDigest(dir, { gitignore: true });
    assert.notEqual(d2, d1);
    await Deno.writeTextFile(join(dir, "a", "keep.gen"), "1");
    const d3 = await treeDigest(dir, { gitignore: true });
    assert.notEqual(d3, d2);
    await Deno.writeTextFile(join(dir, "c", ".gitignore", "f"), "1");
    assert.notEqual(await treeDigest(dir, { gitignore: true }), d3);
    // Without gitignore, every file counts.
    const all = await treeDigest(dir);
    await Deno.writeTextFile(join(dir, "a", "b", "out.gen"), "22");
    assert.notEqual(await treeDigest(dir), all);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a paced walk gives the same digest, pauses as asked and can be stopped", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Enough lines for several hash slices, in nested directories, with a symlink.
    for (let i = 0; i < 40; i++) {
      await Deno.mkdir(join(dir, `d${i}`));
      for (let j = 0; j < 50; j++) {
        await Deno.writeTextFile(join(dir, `d${i}`, `file-with-a-long-name-${j}.txt`), `${j}`);
      }
    }
    await Deno.symlink("d1", join(dir, "link"));
    const whole = await treeDigest(dir);
    let pauses = 0;
    const paced = await pacedTreeDigest(dir, {}, {
      first: 10,
      every: 100,
      pause: () => Promise.resolve(++pauses < 0),
    });
    assert.equal(paced, whole);
    assert.equal(pauses, 21); // 2041 entries: after 10, then every 100
    const stopped = await pacedTreeDigest(dir, {}, {
      first: 10,
      every: 100,
      pause: () => Promise.resolve(true),
    });
    assert.equal(stopped, undefined);
    // A symlink's target counts.
    await Deno.remove(join(dir, "link"));
    await Deno.symlink("d2", join(dir, "link"));
    assert.notEqual(await treeDigest(dir), whole);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a paced walk pauses before it lists a large directory, not before a small one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "src"));
    await Deno.writeTextFile(join(dir, "src/a.ts"), "a");
    await Deno.mkdir(join(dir, "node_modules"));
    const long = "a-package-with-a-rather-long-name-like-many";
    for (let i = 0; (await Deno.lstat(join(dir, "node_modules"))).size <= LARGE_DIR; i++) {
      for (let j = 0; j < 100; j++) {
        await Deno.mkdir(join(dir, "node_modules", `${long}-${i}-${j}`));
      }
    }
    const whole = await treeDigest(dir);
    // `first` is larger than the tree: only the large directory brings a pause.
    let pauses = 0;
    const walk = () =>
      pacedTreeDigest(dir, {}, {
        first: 1e9,
        every: 1e9,
        pause: () => Promise.resolve(++pauses < 0),
      });
    assert.equal(await walk(), whole);
    assert.equal(pauses, 1);
    // Ended there: no digest.
    const stopped = await pacedTreeDigest(dir, {}, {
      first: 1e9,
      every: 1e9,
      pause: () => Promise.resolve(true),
    });
    assert.equal(stopped, undefined);
    // Without the large directory, no pause at all.
    await Deno.remove(join(dir, "node_modules"), { recursive: true });
    assert.equal(await walk(), await treeDigest(dir));
    assert.equal(pauses, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a walk tells whether anything it counts changed since a time: edits, additions, removals, chmod", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "src/deep"), { recursive: true });
    await Deno.writeTextFile(join(dir, "src/deep/a.txt"), "a");
    await Deno.writeTextFile(join(dir, "src/b.txt"), "b");
    await Deno.writeTextFile(join(dir, ".gitignore"), "out/\n");
    await Deno.mkdir(join(dir, "out"));
    // The mark as build.ts takes it: the mtime of a file written on the same file system.
    const markFile = join(dir, "..", `${dir.split("/").pop()}-mark`);
    const mark = async () => {
      // File times tick with the kernel's coarse clock (a few ms): the mark comes a tick later.
      await new Promise((r) => setTimeout(r, 15));
      await Deno.writeTextFile(markFile, `${performance.now()}`);
      return (await Deno.lstat(markFile)).mtime!.getTime();
    };
    const changed = async (since: number) => {
      const track = { since, changed: false };
      const digest = await pacedTreeDigest(dir, { gitignore: true }, undefined, track);
      assert.equal(digest, await treeDigest(dir, { gitignore: true }), "same digest as a walk");
      return track.changed;
    };
    let since = await mark();
    assert.equal(await changed(since), false);
    // Within the same second as the mark (Deno's ctime has whole seconds): stat's decides.
    for (
      const change of [
        () => Deno.writeTextFile(join(dir, "src/deep/a.txt"), "edited"),
        () => Deno.writeTextFile(join(dir, "src/deep/new.txt"), "new"),
        () => Deno.remove(join(dir, "src/b.txt")),
        () => Deno.chmod(join(dir, "src/deep/a.txt"), 0o600),
        () => Deno.rename(join(dir, "src/deep"), join(dir, "src/moved")),
      ]
    ) {
      since = await mark();
      await change();
      assert.equal(await changed(since), true, change.toString());
      assert.equal(await changed(since + 2000), false, "nothing changed two seconds later");
    }
    // What is ignored is not walked: a change inside it does not count.
    since = await mark();
    await Deno.writeTextFile(join(dir, "out/build.log"), "ignored");
    assert.equal(await changed(since), false);
    await Deno.remove(markFile);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
