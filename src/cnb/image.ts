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
import { sha256HexSync } from "../util/sha256.ts";

export interface ImageOptions {
  /** The app image: its layout path (layout mode) or where it is pushed (registry mode). */
  ref: string;
  mode: "layout" | "registry";
  /** Layout mode: where the exported OCI image layout is written. */
  layoutDir: string;
  /** locald's own images directory, when layoutDir is under it (the default). */
  ownedDir?: string;
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
  /**
   * The OCI layout (run image in, app image out). The exporter re-parses paths in it as image
   * references, which are lowercase ASCII only: a user's path (`/Users/Ada/Library/Application
   * Support`, a project called `MyApp`) must never reach it. The lifecycle's own default.
   */
  layout: "/layout-repo",
} as const;

/** The copy of the project an image build works on (see stageWorkspace). */
export function imageWorkspace(paths: ProjectPaths): string {
  return join(paths.state, "workspace");
}

/** The OCI layout directory of a state directory. */
export function layoutDirOf(paths: ProjectPaths): string {
  return join(paths.state, "layout");
}

function roots(paths: ProjectPaths): [string, string][] {
  return [
    [imageWorkspace(paths), IMAGE_ROOTS.workspace],
    [paths.layers, IMAGE_ROOTS.layers],
    [paths.cache, IMAGE_ROOTS.cache],
    [paths.platform, IMAGE_ROOTS.platform],
    [layoutDirOf(paths), IMAGE_ROOTS.layout],
  ];
}

const under = (p: string, dir: string) => p === dir || p.startsWith(dir + "/");

/** Host path to the path inside the image build's mount namespace. */
export function imageView(paths: ProjectPaths): (p: string) => string {
  const r = roots(paths);
  return (p) => {
    for (const [host, inside] of r) if (under(p, host)) return inside + p.slice(host.length);
    return p;
  };
}

/**
 * The plan's mounts with their host sources, for the namespace runner: every path inside one
 * of the standard roots (the root itself or anything beneath it) comes from the same place
 * under the root's host directory. Other paths are shown where they are.
 */
export function imageMounts(mounts: Mount[], paths: ProjectPaths): Mount[] {
  const r = roots(paths);
  return mounts.map((m) => {
    const root = r.find(([, inside]) => under(m.path, inside));
    return root ? { ...m, source: root[0] + m.path.slice(root[1].length) } : m;
  });
}

/**
 * Remove an image build's copy of the project, read-only directories included (a project or a
 * buildpack may have made some: Go's module cache is read-only).
 */
