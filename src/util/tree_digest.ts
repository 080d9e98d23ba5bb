/**
 * A directory tree's digest, as the build fingerprint and the builder cache use it: the walk
 * (minus .git, what .gitignore files and exclude patterns leave out, or only what include
 * names) and the gitignore-style patterns it applies.
 *
 * Files count by path, size, mode and modification time (as make does), not by content: the
 * walk costs about what `find -printf ... | sha256sum` costs on the same tree.
 */
import { sha256HexSync } from "./sha256.ts";

interface Rule {
  negate: boolean;
  dirOnly: boolean;
  /** Matches the whole relative path. */
  full: RegExp;
  /** An unanchored pattern without `**` can only match the last component: this tests it. */
  name?: RegExp;
}

function compileRules(patterns: string[]): Rule[] {
  return patterns
    .map((p) => p.trim())
    .filter((p) => p && !p.startsWith("#"))
    .map((p) => {
      const negate = p.startsWith("!");
      let pat = negate ? p.slice(1) : p;
      const dirOnly = pat.endsWith("/");
      if (dirOnly) pat = pat.slice(0, -1);
      const anchored = pat.startsWith("/") || pat.slice(0, -1).includes("/");
      pat = pat.replace(/^\//, "");
      let re = "";
      for (let i = 0; i < pat.length; i++) {
        const c = pat[i];
        if (c === "*" && pat[i + 1] === "*") {
          re += pat[i + 2] === "/" ? "(?:.*/)?" : ".*";
          i += pat[i + 2] === "/" ? 2 : 1;
        } else if (c === "*") re += "[^/]*";
        else if (c === "?") re += "[^/]";
        else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
      }
      const full = new RegExp(`^${anchored ? "" : "(?:.*/)?"}${re}$`);
      const name = !anchored && !pat.includes("**") ? new RegExp(`^${re}$`) : undefined;
      return { negate, dirOnly, full, name };
    });
}

/** A .gitignore-style pattern list, compiled. Later patterns win; `!` re-includes. */
export function compileIgnore(patterns: string[]): (rel: string, isDir: boolean) => boolean {
  const rules = compileRules(patterns);
  return (rel, isDir) => {
    let ignored = false;
    let base: string | undefined;
    for (const r of rules) {
      if (r.dirOnly && !isDir) continue;
      if (ignored !== r.negate) continue; // cannot change the answer
      // The name alone where that gives the same answer, without scanning the whole path.
      const hit = r.name
        ? r.name.test(base ??= rel.slice(rel.lastIndexOf("/") + 1))
        : r.full.test(rel);
      if (hit) ignored = !r.negate;
    }
    return ignored;
  };
}

/**
 * project.toml's `include` as pack applies it to the app directory: gitignore patterns, where
 * a pattern that matches a directory also matches everything beneath it, the last matching
 * pattern deciding (`!` excludes again). True: the path is part of the app.
 */
export function compileInclude(patterns: string[]): (rel: string, isDir: boolean) => boolean {
  const rules = compileRules(patterns);
  return (rel, isDir) => {
    const parts = rel.split("/");
    let included = false;
    for (const r of rules) {
      let hit = false;
      for (let i = 1; i <= parts.length && !hit; i++) {
        const dir = i < parts.length || isDir;
        hit = (!r.dirOnly || dir) && r.full.test(parts.slice(0, i).join("/"));
      }
      if (hit) included = !r.negate;
    }
    return included;
  };
}

export interface TreeOptions {
  /** project.toml `exclude` patterns (gitignore syntax). */
  exclude?: string[];
  /** project.toml `include` patterns: only what they match counts (see compileInclude). */
  include?: string[];
  /** Honour .gitignore files (the top-level one and nested ones). */
  gitignore?: boolean;
}

/**
 * How a walk shares its thread with other work: after `first` entries and then every `every`
 * entries it awaits `pause()`, which resolves to true to end the walk (without a digest).
 * After its first pause a paced walk lists directories asynchronously (off the main thread),
 * so that one large directory does not hold the thread either. The first pause also comes
 * earlier, before a directory that looks large (see LARGE_DIR) is listed: listing and sorting a
 * node_modules/ of thousands of packages takes milliseconds, which `first` alone would spend
 * before the pause.
 */
export interface WalkPace {
  first: number;
  every: number;
  pause(): Promise<boolean>;
}

/**
 * Was anything walked changed at or after `since` (ms: the mtime of a file written on the same
 * file system when a build's phases ended, see build.ts)? The walk then lstats directories and
 * the root too: creating, removing or renaming an entry changes its directory. Deno reports
 * ctime in whole seconds: a ctime in an earlier second is before, in a later one after; an entry
 * whose ctime falls in the same second as `since` is looked at again with `stat`'s nanosecond
 * ctime (one process for all of them, rare: only changes in that one second). Where that is not
 * possible, such an entry counts as changed.
 */
export interface ChangedSince {
  since: number;
  changed: boolean;
  /** Entries whose ctime is in the same second as `since` (see settleChanged). */
  sameSecond?: string[];
}

/** At most this many same-second entries are looked at again; more count as changed. */
const SAME_SECOND_MAX = 4096;

function noteChange(track: ChangedSince, st: Deno.FileInfo, path: string) {
  const c = st.ctime?.getTime();
  const sec = Math.floor(track.since / 1000);
  const csec = c === undefined ? Infinity : Math.floor(c / 1000);
  if (csec > sec) track.changed = true;
  else if (csec === sec) {
    const same = (track.sameSecond ??= []);
    if (same.length >= SAME_SECOND_MAX) track.changed = true;
    else same.push(path);
  }
}

/** Settle the same-second entries of a walk with `stat`'s nanosecond ctimes. */
async function settleChanged(track: ChangedSince) {
  const paths = track.sameSecond ?? [];
  track.sameSecond = undefined;
  if (track.changed || paths.length === 0) return;
  let out: Deno.CommandOutput | undefined;
  try {
    out = await new Deno.Command("stat", {
      args: ["-c", "%.9Z", "--", ...paths],
      stdout: "piped",
      stderr: "null",
    }).output();
  } catch { /* no stat: count them as changed */ }
  const lines = out?.success ? new TextDecoder().decode(out.stdout).trim().split("\n") : [];
  // "1796170235.934946597": compared as integers of milliseconds and the nanoseconds below.
  const sinceMs = BigInt(Math.floor(track.since));
  track.changed = lines.length !== paths.length || lines.some((l) => {
    const m = l.match(/^(\d+)\.(\d{9})$/);
    if (!m) return true;
    const ms = BigInt(m[1]) * 1000n + BigInt(m[2].slice(0, 3));
    return ms >= sinceMs;
  });
}

/**
 * A directory whose size on disk is larger than this looks large to a paced walk before its
 * first pause: listing and sorting it would take a millisecond or more of a head start of a few.
 * ext4 gives a directory 4 KiB blocks of about 16-24 bytes an entry (more than two blocks:
 * some 300 entries or more), tmpfs 20 bytes an entry, btrfs twice its names' length (some 400).
 * Only when the pause comes depends on it, never the digest. (An ext4 directory never shrinks:
 * one that held many entries once still looks large; its project's line then comes later.)
 */
export const LARGE_DIR = 8 * 1024;

/** Hashed in slices of about this many characters: the walk's memory does not grow with it. */
const SLICE = 1 << 16;
/** Slices shorter than this are hashed in JS (the same SHA-256). */
const SMALL = 8192;

function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
}

