/**
 * Images built by the tests: tar layers written with tar-stream (including hostile ones no
 * well-behaved tool would produce), compressed with gzip or zstd, described by OCI or Docker
 * schema 2 manifests, and pushed to a loopback registry through the distribution API.
 */
import { createHash } from "node:crypto";
import { gzipSync, zstdCompressSync } from "node:zlib";
import tar from "tar-stream";

export interface Entry {
  name: string;
  type?: "file" | "directory" | "symlink" | "link" | "character-device" | "block-device" | "fifo";
  content?: string | Uint8Array;
  linkname?: string;
  mode?: number;
}

export type Compression = "gzip" | "zstd" | "none";

export function sha256(b: Uint8Array): string {
  return "sha256:" + createHash("sha256").update(b).digest("hex");
}

export async function makeTar(entries: Entry[]): Promise<Uint8Array> {
  const pack = tar.pack();
  const chunks: Uint8Array[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Uint8Array);
  })();
  for (const e of entries) {
    const type = e.type ?? "file";
    const body = typeof e.content === "string" ? new TextEncoder().encode(e.content) : e.content;
    await new Promise<void>((resolve, reject) => {
      pack.entry(
        {
          name: e.name,
          type,
          linkname: e.linkname,
          mode: e.mode ?? (type === "directory" ? 0o755 : 0o644),
          size: type === "file" ? body?.length ?? 0 : 0,
          devmajor: 1,
          devminor: 3,
        },
        type === "file" ? Buffer.from(body ?? new Uint8Array()) : undefined,
        (err?: Error | null) => (err ? reject(err) : resolve()),
      );
    });
  }
  pack.finalize();
  await done;
  return new Uint8Array(Buffer.concat(chunks));
}

export function compress(b: Uint8Array, c: Compression): Uint8Array {
  if (c === "gzip") return new Uint8Array(gzipSync(b, { level: 1 }));
  if (c === "zstd") return new Uint8Array(zstdCompressSync(b));
  return b;
}

export interface BuiltLayer {
  blob: Uint8Array;
  digest: string;
  diffId: string;
  mediaType: string;
}

export async function layer(
  entries: Entry[],
  c: Compression = "gzip",
  format: "oci" | "docker" = "oci",
): Promise<BuiltLayer> {
  const raw = await makeTar(entries);
  const blob = compress(raw, c);
  const mediaType = format === "docker"
    ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
    : c === "gzip"
    ? "application/vnd.oci.image.layer.v1.tar+gzip"
    : c === "zstd"
    ? "application/vnd.oci.image.layer.v1.tar+zstd"
    : "application/vnd.oci.image.layer.v1.tar";
  return { blob, digest: sha256(blob), diffId: sha256(raw), mediaType };
}

export interface ImageSpec {
  layers: BuiltLayer[];
  format?: "oci" | "docker";
  os?: string;
  architecture?: string;
  env?: string[];
  labels?: Record<string, string>;
  /** The config's User ("1000:1000"), when the image names one. */
  user?: string;
}

export interface PushTarget {
  host: string;
  user?: string;
  password?: string;
}

function authHeaders(t: PushTarget): Record<string, string> {
  return t.user ? { Authorization: `Basic ${btoa(`${t.user}:${t.password}`)}` } : {};
}

export async function pushBlob(t: PushTarget, repo: string, blob: Uint8Array, digest: string) {
  const base = `http://${t.host}/v2/${repo}`;
  const head = await fetch(`${base}/blobs/${digest}`, { method: "HEAD", headers: authHeaders(t) });
  if (head.ok) return;
  const start = await fetch(`${base}/blobs/uploads/`, { method: "POST", headers: authHeaders(t) });
  await start.body?.cancel();
  if (start.status !== 202) throw new Error(`upload start: HTTP ${start.status}`);
  const loc = new URL(start.headers.get("location")!, `http://${t.host}`);
  loc.searchParams.set("digest", digest);
  const put = await fetch(loc, {
    method: "PUT",
    headers: { ...authHeaders(t), "Content-Type": "application/octet-stream" },
    body: blob as Uint8Array<ArrayBuffer>,
  });
  await put.body?.cancel();
  if (put.status !== 201) throw new Error(`upload ${digest}: HTTP ${put.status}`);
}

export async function pushManifest(
  t: PushTarget,
  repo: string,
  reference: string,
  doc: unknown,
  mediaType: string,
): Promise<{ digest: string; size: number }> {
  const bytes = new TextEncoder().encode(JSON.stringify(doc));
  const res = await fetch(`http://${t.host}/v2/${repo}/manifests/${reference}`, {
    method: "PUT",
    headers: { ...authHeaders(t), "Content-Type": mediaType },
    body: bytes,
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`manifest ${repo}:${reference}: ${res.status} ${text}`);
  return { digest: sha256(bytes), size: bytes.length };
}

/** Push an image; returns its manifest digest. */
export async function pushImage(
  t: PushTarget,
  repo: string,
  tag: string,
  spec: ImageSpec,
): Promise<{ digest: string; size: number; mediaType: string }> {
  const docker = spec.format === "docker";
  const config = new TextEncoder().encode(JSON.stringify({
    architecture: spec.architecture ?? "amd64",
    os: spec.os ?? "linux",
    config: {
      Env: spec.env ?? ["PATH=/usr/bin:/bin"],
      Labels: spec.labels ?? {},
      ...(spec.user ? { User: spec.user } : {}),
    },
    rootfs: { type: "layers", diff_ids: spec.layers.map((l) => l.diffId) },
  }));
  const configDigest = sha256(config);
  await pushBlob(t, repo, config, configDigest);
  for (const l of spec.layers) await pushBlob(t, repo, l.blob, l.digest);
  const mediaType = docker
    ? "application/vnd.docker.distribution.manifest.v2+json"
    : "application/vnd.oci.image.manifest.v1+json";
  const manifest = {
    schemaVersion: 2,
    mediaType,
    config: {
      mediaType: docker
        ? "application/vnd.docker.container.image.v1+json"
        : "application/vnd.oci.image.config.v1+json",
      digest: configDigest,
      size: config.length,
    },
    layers: spec.layers.map((l) => ({
      mediaType: l.mediaType,
      digest: l.digest,
      size: l.blob.length,
    })),
  };
  const r = await pushManifest(t, repo, tag, manifest, mediaType);
  return { ...r, mediaType };
}

/** Push a multi-arch index over images already pushed (by digest). */
export async function pushIndex(
  t: PushTarget,
  repo: string,
  tag: string,
  entries: {
    digest: string;
    size: number;
    mediaType: string;
    os: string;
    architecture: string;
    variant?: string;
  }[],
  format: "oci" | "docker" = "oci",
) {
  const mediaType = format === "docker"
    ? "application/vnd.docker.distribution.manifest.list.v2+json"
    : "application/vnd.oci.image.index.v1+json";
  return await pushManifest(t, repo, tag, {
    schemaVersion: 2,
    mediaType,
    manifests: entries.map((e) => ({
      mediaType: e.mediaType,
      digest: e.digest,
      size: e.size,
      platform: { os: e.os, architecture: e.architecture, variant: e.variant },
    })),
  }, mediaType);
}
