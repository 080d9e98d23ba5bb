/**
 * SHA-256 of a file, read through one reused 64 KiB buffer (no chunk is kept, so memory stays
 * flat however large the file). node:crypto loads on first use only: keep it off the exec/env
 * path, which has its own small hasher (util/sha256.ts).
 */

/** Feed a file to `hash` through one reused buffer; returns its size. */
export async function hashInto(hash: { update(b: Uint8Array): unknown }, path: string) {
  const buf = new Uint8Array(1 << 16);
  let size = 0;
  const f = await Deno.open(path, { read: true });
  try {
    for (;;) {
      const n = await f.read(buf);
      if (n === null) return size;
      hash.update(buf.subarray(0, n));
      size += n;
    }
  } finally {
    f.close();
  }
}

/** A new node:crypto SHA-256 hash (the module is loaded when first needed). */
export async function newSha256() {
  return (await import("node:crypto")).createHash("sha256");
}

/** The file's SHA-256 (hex) and size. */
export async function hashFile(path: string): Promise<{ hex: string; size: number }> {
  const hash = await newSha256();
  const size = await hashInto(hash, path);
  return { hex: hash.digest("hex"), size };
}
