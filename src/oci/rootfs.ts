/**
 * Whole root filesystems of images (stack mode: the builder's build image with its /cnb, and the
 * run image), extracted once per manifest digest and shared by every project:
 *
 *   <LOCALD_HOME>/oci/rootfs/<hex>/root          the image's root filesystem
 *   <LOCALD_HOME>/oci/rootfs/<hex>/rootfs.json   what it is (written last: its presence means
 *                                                the tree is complete)
 *   <LOCALD_HOME>/oci/rootfs/<hex>/use.lock      held (shared) by whoever uses the root
 *   <LOCALD_HOME>/oci/rootfs/refs/<id>.json      which digest a reference pointed at
 *
 * A tree is built in a `.tmp-` directory beside it through the layer applier (verified blobs,
 * whiteouts, hard links, nothing written through a link, ownership that of the extracting user),
 * or where a backend keeps the roots elsewhere (WSL: the distribution's disk) by its RootfsWriter,
 * and renamed into place, under the shared extraction lock: a failure or a kill midway leaves
 * only a `.tmp-` leftover that nothing uses (`cache prune` removes it; so does the next
 * extraction once it is an hour old). `cache prune` removes a root no project's build record
 * names, when it can take its use lock and the extraction lock without waiting.
 */
import { join } from "node:path";
import { ExitCode, LocaldError } from "../errors.ts";
import type { LocaldDirs } from "../config/paths.ts";
import {
  exists,
  readTextIfExists,
  removeIfExists,
  resolveIn,
  writeFileAtomic,
} from "../util/fs.ts";
import { osReleaseVars } from "../util/os_release.ts";
import { acquireLock, type Lock } from "../util/lock.ts";
import { treeDigest } from "../util/tree_digest.ts";
import { diskUse } from "../util/disk_use.ts";
import {
  applyLayers,
  clientFor,
  fetchLayers,
  type ImageDirs,
  type PullOptions,
  resolveImage,
  verifiedLayers,
} from "./image.ts";
import type { FlatLayer } from "./flatten.ts";
import { readLayout, type RootLayoutRecord } from "./root_layout.ts";
import { formatPlatform, hostPlatform } from "./manifest.ts";
import { formatReference, parseReference } from "./reference.ts";
import { holdExtraction } from "./extract_lock.ts";
import {
  knownRootfs,
  readJson,
  readRootfsRecord,
  refPath,
  type Rootfs,
  type RootfsRef,
  rootfsUseLock,
  useExisting,
} from "./rootfs_known.ts";

import { type PullPolicy, removeStaleTemps } from "./builder.ts";

export { readRootfsRecord, type Rootfs, type RootfsRecord, rootfsUseLock } from "./rootfs_known.ts";

/**
 * How a root's tree is written when not by this process's layer applier: on WSL, the
 * distribution's own tar over one flattened stream (src/oci/flatten.ts), since Windows cannot
 * create the links a root is full of. The tree goes into `root` (host view, an empty directory
 * in the private `.tmp-` directory); ensureRootfs keeps its locks, record and rename.
 */
export interface RootfsWriter {
  /** Write the tree (mount points included): its os-release, size, metadata digest, layout. */
  extract(layers: FlatLayer[], root: string): Promise<{
    osRelease: Record<string, string>;
    size: number;
    treeDigest: string;
    layout: RootLayoutRecord;
  }>;
  /** The metadata digest of an extracted tree, as `extract` computed it. */
  digest(root: string): Promise<string>;
}

/** What ensureRootfs writes: the blob store (oci) and the roots (rootfs). */
export type RootfsDirs = ImageDirs & Pick<LocaldDirs, "rootfs">;

/**
 * Take the use lock of an extracted root (shared: any number of users), for a command that
 * uses a root named in a build record without calling ensureRootfs. Undefined when the root is
 * no longer there (pruned): pull it again with ensureRootfs.
 */
