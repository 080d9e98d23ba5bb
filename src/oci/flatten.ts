/**
 * An image's layers flattened into ONE vetted tar stream of the final tree, for a system that
 * extracts it itself (the WSL distribution's own tar: Windows cannot create the symlinks a
 * root filesystem is full of, see src/hosts/wsl_backend.ts). The result, extracted with
 * `tar -x -p -m --no-same-owner`, is the tree the layer applier (src/oci/apply.ts) would write:
 *
 * 1. Every layer's headers are read first and applied, in order, to a model of the tree with
 *    the applier's rules: names validated (safeEntryPath), whiteouts and opaque directories
 *    applied, a later entry replacing an earlier one (a directory replaced with its contents),
 *    nothing placed beneath a symlink or a non-directory (refused as the applier refuses),
 *    hard links only to a regular file present at that point, device nodes and fifos left out,
 *    set-id bits dropped, directories owner-writable, missing parents made 0755.
 * 2. The model is written out: directories (parents first), symlinks, then each surviving file
 *    with its body read again from its layer (verified blobs, in layer order), then hard links
 *    to the first name of each file that has several. Ownership is left to the extracting user
 *    (uid/gid 0 in the stream, extracted with --no-same-owner), as the applier does.
 *
 * The stream holds only what survives, so nothing in it can land outside the root or through
 * a link, whatever the layers held. Memory: the model (one small record per entry).
 */
import { ExitCode, LocaldError } from "../errors.ts";
import { followLinksIn } from "../util/fs.ts";
import { type TarEntry, TarReader } from "../archive/tar.ts";
import {
  entryPath,
  isWhiteout,
  markWritten,
  openLayer,
  refuse,
  TAR_HINT,
  whiteoutOf,
} from "./apply.ts";
import type { Compression } from "./manifest.ts";
import { LAYOUT_DEPTH, RECORDED_SHELLS, type RootLayoutRecord } from "./root_layout.ts";

/** One layer blob on disk, verified, with how it is compressed and its name in messages. */
export interface FlatLayer {
  path: string;
  compression: Compression;
  label: string;
}

interface FileNode {
  layer: number;
  /** Header ordinal in its layer. */
  index: number;
  mode: number;
  size: number;
}

type Node =
  | { kind: "dir"; mode: number }
  | { kind: "symlink"; target: string }
  | { kind: "file"; file: FileNode };

/** The final tree of `layers`, as the applier would leave it (pass 1). */
export class FlatTree {
  readonly nodes = new Map<string, Node>();

