/**
 * Release archives: a .tar.gz (Linux, macOS) or .zip (Windows) holding one executable, and
 * the SHA256SUMS file over them. Entries get a fixed mtime and owner so the same binary
 * always gives the same archive. Each file is written under a temporary name and renamed into
 * place, so an interrupted run never leaves a truncated archive with a final name.
 */
import { crc32, createGzip, deflateRawSync } from "node:zlib";
import { createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { basename, join } from "node:path";
import tar from "tar-stream";
import { formatSha256Sums } from "../../src/tools/checksums.ts";
import { sha256File } from "../../src/tools/download.ts";

function tmpName(path: string): string {
  return `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
}

async function intoPlace(path: string, write: (tmp: string) => Promise<void>) {
  const tmp = tmpName(path);
  try {
    await write(tmp);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/** A gzipped tar with one executable entry (mode 0755, owner 0:0). */
export async function writeTarGz(path: string, entry: string, data: Uint8Array, mtime: Date) {
  await intoPlace(path, async (tmp) => {
    const pack = tar.pack();
    pack.entry(
      { name: entry, mode: 0o755, mtime, uid: 0, gid: 0, uname: "root", gname: "root" },
      data,
    );
    pack.finalize();
    await pipeline(pack, createGzip({ level: 9 }), createWriteStream(tmp));
  });
}

function dosDateTime(d: Date): { time: number; date: number } {
  const year = Math.max(1980, d.getUTCFullYear());
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1),
    date: ((year - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

/**
 * A zip with one deflated entry. Written by hand (local header, data, central directory,
 * end record) because it is forty lines and needs no dependency; no zip64, so entries must
 * stay under 4 GiB, which a Deno binary does.
 */
export function zipBytes(entry: string, data: Uint8Array, mtime: Date): Uint8Array {
  if (data.length >= 0xffffffff) throw new Error(`${entry} is too large for a zip without zip64`);
  const name = new TextEncoder().encode(entry);
  const body = deflateRawSync(data, { level: 9 });
  const crc = crc32(data) >>> 0;
  const { time, date } = dosDateTime(mtime);

  const local = new DataView(new ArrayBuffer(30));
  local.setUint32(0, 0x04034b50, true); // local file header
  local.setUint16(4, 20, true); // version needed: 2.0 (deflate)
  local.setUint16(6, 0x0800, true); // flags: UTF-8 name
  local.setUint16(8, 8, true); // method: deflate
  local.setUint16(10, time, true);
  local.setUint16(12, date, true);
  local.setUint32(14, crc, true);
  local.setUint32(18, body.length, true);
  local.setUint32(22, data.length, true);
  local.setUint16(26, name.length, true);
  local.setUint16(28, 0, true);

  const central = new DataView(new ArrayBuffer(46));
  central.setUint32(0, 0x02014b50, true); // central directory header
  central.setUint16(4, (3 << 8) | 20, true); // made by: Unix, 2.0 (keeps the mode below)
  central.setUint16(6, 20, true);
  central.setUint16(8, 0x0800, true);
  central.setUint16(10, 8, true);
  central.setUint16(12, time, true);
  central.setUint16(14, date, true);
  central.setUint32(16, crc, true);
  central.setUint32(20, body.length, true);
  central.setUint32(24, data.length, true);
  central.setUint16(28, name.length, true);
  central.setUint32(38, ((0o100755 << 16) | 0x20) >>> 0, true); // rwxr-xr-x, archive bit
  central.setUint32(42, 0, true); // offset of the local header

  const centralOffset = 30 + name.length + body.length;
  const centralSize = 46 + name.length;
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true); // end of central directory
  end.setUint16(8, 1, true);
  end.setUint16(10, 1, true);
  end.setUint32(12, centralSize, true);
  end.setUint32(16, centralOffset, true);

  const parts = [
    new Uint8Array(local.buffer),
    name,
    body,
    new Uint8Array(central.buffer),
    name,
    new Uint8Array(end.buffer),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export async function writeZip(path: string, entry: string, data: Uint8Array, mtime: Date) {
  await intoPlace(path, (tmp) => Deno.writeFile(tmp, zipBytes(entry, data, mtime)));
}

/** SHA256SUMS over `files` (paths), in sha256sum's format, sorted by file name. */
export async function writeSha256Sums(dir: string, files: string[]): Promise<string> {
  const entries: [string, string][] = [];
  for (const f of [...files].sort((a, b) => basename(a).localeCompare(basename(b)))) {
    entries.push([basename(f), await sha256File(f)]);
  }
  const path = join(dir, "SHA256SUMS");
  await intoPlace(path, (tmp) => Deno.writeTextFile(tmp, formatSha256Sums(entries)));
  return path;
}
