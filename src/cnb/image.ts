/**
 * Image builds (`--export`, `--publish`): the same plan as a development build, run in a
 * mount namespace where the project is /workspace and the layers are /layers, as in every
 * CNB image, with the exporter as a last phase. Its own state under `<state>/image/` (layers,
 * volume cache, layout), because the lifecycle's cache records absolute paths.
 */
import { join } from "../util/path.ts";
import type { ProjectPaths } from "../config/paths.ts";
import type { Mount } from "../hosts/types.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import { parseToml } from "../config/toml.ts";

export interface ImageOptions {
  /** The app image: its layout path (layout mode) or where it is pushed (registry mode). */
  ref: string;
  mode: "layout" | "registry";
  /** Layout mode: where the exported OCI image layout is written. */
  layoutDir: string;
}

export interface ExportedImage {
  ref: string;
  digest?: string;
  /** Layout mode: the OCI image layout holding it. */
  layout?: string;
}

/** The standard paths an image build's phases see. */
export const IMAGE_ROOTS = {
  workspace: "/workspace",
  layers: "/layers",
  cache: "/cache",
  platform: "/platform",
} as const;

function roots(projectDir: string, paths: ProjectPaths): [string, string][] {
  return [
    [projectDir, IMAGE_ROOTS.workspace],
    [paths.layers, IMAGE_ROOTS.layers],
    [paths.cache, IMAGE_ROOTS.cache],
    [paths.platform, IMAGE_ROOTS.platform],
  ];
}

/** Host path to the path inside the image build's mount namespace. */
export function imageView(projectDir: string, paths: ProjectPaths): (p: string) => string {
  const r = roots(projectDir, paths);
  return (p) => {
    for (const [host, inside] of r) {
      if (p === host) return inside;
      if (p.startsWith(host + "/")) return inside + p.slice(host.length);
    }
    return p;
  };
}

/** The plan's mounts with their host sources, for the namespace runner. */
export function imageMounts(mounts: Mount[], projectDir: string, paths: ProjectPaths): Mount[] {
  const back = new Map(roots(projectDir, paths).map(([host, inside]) => [inside, host]));
  return mounts.map((m) => (back.has(m.path) ? { ...m, source: back.get(m.path) } : m));
}

/**
 * Registry credentials for the lifecycle, from the same sources locald uses (Docker's
 * config.json and its helpers), written to a private Docker config (`dir`, mode 0700, removed
 * after the build) that the lifecycle reads through DOCKER_CONFIG. Never in a process's
 * environment or command line (where `ps` or /proc would show them, and where a VM backend
 * would carry them on limactl's argv), never in plans, output or --json.
 */
