/**
 * What a host is, as buildpacks see it: its target (os, arch, distro, read from os-release the
 * way the lifecycle does), and the host variables a build may see. Pure facts, no backend.
 */

import { osReleaseVars } from "../util/os_release.ts";

export interface Target {
  os: string;
  arch: string;
  distro?: { name: string; version: string };
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
