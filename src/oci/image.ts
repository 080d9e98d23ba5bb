/**
 * Resolving a reference to one platform's manifest and config, and fetching its layers into the
 * blob store (in parallel, with one progress bar). Manifests and configs are stored as blobs
 * too, so a digest-pinned image can be used later without the network.
 */
import { join } from "node:path";
import type { Output } from "../output.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import {
  type Compression,
  type Descriptor,
  formatPlatform,
  hostPlatform,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  isIndex,
  layerCompression,
  listPlatforms,
  type Platform,
  selectPlatform,
} from "./manifest.ts";
import { formatReference, type ImageRef, parseReference } from "./reference.ts";
import { RegistryClient } from "./registry.ts";
import { BlobStore, parallel, verifyStored } from "./store.ts";
import type { LocaldDirs } from "../config/paths.ts";

/** What pulling writes under locald's home: the blob store, extracted builders, references. */
export type ImageDirs = Pick<LocaldDirs, "oci" | "builders" | "refs">;

export interface PullOptions {
  /** locald's environment, for the registry client (proxies, credentials, timeouts). */
  env: Record<string, string>;
  /** Where pulled images go. */
  dirs: ImageDirs;
  out?: Output;
  /** Platform to resolve an index to; default linux on this machine's CPU. */
  platform?: Platform;
  /** Registries reached over plain HTTP (loopback ones always are). */
  insecureRegistries?: string[];
  /** Parallel layer downloads; default 4. */
  concurrency?: number;
  /** Reuse a client (and its tokens) across several pulls. */
  client?: RegistryClient;
}

export interface ResolvedImage {
  ref: ImageRef;
  /** Digest of the index, when the reference named one. */
  indexDigest?: string;
  /** Digest of the platform's image manifest. */
  digest: string;
  manifestMediaType: string;
  manifestSize: number;
  manifest: ImageManifest;
  config: ImageConfig;
  platform: Platform;
}

/** Only `/cnb` and what lies below it. */
export const onlyCnb = (rel: string) => rel === "cnb" || rel.startsWith("cnb/");

export function clientFor(opts: PullOptions): RegistryClient {
  return opts.client ?? new RegistryClient({
    env: opts.env,
    insecureRegistries: opts.insecureRegistries,
  });
}

/** The blob store under locald's oci directory. */
export function storeFor(oci: string): BlobStore {
  return new BlobStore(oci);
}

/** Fetch the manifest (through an index if need be) and the config of `ref` for a platform. */
export async function resolveImage(
  refInput: string | ImageRef,
  opts: PullOptions,
): Promise<ResolvedImage> {
  const ref = typeof refInput === "string" ? parseReference(refInput) : refInput;
  const client = clientFor(opts);
  const store = storeFor(opts.dirs.oci);
  const platform = opts.platform ?? hostPlatform();
  let m = await client.getManifest(ref);
  let indexDigest: string | undefined;
  if (isIndex(m.mediaType, m.doc)) {
    indexDigest = m.digest;
    const index = m.doc as unknown as ImageIndex;
    const pick = selectPlatform(index, platform);
    if (!pick) {
      const there = listPlatforms(index);
      throw new LocaldError(
        `${formatReference(ref)} has no image for ${formatPlatform(platform)}`,
        {
          hint: there.length
            ? `it has: ${there.join(", ")}; pick another image or build one for your platform`
            : "its index lists no platforms at all",
          exitCode: ExitCode.unsupported,
        },
      );
    }
    m = await client.getManifest(ref, pick.digest);
  }
  const manifest = m.doc as unknown as ImageManifest;
  if (!manifest.config || !Array.isArray(manifest.layers)) {
    throw new LocaldError(`${formatReference(ref)} is not a container image`, {
      hint: `its manifest (${m.mediaType ?? "no media type"}) has no config or layers; ` +
        "locald pulls OCI and Docker schema 2 images",
      exitCode: ExitCode.unsupported,
    });
  }
  await store.putVerified(m.digest, m.bytes);
  const cfgPath = await store.ensure(client, ref, manifest.config);
  let config: ImageConfig;
  try {
    config = JSON.parse(await Deno.readTextFile(cfgPath));
  } catch {
    throw new LocaldError(`the config of ${formatReference(ref)} is not JSON`, {
      hint: "the registry holds a broken image; push it again",
      exitCode: ExitCode.download,
    });
  }
  if (!indexDigest && config.os && config.architecture) {
    const have = { os: config.os, architecture: config.architecture, variant: config.variant };
    if (
      !selectPlatform(
        { schemaVersion: 2, manifests: [{ ...manifest.config, platform: have }] },
        platform,
      )
    ) {
      throw new LocaldError(
        `${formatReference(ref)} has no image for ${formatPlatform(platform)}`,
        {
          hint: `it is a single-platform image for ${formatPlatform(have)}`,
          exitCode: ExitCode.unsupported,
        },
      );
    }
  }
  return {
    ref,
    indexDigest,
    digest: m.digest,
    manifestMediaType: m.mediaType ?? manifest.mediaType ?? "",
    manifestSize: m.bytes.length,
    manifest,
    config,
    platform,
  };
}

