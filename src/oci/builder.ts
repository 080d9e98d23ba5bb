/**
 * Builders, run images and buildpack images from registries, without Docker.
 *
 *   pullBuilder(ref, opts)                 -> BuilderInfo   (/cnb extracted, labels read)
 *   pullImageToLayout(ref, layoutRoot, o)  -> path          (OCI layout for the analyzer)
 *   pullBuildpack(ref, opts)               -> BuildpackImage (<escaped-id>/<version>/ trees)
 *   listBuilders(dirs), removeBuilder(ref, dirs)
 *
 * A builder's /cnb is extracted once per manifest digest into
 * `$LOCALD_HOME/oci/builders/<hex>/cnb`, built in a temporary directory and renamed into place,
 * so a cache directory that exists is complete. `refs/` maps references to digests.
 */
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { ExitCode, LocaldError } from "../errors.ts";
import { exists, readTextIfExists, removeIfExists, writeFileAtomic } from "../util/fs.ts";
import {
  applyLayers,
  clientFor,
  fetchLayers,
  type ImageDirs,
  onlyCnb,
  type PullOptions,
  resolveImage,
  storeFor,
} from "./image.ts";
import { formatPlatform, hostPlatform } from "./manifest.ts";
import { formatReference, type ImageRef, layoutRelativePath, parseReference } from "./reference.ts";
import { holdExtraction } from "./store.ts";
import { treeDigest } from "../util/tree_digest.ts";
import {
  type BuilderDirs,
  type BuilderInfo,
  type BuilderMetadata,
  cachedBuilder,
  declaredPlatformApis,
  dirStamps,
  dirsUnchanged,
  type LifecycleApis,
  readBuilderJson,
  readRef,
  type RefRecord,
  refRecordPath,
  type RunImageRef,
} from "./builder_cache.ts";

export type { PullOptions } from "./image.ts";

export type PullPolicy = "always" | "if-not-present" | "never";

export type { BuilderInfo, BuilderMetadata, RunImageRef } from "./builder_cache.ts";

export interface BuilderPullOptions extends PullOptions {
  /** Default "if-not-present": a builder already extracted for this reference is used as is. */
  pullPolicy?: PullPolicy;
  /**
   * With "always": compare every file of the extracted tree with the extraction (a file
   * edited in place too), not only its directories.
   */
  verify?: boolean;
}

function parseJsonLabel<T>(labels: Record<string, string> | undefined, name: string): T | null {
  const v = labels?.[name];
  if (!v) return null;
  try {
    return JSON.parse(v) as T;
  } catch {
    return null;
  }
}

/**
 * Pull a builder and extract its /cnb (idempotent: an unchanged builder downloads nothing and
 * extracts nothing). Throws LocaldError with a hint for every failure a user can meet.
 */
