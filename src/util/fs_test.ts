import assert from "node:assert/strict";
import { join } from "./path.ts";
import { copyTree } from "./fs.ts";

/** A tree with what layers hold: nested directories, modes, symlinks, old times, a fifo. */
async function layerLike(dir: string) {
  await Deno.mkdir(join(dir, "bin"), { recursive: true });
  await Deno.mkdir(join(dir, "cache/a/b"), { recursive: true });
  await Deno.writeTextFile(join(dir, "bin/tool"), "#!/bin/sh\necho tool\n");
  await Deno.chmod(join(dir, "bin/tool"), 0o755);
  await Deno.writeTextFile(join(dir, "secret"), "s");
  await Deno.chmod(join(dir, "secret"), 0o600);
  // Many files, as a build cache has.
  for (let i = 0; i < 150; i++) {
    await Deno.writeTextFile(join(dir, "cache/a/b", `entry-${i}`), `${i}`.repeat(i + 1));
  }
  await Deno.symlink("../bin/tool", join(dir, "cache/tool-link"));
  await Deno.symlink("missing-target", join(dir, "cache/dangling"));
  const old = new Date("2024-03-01T10:00:00Z");
  await Deno.utime(join(dir, "bin/tool"), old, old);
  await Deno.utime(join(dir, "cache/a"), old, old);
  await Deno.chmod(join(dir, "cache/a"), 0o750);
  const fifo = await new Deno.Command("mkfifo", { args: [join(dir, "cache/pipe")] }).output();
  assert.ok(fifo.success);
}

/** A layer-like tree copied by copyTree `how`; `check` gets both paths. */
async function copied(how: "copy" | "link", check: (from: string, to: string) => Promise<void>) {
  const root = await Deno.makeTempDir();
  try {
    await layerLike(join(root, "from"));
    await copyTree(join(root, "from"), join(root, "to"), how);
    await check(join(root, "from"), join(root, "to"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("copyTree copies content, modes, times and symlinks, and skips a fifo", () =>
  copied("copy", async (from, to) => {
    assert.equal(await Deno.readTextFile(join(to, "bin/tool")), "#!/bin/sh\necho tool\n");
    assert.equal((await Deno.stat(join(to, "bin/tool"))).mode! & 0o7777, 0o755);
    assert.equal((await Deno.stat(join(to, "secret"))).mode! & 0o7777, 0o600);
    assert.equal((await Deno.stat(join(to, "cache/a"))).mode! & 0o7777, 0o750);
    for (let i = 0; i < 150; i++) {
      assert.equal(
        await Deno.readTextFile(join(to, "cache/a/b", `entry-${i}`)),
        `${i}`.repeat(i + 1),
      );
    }
    const old = new Date("2024-03-01T10:00:00Z").getTime();
    assert.equal((await Deno.stat(join(to, "bin/tool"))).mtime?.getTime(), old);
    assert.equal((await Deno.stat(join(to, "cache/a"))).mtime?.getTime(), old);
    assert.equal(await Deno.readLink(join(to, "cache/tool-link")), "../bin/tool");
    assert.equal(await Deno.readLink(join(to, "cache/dangling")), "missing-target");
    await assert.rejects(Deno.lstat(join(to, "cache/pipe")), Deno.errors.NotFound);
    // A copy: writing to it leaves the original as it was.
    await Deno.writeTextFile(join(to, "cache/a/b/entry-3"), "changed");
    assert.equal(await Deno.readTextFile(join(from, "cache/a/b/entry-3")), "3333");
    assert.notEqual(
      (await Deno.stat(join(to, "secret"))).ino,
      (await Deno.stat(join(from, "secret"))).ino,
    );
    // A failure is a rejected promise, as the awaited copy gave before.
    const again = copyTree(from, to, "copy");
    await assert.rejects(again, Deno.errors.AlreadyExists);
  }));

Deno.test("copyTree's link mode hard-links files and copies the rest as copy does", () =>
  copied("link", async (from, to) => {
    assert.equal(
      (await Deno.stat(join(to, "cache/a/b/entry-7"))).ino,
      (await Deno.stat(join(from, "cache/a/b/entry-7"))).ino,
    );
    assert.equal((await Deno.stat(join(to, "cache/a"))).mode! & 0o7777, 0o750);
    assert.equal(await Deno.readLink(join(to, "cache/tool-link")), "../bin/tool");
  }));
