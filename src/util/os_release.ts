/** os-release files (os-release(5)), for the host, a guest or an extracted image. Pure. */

/** os-release(5): KEY=value lines, values optionally quoted with shell-style escapes. */
export function osReleaseVars(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const m = line.match(/^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/);
    if (!m) continue;
    let v = m[2];
    const q = v[0];
    if ((q === '"' || q === "'") && v.endsWith(q) && v.length >= 2) {
      v = v.slice(1, -1);
      if (q === '"') v = v.replace(/\\([\\$"`])/g, "$1");
    }
    out[m[1]] = v;
  }
  return out;
}
