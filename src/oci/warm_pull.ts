/**
 * A warm `builder pull` (pull policy "always" of a builder pulled before): one manifest
 * request asks the registry whether the reference moved, and when it still names the digest
 * recorded, nothing else is fetched or read. Light on purpose (no node:path, node:crypto,
 * TOML, tar, blob store or tree walk): builder.ts, which fetches and extracts, is loaded only
 * when something must be fetched or extracted again.
 */
import type { LocaldDirs } from "../config/paths.ts";
import { join } from "../util/path.ts";
import { writeFileAtomicSync } from "../util/fs.ts";
import {
  type BuilderInfo,
  dirsUnchanged,
  readBuilderJson,
  readRef,
  refRecordPath,
} from "./builder_cache.ts";
import { formatPlatform, hostPlatform, type Platform } from "./manifest.ts";
import { formatReference, parseReference } from "./reference.ts";
import { RegistryClient } from "./registry.ts";

export interface WarmPullOptions {
  env: Record<string, string>;
  dirs: Pick<LocaldDirs, "oci" | "builders" | "refs">;
  platform?: Platform;
  insecureRegistries?: string[];
}

/**
 * The builder `refInput` names when the registry says it is unchanged and its extraction is
 * intact (every directory as extracted; see dirsUnchanged), its record's time updated;
 * undefined when it has to go through pullBuilder (not pulled, moved, a directory changed,
 * a blob missing, or the registry did not answer with a digest).
 */
export async function warmPull(
  refInput: string,
  opts: WarmPullOptions,
): Promise<BuilderInfo | undefined> {
  const ref = parseReference(refInput);
  const canonical = formatReference(ref);
  const recordPath = refRecordPath(
    opts.dirs.refs,
    canonical,
    formatPlatform(opts.platform ?? hostPlatform()),
  );
  const rec = readRef(recordPath);
  if (!rec) return undefined;
  const root = join(opts.dirs.builders, rec.digest.slice(7));
  const info = readBuilderJson(root);
  if (!info?.dirStamps || !dirsUnchanged(join(root, "cnb"), info.dirStamps)) return undefined;
  // The manifest and config stay in the store (a digest-pinned build reads them offline).
  for (const blob of info.blobs.slice(0, 2)) {
    try {
      Deno.lstatSync(join(opts.dirs.oci, "blobs", "sha256", blob.slice(7)));
    } catch {
      return undefined;
    }
  }
  const client = new RegistryClient({ env: opts.env, insecureRegistries: opts.insecureRegistries });
  if ((await client.headManifest(ref)) !== (rec.indexDigest ?? rec.digest)) return undefined;
  // The record's new time (synchronously: see writeFileAtomic).
  writeFileAtomicSync(
    recordPath,
    JSON.stringify({ ...rec, pulledAt: new Date().toISOString() }, null, 2),
  );
  return { ...info, ref: canonical, indexDigest: rec.indexDigest };
}