export async function registryAuthConfig(
  refs: string[],
  env: Record<string, string>,
  dir: string,
): Promise<Record<string, string>> {
  const { parseReference } = await import("../oci/reference.ts");
  const { basicHeader, findCredential } = await import("../oci/auth.ts");
  const auths: Record<string, { auth: string }> = {};
  for (const r of refs) {
    const registry = parseReference(r.replace(/^docker:\/\//, "")).registry;
    const key = registry === "index.docker.io" ? "https://index.docker.io/v1/" : registry;
    if (auths[key]) continue;
    const cred = await findCredential(registry, env);
    const header = cred && basicHeader(cred);
    if (header) auths[key] = { auth: header.replace(/^Basic /, "") };
  }
  if (!Object.keys(auths).length) return {};
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await Deno.chmod(dir, 0o700);
  await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify({ auths }), {
    mode: 0o600,
    createNew: true,
  });
  return { DOCKER_CONFIG: dir };
}

/**
 * The run image's reference for a layout-mode image build. The exporter re-parses the layout
 * path the analyzer records (`<layout>/<registry>/<repo>/<tag>@<digest>`) as an image
 * reference, and a registry with a port (`127.0.0.1:5000`) makes that path unparseable; such a
 * run image is given to the lifecycle under a port-free alias in the same layout.
 */
export async function layoutRunImageRef(ref: string): Promise<string> {
  const { formatReference, parseReference } = await import("../oci/reference.ts");
  const r = parseReference(ref.replace(/^docker:\/\//, ""));
  if (!r.registry.includes(":")) return formatReference(r);
  return formatReference({
    registry: "locald.local",
    repository: `${r.registry.replace(/[:]/g, "-")}/${r.repository}`,
    tag: r.tag ?? "latest",
    digest: r.digest,
  });
}

/** Point the alias path (if `ref` is one) at the layout the run image was pulled into. */
export async function linkLayoutAlias(layoutRoot: string, ref: string, pulled: string) {
  const { layoutRelativePath, parseReference } = await import("../oci/reference.ts");
  const alias = join(layoutRoot, layoutRelativePath(parseReference(ref)));
  if (alias === pulled) return;
  await Deno.mkdir(join(alias, ".."), { recursive: true });
  await Deno.remove(alias, { recursive: true }).catch(() => {});
  await Deno.symlink(pulled, alias);
}

/**
 * What the exporter made: the digest (report.toml in registry mode, the layout's index.json
 * in layout mode, where the report has none) and the layout it wrote to.
 */
export async function exportedImage(
  o: ImageOptions,
  paths: ProjectPaths,
  layoutRoot: string,
): Promise<ExportedImage> {
  let digest: string | undefined;
  try {
    // deno-lint-ignore no-explicit-any
    const report = parseToml(await Deno.readTextFile(paths.report), paths.report) as any;
    digest = report?.image?.digest || report?.image?.["manifest-digest"] || undefined;
  } catch { /* no report: digest unknown */ }
  if (o.mode === "registry") return { ref: o.ref, digest };
  const { layoutRelativePath, parseReference } = await import("../oci/reference.ts");
  const written = join(layoutRoot, layoutRelativePath(parseReference(o.ref)));
  try {
    await Deno.stat(join(written, "index.json"));
  } catch {
    throw new LocaldError(`the exporter wrote no image layout at ${written}`, {
      hint: "see the exporter's output above",
      exitCode: ExitCode.build,
    });
  }
  // In layout mode report.toml has no digest; the (normalised) layout's index names it.
  digest = await normaliseLayout(written) ?? digest;
  await copyLayout(written, o.layoutDir);
  return { ref: o.ref, digest, layout: o.layoutDir };
}

const OCI_LAYER: Record<string, string> = {
  "application/vnd.docker.image.rootfs.diff.tar.gzip":
    "application/vnd.oci.image.layer.v1.tar+gzip",
  "application/vnd.docker.image.rootfs.diff.tar": "application/vnd.oci.image.layer.v1.tar",
};

/**
 * The exporter writes its own layers with Docker media types into an OCI manifest; strict
 * OCI tools (umoci) refuse such a mix. The bytes are the same, so locald rewrites the manifest
 * with OCI layer types and points index.json at it. Returns the manifest digest.
 */
export async function normaliseLayout(layout: string): Promise<string | undefined> {
  const indexPath = join(layout, "index.json");
  let index;
  try {
    index = JSON.parse(await Deno.readTextFile(indexPath));
  } catch {
    return undefined;
  }
  for (const m of index.manifests ?? []) {
    if (m.mediaType !== "application/vnd.oci.image.manifest.v1+json") continue;
    const oldPath = join(layout, "blobs", "sha256", m.digest.slice(7));
    const manifest = JSON.parse(await Deno.readTextFile(oldPath));
    let changed = false;
    for (const l of manifest.layers ?? []) {
      if (OCI_LAYER[l.mediaType]) {
        l.mediaType = OCI_LAYER[l.mediaType];
        changed = true;
      }
    }
    if (!changed) continue;
    const bytes = new TextEncoder().encode(JSON.stringify(manifest));
    const hex = [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))]
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    await Deno.writeFile(join(layout, "blobs", "sha256", hex), bytes);
    m.digest = `sha256:${hex}`;
    m.size = bytes.length;
    const tmp = `${indexPath}.tmp-${Deno.pid}`;
    await Deno.writeTextFile(tmp, JSON.stringify(index));
    await Deno.rename(tmp, indexPath);
    await Deno.remove(oldPath).catch(() => {});
  }
  return index.manifests?.[0]?.digest;
}

/** Copy an OCI layout into place: a temporary sibling, then a rename (nothing half-written). */
async function copyLayout(from: string, to: string) {
  const parent = join(to, "..");
  try {
    await Deno.mkdir(parent, { recursive: true });
  } catch (e) {
    throw new LocaldError(`cannot create ${parent}: ${(e as Error).message}`, {
      hint: "choose a writable --layout-dir",
      exitCode: ExitCode.input,
    });
  }
  const tmp = `${to}.tmp-${Deno.pid}`;
  const cp = await new Deno.Command("cp", { args: ["-a", from, tmp], stderr: "piped" }).output();
  if (!cp.success) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw new LocaldError(
      `cannot write the image layout to ${to}: ${new TextDecoder().decode(cp.stderr).trim()}`,
      { hint: "choose a writable --layout-dir with room for the image", exitCode: ExitCode.input },
    );
  }
  await Deno.remove(to, { recursive: true }).catch(() => {});
  await Deno.rename(tmp, to);
}
