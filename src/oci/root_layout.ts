/**
 * What the host needs of a stack root filesystem without reading its tree: the record written
 * when it is extracted (rootfs.json `layout`, src/oci/rootfs.ts; from the flattened model on WSL,
 * src/oci/flatten.ts), and the readers rootLayout() (src/hosts/stack.ts) lays a root out from.
 *
 * Light on purpose (no node:path): dev commands load it on their start-up path.
 */
import { lstatIf, resolveIn } from "../util/fs.ts";
import { ExitCode, LocaldError } from "../errors.ts";

/**
 * What the host needs of a root filesystem, recorded when it is extracted (rootfs.json
 * `layout`), for a backend whose side cannot read the tree reliably (WSL: Windows sees the
 * distribution's links as reparse points it cannot readlink, so /bin -> usr/bin would break).
 */
export interface RootLayoutRecord {
  /**
   * Every entry of the first LAYOUT_DEPTH levels, by path without a leading slash: "d" a
   * directory, "f" a regular file, "l:TARGET" a symlink, "o" anything else.
   */
  entries: Record<string, string>;
  /** Those of RECORDED_SHELLS that name a regular file inside the root (links followed in it). */
  shells: string[];
  /** The image's /etc/passwd and /etc/group (links followed inside the root; "" when absent). */
  passwd: string;
  group: string;
}

/** How deep `entries` goes: the top level and what each top-level directory holds. */
export const LAYOUT_DEPTH = 2;

/** The shells a record says are there (hasShell, `locald shell`'s candidates and common ones). */
export const RECORDED_SHELLS = [
  "/bin/sh",
  "/usr/bin/sh",
  "/bin/bash",
  "/usr/bin/bash",
  "/bin/dash",
  "/usr/bin/dash",
  "/bin/zsh",
  "/usr/bin/zsh",
  "/bin/fish",
  "/usr/bin/fish",
  "/bin/ash",
  "/bin/ksh",
  "/usr/bin/ksh",
];

/** What rootLayout() asks of a root: an entry's kind, a directory's names, a link's target. */
export interface RootReader {
  kind(p: string): "d" | "f" | "l" | "o" | undefined;
  list(dir: string): string[] | undefined;
  link(p: string): string;
}

/** The tree itself (host view). */
export function diskReader(root: string): RootReader {
  return {
    kind(p) {
      const i = lstatIf(root + p);
      return !i ? undefined : i.isSymlink ? "l" : i.isDirectory ? "d" : i.isFile ? "f" : "o";
    },
    list(dir) {
      try {
        return [...Deno.readDirSync(root + (dir === "/" ? "" : dir))].map((e) => e.name);
      } catch {
        return undefined;
      }
    },
    link: (p) => Deno.readLinkSync(root + p),
  };
}

const depth = (p: string) => p.split("/").filter(Boolean).length;

/**
 * The record, for everything in its first LAYOUT_DEPTH levels; deeper (a mount inside a
 * second-level directory that has no mount point for it, rare) the tree is read.
 */
export function recordReader(rec: RootLayoutRecord, root: string): RootReader {
  const disk = diskReader(root);
  const get = (p: string) => rec.entries[p.slice(1)];
  return {
    kind(p) {
      if (depth(p) > LAYOUT_DEPTH) return disk.kind(p);
      const e = get(p);
      return e === undefined ? undefined : e.startsWith("l:") ? "l" : e as "d" | "f" | "o";
    },
    list(dir) {
      const n = depth(dir);
      if (n >= LAYOUT_DEPTH) return disk.list(dir);
      if (dir !== "/" && get(dir) !== "d") return undefined;
      const prefix = dir === "/" ? "" : dir.slice(1) + "/";
      return Object.keys(rec.entries)
        .filter((k) => k.startsWith(prefix) && !k.slice(prefix.length).includes("/"))
        .map((k) => k.slice(prefix.length));
    },
    link: (p) => depth(p) > LAYOUT_DEPTH ? disk.link(p) : get(p).slice(2),
  };
}

/** The record of a root's first levels, read from its tree (host view): what rootfs.json keeps. */
export function readLayout(root: string): RootLayoutRecord {
  const r = diskReader(root);
  const entries: Record<string, string> = {};
  const walk = (dir: string, level: number) => {
    for (const name of (r.list(dir) ?? []).sort()) {
      const p = dir === "/" ? `/${name}` : `${dir}/${name}`;
      const k = r.kind(p);
      if (!k) continue;
      entries[p.slice(1)] = k === "l" ? `l:${r.link(p)}` : k;
      if (k === "d" && level < LAYOUT_DEPTH) walk(p, level + 1);
    }
  };
  walk("/", 1);
  return {
    entries,
    shells: RECORDED_SHELLS.filter((s) => rootHasFile(root, s)),
    ...rootIdentity(root),
  };
}

/**
 * The layout kept beside a root (`<hex>/rootfs.json` for `<hex>/root`, host view), for a backend
 * that reads roots by their record. A root an older locald extracted has none: one line to
 * extract it again.
 */
export function recordedLayout(root: string): RootLayoutRecord {
  const layout = layoutIfRecorded(root);
  if (!layout) {
    throw new LocaldError(
      `the root filesystem at ${root} has no recorded layout (extracted by an older locald, or gone)`,
      {
        hint: "run `locald build` again: it extracts the image's root filesystem anew",
        exitCode: ExitCode.notBuilt,
      },
    );
  }
  return layout;
}

/**
 * The layout kept beside a root, or undefined where there is none (a root an older locald
 * extracted). Natively it stands in for the tree's first levels too: one small file read
 * instead of a directory listing and an lstat for each of them, on every stack step.
 */
export function layoutIfRecorded(root: string): RootLayoutRecord | undefined {
  const file = root.replace(/root[\\/]*$/, "rootfs.json");
  let layout: RootLayoutRecord | undefined;
  try {
    layout = JSON.parse(Deno.readTextFileSync(file)).layout;
  } catch { /* missing or unreadable: as an old record */ }
  return layout?.entries && Array.isArray(layout.shells) ? layout : undefined;
}

/** Whether `path` (absolute, inside the root) is a regular file, links followed inside it. */
export function rootHasFile(root: string, path: string, layout?: RootLayoutRecord): boolean {
  if (layout) return layout.shells.includes(path);
  const f = resolveIn(root, path);
  return f !== undefined && lstatIf(f)?.isFile === true;
}

/** The image's /etc/passwd and /etc/group ("" when absent), from the record when given. */
export function rootIdentity(
  root: string,
  layout?: RootLayoutRecord,
): { passwd: string; group: string } {
  if (layout) return { passwd: layout.passwd, group: layout.group };
  const text = (p: string) => {
    const f = resolveIn(root, p);
    try {
      return f ? Deno.readTextFileSync(f) : "";
    } catch {
      return "";
    }
  };
  return { passwd: text("/etc/passwd"), group: text("/etc/group") };
}
