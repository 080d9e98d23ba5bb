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