export async function pullBuilder(
  refInput: string,
  opts: BuilderPullOptions,
): Promise<BuilderInfo> {
  const ref = parseReference(refInput);
  const canonical = formatReference(ref);
  const platform = opts.platform ?? hostPlatform();
  const pf = formatPlatform(platform);
  const recordPath = refRecordPath(opts.dirs.refs, canonical, pf);
  const policy = opts.pullPolicy ?? "if-not-present";
  if (policy !== "always") {
    const info = cachedBuilder(refInput, opts.dirs, platform);
    if (info) return info;
    if (policy === "never") {
      throw new LocaldError(`builder ${canonical} has not been pulled (pull policy "never")`, {
        hint: `run \`locald builder pull ${refInput}\`, or use --pull-policy if-not-present`,
        exitCode: ExitCode.input,
      });
    }
  }
  const o: PullOptions = { ...opts, platform, client: clientFor(opts) };
  opts.out?.info(`pulling builder ${canonical} (${pf})`);
  const img = await resolveImage(ref, o);
  const hex = img.digest.slice(7);
  const dest = join(opts.dirs.builders, hex);
  let info = readBuilderJson(dest);
  // "always" also means: what was extracted is what the image holds. A tree changed or damaged
  // since its extraction is extracted again: found by its directories' times (a file added,
  // removed or renamed), and with `verify` (or without those stamps) by a walk that compares
  // every file's size, mode and modification time with the extraction's.
  const cnb = join(dest, "cnb");
  const stamped = info?.dirStamps && dirsUnchanged(cnb, info.dirStamps);
  const damaged = info && policy === "always" && (opts.verify || !stamped) &&
    info.treeDigest !== await treeDigest(cnb);
  if (info && policy === "always" && !damaged && !stamped) {
    // Intact, but its stamps are missing (extracted by an older locald) or stale (a time
    // changed, nothing else): record them now, for the next warm pull.
    info.dirStamps = dirStamps(cnb);
    await writeFileAtomic(join(dest, "builder.json"), JSON.stringify(info, null, 2));
  }
  if (damaged) {
    opts.out?.warn(
      `the extracted builder ${canonical} was changed or damaged; extracting it again`,
    );
  }
  if (!info || damaged) {
    const layers = await fetchLayers(img, o);
    await Deno.mkdir(opts.dirs.builders, { recursive: true });
    const extracting = await holdExtraction(opts.dirs.oci, opts.out);
    try {
      await removeStaleTemps(opts.dirs.builders);
      const tmp = await Deno.makeTempDir({
        dir: opts.dirs.builders,
        prefix: `.tmp-${hex.slice(0, 12)}-`,
      });
      try {
        await applyLayers(img, layers, tmp, onlyCnb);
        info = await describeBuilder(tmp, dest, img, canonical);
        info.treeDigest = await treeDigest(join(tmp, "cnb"));
        info.dirStamps = dirStamps(join(tmp, "cnb"));
        await Deno.writeTextFile(join(tmp, "builder.json"), JSON.stringify(info, null, 2));
        // The damaged tree goes aside first (a `.tmp-` name: a leftover if we are killed).
        const aside = `${tmp}-old`;
        if (damaged) await Deno.rename(dest, aside);
        try {
          await Deno.rename(tmp, dest);
        } catch (e) {
          // Another locald extracted the same builder first; theirs is identical.
          if (!(await exists(join(dest, "builder.json")))) throw e;
          await removeIfExists(tmp);
        }
        await removeIfExists(aside);
      } catch (e) {
        await removeIfExists(tmp);
        throw e;
      }
    } finally {
      extracting.release();
    }
  }
  const rec: RefRecord = {
    ref: canonical,
    platform: pf,
    digest: img.digest,
    indexDigest: img.indexDigest,
    pulledAt: new Date().toISOString(),
  };
  await writeFileAtomic(recordPath, JSON.stringify(rec, null, 2));
  return { ...info, ref: canonical, indexDigest: img.indexDigest };
}

/** Temporary directories left by a locald that was killed mid-extraction (over an hour old). */
export async function removeStaleTemps(dir: string) {
  for await (const e of Deno.readDir(dir)) {
    if (!e.name.startsWith(".tmp-")) continue;
    const st = await Deno.lstat(join(dir, e.name)).catch(() => undefined);
    if (st?.mtime && Date.now() - st.mtime.getTime() > 3600_000) {
      await removeIfExists(join(dir, e.name));
    }
  }
}

/**
 * What sits at `rel` inside an extracted image tree, found without following links: a
 * symlink anywhere between `root` and it (the image may point one at the host's files) is an
 * error naming the image. Undefined when it is absent.
 */
