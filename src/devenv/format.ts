/** The environment a build adds, rendered for shells and tools. Pure. */

import { shellQuote } from "../util/shell.ts";

export type EnvDiff = { set: [string, string][]; unset: string[] };

/** Variables a shell sets for itself; not part of what the build adds. */
const SHELL_OWN = new Set(["PWD", "OLDPWD", "SHLVL", "_"]);

export function diffEnv(base: Record<string, string>, after: Record<string, string>): EnvDiff {
  const set: [string, string][] = [];
  for (const [k, v] of Object.entries(after)) {
    if (!SHELL_OWN.has(k) && base[k] !== v) set.push([k, v]);
  }
  const unset = Object.keys(base).filter((k) => !SHELL_OWN.has(k) && !(k in after));
  set.sort(([a], [b]) => a.localeCompare(b));
  return { set, unset: unset.sort() };
}

/**
 * `value` as prefix + `old` + suffix, when the build only added around the old value (PATH and
 * the `.prepend`/`.append` variables); undefined when it replaced it.
 */
export function around(old: string | undefined, value: string): [string, string] | undefined {
  if (!old || value === old) return undefined;
  const i = value.indexOf(old);
  if (i === -1) return undefined;
  const prefix = value.slice(0, i);
  const suffix = value.slice(i + old.length);
  // The joints are delimiters (":" or a `.delim` such as " "), not the middle of a word.
  const joint = /[^A-Za-z0-9_./-]/;
  if (prefix && !joint.test(prefix.at(-1)!)) return undefined;
  if (suffix && !joint.test(suffix[0])) return undefined;
  return [prefix, suffix];
}

/**
 * What `locald env` output records for the next run (as direnv's DIRENV_DIFF does): each
 * variable's value before and after it, so that `eval "$(locald env)"` twice equals once.
 */
export const ENV_MARK = "LOCALD_ENV_DIFF";

interface Mark {
  prev: Record<string, string | null>;
  next: Record<string, string | null>;
}

/** The diff, plus the record of what it changes (for shells that evaluate it). */
export function withMark(base: Record<string, string>, d: EnvDiff): EnvDiff {
  const mark: Mark = { prev: {}, next: {} };
  for (const [k, v] of d.set) {
    mark.prev[k] = base[k] ?? null;
    mark.next[k] = v;
  }
  for (const k of d.unset) {
    mark.prev[k] = base[k];
    mark.next[k] = null;
  }
  return { ...d, set: [...d.set, [ENV_MARK, JSON.stringify(mark)]] };
}

/**
 * The environment without what an earlier `eval "$(locald env)"` added: each variable it set is
 * put back, and one that was added to since (a PATH with more in front) keeps the additions.
 */
export function withoutLocaldEnv(env: Record<string, string>): Record<string, string> {
  if (!(ENV_MARK in env)) return env;
  const out = { ...env };
  delete out[ENV_MARK];
  let mark: Mark;
  try {
    mark = JSON.parse(env[ENV_MARK]);
    if (typeof mark?.prev !== "object" || typeof mark?.next !== "object") return out;
  } catch {
    return out;
  }
  for (const [k, prev] of Object.entries(mark.prev)) {
    const next = mark.next[k];
    const cur = env[k];
    if (cur === (next ?? undefined)) {
      if (prev === null) delete out[k];
      else out[k] = prev;
    } else if (cur !== undefined && next) {
      const a = around(next, cur);
      if (!a) continue;
      let [before, after] = a;
      // Nothing to put back: drop one of the joints too.
      if (!prev) after ? (after = after.slice(1)) : (before = before.slice(0, -1));
      out[k] = before + (prev ?? "") + after;
    }
  }
  return out;
}

/**
 * Shell code that applies the environment on top of what the user's startup files made of the
 * shell: variables the build only added to (PATH) get its additions in front of (or after)
 * their current value, so the user's own PATH entries stay, behind the project's tools.
 */
export function renderReapply(
  d: EnvDiff,
  base: Record<string, string>,
  shell: "sh" | "fish",
): string {
  const lines: string[] = [];
  for (const [k, v] of d.set) {
    const a = around(base[k], v);
    if (shell === "sh") {
      lines.push(
        a
          ? `export ${k}=${a[0] ? shellQuote(a[0]) : ""}"$${k}"${a[1] ? shellQuote(a[1]) : ""}`
          : `export ${k}=${shellQuote(v)}`,
      );
    } else if (k.endsWith("PATH") && (!a || /^(:|$)/.test(a[1]) && /(^|:)$/.test(a[0]))) {
      // fish keeps *PATH variables as lists.
      const items = (s: string) => s.split(":").filter(Boolean).map(fishQuote);
      lines.push(
        a
          ? `set -gx ${k} ${[...items(a[0]), `$${k}`, ...items(a[1])].join(" ")}`
          : `set -gx ${k} ${items(v).join(" ")}`,
      );
    } else {
      lines.push(
        a
          ? `set -gx ${k} ${a[0] ? fishQuote(a[0]) : ""}"$${k}"${a[1] ? fishQuote(a[1]) : ""}`
          : `set -gx ${k} ${fishQuote(v)}`,
      );
    }
  }
  for (const k of d.unset) lines.push(shell === "sh" ? `unset ${k}` : `set -e ${k}`);
  return lines.join("\n");
}

export function parseEnvZ(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of text.split("\0")) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

export const FORMATS = ["sh", "fish", "pwsh", "json", "dotenv", "direnv"] as const;
export type Format = (typeof FORMATS)[number];

/**
 * `watch` files are for direnv: its .envrc re-runs when they change (after a rebuild).
 */
export function renderEnv(d: EnvDiff, format: Format, watch: string[] = []): string {
  switch (format) {
    case "direnv":
      return [renderEnv(d, "sh"), ...watch.map((f) => `watch_file ${shellQuote(f)}`)]
        .filter(Boolean).join("\n");
    case "sh":
      return [
        ...d.set.map(([k, v]) => `export ${k}=${shellQuote(v)}`),
        ...d.unset.map((k) => `unset ${k}`),
      ].join("\n");
    case "fish":
      return [
        ...d.set.map(([k, v]) =>
          k === "PATH" || k.endsWith("PATH")
            ? `set -gx ${k} ${v.split(":").map(fishQuote).join(" ")}`
            : `set -gx ${k} ${fishQuote(v)}`
        ),
        ...d.unset.map((k) => `set -e ${k}`),
      ].join("\n");
    case "pwsh":
      return [
        ...d.set.map(([k, v]) => `$env:${k} = '${v.replaceAll("'", "''")}'`),
        ...d.unset.map((k) => `Remove-Item Env:${k} -ErrorAction SilentlyContinue`),
      ].join("\n");
    case "json":
      return JSON.stringify(
        Object.fromEntries([...d.set, ...d.unset.map((k) => [k, null] as [string, null])]),
        null,
        2,
      );
    case "dotenv":
      return d.set.map(([k, v]) =>
        `${k}="${
          v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n").replaceAll(
            "$",
            "\\$",
          )
        }"`
      ).join("\n");
  }
}

function fishQuote(s: string): string {
  return `'${s.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}
