/**
 * Path joining for the hot path (`exec`, `env`, `shell`, `run`), without node:path, whose
 * import costs several milliseconds of start-up. POSIX semantics; Windows paths keep their
 * own separators.
 */
const SEP = Deno.build.os === "windows" ? "\\" : "/";

export function join(...parts: string[]): string {
  const joined = parts.filter((p) => p !== "").join(SEP).replace(/([\\/])[\\/]+/g, "$1");
  // `.` and `..` segments are resolved as node:path does (a builder's `buildpacks/../extensions`).
  return SEP === "/" && DOTS.test(joined) ? normalize(joined) : joined;
}

const DOTS = /(^|\/)\.\.?(\/|$)/;

/** A POSIX path with `.` and `..` segments resolved; `..` above a relative start is kept. */
function normalize(p: string): string {
  const abs = p.startsWith("/");
  const stack: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg !== "..") stack.push(seg);
    else if (stack.length && stack[stack.length - 1] !== "..") stack.pop();
    else if (!abs) stack.push("..");
  }
  const out = (abs ? "/" : "") + stack.join("/");
  if (out === "") return abs ? "/" : ".";
  return p.endsWith("/") && !out.endsWith("/") ? `${out}/` : out;
}

/** The path from `from` to `to` (both made absolute), as node:path's relative on POSIX. */
export function relative(from: string, to: string): string {
  const a = resolve(from).split("/").filter(Boolean);
  const b = resolve(to).split("/").filter(Boolean);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => ".."), ...b.slice(i)].join("/");
}

export function dirname(path: string): string {
  const p = path.length > 1 ? path.replace(/[\\/]+$/, "") : path;
  const i = Math.max(p.lastIndexOf("/"), p.lastIndexOf("\\"));
  if (i < 0) return ".";
  if (i === 0) return p[0];
  return /^[A-Za-z]:$/.test(p.slice(0, i)) ? p.slice(0, i + 1) : p.slice(0, i);
}

export function basename(p: string): string {
  const trimmed = p.replace(/[\\/]+$/, "");
  return trimmed.slice(Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf("\\")) + 1);
}

export function isAbsolute(p: string): boolean {
  return p.startsWith("/") || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith("\\\\");
}

/** An absolute, normalised path (`.` and `..` resolved) for POSIX paths. */
export function resolve(...parts: string[]): string {
  let out = "";
  for (const p of parts) out = isAbsolute(p) ? p : out ? `${out}/${p}` : p;
  if (!isAbsolute(out)) out = `${Deno.cwd()}/${out}`;
  if (Deno.build.os === "windows") return out;
  const stack: string[] = [];
  for (const seg of out.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") stack.pop();
    else stack.push(seg);
  }
  return "/" + stack.join("/");
}
