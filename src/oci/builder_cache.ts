/**
 * What a build with a builder needs when the builder is already pulled: where pulled builders
 * and their references are kept, and reading them back. Light on purpose (no node:crypto, no
 * registry client, no tar): a build whose builder is cached loads only this; pulling lives in
 * builder.ts.
 */
import type { LocaldDirs } from "../config/paths.ts";
import { readTextIfExists } from "../util/fs.ts";
import { join } from "../util/path.ts";
import { sha256HexSync } from "../util/sha256.ts";
import { formatPlatform, hostPlatform, type Platform } from "./manifest.ts";
import { formatReference, parseReference } from "./reference.ts";

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

export async function readRef(path: string): Promise<RefRecord | undefined> {
  const t = await readTextIfExists(path);
  if (!t) return undefined;
  try {
    return JSON.parse(t) as RefRecord;
  } catch {
    return undefined;
  }
}

export async function readBuilderJson(dir: string): Promise<BuilderInfo | undefined> {
  const t = await readTextIfExists(join(dir, "builder.json"));
  if (!t) return undefined;
  try {
    return JSON.parse(t) as BuilderInfo;
  } catch {
    return undefined;
  }
}

/**
 * The builder `refInput` names, as pulled before (pull policy if-not-present); undefined when
 * it has to be pulled.
 */
export async function cachedBuilder(
  refInput: string,
  dirs: BuilderDirs,
  platform: Platform = hostPlatform(),
): Promise<BuilderInfo | undefined> {
  const canonical = formatReference(parseReference(refInput));
  const rec = await readRef(refRecordPath(dirs.refs, canonical, formatPlatform(platform)));
  const info = rec && await readBuilderJson(join(dirs.builders, rec.digest.slice(7)));
  return info && { ...info, ref: canonical, indexDigest: rec!.indexDigest };
}
