import assert from "node:assert/strict";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import { LocaldError } from "../errors.ts";
import { extractTar, safeEntryPath } from "./extract.ts";

interface Entry {
  name: string;
  type?: "file" | "directory" | "symlink" | "link" | "fifo";
  linkname?: string;
  mode?: number;
  content?: string;
}

/** Build a tar archive in memory with tar-stream's packer. */
async function makeTar(entries: Entry[]): Promise<Uint8Array> {
  const pack = tar.pack();
  const chunks: Uint8Array[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on("data", (c: Uint8Array) => chunks.push(c));
    pack.on("end", () => resolve());
    pack.on("error", reject);
  });
  for (const e of entries) {
    const { content, ...header } = e;
    await new Promise<void>((resolve, reject) =>
      pack.entry(
        { type: "file", ...header },
        content ?? "",
        (err?: Error | null) => err ? reject(err) : resolve(),
      )
    );
  }
  pack.finalize();
  await done;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

const stream = (data: Uint8Array) => new Blob([new Uint8Array(data)]).stream();

async function withDirs(fn: (root: string, outside: string) => Promise<void>) {
  const base = await Deno.makeTempDir({ prefix: "locald-extract-" });
  const root = join(base, "root");
  const outside = join(base, "outside");
  await Deno.mkdir(root);
  await Deno.mkdir(outside);
  try {
    await fn(root, outside);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

async function rejects(p: Promise<unknown>, re: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof LocaldError, `expected a LocaldError, got ${e}`);
    assert.match(e.message, re);
    assert.equal(e.exitCode, 5);
    return true;
  });
}

async function listTree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    out.push(prefix + e.name);
    if (e.isDirectory) out.push(...await listTree(join(dir, e.name), `${prefix}${e.name}/`));
  }
  return out.sort();
}

Deno.test("safeEntryPath normalises names and refuses escapes", () => {
  assert.equal(safeEntryPath("./lifecycle/launcher"), "lifecycle/launcher");
  assert.equal(safeEntryPath("lifecycle/"), "lifecycle");
  assert.equal(safeEntryPath("a//b/./c"), "a/b/c");
  assert.equal(safeEntryPath("./"), "");
  assert.throws(() => safeEntryPath("../etc/passwd"), /contains \.\./);
  assert.throws(() => safeEntryPath("a/../../b"), /contains \.\./);
  assert.throws(() => safeEntryPath("/etc/passwd"), /absolute path/);
});

Deno.test("extractTar unpacks a release layout: modes, directories, relative symlinks as written", async () => {
  await withDirs(async (root) => {
    const data = gzipSync(
      await makeTar([
        { name: "lifecycle.toml", content: '[lifecycle]\nversion = "1"\n', mode: 0o644 },
        { name: "lifecycle", type: "directory", mode: 0o755 },
        { name: "lifecycle/lifecycle", content: "#!/bin/sh\necho hi\n", mode: 0o755 },
        { name: "lifecycle/detector", type: "symlink", linkname: "lifecycle" },
        { name: "lifecycle/abs", type: "symlink", linkname: "/cnb/lifecycle/lifecycle" },
      ]),
    );
    await extractTar(stream(data), root, { gzip: true });
    assert.deepEqual(await listTree(root), [
      "lifecycle",
      "lifecycle.toml",
      "lifecycle/abs",
      "lifecycle/detector",
      "lifecycle/lifecycle",
    ]);
    assert.equal((await Deno.stat(join(root, "lifecycle/lifecycle"))).mode! & 0o777, 0o755);
    assert.equal((await Deno.stat(join(root, "lifecycle.toml"))).mode! & 0o777, 0o644);
    assert.equal(await Deno.readLink(join(root, "lifecycle/detector")), "lifecycle");
    // Absolute targets are kept as written (they point into a rootfs), never followed.
    assert.equal(await Deno.readLink(join(root, "lifecycle/abs")), "/cnb/lifecycle/lifecycle");
    assert.equal(
      await Deno.readTextFile(join(root, "lifecycle/detector")),
      "#!/bin/sh\necho hi\n",
    );
  });
});

