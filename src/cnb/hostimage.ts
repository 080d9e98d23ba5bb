/**
 * The host as a run image. A development build with no builder has no run image, yet the
 * analyzer needs one to tell the detector the target (os, arch, distro). locald describes the
 * host as a config-only OCI image in the analyzer's layout directory, so the real analyzer
 * runs in layout mode exactly as it does for a builder's run image.
 */
import { join } from "../util/path.ts";
import { sha256HexSync as sha256Hex } from "../util/sha256.ts";
import { readTextIf, writeFileAtomic } from "../util/fs.ts";
import type { Target } from "../hosts/target.ts";

/** Reference of the host run image; its tag names the distro so a change of host is visible. */
export function hostRunImageRef(t: Target): string {
  const tag = t.distro
    ? `${t.distro.name}-${t.distro.version || "rolling"}-${t.arch}`.replace(/[^A-Za-z0-9_.-]/g, "_")
    : `unknown-${t.arch}`;
  return `locald.local/host:${tag}`;
}

/** `<layout>/<registry>/<repository>/<tag>`, the path the analyzer looks at for a reference. */
export function layoutPathFor(layoutDir: string, ref: string): string {
  const [name, tag] = ref.includes("@")
    ? [ref.split("@")[0], ref.split("@")[1].replace(":", "-")]
    : [ref.slice(0, ref.lastIndexOf(":")), ref.slice(ref.lastIndexOf(":") + 1)];
  return join(layoutDir, ...name.split("/"), tag);
}

export async function writeConfigOnlyImage(
  dir: string,
  config: Record<string, unknown>,
): Promise<{ manifestDigest: string }> {
  const configBytes = JSON.stringify(config);
  const configDigest = sha256Hex(configBytes);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: `sha256:${configDigest}`,
      size: new TextEncoder().encode(configBytes).length,
    },
    layers: [],
  });
  const manifestDigest = sha256Hex(manifest);
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: `sha256:${manifestDigest}`,
      size: new TextEncoder().encode(manifest).length,
    }],
  });
  // Unchanged since the last build (the usual case): nothing to write.
  if (readTextIf(join(dir, "index.json")) === index) {
    return { manifestDigest: `sha256:${manifestDigest}` };
  }
  const blobs = join(dir, "blobs", "sha256");
  await writeFileAtomic(join(blobs, configDigest), configBytes);
  await writeFileAtomic(join(blobs, manifestDigest), manifest);
  await writeFileAtomic(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await writeFileAtomic(join(dir, "index.json"), index);
  return { manifestDigest: `sha256:${manifestDigest}` };
}

export async function writeHostRunImage(layoutDir: string, t: Target): Promise<string> {
  const ref = hostRunImageRef(t);
  const labels: Record<string, string> = {};
  if (t.distro) {
    labels["io.buildpacks.base.distro.name"] = t.distro.name;
    labels["io.buildpacks.base.distro.version"] = t.distro.version;
  }
  await writeConfigOnlyImage(layoutPathFor(layoutDir, ref), {
    architecture: t.arch,
    os: t.os,
    config: { Labels: labels },
    rootfs: { type: "layers", diff_ids: [] },
  });
  return ref;
}
