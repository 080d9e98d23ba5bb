/**
 * Can this host run the stack's programs? Pure: the facts come in (gathered by
 * compat_facts.ts from a root filesystem, "/" for the host, or from one program's ELF
 * headers) and the answer is a list of reasons, each one short clause for a one-line error.
 *
 * What makes a program built for one userland fail to load on another:
 * - the C library's family: a glibc program has no loader on a musl system and the reverse;
 * - a glibc older than the one the program was linked against (`GLIBC_2.38' not found);
 * - no loader at the path the program names (NixOS has no /lib64/ld-linux-x86-64.so.2).
 * A different distribution is not a reason by itself (Debian's programs run on Ubuntu of the
 * same age), but worth saying beside one: `soft`.
 */

export type LibcFamily = "glibc" | "musl" | "unknown";

/** What matters about a system (a host, or a stack image's root filesystem). */
export interface SystemFacts {
  libc: LibcFamily;
  /** The glibc version ("2.36"), when the libc is glibc and its version was found. */
  glibc?: string;
  /** The standard program loaders present (absolute paths as programs name them). */
  loaders: string[];
  /** Parsed os-release ({} when absent). */
  osRelease: Record<string, string>;
}

/** What one program needs to load (from its ELF headers). */
export interface ProgramNeeds {
  /** PT_INTERP: the loader it names; absent for static programs. */
  interp?: string;
  /** The newest GLIBC_x.y symbol version it requires. */
  glibc?: string;
  /** DT_NEEDED: the shared libraries it names. */
  needed: string[];
  /** The newest GLIBC_x.y version it defines (libc.so.6 itself: the glibc version). */
  defines?: string;
}

export interface Verdict {
  /** True when nothing found says the host cannot run them. */
  ok: boolean;
  /** Why it cannot (each a clause: "glibc 2.36 here, the stack has 2.41"). */
  reasons: string[];
  /** Differences worth mentioning that do not stop a program by themselves. */
  soft: string[];
}

/** The loaders a glibc or musl program names, per machine (`uname -m`/Deno.build.arch). */
export const LOADERS: Record<string, { glibc: string[]; musl: string[] }> = {
  x86_64: { glibc: ["/lib64/ld-linux-x86-64.so.2"], musl: ["/lib/ld-musl-x86_64.so.1"] },
  aarch64: { glibc: ["/lib/ld-linux-aarch64.so.1"], musl: ["/lib/ld-musl-aarch64.so.1"] },
};

/** "2.36" < "2.41" < "2.41.1": -1, 0 or 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d < 0 ? -1 : 1;
  }
  return 0;
}

/**
 * The glibc version from libc.so.6's contents (its banner, "... release version 2.36.") or,
 * failing that, the newest GLIBC_x.y version it defines. `text`: the file decoded as latin1.
 */
export function parseGlibcVersion(text: string): string | undefined {
  const banner = /GNU C Library [^\n\0]*?release version (\d+\.\d+(?:\.\d+)?)/.exec(text);
  if (banner) return banner[1];
  let best: string | undefined;
  for (const m of text.matchAll(/GLIBC_(\d+\.\d+(?:\.\d+)?)\0/g)) {
    if (!best || compareVersions(m[1], best) > 0) best = m[1];
  }
  return best;
}

/** The glibc version in an old-style file name (libc-2.31.so), else undefined. */
export function glibcFromFileName(name: string): string | undefined {
  return /^libc-(\d+\.\d+(?:\.\d+)?)\.so$/.exec(name)?.[1];
}

/** "Debian GNU/Linux 13 (trixie)", or ID and VERSION_ID, or undefined. */
export function distroName(os: Record<string, string>): string | undefined {
  return os.PRETTY_NAME || [os.ID, os.VERSION_ID].filter(Boolean).join(" ") || undefined;
}

/** One system as a short phrase: "Debian GNU/Linux 12 (bookworm), glibc 2.36". */
export function describeSystem(f: SystemFacts): string {
  const libc = f.libc === "glibc"
    ? `glibc${f.glibc ? ` ${f.glibc}` : ""}`
    : f.libc === "musl"
    ? "musl"
    : "an unknown C library";
  const name = distroName(f.osRelease);
  return name ? `${name}, ${libc}` : libc;
}