  #remove(rel: string) {
    const n = this.nodes.get(rel);
    if (!n) return;
    this.nodes.delete(rel);
    if (n.kind !== "dir") return;
    const prefix = rel + "/";
    for (const k of [...this.nodes.keys()]) if (k.startsWith(prefix)) this.nodes.delete(k);
  }

  /** Every parent of `rel` a directory (made when missing); refused beneath a link or file. */
  #parents(rel: string, label: string, name: string) {
    const parts = rel.split("/");
    let cur = "";
    for (let i = 0; i < parts.length - 1; i++) {
      cur = cur ? `${cur}/${parts[i]}` : parts[i];
      const n = this.nodes.get(cur);
      if (!n) this.nodes.set(cur, { kind: "dir", mode: 0o755 });
      else if (n.kind === "symlink") throw refuse(label, name, `its parent ${cur} is a symlink`);
      else if (n.kind !== "dir") throw refuse(label, name, `its parent ${cur} is not a directory`);
    }
  }

  /** Apply one layer's headers. */
  async add(layer: FlatLayer, layerIndex: number) {
    const { label } = layer;
    const written = new Set<string>();
    for await (const { h, index } of entries(layer)) {
      const rel = entryPath(label, h.name);
      const base = rel.slice(rel.lastIndexOf("/") + 1);
      if (isWhiteout(base)) {
        this.#whiteout(rel, base, written, label, h.name);
        continue;
      }
      if (rel === "") continue;
      this.#parents(rel, label, h.name);
      markWritten(written, rel);
      const mode = h.mode & 0o777;
      const cur = this.nodes.get(rel);
      switch (h.type) {
        case "directory":
          if (cur && cur.kind !== "dir") this.#remove(rel);
          this.nodes.set(rel, { kind: "dir", mode: mode | 0o700 });
          break;
        case "symlink":
          this.#remove(rel);
          this.nodes.set(rel, { kind: "symlink", target: h.linkname });
          break;
        case "link": {
          const src = entryPath(label, h.name, h.linkname, "hardlink target ");
          this.#parents(src, label, h.name);
          const t = this.nodes.get(src);
          if (!t) throw refuse(label, h.name, `hardlink target ${src} does not exist`);
          if (t.kind !== "file") {
            throw refuse(label, h.name, "hardlink to something not a regular file");
          }
          if (src === rel) throw refuse(label, h.name, "hardlink to itself");
          this.#remove(rel);
          this.nodes.set(rel, t);
          break;
        }
        case "file":
          this.#remove(rel);
          this.nodes.set(rel, {
            kind: "file",
            file: { layer: layerIndex, index, mode, size: h.size },
          });
          break;
        default:
          // Device nodes, fifos and the like: never materialised.
      }
    }
  }

  #whiteout(rel: string, base: string, written: Set<string>, label: string, name: string) {
    const w = whiteoutOf(rel, base);
    if (!w) return;
    if ("opaque" in w) {
      this.#parents(rel, label, name);
      const prefix = w.opaque ? w.opaque + "/" : "";
      for (const k of [...this.nodes.keys()]) {
        if (k.startsWith(prefix) && !written.has(k)) this.nodes.delete(k);
      }
      return;
    }
    if (written.has(w.remove)) return;
    this.#parents(w.remove, label, name);
    this.#remove(w.remove);
  }

  /**
   * An empty file at each of `rels` where the tree has nothing (not even a link) and its
   * directory is a real one: mount points (src/oci/rootfs.ts MOUNT_POINTS).
   */
  addEmptyFiles(rels: string[]) {
    for (const rel of rels) {
      const dir = rel.slice(0, rel.lastIndexOf("/"));
      if (this.nodes.get(dir)?.kind !== "dir" || this.nodes.has(rel)) continue;
      this.nodes.set(rel, { kind: "file", file: { layer: -1, index: -1, mode: 0o644, size: 0 } });
    }
  }

  /**
   * The file an absolute path names inside the tree, links followed inside it (an absolute
   * link means the image's own root), as resolveIn() does on disk.
   */
  resolve(path: string): FileNode | undefined {
    const parts = followLinksIn(path, (rel) => {
      const n = this.nodes.get(rel);
      return !n ? undefined : n.kind === "symlink" ? n.target : null;
    });
    const n = parts && this.nodes.get(parts.join("/"));
    return n?.kind === "file" ? n.file : undefined;
  }

  /**
   * The record of the tree's first levels (src/hosts/stack.ts RootLayoutRecord), with the
   * bodies of /etc/passwd and /etc/group as read from the stream.
   */
  layout(passwd: string, group: string): RootLayoutRecord {
    const entries: Record<string, string> = {};
    for (const rel of [...this.nodes.keys()].sort()) {
      if (rel.split("/").length > LAYOUT_DEPTH) continue;
      const n = this.nodes.get(rel)!;
      entries[rel] = n.kind === "dir" ? "d" : n.kind === "file" ? "f" : `l:${n.target}`;
    }
    return {
      entries,
      shells: RECORDED_SHELLS.filter((s) => this.resolve(s) !== undefined),
      passwd,
      group,
    };
  }

  /** Bytes the files hold (each once). */
  size(): number {
    const seen = new Set<FileNode>();
    let total = 0;
    for (const n of this.nodes.values()) {
      if (n.kind === "file" && !seen.has(n.file)) {
        seen.add(n.file);
        total += n.file.size;
      }
    }
    return total;
  }
}

