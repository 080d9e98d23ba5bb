/**
 * The layer applier: untrusted image layers (gzip, zstd or plain tar) applied in order onto a
 * directory, streaming. Entry names with `..` or a leading `/` are refused (see
 * safeEntryPath), symlink targets are kept exactly as written but nothing is ever written
 * through a symlink (every parent is checked with lstat, and files are created with O_EXCL),
 * hardlinks must point at a regular file inside the root, device nodes and fifos are skipped,
 * and OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`) remove lower-layer content and are never
 * written to disk. Set/setuid bits are dropped and directories stay owner-writable.
 */
import { createReadStream } from "node:fs";
import { createGunzip, createZstdDecompress } from "node:zlib";
import type { Readable } from "node:stream";
import { join } from "node:path";
import tar from "tar-stream";
import { ExitCode, LocaldError } from "../errors.ts";
import { safeEntryPath } from "../archive/extract.ts";
import type { Compression } from "./manifest.ts";

export interface ApplyOptions {
  /** Which paths (relative, no leading slash) to materialise; default: everything. */
  include?: (rel: string) => boolean;
  /** Label for errors ("layer 3 of heroku/builder:24"). */
  label?: string;
}

export interface ApplyStats {
  files: number;
  bytes: number;
  skipped: number;
}

const WH = ".wh.";
const OPAQUE = ".wh..wh..opq";

function refuse(label: string, name: string, why: string) {
  return new LocaldError(`refusing ${label} entry "${name}": ${why}`, {
    hint: "the image is corrupt or hostile; nothing extracted from it was kept",
    exitCode: ExitCode.download,
  });
}