export async function lstatExtracted(
  root: string,
  rel: string,
  image: string,
): Promise<Deno.FileInfo | undefined> {
  const parts = rel.split("/").filter(Boolean);
  let path = root;
  let st: Deno.FileInfo | undefined;
  for (const [i, part] of parts.entries()) {
    path = join(path, part);
    try {
      st = await Deno.lstat(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
    if (st.isSymlink) {
      const shown = `/${parts.slice(0, i + 1).join("/")}`;
      throw new LocaldError(
        `${image} is refused: ${shown} is a symbolic link (to ${await Deno.readLink(path)}), ` +
          `and locald reads ${`/${parts.join("/")}`} only as a file inside the image`,
        {
          hint: "the image is broken or hostile; use another image, or rebuild it with " +
            "regular files under /cnb",
          exitCode: ExitCode.input,
        },
      );
    }
    if (i < parts.length - 1 && !st.isDirectory) return undefined;
  }
  return st;
}

/** A metadata file of an extracted image (lstatExtracted's rules), or undefined if absent. */
export async function readExtracted(
  root: string,
  rel: string,
  image: string,
): Promise<string | undefined> {
  const st = await lstatExtracted(root, rel, image);
  if (!st?.isFile) return undefined;
  return await Deno.readTextFile(join(root, rel));
}

/** Every buildpack.toml of a `cnb/buildpacks/<id>/<version>/` tree, checked for links. */
async function checkBuildpackTrees(root: string, image: string) {
  const rel = "cnb/buildpacks";
  if (!(await lstatExtracted(root, rel, image))?.isDirectory) return;
  for await (const id of Deno.readDir(join(root, rel))) {
    await lstatExtracted(root, `${rel}/${id.name}`, image);
    if (!id.isDirectory) continue;
    for await (const v of Deno.readDir(join(root, rel, id.name))) {
      await lstatExtracted(root, `${rel}/${id.name}/${v.name}/buildpack.toml`, image);
    }
  }
}

async function describeBuilder(
  tmp: string,
  dest: string,
  img: Awaited<ReturnType<typeof resolveImage>>,
  canonical: string,
): Promise<BuilderInfo> {
  const cnbTmp = join(tmp, "cnb");
  // Metadata is read (here, and by the lifecycle later) only as files inside the extraction.
  for (const f of ["run.toml", "stack.toml", "order.toml", "build-config", "lifecycle"]) {
    await lstatExtracted(tmp, `cnb/${f}`, canonical);
  }
  await checkBuildpackTrees(tmp, canonical);
  if (!(await exists(join(cnbTmp, "buildpacks"))) && !(await exists(join(cnbTmp, "order.toml")))) {
    throw new LocaldError(
      `${canonical} is not a CNB builder: it has no /cnb/buildpacks or /cnb/order.toml`,
      {
        hint:
          "pass a builder image (e.g. heroku/builder:24); run images and app images cannot build",
        exitCode: ExitCode.input,
      },
    );
  }
  const cnbDir = join(dest, "cnb");
  const labels = img.config.config?.Labels ?? {};
  const metadata = parseJsonLabel<BuilderMetadata>(labels, "io.buildpacks.builder.metadata");
  const runImages = await readRunImages(tmp, canonical, metadata);
  let runPath: string | undefined;
  if (await exists(join(cnbTmp, "run.toml"))) runPath = join(cnbDir, "run.toml");
  else if (runImages.length) {
    // Legacy builders (stack.toml only): write the run.toml the lifecycle reads today.
    const toml = runImages.map((r) =>
      `[[images]]\nimage = ${JSON.stringify(r.image)}\nmirrors = ${JSON.stringify(r.mirrors)}\n`
    ).join("\n");
    await Deno.writeTextFile(join(cnbTmp, "run.toml"), toml);
    runPath = join(cnbDir, "run.toml");
  }
  const imageEnv: Record<string, string> = {};
  for (const kv of img.config.config?.Env ?? []) {
    const i = kv.indexOf("=");
    const k = i === -1 ? kv : kv.slice(0, i);
    if (k.startsWith("CNB_")) imageEnv[k] = i === -1 ? "" : kv.slice(i + 1);
  }
  const buildConfigEnv: Record<string, string> = {};
  const envDir = join(cnbTmp, "build-config", "env");
  if (await exists(envDir)) {
    for await (const e of Deno.readDir(envDir)) {
      const text = await readExtracted(tmp, `cnb/build-config/env/${e.name}`, canonical);
      if (text !== undefined) buildConfigEnv[e.name] = text;
    }
  }
  let order: BuilderInfo["order"] = [];
  const orderText = await readExtracted(tmp, "cnb/order.toml", canonical);
  if (orderText) {
    try {
      // deno-lint-ignore no-explicit-any
      order = ((parseToml(orderText) as any).order ?? []) as BuilderInfo["order"];
    } catch {
      throw new LocaldError(`the order.toml of ${canonical} is not valid TOML`, {
        hint: "the builder is broken; use another builder or rebuild it",
        exitCode: ExitCode.input,
      });
    }
  }
  const hasLifecycle = await exists(join(cnbTmp, "lifecycle", "lifecycle"));
  const m = img.manifest;
  return {
    ref: canonical,
    digest: img.digest,
    indexDigest: img.indexDigest,
    platform: formatPlatform(img.platform),
    root: dest,
    cnbDir,
    buildpacksDir: join(cnbDir, "buildpacks"),
    orderPath: join(cnbDir, "order.toml"),
    runPath,
    runImage: runImages[0],
    runImages,
    buildConfigDir: (await exists(join(cnbTmp, "build-config")))
      ? join(cnbDir, "build-config")
      : undefined,
    buildConfigEnv,
    imageEnv,
    lifecycleDir: hasLifecycle ? cnbDir : undefined,
    metadata,
    buildpackLayers: parseJsonLabel(labels, "io.buildpacks.buildpack.layers"),
    platformApis: declaredPlatformApis(
      parseJsonLabel<LifecycleApis>(labels, "io.buildpacks.lifecycle.apis") ??
        metadata?.lifecycle?.apis,
    ),
    order,
    size: m.layers.reduce((n, l) => n + l.size, 0),
    blobs: [img.digest, m.config.digest, ...m.layers.map((l) => l.digest)],
    pulledAt: new Date().toISOString(),
  };
}

async function readRunImages(
  root: string,
  image: string,
  md: BuilderMetadata | null,
): Promise<RunImageRef[]> {
  const norm = (x: { image?: unknown; mirrors?: unknown }) => ({
    image: String(x.image ?? ""),
    mirrors: Array.isArray(x.mirrors) ? x.mirrors.map(String) : [],
  });
  // deno-lint-ignore no-explicit-any
  const read = async (file: string): Promise<any> => {
    const text = await readExtracted(root, `cnb/${file}`, image);
    if (!text) return undefined;
    try {
      return parseToml(text);
    } catch {
      throw new LocaldError(`the ${file} of ${image} is not valid TOML`, {
        hint: "the builder is broken; use another builder or rebuild it",
        exitCode: ExitCode.input,
      });
    }
  };
  const run = await read("run.toml");
  if (run) {
    const images = (run.images ?? []).map(norm).filter((r: RunImageRef) => r.image);
    if (images.length) return images;
  }
  const stack = await read("stack.toml");
  if (stack?.["run-image"]?.image) return [norm(stack["run-image"])];
  if (md?.stack?.runImage?.image) return [norm(md.stack.runImage)];
  return [];
}

export interface LayoutOptions extends PullOptions {
  /** Also fetch and link every layer (exporting needs them; analysis needs only the config). */
  full?: boolean;
}

/**
 * Write `ref` as an OCI image layout at `<layoutRoot>/<registry>/<repository>/<tag>` (or
 * `.../sha256/<hex>` for a digest reference): the path the lifecycle's analyzer reads in layout
 * mode. Holds one manifest (this platform's), its config, and the layers when `full`. Blobs are
 * hard links into the store where possible. Returns the layout's path.
 */
export async function pullImageToLayout(
  refInput: string,
  layoutRoot: string,
  opts: LayoutOptions,
): Promise<string> {
  const ref = parseReference(refInput);
  const o: PullOptions = { ...opts, client: clientFor(opts) };
  const img = await resolveImage(ref, o);
  const store = storeFor(opts.dirs.oci);
  const blobs = [img.digest, img.manifest.config.digest];
  if (opts.full) {
    await fetchLayers(img, o);
    blobs.push(...img.manifest.layers.map((l) => l.digest));
  }
  const dest = join(layoutRoot, layoutRelativePath(ref));
  const indexJson = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{
      mediaType: img.manifestMediaType,
      digest: img.digest,
      size: img.manifestSize,
      platform: img.platform,
      annotations: ref.tag ? { "org.opencontainers.image.ref.name": ref.tag } : undefined,
    }],
  });
  if ((await readTextIfExists(join(dest, "index.json"))) === indexJson) {
    let complete = true;
    for (const b of blobs) {
      if (!(await exists(join(dest, "blobs", "sha256", b.slice(7))))) complete = false;
    }
    if (complete) return dest;
  }
  const parent = join(dest, "..");
  await Deno.mkdir(parent, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: parent, prefix: ".tmp-layout-" });
  try {
    await Deno.mkdir(join(tmp, "blobs", "sha256"), { recursive: true });
    for (const b of blobs) {
      const to = join(tmp, "blobs", "sha256", b.slice(7));
      try {
        await Deno.link(store.path(b), to);
      } catch {
        await Deno.copyFile(store.path(b), to);
      }
    }
    await Deno.writeTextFile(join(tmp, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
    await Deno.writeTextFile(join(tmp, "index.json"), indexJson);
    const old = `${dest}.old-${Deno.pid}`;
    const had = await exists(dest);
    if (had) await Deno.rename(dest, old);
    await Deno.rename(tmp, dest);
    if (had) await removeIfExists(old);
  } catch (e) {
    await removeIfExists(tmp);
    throw e;
  }
  return dest;
}

export interface BuildpackImage {
  ref: string;
  digest: string;
  /** Holds <escaped-id>/<version>/ trees: the buildpack and any it depends on. */
  buildpacksDir: string;
  /** The top-level buildpack (from io.buildpacks.buildpackage.metadata). */
  id?: string;
  version?: string;
  /** Every buildpack found: id, version and its directory. */
  buildpacks: { id: string; version: string; path: string }[];
}

/** Pull a buildpack image or buildpackage (`-b docker://REF`) and extract its /cnb/buildpacks. */
export async function pullBuildpack(refInput: string, opts: PullOptions): Promise<BuildpackImage> {
  const ref = parseReference(refInput);
  const canonical = formatReference(ref);
  const o: PullOptions = { ...opts, client: clientFor(opts) };
  opts.out?.info(`pulling buildpack ${canonical}`);
  const img = await resolveImage(ref, o);
  const dir = join(opts.dirs.oci, "buildpacks", img.digest.slice(7));
  if (!(await exists(dir))) {
    const layers = await fetchLayers(img, o);
    await Deno.mkdir(join(dir, ".."), { recursive: true });
    const extracting = await holdExtraction(opts.dirs.oci, opts.out);
    const tmp = await Deno.makeTempDir({ dir: join(dir, ".."), prefix: ".tmp-" });
    try {
      await applyLayers(
        img,
        layers,
        tmp,
        (rel) => rel === "cnb" || rel === "cnb/buildpacks" || rel.startsWith("cnb/buildpacks/"),
      );
      await checkBuildpackTrees(tmp, canonical);
      if (!(await exists(join(tmp, "cnb", "buildpacks")))) {
        throw new LocaldError(`${canonical} holds no buildpack (no /cnb/buildpacks)`, {
          hint: "-b docker://REF takes a buildpack image or buildpackage",
          exitCode: ExitCode.input,
        });
      }
      try {
        await Deno.rename(tmp, dir);
      } catch (e) {
        if (!(await exists(dir))) throw e;
        await removeIfExists(tmp);
      }
    } catch (e) {
      await removeIfExists(tmp);
      throw e;
    } finally {
      extracting.release();
    }
  }
  const buildpacksDir = join(dir, "cnb", "buildpacks");
  const buildpacks: BuildpackImage["buildpacks"] = [];
  for await (const idDir of Deno.readDir(buildpacksDir)) {
    if (!idDir.isDirectory) continue;
    for await (const v of Deno.readDir(join(buildpacksDir, idDir.name))) {
      const path = join(buildpacksDir, idDir.name, v.name);
      const toml = await readTextIfExists(join(path, "buildpack.toml"));
      let id = idDir.name.replaceAll("_", "/");
      if (toml) {
        try {
          // deno-lint-ignore no-explicit-any
          id = String((parseToml(toml) as any).buildpack?.id ?? id);
        } catch { /* keep the directory's name */ }
      }
      buildpacks.push({ id, version: v.name, path });
    }
  }
  const md = parseJsonLabel<{ id?: string; version?: string }>(
    img.config.config?.Labels,
    "io.buildpacks.buildpackage.metadata",
  );
  return {
    ref: canonical,
    digest: img.digest,
    buildpacksDir,
    id: md?.id,
    version: md?.version,
    buildpacks,
  };
}

export interface BuilderListing {
  ref: string;
  platform: string;
  digest: string;
  size: number;
  pulledAt: string;
  description?: string;
}

/** The builders pulled so far (one line per reference and platform). */
export async function listBuilders(dirs: BuilderDirs): Promise<BuilderListing[]> {
  const out: BuilderListing[] = [];
  try {
    for await (const e of Deno.readDir(dirs.refs)) {
      if (!e.name.endsWith(".json")) continue;
      const rec = readRef(join(dirs.refs, e.name));
      if (!rec) continue;
      const info = readBuilderJson(join(dirs.builders, rec.digest.slice(7)));
      if (!info) continue;
      out.push({
        ref: rec.ref,
        platform: rec.platform,
        digest: rec.digest,
        size: info.size,
        pulledAt: rec.pulledAt,
        description: info.metadata?.description,
      });
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort((a, b) => a.ref.localeCompare(b.ref));
}

/**
 * Forget a builder: its reference, its extracted /cnb (unless another reference uses the same
 * digest) and the blobs no other builder uses. Returns false when it was not pulled.
 */
export async function removeBuilder(
  refInput: string,
  dirs: ImageDirs,
): Promise<boolean> {
  const ref: ImageRef = parseReference(refInput);
  const canonical = formatReference(ref);
  const all = await listBuilders(dirs);
  const mine = all.filter((b) => b.ref === canonical);
  if (!mine.length) return false;
  const keepDigests = new Set(all.filter((b) => b.ref !== canonical).map((b) => b.digest));
  const keepBlobs = new Set<string>();
  for (const d of keepDigests) {
    const info = readBuilderJson(join(dirs.builders, d.slice(7)));
    for (const b of info?.blobs ?? []) keepBlobs.add(b);
  }
  const store = storeFor(dirs.oci);
  for (const b of mine) {
    await removeIfExists(refRecordPath(dirs.refs, b.ref, b.platform));
    if (keepDigests.has(b.digest)) continue;
    const dir = join(dirs.builders, b.digest.slice(7));
    const info = readBuilderJson(dir);
    // Remove builder.json first: a half-removed directory is then never trusted.
    await removeIfExists(join(dir, "builder.json"));
    await removeIfExists(dir);
    for (const blob of info?.blobs ?? []) {
      if (!keepBlobs.has(blob)) await removeIfExists(store.path(blob));
    }
  }
  return true;
}