export async function holdRootfs(dir: string): Promise<Lock | undefined> {
  const hexDir = dir.replace(/\/root\/*$/, "");
  if (!(await exists(join(hexDir, "rootfs.json")))) return undefined;
  const lock = await acquireLock(rootfsUseLock(hexDir), "locald cache prune", undefined, {
    shared: true,
  });
  if (await exists(join(hexDir, "rootfs.json"))) return lock;
  lock.release();
  return undefined;
}

/**
 * The whole root filesystem of `refInput` for this platform, extracted once per manifest digest
 * (idempotent: a root already there is used as is, and with pull policy "if-not-present" or
 * "never" no registry is asked). `what` names the image in messages ("run image"). Throws
 * LocaldError with a hint for every failure a user can meet.
 */
export async function ensureRootfs(
  refInput: string,
  opts: PullOptions & {
    dirs: RootfsDirs;
    pullPolicy?: PullPolicy;
    what: string;
    /** Absent: the layer applier, here. */
    writer?: RootfsWriter;
    /**
     * The caller reads roots by their record (Backend.rootsByRecord): a root whose record has
     * no layout (an older locald's) is extracted again.
     */
    needLayout?: boolean;
  },
): Promise<Rootfs> {
  const ref = parseReference(refInput);
  const canonical = formatReference(ref);
  const platform = opts.platform ?? hostPlatform();
  const pf = formatPlatform(platform);
  const policy = opts.pullPolicy ?? "if-not-present";
  const base = opts.dirs.rootfs;
  const recordPath = refPath(base, canonical, pf);
  let old = false;
  if (policy !== "always") {
    const got = await knownRootfs(refInput, { ...opts, platform });
    if (got) return got;
    const known = await readJson<RootfsRef>(recordPath);
    const r = known && await readRootfsRecord(join(base, known.digest.slice(7)));
    old = opts.needLayout === true && !!r && !r.layout;
    if (policy === "never") {
      throw new LocaldError(
        old
          ? `the ${opts.what} ${canonical} was extracted by an older locald and must be ` +
            `extracted again (pull policy "never")`
          : `the ${opts.what} ${canonical} has not been pulled (pull policy "never")`,
        {
          hint: "run the command once with --pull-policy if-not-present (or always) to pull it",
          exitCode: ExitCode.input,
        },
      );
    }
  }
  const o: PullOptions = { ...opts, platform, client: clientFor(opts) };
  const img = await resolveImage(ref, o);
  const hex = img.digest.slice(7);
  const dest = join(base, hex);
  await Deno.mkdir(base, { recursive: true });
  let rec = await readRootfsRecord(dest);
  // "always" also means: what was extracted is what the image holds.
  // A record without the layout the caller reads roots by: extracted again, as a damaged one.
  const unrecorded = rec !== undefined && opts.needLayout === true && !rec.layout;
  const damaged = unrecorded || rec !== undefined && policy === "always" &&
      rec.treeDigest !== await (opts.writer?.digest ?? treeDigest)(join(dest, "root"));
  if (damaged) {
    opts.out?.warn(
      unrecorded
        ? `the extracted ${opts.what} ${canonical} was extracted by an older locald; extracting it again`
        : `the extracted ${opts.what} ${canonical} was changed or damaged; extracting it again`,
    );
  }
  let result: Rootfs | undefined;
  if (rec && !damaged) result = await useExisting(dest, canonical, opts);
  if (!result) {
    const layers = await fetchLayers(img, o);
    opts.out?.info(`extracting the ${opts.what} ${canonical} (${pf})`);
    const extracting = await holdExtraction(opts.dirs.oci, opts.out);
    try {
      await removeStaleTemps(base);
      const tmp = await Deno.makeTempDir({ dir: base, prefix: `.tmp-${hex.slice(0, 12)}-` });
      try {
        const root = join(tmp, "root");
        await Deno.mkdir(root);
        let tree;
        if (opts.writer) {
          tree = await opts.writer.extract(await verifiedLayers(img, layers), root);
        } else {
          await applyLayers(img, layers, root);
          await addMountPoints(root);
          tree = {
            osRelease: await osReleaseOf(root),
            size: diskUse(root),
            treeDigest: await treeDigest(root),
            layout: readLayout(root),
          };
        }
        const cfg = img.config.config ?? {};
        rec = {
          ref: canonical,
          digest: img.digest,
          platform: formatPlatform(img.platform),
          osRelease: tree.osRelease,
          env: cfg.Env ?? [],
          user: cfg.User || undefined,
          size: tree.size,
          blobs: [
            img.digest,
            img.manifest.config.digest,
            ...img.manifest.layers.map((l) => l.digest),
          ],
          treeDigest: tree.treeDigest,
          layout: tree.layout,
          extractedAt: new Date().toISOString(),
        };
        await Deno.writeTextFile(join(tmp, "rootfs.json"), JSON.stringify(rec, null, 2));
        // What sits at dest without a record (a damaged tree, a prune killed midway) goes aside
        // first, under a `.tmp-` name: a leftover if we are killed.
        const aside = `${tmp}-old`;
        if (damaged || (await exists(dest) && !(await readRootfsRecord(dest)))) {
          await Deno.rename(dest, aside).catch((e) => {
            if (!(e instanceof Deno.errors.NotFound)) throw e;
          });
        }
        try {
          await Deno.rename(tmp, dest);
        } catch (e) {
          // Another locald extracted the same image first; theirs is identical.
          if (!(await readRootfsRecord(dest))) throw e;
          await removeIfExists(tmp);
        }
        await removeIfExists(aside);
      } catch (e) {
        await removeIfExists(tmp);
        throw e;
      }
      result = await useExisting(dest, canonical, opts);
    } finally {
      extracting.release();
    }
    if (!result) {
      throw new LocaldError(`the ${opts.what} ${canonical} was removed while it was extracted`, {
        hint: "run the command again (a `locald cache prune` ran at the same time)",
        exitCode: ExitCode.input,
      });
    }
  }
  await writeFileAtomic(
    recordPath,
    JSON.stringify({ ref: canonical, platform: pf, digest: img.digest } satisfies RootfsRef),
  );
  return result;
}

/** The root at `hexDir` with its use lock held, or undefined when it is not (all) there. */
/**
 * The files a step's sandbox binds the host's over (HOST_ETC in src/hosts/stack.ts: name
 * resolution as on the host). Images usually lack them (a container runtime adds them when it
 * starts one); without a mount point a bind over the read-only image needs the image's whole
 * /etc shown entry by entry, about a hundred mounts on every command. Empty files, made where
 * the image has neither the file nor a link there, as a runtime's are.
 */
export const MOUNT_POINTS = ["etc/hosts", "etc/resolv.conf"];

async function addMountPoints(root: string): Promise<void> {
  const etc = await Deno.lstat(join(root, "etc")).catch(() => undefined);
  if (!etc?.isDirectory) return;
  for (const rel of MOUNT_POINTS) {
    const p = join(root, rel);
    if (await exists(p)) continue;
    await Deno.writeFile(p, new Uint8Array(), { mode: 0o644 });
  }
}

/**
 * etc/os-release (else usr/lib/os-release, as os-release(5) says) of an extracted root, read
 * with its symbolic links resolved inside the root (an image's absolute link means its own root,
 * never the host's). {} when absent.
 */
export async function osReleaseOf(root: string): Promise<Record<string, string>> {
  for (const rel of ["etc/os-release", "usr/lib/os-release"]) {
    const path = resolveIn(root, rel);
    const text = path && await readTextIfExists(path).catch(() => undefined);
    if (text !== undefined) return osReleaseVars(text);
  }
  return {};
}

export interface RootfsListing {
  /** `<rootfs>/<hex>`: the root is its root/. */
  path: string;
  ref: string;
  /** Every reference pulled that pointed at it. */
  refs: string[];
  digest: string;
  osRelease: Record<string, string>;
  size: number;
  extractedAt: string;
}

/** The extracted roots (complete ones: with a rootfs.json). */
export async function listRootfs(base: string): Promise<RootfsListing[]> {
  const refs = new Map<string, Set<string>>();
  try {
    for await (const e of Deno.readDir(join(base, "refs"))) {
      const r = e.name.endsWith(".json") && await readJson<RootfsRef>(join(base, "refs", e.name));
      if (r) refs.set(r.digest, (refs.get(r.digest) ?? new Set()).add(r.ref));
    }
  } catch { /* none yet */ }
  const out: RootfsListing[] = [];
  try {
    for await (const e of Deno.readDir(base)) {
      if (!/^[0-9a-f]{64}$/.test(e.name)) continue;
      const rec = await readRootfsRecord(join(base, e.name));
      if (!rec) continue;
      out.push({
        path: join(base, e.name),
        ref: rec.ref,
        refs: [...(refs.get(rec.digest) ?? new Set([rec.ref]))].sort(),
        digest: rec.digest,
        osRelease: rec.osRelease,
        size: rec.size,
        extractedAt: rec.extractedAt,
      });
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort((a, b) => a.ref.localeCompare(b.ref));
}

/**
 * Remove an extracted root (the caller holds its use lock and the extraction lock): its record
 * first, so a half-removed tree is never trusted, then the tree and the references to it.
 */
export async function removeRootfs(base: string, hexDir: string) {
  const rec = await readRootfsRecord(hexDir);
  await removeIfExists(join(hexDir, "rootfs.json"));
  await removeIfExists(hexDir);
  if (!rec) return;
  const refs = join(base, "refs");
  try {
    for await (const e of Deno.readDir(refs)) {
      const r = await readJson<RootfsRef>(join(refs, e.name));
      if (r?.digest === rec.digest) await removeIfExists(join(refs, e.name));
    }
  } catch { /* none */ }
}
