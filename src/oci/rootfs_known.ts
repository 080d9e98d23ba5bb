/**
 * An extracted root filesystem (oci/rootfs.ts) that is already here, found and held without
 * loading what pulls and extracts (registry client, tar, zlib, node:crypto): a stack build or a
 * build in auto userland whose images were extracted before loads only this.
 */
import { join } from "../util/path.ts";
import { exists, readTextIfExists } from "../util/fs.ts";
import { acquireLock } from "../util/lock.ts";
import { sha256HexSync } from "../util/sha256.ts";
import { formatPlatform, hostPlatform, type Platform } from "./manifest.ts";
import { formatReference, parseReference } from "./reference.ts";
import { holdExtraction } from "./extract_lock.ts";
import type { RootLayoutRecord } from "./root_layout.ts";

export interface Rootfs {
  /** Canonical reference. */
  ref: string;
  /** Manifest digest (the cache key). */
  digest: string;
  /** Host path of the extracted root (contains usr/, etc/, ...). */
  dir: string;
  /** Parsed etc/os-release ({} when absent). */
  osRelease: Record<string, string>;
  /** The image config's Env. */
  env: string[];
  /** The image config's User. */
  user?: string;
  /** Bytes on disk (approx.). */
  size: number;
  /** What the host needs of the tree (absent in a record an older locald wrote). */
  layout?: RootLayoutRecord;
  /**
   * Let `cache prune` remove the root again. ensureRootfs holds its use lock (shared) until
   * this is called or the process ends.
   */
  release(): void;
}

/** rootfs.json: the record of an extracted root. */
export interface RootfsRecord {
  ref: string;
  digest: string;
  platform: string;
  osRelease: Record<string, string>;
  env: string[];
  user?: string;
  size: number;
  /** Blobs the image uses (manifest, config, layers). */
  blobs: string[];
  /** Metadata digest of root/ as extracted (treeDigest), to find a changed or damaged tree. */
  treeDigest: string;
  /**
   * The tree's first levels, the shells it has, its passwd and group, recorded at extraction
   * for a side that cannot read the tree (WSL); absent in records of an older locald.
   */
  layout?: RootLayoutRecord;
  extractedAt: string;
}

export interface RootfsRef {
  ref: string;
  platform: string;
  digest: string;
}

/** The use lock of the root at `<rootfs>/<hex>/root` (or of `<rootfs>/<hex>`). */
export function rootfsUseLock(dir: string): string {
  return join(dir.replace(/\/root\/*$/, ""), "use.lock");
}

export function refPath(base: string, canonical: string, platform: string): string {
  return join(
    base,
    "refs",
    `${sha256HexSync(`${canonical} ${platform}`).slice(0, 32)}.json`,
  );
}

export async function readJson<T>(path: string): Promise<T | undefined> {
  const t = await readTextIfExists(path);
  if (!t) return undefined;
  try {
    return JSON.parse(t) as T;
  } catch {
    return undefined;
  }
}

export function readRootfsRecord(hexDir: string): Promise<RootfsRecord | undefined> {
  return readJson<RootfsRecord>(join(hexDir, "rootfs.json"));
}

/**
 * The root of `refInput` for this platform when it was extracted before (the reference's
 * record names a digest whose root is complete), held with its use lock; undefined otherwise.
 */
export async function knownRootfs(
  refInput: string,
  opts: {
    dirs: { oci: string; rootfs: string };
    out?: { info(line: string): void };
    platform?: Platform;
    /** Only a root whose record has a layout (Backend.rootsByRecord). */
    needLayout?: boolean;
  },
): Promise<Rootfs | undefined> {
  const canonical = formatReference(parseReference(refInput));
  const pf = formatPlatform(opts.platform ?? hostPlatform());
  const known = await readJson<RootfsRef>(refPath(opts.dirs.rootfs, canonical, pf));
  if (!known) return undefined;
  return await useExisting(join(opts.dirs.rootfs, known.digest.slice(7)), canonical, opts);
}

export async function useExisting(
  hexDir: string,
  canonical: string,
  opts: { dirs: { oci: string }; out?: { info(line: string): void }; needLayout?: boolean },
): Promise<Rootfs | undefined> {
  // The extraction lock (shared) keeps `cache prune` out between the check and the use lock.
  const extracting = await holdExtraction(opts.dirs.oci, opts.out);
  try {
    const rec = await readRootfsRecord(hexDir);
    if (!rec || !(await exists(join(hexDir, "root")))) return undefined;
    if (opts.needLayout && !rec.layout) return undefined;
    const lock = await acquireLock(rootfsUseLock(hexDir), "locald cache prune", opts.out, {
      shared: true,
    });
    return {
      ref: canonical,
      digest: rec.digest,
      dir: join(hexDir, "root"),
      osRelease: rec.osRelease,
      env: rec.env,
      user: rec.user,
      size: rec.size,
      layout: rec.layout,
      release: () => lock.release(),
    };
  } finally {
    extracting.release();
  }
}
