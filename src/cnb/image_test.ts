import assert from "node:assert/strict";
import { join } from "node:path";
import { stageWorkspace } from "./image.ts";

async function tree() {
  const root = await Deno.makeTempDir();
  const app = join(root, "app");
  await Deno.mkdir(join(app, "src", "deep"), { recursive: true });
  await Deno.mkdir(join(app, "state", "projects"), { recursive: true });
  await Deno.writeTextFile(join(app, "src", "deep", "a.sh"), "echo a", { mode: 0o755 });
  await Deno.writeTextFile(join(app, "README.md"), "readme");
  await Deno.writeTextFile(join(app, "state", "projects", "big"), "locald's own");
  await Deno.symlink("src/deep/a.sh", join(app, "run.sh"));
  await Deno.utime(join(app, "src", "deep", "a.sh"), 1_000_000, 1_000_000);
  await Deno.chmod(join(app, "src", "deep"), 0o555);
  return { root, app, dest: join(root, "dest") };
}

Deno.test("stageWorkspace keeps modes, times and links, and leaves out what it is told to", async () => {
  const t = await tree();
  try {
    await stageWorkspace(t.app, t.dest, { exclude: ["README.md"], include: [] }, [
      join(t.app, "state"),
    ]);
    const a = await Deno.stat(join(t.dest, "src", "deep", "a.sh"));
    assert.equal(a.mode! & 0o777, 0o755);
    assert.equal(a.mtime!.getTime(), 1_000_000_000);
    assert.equal((await Deno.stat(join(t.dest, "src", "deep"))).mode! & 0o777, 0o555);
    assert.equal(await Deno.readLink(join(t.dest, "run.sh")), "src/deep/a.sh");
    await assert.rejects(Deno.lstat(join(t.dest, "README.md")));
    await assert.rejects(Deno.lstat(join(t.dest, "state")));

    // include: only what it names (and the directories that hold it).
    await stageWorkspace(t.app, t.dest, { exclude: [], include: ["a.sh"] });
    const found = [];
    for await (const e of Deno.readDir(t.dest)) found.push(e.name);
    assert.deepEqual(found, ["src"]);
    assert.equal(await Deno.readTextFile(join(t.dest, "src", "deep", "a.sh")), "echo a");

    // Nothing to select: the whole tree, the same way.
    await stageWorkspace(t.app, t.dest, { exclude: [], include: [] });
    assert.equal(await Deno.readTextFile(join(t.dest, "README.md")), "readme");
    assert.equal(await Deno.readLink(join(t.dest, "run.sh")), "src/deep/a.sh");
  } finally {
    await Deno.chmod(join(t.app, "src", "deep"), 0o755);
    await new Deno.Command("chmod", { args: ["-R", "u+w", t.root] }).output();
    await Deno.remove(t.root, { recursive: true });
  }
});