/** A layer's entries in order, with their ordinal; the body is read through `tar`. */
async function* entries(
  layer: FlatLayer,
): AsyncGenerator<{ h: TarEntry; index: number; tar: TarReader }> {
  const f = await Deno.open(layer.path, { read: true });
  let input: Awaited<ReturnType<typeof openLayer>> | undefined;
  try {
    input = await openLayer(f, layer.compression, layer.label);
    const tar = new TarReader(input, { label: layer.label, hint: TAR_HINT });
    let index = 0;
    for (let h; (h = await tar.next()) !== null;) yield { h, index: index++, tar };
  } finally {
    input?.close?.();
    f.close();
  }
}

// ---- The tar stream (ustar, with PAX records for long or non-ASCII names) ----

const enc = new TextEncoder();
const BLOCK = 512;

function octal(buf: Uint8Array, off: number, len: number, value: number) {
  const s = value.toString(8).padStart(len - 1, "0");
  buf.set(enc.encode(s), off);
}

function putText(buf: Uint8Array, off: number, len: number, text: string) {
  buf.set(enc.encode(text).subarray(0, len), off);
}

function rawHeader(name: string, type: string, mode: number, size: number, link = ""): Uint8Array {
  const h = new Uint8Array(BLOCK);
  putText(h, 0, 100, name);
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, 0);
  h.fill(0x20, 148, 156);
  h[156] = type.charCodeAt(0);
  putText(h, 157, 100, link);
  putText(h, 257, 6, "ustar");
  putText(h, 263, 2, "00");
  let sum = 0;
  for (const b of h) sum += b;
  h.set(enc.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  return h;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let n = enc.encode(body).length;
  let len = n + String(n).length;
  if (String(len).length !== String(n).length) len = n + String(len).length;
  n = len;
  return `${n}${body}`;
}

const pad = (n: number) => (BLOCK - (n % BLOCK)) % BLOCK;

/** Header block(s) of one entry: a PAX record first when a name does not fit ustar. */
export function tarHeader(
  name: string,
  type: "0" | "1" | "2" | "5",
  mode: number,
  size: number,
  link = "",
): Uint8Array {
  const ascii = (s: string) => /^[\x20-\x7e]*$/.test(s);
  let pax = "";
  if (!ascii(name) || enc.encode(name).length > 100) pax += paxRecord("path", name);
  if (!ascii(link) || enc.encode(link).length > 100) pax += paxRecord("linkpath", link);
  if (size > 0o77777777777) pax += paxRecord("size", String(size));
  const main = rawHeader(
    ascii(name) ? name : "pax",
    type,
    mode,
    size > 0o77777777777 ? 0 : size,
    ascii(link) ? link : "",
  );
  if (!pax) return main;
  const data = enc.encode(pax);
  const out = new Uint8Array(BLOCK + data.length + pad(data.length) + BLOCK);
  out.set(rawHeader("././@PaxHeader", "x", 0o644, data.length), 0);
  out.set(data, BLOCK);
  out.set(main, BLOCK + data.length + pad(data.length));
  return out;
}

export interface FlattenResult {
  /** The tar stream of the final tree. */
  stream: ReadableStream<Uint8Array>;
  /** The tree (after pass 1). */
  tree: FlatTree;
  /** os-release's text, once the stream has been read to its end ("" when the image has none). */
  osRelease(): string;
  /** The tree's record (RootLayoutRecord), once the stream has been read to its end. */
  layout(): RootLayoutRecord;
  /** Why the stream stopped early (a layer that changed since pass 1, a read error). */
  error(): LocaldError | undefined;
}

