/**
 * What a build with a builder needs when the builder is already pulled: where pulled builders
 * and their references are kept, and reading them back. Light on purpose (no node:crypto, no
 * registry client, no tar): a build whose builder is cached loads only this; pulling lives in
 * builder.ts.
 */
import type { LocaldDirs } from "../config/paths.ts";
import { join, resolve } from "../util/path.ts";
import { sha256HexSync } from "../util/sha256.ts";
import { formatPlatform, hostPlatform, type Platform } from "./manifest.ts";
import { formatReference, parseReference } from "./reference.ts";

export type LifecycleApis = Record<
  string,
  { supported?: unknown; deprecated?: unknown } | undefined
>;

/** The platform APIs a builder's lifecycle declares (supported and deprecated ones). */
export function declaredPlatformApis(apis: LifecycleApis | undefined): string[] | undefined {
  const p = apis?.platform;
  if (!p) return undefined;
  const list = [p.supported, p.deprecated].flatMap((l) => Array.isArray(l) ? l.map(String) : []);
  return list.length ? list : undefined;
}

export interface RunImageRef {
  image: string;
  mirrors: string[];
}

export interface BuilderInfo {
  /** Canonical reference as given (index.docker.io/heroku/builder:24). */
  ref: string;
  /** Digest of the platform's image manifest (the cache key). */
  digest: string;
  /** Digest of the multi-arch index, when the reference named one. */
  indexDigest?: string;
  platform: string;
  /** The cache directory for this builder. */
  root: string;
  /** The extracted /cnb. */
  cnbDir: string;
  /** <cnbDir>/buildpacks: <escaped-id>/<version>/ trees (CNB_BUILDPACKS_DIR). */
  buildpacksDir: string;
  /** <cnbDir>/order.toml (CNB_ORDER_PATH). */
  orderPath: string;
  /** <cnbDir>/run.toml, or a run.toml written from a legacy stack.toml (CNB_RUN_PATH). */
  runPath?: string;
  /** The first run image of run.toml (mirrors included); undefined if the builder has none. */
  runImage?: RunImageRef;
  runImages: RunImageRef[];
  /** <cnbDir>/build-config when present: pass as CNB_BUILD_CONFIG_DIR, the lifecycle applies it. */
  buildConfigDir?: string;
  /** Variables of build-config/env (file name -> content; suffixes such as .default kept). */
  buildConfigEnv: Record<string, string>;
  /** CNB_* variables from the builder image's config Env (CNB_USER_ID, CNB_STACK_ID...). */
  imageEnv: Record<string, string>;
  /** A directory holding lifecycle/ (as LOCALD_LIFECYCLE_DIR expects), if the builder ships one. */
  lifecycleDir?: string;
  /** Parsed io.buildpacks.builder.metadata label (description, buildpacks, lifecycle, stack). */
  metadata: BuilderMetadata | null;
  /**
   * Platform APIs the builder's own lifecycle declares (io.buildpacks.lifecycle.apis label,
   * else the builder metadata's lifecycle.apis): what its buildpacks were tested with.
   */
  platformApis?: string[];
  /** Parsed io.buildpacks.buildpack.layers label. */
  buildpackLayers: Record<string, Record<string, unknown>> | null;
  /** Parsed order.toml ([[order]] groups). */
  order: { group: { id: string; version?: string; optional?: boolean }[] }[];
  /** Sum of the compressed layer sizes. */
  size: number;
  /** Blobs this builder uses (manifest, config, layers), for `builder rm`. */
  blobs: string[];
  pulledAt: string;
  /** Digest of the extracted /cnb tree as extracted (see treeDigest), to find damage. */
  treeDigest?: string;
  /**
   * Each directory of the extracted /cnb ("" for /cnb itself) and its modification and change
   * times, as extracted: the cheap damage check of a warm pull (see dirsUnchanged).
   */
  dirStamps?: Record<string, string>;
}