function sameDistro(a: Record<string, string>, b: Record<string, string>): boolean {
  if (!a.ID || !b.ID) return true; // unknown: nothing to say
  return a.ID === b.ID && (a.VERSION_ID ?? "") === (b.VERSION_ID ?? "");
}

/** Whether `host` can run programs built for `stack` (its run or build image). */
export function stackVerdict(host: SystemFacts, stack: SystemFacts): Verdict {
  const reasons: string[] = [];
  if (host.libc !== "unknown" && stack.libc !== "unknown" && host.libc !== stack.libc) {
    reasons.push(`this host's C library is ${host.libc}, the stack's is ${stack.libc}`);
  } else if (
    host.libc === "glibc" && stack.libc === "glibc" && host.glibc && stack.glibc &&
    compareVersions(host.glibc, stack.glibc) < 0
  ) {
    reasons.push(`this host has glibc ${host.glibc}, older than the stack's ${stack.glibc}`);
  }
  const missing = stack.loaders.filter((l) => !host.loaders.includes(l));
  if (missing.length && !reasons.length) {
    reasons.push(`this host has no ${missing.join(" or ")} (the loader the stack's programs name)`);
  }
  const soft: string[] = [];
  if (!sameDistro(host.osRelease, stack.osRelease)) {
    const h = distroName(host.osRelease);
    const s = distroName(stack.osRelease);
    if (h && s) soft.push(`this host is ${h}, the stack ${s}`);
  }
  return { ok: reasons.length === 0, reasons, soft };
}

/** Whether `host` can load one program (from its ELF headers). */
export function programVerdict(host: SystemFacts, p: ProgramNeeds): Verdict {
  const reasons: string[] = [];
  const musl = p.interp !== undefined && /\/ld-musl-/.test(p.interp);
  if (p.interp !== undefined && !host.loaders.includes(p.interp)) {
    reasons.push(
      host.libc !== "unknown" && (musl ? "musl" : "glibc") !== host.libc
        ? `it is built for ${musl ? "musl" : "glibc"}, this host's C library is ${host.libc}`
        : `this host has no ${p.interp} (the loader it names)`,
    );
  }
  if (
    !reasons.length && p.glibc && host.libc === "glibc" && host.glibc &&
    compareVersions(host.glibc, p.glibc) < 0
  ) {
    reasons.push(`it needs glibc ${p.glibc}, this host has ${host.glibc}`);
  }
  return { ok: reasons.length === 0, reasons, soft: [] };
}

const SHT_DYNAMIC = 6;
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHT_GNU_VERDEF = 0x6ffffffd;
const PT_INTERP = 3;
const DT_NEEDED = 1;

/** Reads `length` bytes at `offset` (fewer at the end of the file). */
export type ReadAt = (offset: number, length: number) => Uint8Array;

/** A ReadAt over bytes in memory. */
export function bytesReader(b: Uint8Array): ReadAt {
  return (o, n) => b.subarray(o, o + n);
}

/**
 * What an ELF program needs to load, from its headers: the loader (PT_INTERP), the newest
 * GLIBC_ version it requires (.gnu.version_r) and its DT_NEEDED libraries. Reads only the
 * headers and those sections (a 100 MB program costs a few small reads). 64-bit little-endian
 * (x86_64, aarch64) only; undefined for anything else (a script, a 32-bit program, a
 * truncated file). Never throws.
 */