export async function removeWorkspace(dir: string): Promise<void> {
  try {
    await Deno.remove(dir, { recursive: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    const { run } = await import("../util/runner.ts");
    await run(["chmod", "-R", "u+rwx", dir], { stderr: "null" });
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * `cp -a from to`. Through Deno.Command (util/run.ts), not the dax runner: dax 0.49 reports a
 * child killed by a signal it did not send (an OOM kill) as exit 0, and a copy cut short must
 * never pass for a whole one.
 */
async function copyTree(from: string, to: string): Promise<{ ok: boolean; why: string }> {
  const { command } = await import("../util/run.ts");
  const r = await command(["cp", "-a", from, to], { stdout: "null", stderr: "piped" }).output();
  const err = new TextDecoder().decode(r.stderr).trim();
  if (r.success) return { ok: true, why: "" };
  const why = err.split("\n").pop() ||
    (r.signal ? `cp was killed by ${r.signal}` : `cp exited with ${r.code}`);
  return { ok: false, why };
}

/**
 * Copy the project to `dest` as pack copies it into a build: everything, or what project.toml's
 * `include` names, minus what its `exclude` names (gitignore patterns; see compileInclude).
 * Files keep their mode and modification time, symlinks their target; sockets and devices are
 * skipped. The image build works on the copy, so buildpacks never write into your sources
 * and excluded files never reach the image. `skip`: absolute paths never copied (locald's own
 * state, when it lives inside the project, which holds `dest`).
 */
export async function stageWorkspace(
  projectDir: string,
  dest: string,
  select: { exclude: string[]; include: string[] },
  skip: string[] = [],
): Promise<void> {
  const skipped = skip.filter((p) => p.startsWith(projectDir + "/"))
    .map((p) => p.slice(projectDir.length + 1));
  const fail = (why: string) =>
    new LocaldError(`cannot copy ${projectDir} for the image build: ${why}`, {
      hint: "check that the project is readable and the disk has room",
      exitCode: ExitCode.input,
    });
  await removeWorkspace(dest);
  await Deno.mkdir(dest, { recursive: true });
  if (!select.exclude.length && !select.include.length && !skipped.length) {
    // Everything: one cp (which clones blocks where the filesystem can).
    // Deno.Command, not the dax runner: dax reports a copy killed by a signal as a success.
    const cp = await copyTree(`${projectDir}/.`, dest);
    if (cp.ok) return;
    throw fail(cp.why);
  }
  const { compileIgnore, compileInclude } = await import("../util/tree_digest.ts");
  const ignored = compileIgnore(select.exclude);
  const excluded = (r: string, isDir: boolean) =>
    ignored(r, isDir) || skipped.some((s) => r === s || r.startsWith(s + "/"));
  const included = select.include.length ? compileInclude(select.include) : () => true;
  const made = new Set<string>([""]);
  // Parents of an included file exist even when include names only the file.
  const mkdirs = async (rel: string) => {
    if (made.has(rel)) return;
    await mkdirs(rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "");
    await Deno.mkdir(join(dest, rel)).catch((e) => {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    });
    made.add(rel);
  };
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(rel ? join(projectDir, rel) : projectDir)) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const from = join(projectDir, r);
      const to = join(dest, r);
      if (e.isDirectory) {
        if (excluded(r, true)) continue;
        if (included(r, true)) await mkdirs(r);
        await walk(r);
        // Its own mode last: a read-only directory still receives its files first.
        if (made.has(r)) modes.push([to, (await Deno.stat(from)).mode! & 0o7777]);
        continue;
      }
      if (excluded(r, false) || !included(r, false)) continue;
      await mkdirs(rel);
      // Files are copied a few at a time while the walk goes on.
      if (copying.size >= 16) await Promise.race(copying);
      const p = copy(from, to).finally(() => copying.delete(p));
      copying.add(p);
    }
  };
  const copying = new Set<Promise<void>>();
  const errors: unknown[] = [];
  const copy = async (from: string, to: string) => {
    try {
      const st = await Deno.lstat(from);
      if (st.isSymlink) {
        await Deno.symlink(await Deno.readLink(from), to);
      } else if (st.isFile) {
        await Deno.copyFile(from, to);
        await Deno.utime(to, st.atime ?? new Date(), st.mtime ?? new Date());
      }
    } catch (e) {
      errors.push(e);
    }
  };
  // Directory modes once every file is in (children before their parents).
  const modes: [string, number][] = [];
  try {
    await walk("");
    await Promise.all(copying);
    if (errors.length) throw errors[0];
    for (const [dir, mode] of modes) await Deno.chmod(dir, mode);
  } catch (e) {
    throw fail((e as Error).message);
  }
}

/** The lifecycle phases that talk to registries; only they ever see credentials. */
export const REGISTRY_PHASES: ReadonlySet<string> = new Set(["analyzer", "restorer", "exporter"]);

/**
 * Registry credentials for the lifecycle, from the same sources locald uses (Docker's
 * config.json and its helpers): the content of a Docker config, kept in locald's memory,
 * or undefined when there are none. withRegistryAuth() hands it to one phase.
 */
export async function registryAuths(
  refs: string[],
  env: Record<string, string>,
): Promise<string | undefined> {
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
  return Object.keys(auths).length ? JSON.stringify({ auths }) : undefined;
}

/**
 * Run one phase with the credentials in a private Docker config that the lifecycle reads
 * through DOCKER_CONFIG: a fresh directory (mode 0700) under `authRoot` (locald's home, which
 * no build step sees), written just before a phase that talks to registries (REGISTRY_PHASES),
 * shown to that phase alone as a read-only mount, and removed as soon as it ends. So while
 * detect and build run, buildpacks find no credentials anywhere: not on disk, not in their
 * environment. Never in a process's environment or command line (where `ps` or /proc would show
 * them, and where a VM backend would carry them on limactl's argv), never in plans, output or
 * --json.
 */
export async function withRegistryAuth<T>(
  phase: string,
  config: string | undefined,
  authRoot: string,
  run: (extra: { env: Record<string, string>; mounts: Mount[] }) => Promise<T>,
): Promise<T> {
  if (!config || !REGISTRY_PHASES.has(phase)) return await run({ env: {}, mounts: [] });
  await Deno.mkdir(authRoot, { recursive: true, mode: 0o700 });
  // Held while the config exists: `cache prune` removes only configs nobody holds (left by a
  // locald that was killed).
  const { acquireLock } = await import("../util/lock.ts");
  const lock = await acquireLock(authLockPath(authRoot), "locald cache prune", undefined, {
    shared: true,
  });
  const dir = await Deno.makeTempDir({ dir: authRoot, prefix: `${phase}-` });
  try {
    await Deno.chmod(dir, 0o700);
    await Deno.writeTextFile(join(dir, "config.json"), config, { mode: 0o600, createNew: true });
    return await run({ env: { DOCKER_CONFIG: dir }, mounts: [{ path: dir, writable: false }] });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    lock.release();
  }
}

/** The lock every phase with credentials holds (shared) under `authRoot`. */
export function authLockPath(authRoot: string): string {
  return join(authRoot, "in-use.lock");
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
 * in layout mode, where the report has none) and the layout it wrote to. `runImage` is the run
 * image's registry reference, which the image records instead of its place in the namespace.
 */
export async function exportedImage(
  o: ImageOptions,
  projectDir: string,
  paths: ProjectPaths,
  runImage: string,
): Promise<ExportedImage> {
  let digest: string | undefined;
  try {
    // deno-lint-ignore no-explicit-any
    const report = parseToml(await Deno.readTextFile(paths.report), paths.report) as any;
    digest = report?.image?.digest || report?.image?.["manifest-digest"] || undefined;
  } catch { /* no report: digest unknown */ }
  if (o.mode === "registry") return { ref: o.ref, digest };
  const { formatReference, layoutRelativePath, parseReference } = await import(
    "../oci/reference.ts"
  );
  const layoutRoot = layoutDirOf(paths);
  const written = join(layoutRoot, layoutRelativePath(parseReference(o.ref)));
  try {
    await Deno.stat(join(written, "index.json"));
  } catch {
    throw new LocaldError(`the exporter wrote no image layout at ${written}`, {
      hint: "see the exporter's output above",
      exitCode: ExitCode.build,
    });
  }
  // The run image as a registry names it (as --publish records it): repository@digest.
  const r = parseReference(runImage.replace(/^docker:\/\//, ""));
  let runDigest: string | undefined;
  try {
    const pulled = join(layoutRoot, layoutRelativePath(r), "index.json");
    runDigest = JSON.parse(await Deno.readTextFile(pulled)).manifests?.[0]?.digest;
  } catch { /* not pulled as expected: the reference stays as the exporter wrote it */ }
  const runReference = runDigest &&
    formatReference({ registry: r.registry, repository: r.repository, digest: runDigest });
  // In layout mode report.toml has no digest; the (normalised) layout's index names it.
  digest = await normaliseLayout(written, runReference) ?? digest;
  await copyLayout(written, o.layoutDir, projectDir, o.ownedDir);
  return { ref: o.ref, digest, layout: o.layoutDir };
}

const OCI_LAYER: Record<string, string> = {
  "application/vnd.docker.image.rootfs.diff.tar.gzip":
    "application/vnd.oci.image.layer.v1.tar+gzip",
  "application/vnd.docker.image.rootfs.diff.tar": "application/vnd.oci.image.layer.v1.tar",
};

const METADATA_LABEL = "io.buildpacks.lifecycle.metadata";

async function writeBlob(layout: string, bytes: Uint8Array): Promise<string> {
  const hex = sha256HexSync(bytes);
  await Deno.writeFile(join(layout, "blobs", "sha256", hex), bytes);
  return `sha256:${hex}`;
}

/**
 * The exporter writes its own layers with Docker media types into an OCI manifest; strict
 * OCI tools (umoci) refuse such a mix. The bytes are the same, so locald rewrites the manifest
 * with OCI layer types and points index.json at it. In layout mode the exporter also records
 * the run image by its path in the namespace (`/layout-repo/...`); with `runReference` that
 * becomes the run image's registry reference, as in a published image. Returns the manifest
 * digest.
 */
export async function normaliseLayout(
  layout: string,
  runReference?: string,
): Promise<string | undefined> {
  const indexPath = join(layout, "index.json");
  let index;
  try {
    index = JSON.parse(await Deno.readTextFile(indexPath));
  } catch {
    return undefined;
  }
  for (const m of index.manifests ?? []) {
    if (m.mediaType !== "application/vnd.oci.image.manifest.v1+json") continue;
    const blob = (d: string) => join(layout, "blobs", "sha256", d.slice(7));
    const oldPath = blob(m.digest);
    const manifest = JSON.parse(await Deno.readTextFile(oldPath));
    let changed = false;
    for (const l of manifest.layers ?? []) {
      if (OCI_LAYER[l.mediaType]) {
        l.mediaType = OCI_LAYER[l.mediaType];
        changed = true;
      }
    }
    const config = JSON.parse(await Deno.readTextFile(blob(manifest.config.digest)));
    const labels = config.config?.Labels ?? {};
    let meta;
    try {
      meta = JSON.parse(labels[METADATA_LABEL]);
    } catch { /* no metadata label */ }
    const recorded: unknown = meta?.runImage?.reference;
    if (
      runReference && typeof recorded === "string" &&
      recorded.startsWith(IMAGE_ROOTS.layout + "/")
    ) {
      meta.runImage.reference = runReference;
      labels[METADATA_LABEL] = JSON.stringify(meta);
      const oldConfig = blob(manifest.config.digest);
      const bytes = new TextEncoder().encode(JSON.stringify(config));
      manifest.config.digest = await writeBlob(layout, bytes);
      manifest.config.size = bytes.length;
      await Deno.remove(oldConfig).catch(() => {});
      changed = true;
    }
    if (!changed) continue;
    const bytes = new TextEncoder().encode(JSON.stringify(manifest));
    m.digest = await writeBlob(layout, bytes);
    m.size = bytes.length;
    const tmp = `${indexPath}.tmp-${Deno.pid}`;
    await Deno.writeTextFile(tmp, JSON.stringify(index));
    await Deno.rename(tmp, indexPath);
    await Deno.remove(oldPath).catch(() => {});
  }
  return index.manifests?.[0]?.digest;
}

/** The index.json annotation that marks an OCI layout as written by locald. */
const LAYOUT_MARK = "dev.locald.layout";
const LAYOUT_ENTRIES = new Set(["blobs", "index.json", "oci-layout"]);

/**
 * Whether an export may write its layout at `dir`: a new or empty directory, or an OCI layout
 * locald wrote (marked in its index.json; anywhere under `owned`, locald's own images
 * directory, any OCI layout). Never the project directory or one of its parents: the export
 * replaces what is there. Throws a LocaldError (exit 3) otherwise.
 */
export async function checkLayoutDestination(dir: string, projectDir: string, owned?: string) {
  const refuse = (why: string) =>
    new LocaldError(`--layout-dir ${dir} ${why}`, {
      hint: "export into a new or empty directory (locald replaces only image layouts it wrote)",
      exitCode: ExitCode.input,
    });
  if (projectDir === dir || projectDir.startsWith(dir.endsWith("/") ? dir : `${dir}/`)) {
    throw refuse("is the project directory or one of its parents");
  }
  let names: string[];
  try {
    names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    if (e instanceof Deno.errors.NotADirectory) throw refuse("is a file, not a directory");
    throw e;
  }
  if (!names.length) return;
  const layoutOnly = names.every((n) => LAYOUT_ENTRIES.has(n)) && names.includes("index.json");
  if (layoutOnly && owned && dir.startsWith(`${owned}/`)) return;
  if (layoutOnly) {
    try {
      const index = JSON.parse(await Deno.readTextFile(join(dir, "index.json")));
      if (index?.annotations?.[LAYOUT_MARK]) return;
    } catch { /* not a layout locald wrote */ }
  }
  throw refuse(
    `holds files (${names.slice(0, 3).join(", ")}${names.length > 3 ? ", ..." : ""}) ` +
      "and is not an image layout locald wrote",
  );
}

/** Copy an OCI layout into place: a temporary sibling, then a rename (nothing half-written). */
async function copyLayout(from: string, to: string, projectDir: string, owned?: string) {
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
  const cp = await copyTree(from, tmp);
  if (!cp.ok) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw new LocaldError(
      `cannot write the image layout to ${to}: ${cp.why}`,
      { hint: "choose a writable --layout-dir with room for the image", exitCode: ExitCode.input },
    );
  }
  // Marked as locald's, so a later export may replace it.
  const indexPath = join(tmp, "index.json");
  const index = JSON.parse(await Deno.readTextFile(indexPath));
  index.annotations = { ...index.annotations, [LAYOUT_MARK]: "1" };
  await Deno.writeTextFile(indexPath, JSON.stringify(index));
  // Checked again: the directory may have changed during the build.
  try {
    await checkLayoutDestination(to, projectDir, owned);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
  await Deno.remove(to, { recursive: true }).catch(() => {});
  await Deno.rename(tmp, to);
}