/** Sniff the first bytes: registries sometimes label compressed layers as plain tar. */
async function sniff(path: string, declared: Compression): Promise<Compression> {
  const f = await Deno.open(path, { read: true });
  try {
    const buf = new Uint8Array(4);
    const n = (await f.read(buf)) ?? 0;
    if (n >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return "gzip";
    if (n === 4 && buf[0] === 0x28 && buf[1] === 0xb5 && buf[2] === 0x2f && buf[3] === 0xfd) {
      return "zstd";
    }
    return n === 0 ? declared : "none";
  } finally {
    f.close();
  }
}

/**
 * A decompressed tar stream of a layer blob on disk. Small reads and the default 16 KiB inflate chunks: every chunk is a new buffer, and V8
 * frees them only at its next collection, so bigger ones raised the peak memory by tens of MiB.
 */
export async function openLayer(path: string, declared: Compression): Promise<Readable> {
  const kind = await sniff(path, declared);
  const src = createReadStream(path, { highWaterMark: 1 << 16 });
  if (kind === "none") return src;
  const z = kind === "gzip" ? createGunzip() : createZstdDecompress();
  src.on("error", (e) => z.destroy(e));
  return src.pipe(z);
}

/** Apply layers in order onto `root` (which must exist). */
export class LayerApplier {
  readonly root: string;
  #include: (rel: string) => boolean;
  /** Directories (relative) known to be real directories, not symlinks. */
  #okDirs = new Set<string>([""]);

  constructor(root: string, include: (rel: string) => boolean = () => true) {
    this.root = root;
    this.#include = include;
  }

  #forget(rel: string) {
    for (const d of this.#okDirs) {
      if (d === rel || d.startsWith(rel + "/")) this.#okDirs.delete(d);
    }
  }

  /** Make every parent of `rel` a real directory, refusing symlinks on the way. */
  async #parents(rel: string, label: string, name: string) {
    const parts = rel.split("/");
    let cur = "";
    for (let i = 0; i < parts.length - 1; i++) {
      cur = cur ? `${cur}/${parts[i]}` : parts[i];
      if (this.#okDirs.has(cur)) continue;
      const abs = join(this.root, cur);
      let st: Deno.FileInfo | undefined;
      try {
        st = await Deno.lstat(abs);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      if (!st) await Deno.mkdir(abs, { mode: 0o755 });
      else if (st.isSymlink) throw refuse(label, name, `its parent ${cur} is a symlink`);
      else if (!st.isDirectory) throw refuse(label, name, `its parent ${cur} is not a directory`);
      this.#okDirs.add(cur);
    }
  }

  async #remove(rel: string) {
    this.#forget(rel);
    await Deno.remove(join(this.root, rel), { recursive: true }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }

  /** Apply one layer blob. Entries outside `include` are read past, not written. */
  async apply(path: string, compression: Compression, label = "layer"): Promise<ApplyStats> {
    const stats: ApplyStats = { files: 0, bytes: 0, skipped: 0 };
    const written = new Set<string>();
    const mark = (rel: string) => {
      let r = rel;
      while (r && !written.has(r)) {
        written.add(r);
        const i = r.lastIndexOf("/");
        r = i === -1 ? "" : r.slice(0, i);
      }
    };
    const ex = tar.extract();
    const input = await openLayer(path, compression);
    input.on("error", (e: Error) => ex.destroy(e));
    input.pipe(ex);
    try {
      for await (const entry of ex) {
        const h = entry.header;
        let rel: string;
        try {
          rel = safeEntryPath(h.name);
        } catch (e) {
          entry.resume();
          throw refuse(label, h.name, (e as Error).message.replace(/^.*": /, ""));
        }
        const base = rel.slice(rel.lastIndexOf("/") + 1);
        if (base.startsWith(WH)) {
          entry.resume();
          await this.#whiteout(rel, base, written, label, h.name);
          continue;
        }
        if (rel === "" || !this.#include(rel)) {
          entry.resume();
          stats.skipped++;
          continue;
        }
        await this.#parents(rel, label, h.name);
        mark(rel);
        const abs = join(this.root, rel);
        const mode = (h.mode ?? 0o644) & 0o777;
        switch (h.type) {
          case "directory": {
            entry.resume();
            let st: Deno.FileInfo | undefined;
            try {
              st = await Deno.lstat(abs);
            } catch { /* absent */ }
            if (st && !st.isDirectory) await this.#remove(rel);
            if (!st || !st.isDirectory) await Deno.mkdir(abs);
            await Deno.chmod(abs, mode | 0o700);
            this.#okDirs.add(rel);
            break;
          }
          case "symlink":
            entry.resume();
            await this.#remove(rel);
            await Deno.symlink(h.linkname ?? "", abs);
            break;
          case "link": {
            entry.resume();
            let src: string;
            try {
              src = safeEntryPath(h.linkname ?? "");
            } catch (e) {
              throw refuse(
                label,
                h.name,
                `hardlink target ${(e as Error).message.replace(/^.*": /, "")}`,
              );
            }
            if (!this.#include(src)) {
              stats.skipped++; // its target was not materialised
              break;
            }
            await this.#parents(src, label, h.name);
            let st: Deno.FileInfo;
            try {
              st = await Deno.lstat(join(this.root, src));
            } catch {
              throw refuse(label, h.name, `hardlink target ${src} does not exist`);
            }
            if (!st.isFile) throw refuse(label, h.name, "hardlink to something not a regular file");
            await this.#remove(rel);
            await Deno.link(join(this.root, src), abs);
            break;
          }
          case "file":
          case "contiguous-file":
          case null:
          case undefined: {
            const f = await this.#create(rel, abs, mode);
            try {
              for await (const chunk of entry) {
                let off = 0;
                while (off < chunk.length) off += await f.write(chunk.subarray(off));
                stats.bytes += chunk.length;
              }
            } finally {
              f.close();
            }
            if ((mode & 0o022) !== 0) await Deno.chmod(abs, mode);
            stats.files++;
            break;
          }
          default:
            // Device nodes, fifos and the like: never materialised.
            entry.resume();
            stats.skipped++;
        }
      }
    } catch (e) {
      input.destroy();
      ex.destroy();
      if (e instanceof LocaldError) throw e;
      throw new LocaldError(`cannot unpack ${label}: ${(e as Error).message.split("\n")[0]}`, {
        hint: "the layer is not a valid tar archive; nothing extracted from it was kept",
        exitCode: ExitCode.download,
        cause: e,
      });
    }
    return stats;
  }

  /** Open a new file for writing; an existing entry there (file, symlink, dir) is replaced. */
  async #create(rel: string, abs: string, mode: number): Promise<Deno.FsFile> {
    try {
      return await Deno.open(abs, { write: true, createNew: true, mode });
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    await this.#remove(rel);
    return await Deno.open(abs, { write: true, createNew: true, mode });
  }

  async #whiteout(rel: string, base: string, written: Set<string>, label: string, name: string) {
    const slash = rel.lastIndexOf("/");
    const dir = slash === -1 ? "" : rel.slice(0, slash);
    if (base === OPAQUE) {
      if (dir !== "" && !this.#include(dir)) return;
      await this.#parents(rel, label, name);
      await this.#prune(dir, written);
      return;
    }
    const target = (dir ? `${dir}/` : "") + base.slice(WH.length);
    if (base === WH || target.endsWith("/") || base.startsWith(WH + WH)) return; // aufs metadata
    if (!this.#include(target) || written.has(target)) return;
    await this.#parents(target, label, name);
    await this.#remove(target);
  }

  /** Opaque directory: drop everything below `dir` that this layer did not write. */
  async #prune(dir: string, written: Set<string>) {
    const abs = join(this.root, dir);
    let entries: Deno.DirEntry[] = [];
    try {
      entries = await Array.fromAsync(Deno.readDir(abs));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    for (const ent of entries) {
      const rel = dir ? `${dir}/${ent.name}` : ent.name;
      if (!this.#include(rel)) continue;
      if (!written.has(rel)) await this.#remove(rel);
      else if (ent.isDirectory && !ent.isSymlink) await this.#prune(rel, written);
    }
  }
}
