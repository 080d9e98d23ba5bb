/**
 * `locald cache ls|prune`: see what locald keeps on disk, and reclaim it.
 *
 *   ls                 per-project state (which project, last build, size, whether the project
 *                      still exists), builders and blobs, stack root filesystems (which image,
 *                      size, used by which projects), tools, partial downloads
 *   prune              remove the state of projects whose directory is gone, partial
 *                      downloads, leftovers of interrupted installs, and the stack root
 *                      filesystems no remaining project's build record names
 *   prune --all        also every project's state (tools and builders stay)
 *   prune --dry-run    say what would go
 */
import type { CommandContext } from "../context.ts";
import { flagBool } from "../args.ts";
import { UsageError } from "../../errors.ts";
import { join } from "../../util/path.ts";
import { type LocaldDirs, SHARED_STORES } from "../../config/paths.ts";
import { formatAgo, formatBytes } from "../../output.ts";
import { diskUse } from "../../util/disk_use.ts";
import { type Lock, tryLock } from "../../util/lock.ts";
import { isDir, removeIfExists } from "../../util/fs.ts";

interface ProjectEntry {
  state: string;
  projectDir?: string;
  exists: boolean;
  builtAt?: string;
  bytes: number;
}

async function projectDirOf(state: string): Promise<{ dir?: string; builtAt?: string }> {
  for (const f of RECORDS) {
    try {
      const rec = JSON.parse(await Deno.readTextFile(join(state, f)));
      if (rec.projectDir) return { dir: rec.projectDir, builtAt: rec.builtAt };
    } catch { /* try the next */ }
  }
  try {
    return { dir: (await Deno.readTextFile(join(state, "project-dir"))).trim() };
  } catch {
    return {};
  }
}

const RECORDS = ["build.json", "build.json.incomplete", "image/build.json"];

/**
 * The stack root filesystems (`<rootfs>/<hex>` paths) that the build records of the projects
 * under `dirs.projects` name, with the projects naming each.
 */