/**
 * Digest of a directory tree's metadata: each entry's path, and each file's size, mode and
 * modification time (a symlink's target too), in sorted order. Synchronous file-system calls
 * (one thread, no promise per file); the lines are hashed in 64 KiB slices, each slice's
 * SHA-256 leading the next.
 */
export async function treeDigest(root: string, opts: TreeOptions = {}): Promise<string> {
  return (await pacedTreeDigest(root, opts))!;
}

/**
 * treeDigest, pausing as `pace` says; undefined when a pause ended it. With `track`, also
 * whether anything walked changed since `track.since` (see ChangedSince).
 */
export async function pacedTreeDigest(
  root: string,
  opts: TreeOptions,
  pace?: WalkPace,
  track?: ChangedSince,
): Promise<string | undefined> {
  // Lines are encoded straight into one buffer that starts with the previous slice's digest;
  // no string outlives its line, so the walk allocates only short-lived garbage.
  const enc = new TextEncoder();
  const slice = new Uint8Array(32 + SLICE);
  let pos = 32;
  const flush = async () => {
    const data = slice.subarray(0, pos);
    // Web Crypto's first call costs milliseconds: a small tree's one slice is hashed in JS.
    const digest = data.length < SMALL
      ? hexBytes(sha256HexSync(data))
      : new Uint8Array(await crypto.subtle.digest("SHA-256", data));
    slice.set(digest);
    pos = 32;
  };
  const add = (line: string) => (pos += enc.encodeInto(line, slice.subarray(pos)).written);
  let walked = 0;
  let nextPause = pace?.first ?? Infinity;
  let stopped = false;
  let paused = false;
  const pause = async () => {
    paused = true;
    nextPause = walked + pace!.every;
    return (stopped = await pace!.pause());
  };
  // Until the first pause nothing else waits: listings are synchronous (faster) until then.
  const list = (dir: string) =>
    paused ? Array.fromAsync(Deno.readDir(dir)) : Array.from(Deno.readDirSync(dir));
  const looksLarge = (dir: string) => {
    try {
      return Deno.lstatSync(dir).size > LARGE_DIR;
    } catch {
      return false;
    }
  };
  const none = () => false;
  const note = (path: string, st?: Deno.FileInfo) => {
    if (track && !track.changed) {
      try {
        noteChange(track, st ?? Deno.lstatSync(path), path);
      } catch { /* vanished while walking: its directory tells */ }
    }
  };
  const included = opts.include?.length ? compileInclude(opts.include) : () => true;
  const walk = async (
    dir: string,
    rel: string,
    rules: string[],
    ignored: (r: string, d: boolean) => boolean,
  ) => {
    // A large directory waits for the first pause, then is listed off the main thread.
    if (pace && !paused && looksLarge(dir) && await pause()) return;
    let entries: Deno.DirEntry[];
    try {
      entries = await list(dir);
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // A directory's .gitignore is read only where the listing shows one.
    if (opts.gitignore && entries.some((e) => e.name === ".gitignore" && !e.isDirectory)) {
      let more: string[] = [];
      try {
        more = Deno.readTextFileSync(`${dir}/.gitignore`).split(/\r?\n/);
      } catch { /* unreadable: no rules */ }
      if (more.some((l) => l.trim() && !l.trim().startsWith("#"))) {
        rules = [...rules, ...more.map((l) => prefixRule(l, rel))];
        ignored = compileIgnore(rules);
      }
    }
    for (const e of entries) {
      if (e.name === ".git") continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (ignored(r, e.isDirectory)) continue;
      if (++walked >= nextPause && await pause()) return;
      // Room for the line (a path the system accepts is at most 4 KiB; 3 bytes a UTF-16 unit).
      if (pos + 3 * (r.length + 64) > slice.length) await flush();
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) {
        // With `include`, a directory is walked even when only something beneath it counts.
        if (included(r, true)) add(`d ${r}\n`);
        note(path);
        await walk(path, r, rules, ignored);
        if (stopped) return;
        continue;
      }
      if (!included(r, false)) continue;
      try {
        const st = Deno.lstatSync(path);
        note(path, st);
        add(`f ${r} ${st.size} ${st.mode ?? 0} ${st.mtime?.getTime() ?? 0}\n`);
        if (st.isSymlink) {
          const target = Deno.readLinkSync(path);
          if (pos + 3 * (target.length + 4) > slice.length) await flush();
          add(`l ${target}\n`);
        }
      } catch { /* vanished while walking */ }
    }
  };
  const exclude = opts.exclude ?? [];
  note(root);
  await walk(
    root.replace(/\/+$/, "") || "/",
    "",
    exclude,
    exclude.length ? compileIgnore(exclude) : none,
  );
  if (stopped) return undefined;
  if (track) await settleChanged(track);
  await flush();
  return [...slice.subarray(0, 32)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A nested .gitignore's rule, rewritten relative to the project root. */
function prefixRule(line: string, rel: string): string {
  const t = line.trim();
  if (!rel || !t || t.startsWith("#")) return t;
  const negate = t.startsWith("!");
  const body = negate ? t.slice(1) : t;
  const anchored = body.startsWith("/") || body.slice(0, -1).includes("/");
  const scoped = anchored ? `/${rel}/${body.replace(/^\//, "")}` : `/${rel}/**/${body}`;
  return (negate ? "!" : "") + scoped;
}