export interface BuilderMetadata {
  description?: string;
  buildpacks?: { id: string; version?: string; homepage?: string }[];
  lifecycle?: { version?: string; apis?: Record<string, { supported?: string[] }> };
  stack?: { runImage?: { image?: string; mirrors?: string[] } };
  createdBy?: { name?: string; version?: string };
  [k: string]: unknown;
}

export interface RefRecord {
  ref: string;
  platform: string;
  digest: string;
  indexDigest?: string;
  pulledAt: string;
}

/** Where pulled builders are kept: the extracted trees and the references' records. */
export type BuilderDirs = Pick<LocaldDirs, "builders" | "refs">;

/** The record of what `canonical` pointed at for `platform`, under the refs directory. */
export function refRecordPath(refs: string, canonical: string, platform: string) {
  const id = sha256HexSync(`${canonical} ${platform}`).slice(0, 32);
  return join(refs, `${id}.json`);
}

/** Small JSON records are read synchronously (no round trip to another thread). */
function readJson<T>(path: string): T | undefined {
  let t: string;
  try {
    t = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  try {
    return JSON.parse(t) as T;
  } catch {
    return undefined;
  }
}

export function readRef(path: string): RefRecord | undefined {
  return readJson<RefRecord>(path);
}

export function readBuilderJson(dir: string): BuilderInfo | undefined {
  return readJson<BuilderInfo>(join(dir, "builder.json"));
}

/**
 * The builder `refInput` names, as pulled before (pull policy if-not-present); undefined when
 * it has to be pulled.
 */
export function cachedBuilder(
  refInput: string,
  dirs: BuilderDirs,
  platform: Platform = hostPlatform(),
): BuilderInfo | undefined {
  const canonical = formatReference(parseReference(refInput));
  const rec = readRef(refRecordPath(dirs.refs, canonical, formatPlatform(platform)));
  const info = rec && readBuilderJson(join(dirs.builders, rec.digest.slice(7)));
  return info && { ...info, ref: canonical, indexDigest: rec!.indexDigest };
}

/**
 * A builder.toml reference (`-B ./builder.toml`, `file://...`): its absolute path, resolved
 * against `base`; undefined for an image reference.
 */
export function localBuilderPath(ref: string, base: string): string | undefined {
  if (ref.startsWith("file://")) return decodeURIComponent(new URL(ref).pathname);
  return /\.toml$/i.test(ref) ? resolve(base, ref) : undefined;
}

/**
 * A directory's stamp: its modification time (a file added, removed or renamed in it sets it;
 * Deno reports it to the millisecond) and its change time (which nothing sets back, though
 * Deno reports it only to the second); undefined where the system reports neither.
 */
function stampOf(st: Deno.FileInfo): string | undefined {
  const m = st.mtime?.getTime();
  const c = st.ctime?.getTime();
  return m === undefined || c === undefined ? undefined : `${m} ${c}`;
}

/** Every directory under `root` (relative path, "" for `root`) with its stamp. */
export function dirStamps(root: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const walk = (rel: string): boolean => {
    const dir = rel ? join(root, rel) : root;
    const stamp = stampOf(Deno.lstatSync(dir));
    if (stamp === undefined) return false;
    out[rel] = stamp;
    for (const e of Deno.readDirSync(dir)) {
      if (e.isDirectory && !walk(rel ? `${rel}/${e.name}` : e.name)) return false;
    }
    return true;
  };
  return walk("") ? out : undefined;
}

/**
 * The cheap damage check: each directory dirStamps recorded is still a directory with the
 * same stamp (one lstat per directory, no walk). It finds files removed, added or renamed
 * anywhere in the tree, not a file edited in place (`builder pull --verify` does).
 */
export function dirsUnchanged(root: string, stamps: Record<string, string>): boolean {
  for (const [rel, stamp] of Object.entries(stamps)) {
    try {
      const st = Deno.lstatSync(rel ? join(root, rel) : root);
      if (!st.isDirectory || stampOf(st) !== stamp) return false;
    } catch {
      return false;
    }
  }
  return true;
}