Deno.test("extractTar refuses entries that climb out of the root", async () => {
  await withDirs(async (root, outside) => {
    await rejects(
      extractTar(stream(await makeTar([{ name: "../outside/x", content: "pwned" }])), root),
      /contains \.\./,
    );
    await rejects(
      extractTar(stream(await makeTar([{ name: `${outside}/x`, content: "pwned" }])), root),
      /absolute path/,
    );
    assert.deepEqual(await listTree(outside), []);
  });
});

Deno.test("extractTar never writes through a symlink from the same archive", async () => {
  await withDirs(async (root, outside) => {
    const data = await makeTar([
      { name: "escape", type: "symlink", linkname: outside },
      { name: "escape/x", content: "pwned" },
    ]);
    await rejects(extractTar(stream(data), root), /parent escape is a symlink/);
    assert.deepEqual(await listTree(outside), [], "nothing may land outside the root");
  });
});

Deno.test("extractTar replaces a symlink with a file instead of writing through it", async () => {
  await withDirs(async (root, outside) => {
    await Deno.writeTextFile(join(outside, "victim"), "original");
    const data = await makeTar([
      { name: "f", type: "symlink", linkname: join(outside, "victim") },
      { name: "f", content: "new" },
    ]);
    await extractTar(stream(data), root);
    assert.equal(await Deno.readTextFile(join(outside, "victim")), "original");
    assert.equal(await Deno.readTextFile(join(root, "f")), "new");
    assert.equal((await Deno.lstat(join(root, "f"))).isFile, true);
  });
});

Deno.test("extractTar keeps hardlinks inside the root and refuses ones that leave it", async () => {
  await withDirs(async (root, outside) => {
    await extractTar(
      stream(
        await makeTar([
          { name: "a", content: "same bytes" },
          { name: "b", type: "link", linkname: "a" },
        ]),
      ),
      root,
    );
    assert.equal(await Deno.readTextFile(join(root, "b")), "same bytes");
    assert.equal((await Deno.stat(join(root, "b"))).nlink, 2);

    await Deno.writeTextFile(join(outside, "secret"), "secret");
    await rejects(
      extractTar(
        stream(await makeTar([{ name: "c", type: "link", linkname: "../outside/secret" }])),
        root,
      ),
      /contains \.\./,
    );
    // A hardlink to a symlink that points outside would alias the outside file: refused.
    await rejects(
      extractTar(
        stream(
          await makeTar([
            { name: "s", type: "symlink", linkname: join(outside, "secret") },
            { name: "d", type: "link", linkname: "s" },
          ]),
        ),
        root,
      ),
      /hardlink to something that is not a regular file/,
    );
    assert.equal(await Deno.readTextFile(join(outside, "secret")), "secret");
  });
});

Deno.test("extractTar drops setuid bits and skips special files", async () => {
  await withDirs(async (root) => {
    await extractTar(
      stream(
        await makeTar([
          { name: "suid", content: "x", mode: 0o4755 },
          { name: "fifo", type: "fifo" },
        ]),
      ),
      root,
    );
    assert.deepEqual(await listTree(root), ["suid"]);
    assert.equal((await Deno.stat(join(root, "suid"))).mode! & 0o7777, 0o755);
  });
});

Deno.test("extractTar reports a truncated or corrupt archive as an error", async () => {
  await withDirs(async (root) => {
    const full = gzipSync(await makeTar([{ name: "big", content: "y".repeat(100_000) }]));
    await assert.rejects(
      extractTar(stream(full.subarray(0, full.length / 2)), root, { gzip: true }),
    );
    await assert.rejects(
      extractTar(stream(new TextEncoder().encode("this is not gzip")), root, { gzip: true }),
    );
  });
});