/**
 * Pass 1 over `layers` (headers only; throws LocaldError on a hostile or corrupt layer before
 * anything is written anywhere), then the stream of the final tree (pass 2, read lazily).
 * `emptyFiles`: mount points added where the image has nothing.
 */
export async function flattenLayers(
  layers: FlatLayer[],
  emptyFiles: string[] = [],
): Promise<FlattenResult> {
  const tree = new FlatTree();
  for (let i = 0; i < layers.length; i++) await tree.add(layers[i], i);
  tree.addEmptyFiles(emptyFiles);
  // Files whose text is kept as the stream passes: os-release, passwd and group.
  const texts = {
    os: tree.resolve("/etc/os-release") ?? tree.resolve("/usr/lib/os-release"),
    passwd: tree.resolve("/etc/passwd"),
    group: tree.resolve("/etc/group"),
  };
  const got = { os: "", passwd: "", group: "" };
  const keys = Object.keys(texts) as (keyof typeof texts)[];
  // Each surviving file: the first of its names (sorted) carries the body, the others link.
  const names = [...tree.nodes.keys()].sort();
  const first = new Map<FileNode, string>();
  const links: [string, string][] = [];
  for (const rel of names) {
    const n = tree.nodes.get(rel)!;
    if (n.kind !== "file") continue;
    const at = first.get(n.file);
    if (at === undefined) first.set(n.file, rel);
    else links.push([rel, at]);
  }
  const byPlace = new Map<string, FileNode>();
  for (const f of first.keys()) byPlace.set(`${f.layer}:${f.index}`, f);
  const wanted = new Set([...first.keys()].map((f) => f.layer));
  async function* blocks(): AsyncGenerator<Uint8Array> {
    for (const rel of names) {
      const n = tree.nodes.get(rel)!;
      if (n.kind === "dir") yield tarHeader(rel, "5", n.mode, 0);
    }
    for (const rel of names) {
      const n = tree.nodes.get(rel)!;
      if (n.kind === "symlink") yield tarHeader(rel, "2", 0o777, 0, n.target);
    }
    for (const [f, rel] of first) {
      if (f.layer === -1) yield tarHeader(rel, "0", f.mode, 0);
    }
    for (let i = 0; i < layers.length; i++) {
      if (!wanted.has(i)) continue;
      for await (const { index, tar } of entries(layers[i])) {
        const f = byPlace.get(`${i}:${index}`);
        if (!f) continue;
        const rel = first.get(f)!;
        yield tarHeader(rel, "0", f.mode, f.size);
        let read = 0;
        const keep = keys.filter((k) => texts[k] === f);
        const decoders = keep.map(() => new TextDecoder());
        for (let c; (c = await tar.body()) !== null;) {
          read += c.length;
          if (read > f.size) throw new Error(`entry ${rel} changed between passes`);
          keep.forEach((k, i) => {
            if (got[k].length < 1 << 20) got[k] += decoders[i].decode(c, { stream: true });
          });
          // The reader's buffer is reused: what is handed on is a copy.
          yield c.slice();
        }
        if (read !== f.size) throw new Error(`entry ${rel} changed between passes`);
        if (pad(f.size)) yield new Uint8Array(pad(f.size));
      }
    }
    for (const [rel, to] of links) yield tarHeader(rel, "1", 0o644, 0, to);
    yield new Uint8Array(BLOCK * 2);
  }
  let failed: LocaldError | undefined;
  async function* guarded(): AsyncGenerator<Uint8Array> {
    try {
      yield* blocks();
    } catch (e) {
      failed = e instanceof LocaldError ? e : new LocaldError(
        `cannot read the image's layers again: ${(e as Error).message.split("\n")[0]}`,
        { hint: TAR_HINT, exitCode: ExitCode.download, cause: e },
      );
      throw failed;
    }
  }
  return {
    stream: ReadableStream.from(guarded()),
    tree,
    osRelease: () => got.os,
    layout: () => tree.layout(got.passwd, got.group),
    error: () => failed,
  };
}
