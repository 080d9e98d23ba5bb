/**
 * What a build depends on, as one digest: the source tree (minus .git, what .gitignore and
 * project.toml exclude, or only what its include names), the buildpacks (their ids, versions and files), the build-time
 * environment, the platform API, the lifecycle and the target. Equal digests mean a build
 * would see exactly the same inputs, so locald can skip it.
 *
 * Files count by path, size, mode and modification time (as make does), not by content: a
 * tree of thousands of files is fingerprinted in milliseconds.
 */
import { join } from "../util/path.ts";
import { sha256HexSync } from "../util/sha256.ts";

interface Rule {
  negate: boolean;
  dirOnly: boolean;
  full: RegExp;
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
      return { negate, dirOnly, full };
    });
}

/** A .gitignore-style pattern list, compiled. Later patterns win; `!` re-includes. */
export function compileIgnore(patterns: string[]): (rel: string, isDir: boolean) => boolean {
  const rules = compileRules(patterns);
  return (rel, isDir) => {
    let ignored = false;
    for (const r of rules) {
      if (r.dirOnly && !isDir) continue;
      if (r.full.test(rel)) ignored = !r.negate;
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

async function readLines(path: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(path)).split(/\r?\n/);
  } catch {
    return [];
  }
}

export interface TreeOptions {
  /** project.toml `exclude` patterns (gitignore syntax). */
  exclude?: string[];
  /** project.toml `include` patterns: only what they match counts (see compileInclude). */
  include?: string[];
  /** Honour .gitignore files (the top-level one and nested ones). */
  gitignore?: boolean;
}

/** Digest of a directory tree's metadata. */
export async function treeDigest(root: string, opts: TreeOptions = {}): Promise<string> {
  // Lines are collected and hashed once with Web Crypto (node:crypto's import is slow).
  const lines: string[] = [];
  const hash = { update: (s: string) => lines.push(s) };
  const included = opts.include?.length ? compileInclude(opts.include) : () => true;
  const walk = async (dir: string, rel: string, rules: string[]) => {
    let local = rules;
    if (opts.gitignore) {
      const more = await readLines(join(dir, ".gitignore"));
      if (more.length) local = [...rules, ...more.map((l) => prefixRule(l, rel))];
    }
    const ignored = compileIgnore(local);
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name === ".git") continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (ignored(r, e.isDirectory)) continue;
      if (e.isDirectory) {
        // With `include`, a directory is walked even when only something beneath it counts.
        if (included(r, true)) hash.update(`d ${r}\n`);
        await walk(join(dir, e.name), r, local);
        continue;
      }
      if (!included(r, false)) continue;
      try {
        const st = await Deno.lstat(join(dir, e.name));
        hash.update(`f ${r} ${st.size} ${st.mode ?? 0} ${st.mtime?.getTime() ?? 0}\n`);
        if (st.isSymlink) hash.update(`l ${await Deno.readLink(join(dir, e.name))}\n`);
      } catch { /* vanished while walking */ }
    }
  };
  await walk(root, "", opts.exclude ?? []);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(lines.join("")));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
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

export interface BuildInputsDigest {
  sources: string;
  buildpacks: string[];
  env: Record<string, string>;
  platformApi: string;
  lifecycle: string;
  target: string;
  builder?: string;
  isolation?: string;
  /** --default-process (absent: the buildpacks decide). */
  defaultProcess?: string;
  /** CNB_EXEC_ENV: buildpacks build differently per execution environment. */
  execEnv?: string;
}

export function combineDigest(d: BuildInputsDigest): string {
  const env = Object.entries(d.env).sort(([a], [b]) => a.localeCompare(b));
  return sha256HexSync(JSON.stringify({ ...d, env }));
}
