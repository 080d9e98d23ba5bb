/**
 * What a host is, as buildpacks see it: its target (os, arch, distro, read from os-release the
 * way the lifecycle does), and the host variables a build may see. Pure facts, no backend.
 */

export interface Target {
  os: string;
  arch: string;
  distro?: { name: string; version: string };
}

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

export function parseOsRelease(text: string): { name: string; version: string } | undefined {
  const vars = osReleaseVars(text);
  if (!vars.ID) return undefined;
  return { name: vars.ID, version: vars.VERSION_ID ?? "" };
}

export function goArch(arch: string): string {
  return ({ x86_64: "amd64", aarch64: "arm64" } as Record<string, string>)[arch] ?? arch;
}

export async function hostTarget(): Promise<Target> {
  let distro: Target["distro"];
  for (const f of ["/etc/os-release", "/usr/lib/os-release"]) {
    try {
      distro = parseOsRelease(await Deno.readTextFile(f));
      if (distro) break;
    } catch { /* try the next */ }
  }
  return { os: "linux", arch: goArch(Deno.build.arch), distro };
}

/** Host variables that a build may see. Everything else (tokens, keys) stays out. */
export const PASSTHROUGH_ENV = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "LANG",
  "LC_ALL",
  "TZ",
  "TMPDIR",
  "TERM",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
];
