/**
 * The facts compat.ts judges, read from a root filesystem ("/" for this host, an extracted
 * image's root for a stack) or from a program file. Reads only; a path inside a root is
 * resolved inside it (resolveIn: an image's absolute symlink /lib64/ld-linux-x86-64.so.2 ->
 * /lib/x86_64-linux-gnu/... means the image's file, never this host's).
 */
import {
  elfNeeds,
  glibcFromFileName,
  LOADERS,
  parseGlibcVersion,
  type ProgramNeeds,
  type SystemFacts,
} from "./compat.ts";
import { osReleaseVars } from "../util/os_release.ts";
import { resolveIn } from "../util/fs.ts";

/** The directories a libc.so.6 lives in, per machine. */
function libDirs(machine: string): string[] {
  const triplet = machine === "aarch64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
  return [
    `/lib/${triplet}`,
    `/usr/lib/${triplet}`,
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
  ];
}

/** This machine's name as `uname -m` says it. */
export function machineName(arch: string = Deno.build.arch): string {
  return arch === "aarch64" || arch === "arm64" ? "aarch64" : "x86_64";
}

/** The facts of the system under `root` ("/" for this host). */
export async function systemFacts(root: string, machine = machineName()): Promise<SystemFacts> {
  const loaders: string[] = [];
  const l = LOADERS[machine] ?? LOADERS.x86_64;
  for (const p of [...l.glibc, ...l.musl]) {
    if (resolveIn(root, p)) loaders.push(p);
  }
  let osRelease: Record<string, string> = {};
  for (const p of ["/etc/os-release", "/usr/lib/os-release"]) {
    const f = resolveIn(root, p);
    if (!f) continue;
    try {
      osRelease = osReleaseVars(await Deno.readTextFile(f));
      break;
    } catch { /* unreadable: next */ }
  }
  let glibc: string | undefined;
  let found = false;
  for (const dir of libDirs(machine)) {
    const link = `${root.replace(/\/+$/, "")}${dir}/libc.so.6`;
    const f = resolveIn(root, `${dir}/libc.so.6`);
    if (!f) continue;
    found = true;
    // An old-style name says it (libc-2.31.so); else the versions libc.so.6 defines (a few
    // small reads); else its banner.
    try {
      glibc = glibcFromFileName(f.slice(f.lastIndexOf("/") + 1)) ??
        glibcFromFileName((await Deno.readLink(link).catch(() => "")).replace(/^.*\//, "")) ??
        programNeeds(f)?.defines ??
        parseGlibcVersion(new TextDecoder("latin1").decode(await Deno.readFile(f)));
    } catch { /* unreadable: version unknown */ }
    break;
  }
  const musl = loaders.some((p) => l.musl.includes(p));
  const libc = found || loaders.some((p) => l.glibc.includes(p))
    ? "glibc"
    : musl
    ? "musl"
    : "unknown";
  return { libc, ...(glibc ? { glibc } : {}), loaders, osRelease };
}

/** What the program file at `path` needs to load, or undefined (not ELF, unreadable). */
export function programNeeds(path: string): ProgramNeeds | undefined {
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(path);
  } catch {
    return undefined;
  }
  try {
    return elfNeeds((offset, length) => {
      const buf = new Uint8Array(length);
      f.seekSync(offset, Deno.SeekMode.Start);
      let n = 0;
      while (n < length) {
        const r = f.readSync(buf.subarray(n));
        if (r === null) break;
        n += r;
      }
      return buf.subarray(0, n);
    });
  } finally {
    f.close();
  }
}