async function rootfsUsers(
  dirs: LocaldDirs,
  gone = new Set<string>(),
): Promise<Map<string, string[]>> {
  const users = new Map<string, string[]>();
  const pattern = new RegExp(
    `${dirs.rootfs.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/([0-9a-f]{64})`,
    "g",
  );
  try {
    for await (const e of Deno.readDir(dirs.projects)) {
      const state = join(dirs.projects, e.name);
      if (gone.has(state)) continue;
      const named = new Set<string>();
      for (const f of RECORDS) {
        let text: string;
        try {
          text = await Deno.readTextFile(join(state, f));
        } catch {
          continue;
        }
        for (const m of text.matchAll(pattern)) named.add(join(dirs.rootfs, m[1]));
      }
      const who = named.size ? (await projectDirOf(state)).dir ?? state : "";
      for (const p of named) users.set(p, [...(users.get(p) ?? []), who]);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return users;
}

async function projects(dirs: LocaldDirs): Promise<ProjectEntry[]> {
  const out: ProjectEntry[] = [];
  try {
    for await (const e of Deno.readDir(dirs.projects)) {
      if (!e.isDirectory) continue;
      const state = join(dirs.projects, e.name);
      const { dir, builtAt } = await projectDirOf(state);
      out.push({
        state,
        projectDir: dir,
        exists: dir ? await isDir(dir) : false,
        builtAt,
        bytes: diskUse(state),
      });
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort((a, b) => b.bytes - a.bytes);
}

/**
 * The locks whose holder uses `path` (a project's state or a leftover): prune removes it only
 * when it can take every one of them without waiting.
 */
async function locksFor(dirs: LocaldDirs, path: string) {
  const { blobLockPath, extractionLock } = await import("../../oci/store.ts");
  const under = (dir: string) => path.startsWith(dir + "/");
  if (under(dirs.projects)) return [join(path, "build.lock"), join(path, "image", "build.lock")];
  const part = path.match(/\/oci\/tmp\/([0-9a-f]{64})\.part$/);
  if (part) return [blobLockPath(dirs.oci, part[1])];
  if (/^[0-9a-f]{64}$/.test(path.slice(dirs.rootfs.length + 1)) && under(dirs.rootfs)) {
    const { rootfsUseLock } = await import("../../oci/rootfs.ts");
    return [extractionLock(dirs.oci), rootfsUseLock(path)];
  }
  if (under(dirs.oci) || under(dirs.rootfs)) return [extractionLock(dirs.oci)];
  if (under(dirs.registryAuth)) {
    const { authLockPath } = await import("../../cnb/image.ts");
    return [authLockPath(dirs.registryAuth)];
  }
  // Downloads and installs of tools: every installer's lock (one per tool and version).
  try {
    return (await Array.fromAsync(Deno.readDir(dirs.locks)))
      .filter((e) => e.name.endsWith(".lock")).map((e) => join(dirs.locks, e.name));
  } catch {
    return [];
  }
}

/** Partial downloads and trees of installs that were killed midway. */
async function leftovers(dirs: LocaldDirs): Promise<string[]> {
  const out: string[] = [];
  const scan = async (dir: string, match: (name: string) => boolean, depth: number) => {
    try {
      for await (const e of Deno.readDir(dir)) {
        const p = join(dir, e.name);
        if (match(e.name)) out.push(p);
        else if (e.isDirectory && depth > 0) await scan(p, match, depth - 1);
      }
    } catch { /* absent */ }
  };
  await scan(dirs.downloads, (n) => n.endsWith(".part"), 0);
  await scan(dirs.tools, (n) => n.startsWith(".install-"), 2);
  await scan(dirs.oci, (n) => n.endsWith(".part") || n.startsWith(".tmp-"), 3);
  // Roots kept elsewhere (WSL: the distribution's disk): their interrupted extractions.
  if (!dirs.rootfs.startsWith(dirs.oci + "/")) {
    await scan(dirs.rootfs, (n) => n.startsWith(".tmp-"), 0);
  }
  // Private Docker configs of phases whose locald was killed (they hold credentials).
  await scan(dirs.registryAuth, (n) => !n.endsWith(".lock"), 0);
  return out;
}

interface Doomed {
  path: string;
  bytes: number;
  what: string;
  rootfs?: boolean;
}

interface RootfsEntry {
  path: string;
  refs: string[];
  digest: string;
  osRelease: Record<string, string>;
  size: number;
  usedBy: string[];
}

async function rootfsListing(dirs: LocaldDirs): Promise<RootfsEntry[]> {
  if (!(await isDir(dirs.rootfs))) return [];
  const { listRootfs } = await import("../../oci/rootfs.ts");
  const users = await rootfsUsers(dirs);
  return (await listRootfs(dirs.rootfs)).map((r) => ({
    path: r.path,
    refs: r.refs,
    digest: r.digest,
    osRelease: r.osRelease,
    size: r.size,
    usedBy: users.get(r.path) ?? [],
  }));
}

/**
 * locald's places, with the projects' state and the stack roots where the backend keeps them
 * (WSL: on the distribution's disk; blobs, tools and downloads stay under locald's home).
 */
async function cacheDirs(ctx: CommandContext): Promise<LocaldDirs> {
  const { openBackend } = await import("../../hosts/select.ts");
  const b = await openBackend(ctx);
  if (!b.stateHome) return ctx.dirs;
  const { dirsUnder } = await import("../../config/paths.ts");
  const there = dirsUnder(b.stateHome);
  return { ...ctx.dirs, projects: there.projects, rootfs: there.rootfs };
}

export async function run(ctx: CommandContext): Promise<number> {
  const { args, out } = ctx;
  const [sub, ...extra] = args.positionals;
  if (extra.length || (sub !== "ls" && sub !== "prune")) {
    throw new UsageError(
      sub ? `unknown subcommand "${sub}" (use ls or prune)` : "say ls or prune",
      "cache",
    );
  }
  const dirs = await cacheDirs(ctx);
  const home = dirs.home;
  const list = await projects(dirs);
  if (sub === "ls") {
    const other: Record<string, number> = {};
    for (const part of SHARED_STORES) {
      if (await isDir(dirs[part])) other[part] = diskUse(dirs[part]);
    }
    const left = await leftovers(dirs);
    const roots = await rootfsListing(dirs);
    if (flagBool(args, "json")) {
      out.json({ home, projects: list, other, rootfs: roots, leftovers: left });
      return 0;
    }
    console.log(`locald data in ${home}`);
    console.log(`projects (${list.length}):`);
    for (const p of list) {
      const gone = p.projectDir && !p.exists ? "  [project gone: prune removes it]" : "";
      console.log(
        `  ${formatBytes(p.bytes).padStart(10)}  ${p.projectDir ?? "(unknown project)"}` +
          `${p.builtAt ? `  built ${formatAgo(p.builtAt)}` : ""}${gone}`,
      );
    }
    for (const [k, v] of Object.entries(other)) console.log(`${k.padEnd(10)} ${formatBytes(v)}`);
    if (roots.length) console.log(`stack root filesystems (${roots.length}, part of oci):`);
    for (const r of roots) {
      const used = r.usedBy.length
        ? `used by ${r.usedBy.length} project${r.usedBy.length === 1 ? "" : "s"}`
        : "unused: prune removes it";
      const os = r.osRelease.PRETTY_NAME ?? r.osRelease.ID;
      console.log(
        `  ${formatBytes(r.size).padStart(10)}  ${r.refs.join(", ")}${os ? `  (${os})` : ""}` +
          `  ${used}`,
      );
    }
    if (left.length) {
      console.log(`leftovers of interrupted work: ${left.length} (prune removes them)`);
    }
    return 0;
  }
  const all = flagBool(args, "all");
  const dry = flagBool(args, "dry-run");
  const doomed: Doomed[] = [
    ...list.filter((p) => all || !p.exists).map((p) => ({
      path: p.state,
      bytes: p.bytes,
      what: p.projectDir ?? p.state,
    })),
    ...(await leftovers(dirs)).map((p) => ({ path: p, bytes: diskUse(p), what: p })),
  ];
  let freed = 0;
  const removed: string[] = [];
  const inUse: string[] = [];
  const prune = async (d: Doomed) => {
    if (dry) {
      out.info(`would remove ${d.what} (${formatBytes(d.bytes)})`);
    } else {
      // What another locald holds (a project being built, a download or an extraction in
      // progress, a root filesystem a build or dev command runs in) stays: prune takes the
      // same locks, without waiting.
      const wanted = await locksFor(dirs, d.path);
      const locks: Lock[] = [];
      try {
        for (const path of wanted) {
          const l = tryLock(path);
          if (!l) break;
          locks.push(l);
        }
        if (locks.length < wanted.length) {
          out.info(`left ${d.what} alone: another locald is using it`);
          inUse.push(d.path);
          return;
        }
        if (d.rootfs) {
          const { removeRootfs } = await import("../../oci/rootfs.ts");
          await removeRootfs(dirs.rootfs, d.path);
        } else await removeIfExists(d.path);
      } finally {
        for (const l of locks) l.release();
      }
      out.info(`removed ${d.what} (${formatBytes(d.bytes)})`);
    }
    removed.push(d.path);
    freed += d.bytes;
  };
  for (const d of doomed) await prune(d);
  // Stack root filesystems: those no remaining project's build record names (decided once the
  // projects above are gone; a dry run counts them as gone).
  const users = await rootfsUsers(dirs, new Set(removed));
  for (const r of await rootfsListing(dirs)) {
    if (users.has(r.path)) continue;
    await prune({
      path: r.path,
      bytes: r.size,
      what: `the root filesystem of ${r.refs.join(", ")}`,
      rootfs: true,
    });
  }
  const summary = { removed, inUse, bytes: freed, dryRun: dry };
  if (flagBool(args, "json")) out.json(summary);
  else out.info(`${dry ? "would free" : "freed"} ${formatBytes(freed)}`);
  return 0;
}
