/** OCI and Docker schema 2 manifests, indexes and configs: media types and platform choice. Pure. */
import { ExitCode, LocaldError } from "../errors.ts";

export const MediaType = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  dockerForeignLayer: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
} as const;

/** The Accept header for manifest requests: indexes and single manifests of both families. */
export const MANIFEST_ACCEPT = [
  MediaType.ociIndex,
  MediaType.dockerList,
  MediaType.ociManifest,
  MediaType.dockerManifest,
].join(", ");

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform & { "os.version"?: string };
  annotations?: Record<string, string>;
  urls?: string[];
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

export interface ImageConfig {
  os?: string;
  architecture?: string;
  variant?: string;
  config?: {
    Env?: string[];
    Labels?: Record<string, string>;
    User?: string;
    WorkingDir?: string;
    Entrypoint?: string[];
    Cmd?: string[];
  };
  rootfs?: { type: string; diff_ids: string[] };
}

export type Compression = "gzip" | "zstd" | "none";

/** How a layer is compressed, from its media type (the bytes are sniffed too, see apply.ts). */
export function layerCompression(mediaType: string): Compression {
  if (mediaType.endsWith("+zstd")) return "zstd";
  if (mediaType.endsWith("gzip")) return "gzip";
  return "none";
}

export function isIndex(mediaType: string | undefined, doc: Record<string, unknown>): boolean {
  if (mediaType === MediaType.ociIndex || mediaType === MediaType.dockerList) return true;
  return !mediaType && Array.isArray(doc.manifests) && !("config" in doc);
}

/** The platform the lifecycle will run on: Linux on this machine's CPU (the VM's on macOS). */
export function hostPlatform(arch: string = Deno.build.arch): Platform {
  const architecture = arch === "x86_64" ? "amd64" : arch === "aarch64" ? "arm64" : arch;
  return { os: "linux", architecture };
}

export function parsePlatform(s: string): Platform {
  const [os, architecture, variant] = s.split("/");
  if (!os || !architecture) {
    throw new LocaldError(`invalid platform "${s}"`, {
      hint: "write it as OS/ARCH[/VARIANT], e.g. linux/arm64",
      exitCode: ExitCode.input,
    });
  }
  return { os, architecture, variant };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join("/");
}

/** Pick the index entry for `want`; undefined when none fits. An arm64 "v8" variant is implied. */
export function selectPlatform(index: ImageIndex, want: Platform): Descriptor | undefined {
  const norm = (p: Platform) => ({
    os: p.os,
    architecture: p.architecture,
    variant: p.architecture === "arm64" && (p.variant === "v8" || !p.variant)
      ? ""
      : p.variant ?? "",
  });
  const w = norm(want);
  const candidates = index.manifests.filter((m) => {
    if (!m.platform) return false;
    const p = norm(m.platform);
    return p.os === w.os && p.architecture === w.architecture &&
      (w.variant === "" || p.variant === w.variant);
  });
  // Exact variant first, then the first listed (registries list the preferred one first).
  return candidates.find((m) => norm(m.platform!).variant === w.variant) ?? candidates[0];
}

/** The platforms an index offers (for the "no manifest for this platform" error). */
export function listPlatforms(index: ImageIndex): string[] {
  return index.manifests
    .filter((m) => m.platform && m.platform.os !== "unknown")
    .map((m) => formatPlatform(m.platform!));
}