/** Download every layer not yet in the store (in parallel); returns their paths in order. */
export async function fetchLayers(img: ResolvedImage, opts: PullOptions): Promise<string[]> {
  const client = clientFor(opts);
  const store = storeFor(opts.dirs.oci);
  const missing: Descriptor[] = [];
  const seen = new Set<string>();
  for (const l of img.manifest.layers) {
    if (seen.has(l.digest)) continue;
    seen.add(l.digest);
    if (!(await store.has(l.digest))) missing.push(l);
  }
  if (missing.length) {
    const total = missing.reduce((n, l) => n + l.size, 0);
    const name = formatReference(img.ref);
    const bar = opts.out?.progress(
      `${name}: ${missing.length} layer${missing.length === 1 ? "" : "s"}`,
      total,
    );
    let done = 0;
    try {
      await parallel(
        missing,
        opts.concurrency ?? 4,
        (l) =>
          store.ensure(client, img.ref, l, (n) => {
            done += n;
            bar?.update(done);
          }),
      );
    } finally {
      bar?.end();
    }
  }
  return img.manifest.layers.map((l) => store.path(l.digest));
}

/**
 * Pull an image and apply its layers onto `dest` (created here; must not exist). On any failure
 * `dest` does not exist afterwards. `include` limits what is written (default: everything).
 */
export async function extractImage(
  refInput: string | ImageRef,
  dest: string,
  opts: PullOptions & { include?: (rel: string) => boolean },
): Promise<ResolvedImage> {
  const o: PullOptions = { ...opts, client: clientFor(opts) };
  const img = await resolveImage(refInput, o);
  const layers = await fetchLayers(img, o);
  const parent = join(dest, "..");
  await Deno.mkdir(parent, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: parent, prefix: ".tmp-extract-" });
  try {
    await applyLayers(img, layers, tmp, opts.include);
    await Deno.rename(tmp, dest);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
  return img;
}

/** Apply an image's layers (paths from fetchLayers) in order onto `root`. */
export async function applyLayers(
  img: ResolvedImage,
  layers: string[],
  root: string,
  include?: (rel: string) => boolean,
) {
  // Loaded only to extract: tar and decompression are not needed when nothing is extracted.
  const { LayerApplier } = await import("./apply.ts");
  const applier = new LayerApplier(root, include);
  for (const l of await verifiedLayers(img, layers)) {
    await applier.apply(l.path, l.compression, l.label);
  }
}

/**
 * The image's layer blobs (paths from fetchLayers) checked against their digests, in order,
 * each with its compression and its name in messages.
 */
export async function verifiedLayers(
  img: ResolvedImage,
  layers: string[],
): Promise<{ path: string; compression: Compression; label: string }[]> {
  const out = [];
  for (let i = 0; i < layers.length; i++) {
    const label = `layer ${i + 1} of ${formatReference(img.ref)}`;
    // What the store holds was verified when written; read again unless this process did it.
    await verifyStored(layers[i], img.manifest.layers[i].digest, label);
    out.push({
      path: layers[i],
      compression: layerCompression(img.manifest.layers[i].mediaType),
      label,
    });
  }
  return out;
}
