/**
 * Safe, streaming tar extraction for release tarballs (gzip or plain). Refuses entry names
 * with `..` or a leading `/`, keeps symlink targets exactly as written, never writes through a
 * symlink, and requires hardlink targets inside the root. Image layers (whiteouts) build on
 * this in src/oci/.
 */
import { dirname, join } from "node:path";
import { ExitCode, LocaldError } from "../errors.ts";
import { type ByteSource, streamSource, TarReader } from "./tar.ts";

/** Normalise a tar entry name to a relative path inside the root, or throw. */
export function safeEntryPath(name: string): string {
  const trimmed = name.replace(/^\.\/+/, "").replace(/\/+$/, "");
  if (trimmed === "" || trimmed === ".") return "";
  if (name.startsWith("/")) throw unsafe(name, "absolute path");
  const parts = trimmed.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === "..")) throw unsafe(name, "contains ..");
  return parts.join("/");
}

function unsafe(name: string, why: string) {
  return new LocaldError(`refusing archive entry "${name}": ${why}`, {
    hint: "the archive is corrupt or hostile; nothing from it was installed",
    exitCode: ExitCode.download,
  });
}

/** Make sure no existing component of `rel` below `root` is a symlink (lstat every parent). */
export async function assertNoSymlinkParents(root: string, rel: string) {
  const parts = rel.split("/");
  let cur = root;
  for (let i = 0; i < parts.length - 1; i++) {
    cur = join(cur, parts[i]);
    try {
      const st = await Deno.lstat(cur);
      if (st.isSymlink) throw unsafe(rel, `parent ${parts.slice(0, i + 1).join("/")} is a symlink`);
      if (!st.isDirectory) {
        throw unsafe(rel, `parent ${parts.slice(0, i + 1).join("/")} is not a directory`);
      }
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
  }
}

/** Extract a (gzipped) tar into `root`, which must exist and be empty or private. */
export async function extractTar(
  input: ReadableStream<Uint8Array>,
  root: string,
  opts: { gzip?: boolean } = {},
) {
  const raw = streamSource(input);
  let src: ByteSource & { close?(): void } = raw;
  if (opts.gzip) {
    const { inflateSource } = await import("./inflate.ts");
    src = inflateSource(raw, "gzip");
  }
  try {
    const tar = new TarReader(src, {
      hint: "the archive is damaged; nothing from it was installed",
    });
    for (let h; (h = await tar.next()) !== null;) {
      const rel = safeEntryPath(h.name);
      if (rel === "") continue;
      await assertNoSymlinkParents(root, rel);
      const target = join(root, rel);
      await Deno.mkdir(dirname(target), { recursive: true });
      switch (h.type) {
        case "directory":
          // Owner keeps rwx, so later entries can be written and the tree can be removed.
          await Deno.mkdir(target, { recursive: true, mode: (h.mode & 0o1777) | 0o700 });
          break;
        case "symlink":
          await Deno.remove(target).catch(() => {});
          await Deno.symlink(h.linkname, target);
          break;
        case "link": {
          const src = safeEntryPath(h.linkname);
          await assertNoSymlinkParents(root, src);
          const st = await Deno.lstat(join(root, src));
          if (!st.isFile) throw unsafe(h.name, "hardlink to something that is not a regular file");
          await Deno.remove(target).catch(() => {});
          await Deno.link(join(root, src), target);
          break;
        }
        case "file": {
          await Deno.remove(target).catch(() => {});
          // No setuid, setgid or sticky bits from a downloaded archive.
          const mode = h.mode & 0o777;
          const f = await Deno.open(target, { write: true, createNew: true, mode });
          try {
            for (let chunk; (chunk = await tar.body()) !== null;) {
              let off = 0;
              while (off < chunk.length) off += await f.write(chunk.subarray(off));
            }
          } finally {
            f.close();
          }
          await Deno.chmod(target, mode);
          break;
        }
        default:
          // Devices, fifos and other special entries have no place in a release tarball.
      }
    }
  } finally {
    src.close?.();
    raw.cancel();
  }
}
