/**
 * `locald cache ls|prune`: see what locald keeps on disk, and reclaim it.
 *
 *   ls                 per-project state (which project, last build, size, whether the project
 *                      still exists), builders and blobs, tools, partial downloads
 *   prune              remove the state of projects whose directory is gone, partial
 *                      downloads and leftovers of interrupted installs
 *   prune --all        also every project's state (tools and builders stay)
 *   prune --dry-run    say what would go
 */
import type { CommandContext } from "../registry.ts";
import { flagBool } from "../args.ts";
import { UsageError } from "../../errors.ts";
import { join } from "../../util/path.ts";
import { localdHome } from "../../config/paths.ts";
import { formatBytes } from "../output.ts";
import { diskUse } from "../../doctor/checks.ts";
import { acquireLock } from "../../util/lock.ts";
import { isDir } from "../../util/fs.ts";

interface ProjectEntry {
  state: string;
  projectDir?: string;
  exists: boolean;
  builtAt?: string;
  bytes: number;
}

async function projectDirOf(state: string): Promise<{ dir?: string; builtAt?: string }> {
  for (const f of ["build.json", "build.json.incomplete", "image/build.json"]) {
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

async function projects(home: string): Promise<ProjectEntry[]> {
  const out: ProjectEntry[] = [];
  try {
    for await (const e of Deno.readDir(join(home, "projects"))) {
      if (!e.isDirectory) continue;
      const state = join(home, "projects", e.name);
      const { dir, builtAt } = await projectDirOf(state);
      out.push({
        state,
        projectDir: dir,
        exists: dir ? await isDir(dir) : false,
        builtAt,
        bytes: await diskUse(state),
      });
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort((a, b) => b.bytes - a.bytes);
}

/** Partial downloads and trees of installs that were killed midway. */
async function leftovers(home: string): Promise<string[]> {
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
  await scan(join(home, "downloads"), (n) => n.endsWith(".part"), 0);
  await scan(join(home, "tools"), (n) => n.startsWith(".install-"), 2);
  await scan(join(home, "oci"), (n) => n.endsWith(".part") || n.startsWith(".tmp-"), 3);
  return out;
}

export async function run({ args, env, out }: CommandContext): Promise<number> {
  const [sub, ...extra] = args.positionals;
  if (extra.length || (sub !== "ls" && sub !== "prune")) {
    throw new UsageError(
      sub ? `unknown subcommand "${sub}" (use ls or prune)` : "say ls or prune",
      "cache",
    );
  }
  const home = localdHome(env);
  const list = await projects(home);
  if (sub === "ls") {
    const other: Record<string, number> = {};
    for (const part of ["tools", "oci", "images", "downloads", "lima"]) {
      if (await isDir(join(home, part))) other[part] = await diskUse(join(home, part));
    }
    const left = await leftovers(home);
    if (flagBool(args, "json")) {
      out.json({ home, projects: list, other, leftovers: left });
      return 0;
    }
    console.log(`locald data in ${home}`);
    console.log(`projects (${list.length}):`);
    for (const p of list) {
      const gone = p.projectDir && !p.exists ? "  [project gone: prune removes it]" : "";
      console.log(
        `  ${formatBytes(p.bytes).padStart(10)}  ${p.projectDir ?? "(unknown project)"}` +
          `${p.builtAt ? `  built ${p.builtAt}` : ""}${gone}`,
      );
    }
    for (const [k, v] of Object.entries(other)) console.log(`${k.padEnd(10)} ${formatBytes(v)}`);
    if (left.length) {
      console.log(`leftovers of interrupted work: ${left.length} (prune removes them)`);
    }
    return 0;
  }
  const all = flagBool(args, "all");
  const dry = flagBool(args, "dry-run");
  const doomed = [
    ...list.filter((p) => all || !p.exists).map((p) => ({
      path: p.state,
      bytes: p.bytes,
      what: p.projectDir ?? p.state,
    })),
    ...(await Promise.all(
      (await leftovers(home)).map(async (p) => ({ path: p, bytes: await diskUse(p), what: p })),
    )),
  ];
  let freed = 0;
  for (const d of doomed) {
    if (dry) {
      out.info(`would remove ${d.what} (${formatBytes(d.bytes)})`);
    } else {
      // A project's state goes only while no build of it runs.
      const lock = d.path.startsWith(join(home, "projects"))
        ? await acquireLock(join(d.path, "build.lock"), `a build of ${d.what}`, out)
        : undefined;
      try {
        await Deno.remove(d.path, { recursive: true });
      } finally {
        lock?.release();
      }
      out.info(`removed ${d.what} (${formatBytes(d.bytes)})`);
    }
    freed += d.bytes;
  }
  const summary = { removed: doomed.map((d) => d.path), bytes: freed, dryRun: dry };
  if (flagBool(args, "json")) out.json(summary);
  else out.info(`${dry ? "would free" : "freed"} ${formatBytes(freed)}`);
  return 0;
}