export function elfNeeds(readAt: ReadAt | Uint8Array): ProgramNeeds | undefined {
  const read = readAt instanceof Uint8Array ? bytesReader(readAt) : readAt;
  try {
    const h = read(0, 64);
    if (h.length < 64 || h[0] !== 0x7f || h[1] !== 0x45 || h[2] !== 0x4c || h[3] !== 0x46) {
      return undefined;
    }
    if (h[4] !== 2 || h[5] !== 1) return undefined; // ELFCLASS64, little-endian
    const view = (b: Uint8Array, need: number) => {
      if (b.length < need) throw new RangeError("truncated");
      return new DataView(b.buffer, b.byteOffset, b.byteLength);
    };
    const hv = view(h, 64);
    const u64 = (v: DataView, o: number) => Number(v.getBigUint64(o, true));
    const out: ProgramNeeds = { needed: [] };
    const str = (tab: Uint8Array, o: number) => {
      let e = o;
      while (e < tab.length && tab[e] !== 0) e++;
      if (e >= tab.length) throw new RangeError("unterminated");
      return new TextDecoder("latin1").decode(tab.subarray(o, e));
    };
    const phoff = u64(hv, 0x20),
      phsize = hv.getUint16(0x36, true),
      phnum = hv.getUint16(0x38, true);
    if (phnum && phsize >= 0x38) {
      const ph = read(phoff, phnum * phsize);
      const pv = view(ph, phnum * phsize);
      for (let i = 0; i < phnum; i++) {
        const p = i * phsize;
        if (pv.getUint32(p, true) !== PT_INTERP) continue;
        const size = u64(pv, p + 0x20);
        out.interp = str(read(u64(pv, p + 0x08), size), 0);
      }
    }
    const shoff = u64(hv, 0x28),
      shsize = hv.getUint16(0x3a, true),
      shnum = hv.getUint16(0x3c, true);
    if (!shnum || shsize < 0x40) return out;
    const sh = read(shoff, shnum * shsize);
    const sv = view(sh, shnum * shsize);
    const sect = (i: number) => {
      const s = i * shsize;
      if (i >= shnum) throw new RangeError("no such section");
      return {
        type: sv.getUint32(s + 4, true),
        offset: u64(sv, s + 0x18),
        size: u64(sv, s + 0x20),
        link: sv.getUint32(s + 0x28, true),
        info: sv.getUint32(s + 0x2c, true),
      };
    };
    const body = (s: { offset: number; size: number }) => {
      if (s.size > 1 << 24) throw new RangeError("section too large");
      return read(s.offset, s.size);
    };
    for (let i = 0; i < shnum; i++) {
      const s = sect(i);
      if (s.type === SHT_DYNAMIC) {
        const strtab = body(sect(s.link));
        const dyn = body(s);
        const dv = view(dyn, 0);
        for (let o = 0; o + 16 <= dyn.length; o += 16) {
          const tag = dv.getBigInt64(o, true);
          if (tag === 0n) break;
          if (tag === BigInt(DT_NEEDED)) out.needed.push(str(strtab, u64(dv, o + 8)));
        }
      } else if (s.type === SHT_GNU_VERDEF) {
        const strtab = body(sect(s.link));
        const vd = body(s);
        const dv = view(vd, 0);
        let n = 0;
        for (let k = 0; k < s.info; k++) {
          const m = /^GLIBC_(\d+\.\d+(?:\.\d+)?)$/.exec(
            str(strtab, dv.getUint32(n + dv.getUint32(n + 12, true), true)),
          );
          if (m && (!out.defines || compareVersions(m[1], out.defines) > 0)) out.defines = m[1];
          const next = dv.getUint32(n + 16, true);
          if (!next) break;
          n += next;
        }
      } else if (s.type === SHT_GNU_VERNEED) {
        const strtab = body(sect(s.link));
        const vn = body(s);
        const vv = view(vn, 0);
        let n = 0;
        for (let k = 0; k < s.info; k++) {
          const cnt = vv.getUint16(n + 2, true);
          let a = n + vv.getUint32(n + 8, true);
          for (let j = 0; j < cnt; j++) {
            const m = /^GLIBC_(\d+\.\d+(?:\.\d+)?)$/.exec(str(strtab, vv.getUint32(a + 8, true)));
            if (m && (!out.glibc || compareVersions(m[1], out.glibc) > 0)) out.glibc = m[1];
            const next = vv.getUint32(a + 12, true);
            if (!next) break;
            a += next;
          }
          const next = vv.getUint32(n + 12, true);
          if (!next) break;
          n += next;
        }
      }
    }
    return out;
  } catch {
    return undefined; // offsets outside the file: not a program we can read
  }
}
