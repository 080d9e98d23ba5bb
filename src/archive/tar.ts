/**
 * A streaming tar reader with bounded memory: one reused buffer for headers and file bodies, so
 * reading a layer of any size allocates nothing per entry or per chunk (V8 frees short-lived
 * buffers only at its next collection, which let the peak memory of extraction grow by tens of
 * MiB). Reads ustar and GNU headers, GNU long names and long link names (`L`, `K`), PAX extended
 * headers (`path`, `linkpath`, `size`) and base-256 numbers. PAX global headers are read past.
 * Like Go's archive/tar (what image tools use), link, symlink, device, directory and fifo entries
 * carry no body whatever their size field says.
 *
 * Corrupt or truncated input is a LocaldError (exit code 5) naming the archive and the offset;
 * the reader never waits for input that cannot come.
 */
import { ExitCode, LocaldError } from "../errors.ts";

/** Something that fills a caller's buffer: the number of bytes read, or null at the end. */
export interface ByteSource {
  read(into: Uint8Array): Promise<number | null>;
}

export type TarEntryType = "file" | "directory" | "symlink" | "link" | "other";

export interface TarEntry {
  /** The entry's name as the archive gives it (PAX path, GNU long name or ustar prefix/name). */
  name: string;
  type: TarEntryType;
  /** The raw type flag ("0", "5", "3", ...; "" for an old-style NUL flag). */
  typeflag: string;
  /** Permission bits, including setuid/setgid/sticky (0o7777). */
  mode: number;
  /** Body bytes (0 for entries that carry none). */
  size: number;
  /** Link target of symlinks and hard links. */
  linkname: string;
}

export interface TarReaderOptions {
  /** Names the archive in errors ("layer 2 of example/builder:1"). */
  label?: string;
  /** The error hint (what to do about a damaged archive). */
  hint?: string;
  /** Size of the one reused buffer (at least 512; default 64 KiB). */
  bufferSize?: number;
}

const BLOCK = 512;
/** PAX headers and GNU long names larger than this are refused (real ones are a few KiB). */
export const MAX_META = 1 << 20;
const decoder = new TextDecoder();

export class TarReader {
  #src: ByteSource;
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  #eof = false;
  #done = false;
  /** Offset in the uncompressed stream of #buf[#start] (for error messages). */
  #pos = 0;
  /** Body bytes of the current entry not yet handed out, then its padding. */
  #remaining = 0;
  #padding = 0;
  #current = "";
  #label: string;
  #hint: string;

  constructor(src: ByteSource, opts: TarReaderOptions = {}) {
    this.#src = src;
    this.#buf = new Uint8Array(Math.max(BLOCK, opts.bufferSize ?? 1 << 16));
    this.#label = opts.label ?? "archive";
    this.#hint = opts.hint ?? "the archive is damaged or not a tar archive";
  }

  #fail(why: string): LocaldError {
    return new LocaldError(`cannot unpack ${this.#label}: ${why}`, {
      hint: this.#hint,
      exitCode: ExitCode.download,
    });
  }

  #truncated(): LocaldError {
    const where = this.#current ? `inside entry "${this.#current}"` : "inside a header";
    return this.#fail(`the tar archive ends early, ${where} (byte ${this.#pos + this.#avail()})`);
  }

  #avail() {
    return this.#end - this.#start;
  }

  /** Read more into the buffer after #end; false at the end of the input. */
  async #more(): Promise<boolean> {
    if (this.#eof) return false;
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
    } else if (this.#end === this.#buf.length) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    const n = await this.#src.read(this.#buf.subarray(this.#end));
    if (n === null) {
      this.#eof = true;
      return false;
    }
    this.#end += n;
    return true;
  }

  /** Make `n` bytes (at most one buffer) available; false if the input ends first. */
  async #fill(n: number): Promise<boolean> {
    if (this.#buf.length - this.#start < n) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    while (this.#avail() < n) {
      if (!(await this.#more())) return false;
    }
    return true;
  }

  #take(n: number): Uint8Array {
    const view = this.#buf.subarray(this.#start, this.#start + n);
    this.#start += n;
    this.#pos += n;
    return view;
  }

  async #skip(n: number) {
    while (n > 0) {
      if (this.#avail() === 0 && !(await this.#more())) throw this.#truncated();
      n -= this.#take(Math.min(n, this.#avail())).length;
    }
  }

  /** A metadata body (PAX records, a GNU long name): copied out, bounded by MAX_META. */
  async #meta(size: number, what: string): Promise<Uint8Array> {
    if (size > MAX_META) {
      throw this.#fail(`${what} of ${size} bytes at byte ${this.#pos} (at most ${MAX_META})`);
    }
    const out = new Uint8Array(size);
    let off = 0;
    while (off < size) {
      if (this.#avail() === 0 && !(await this.#more())) throw this.#truncated();
      const chunk = this.#take(Math.min(size - off, this.#avail()));
      out.set(chunk, off);
      off += chunk.length;
    }
    await this.#skip(pad(size));
    return out;
  }

  /**
   * The next entry, or null at the end of the archive. Whatever the previous entry's body still
   * held is read past.
   */
  async next(): Promise<TarEntry | null> {
    await this.#skip(this.#remaining + this.#padding);
    this.#remaining = this.#padding = 0;
    this.#current = "";
    if (this.#done) return null;
    let paxPath: string | undefined;
    let paxLink: string | undefined;
    let paxSize: number | undefined;
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      if (!(await this.#fill(BLOCK))) {
        // The end of the input between entries: accepted without the two zero blocks, as tar
        // does (with a warning) and as the previous reader did.
        if (this.#avail() === 0 && paxPath === undefined && longName === undefined) {
          this.#done = true;
          return null;
        }
        throw this.#truncated();
      }
      const at = this.#pos;
      const h = this.#take(BLOCK);
      if (isZero(h)) {
        this.#done = true;
        return null;
      }
      if (!checksumOk(h)) throw this.#fail(`not a tar archive (bad header checksum at byte ${at})`);
      const flag = h[156] === 0 ? "" : String.fromCharCode(h[156]);
      let size = this.#number(h, 124, 12, "size", at);
      if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
        if (flag === "g") {
          // Global records apply to the whole archive; none that matter here (path and size
          // are per entry), so they are read past.
          await this.#skip(size + pad(size));
          continue;
        }
        const body = await this.#meta(size, flag === "x" ? "a PAX header" : "a GNU long name");
        if (flag === "x") {
          const rec = this.#pax(body, at);
          paxPath = rec.path ?? paxPath;
          paxLink = rec.linkpath ?? paxLink;
          paxSize = rec.size ?? paxSize;
        } else if (flag === "L") longName = cString(body, 0, body.length);
        else longLink = cString(body, 0, body.length);
        continue;
      }
      let name = paxPath ?? longName;
      if (name === undefined) {
        name = cString(h, 0, 100);
        // POSIX ustar ("ustar\0" + "00") splits long names into prefix/name; GNU's magic
        // ("ustar  \0") uses those bytes for other fields.
        if (isUstar(h) && h[345] !== 0) name = `${cString(h, 345, 155)}/${name}`;
      }
      const linkname = paxLink ?? longLink ?? cString(h, 157, 100);
      if (paxSize !== undefined) size = paxSize;
      const mode = this.#number(h, 100, 8, "mode", at) & 0o7777;
      let type: TarEntryType;
      switch (flag) {
        case "":
        case "0":
        case "7":
          // Old tars mark directories with a trailing slash on a regular entry.
          type = name.endsWith("/") ? "directory" : "file";
          break;
        case "1":
          type = "link";
          break;
        case "2":
          type = "symlink";
          break;
        case "5":
          type = "directory";
          break;
        default:
          type = "other";
      }
      // Header-only types carry no body whatever the size field says (as Go's reader has it).
      if (type !== "file" && type !== "other" || flag === "3" || flag === "4" || flag === "6") {
        size = 0;
      }
      this.#remaining = size;
      this.#padding = pad(size);
      this.#current = name;
      return { name, type, typeflag: flag, mode, size, linkname };
    }
  }

  /**
   * The next piece of the current entry's body, or null after its last byte. The view points
   * into the reader's buffer: it is valid until the next call to body() or next().
   */
  async body(): Promise<Uint8Array | null> {
    if (this.#remaining === 0) return null;
    if (this.#avail() === 0 && !(await this.#more())) throw this.#truncated();
    const view = this.#take(Math.min(this.#remaining, this.#avail()));
    this.#remaining -= view.length;
    return view;
  }

  /** A numeric header field: octal ASCII, or base-256 when the top bit of its first byte is set. */
  #number(h: Uint8Array, off: number, len: number, what: string, at: number): number {
    if (h[off] & 0x80) {
      if (h[off] === 0xff) throw this.#fail(`negative ${what} in the header at byte ${at}`);
      let v = h[off] & 0x7f;
      for (let i = off + 1; i < off + len; i++) {
        v = v * 256 + h[i];
        if (v > Number.MAX_SAFE_INTEGER) throw this.#fail(`${what} too large at byte ${at}`);
      }
      return v;
    }
    let i = off;
    const end = off + len;
    while (i < end && (h[i] === 0x20 || h[i] === 0)) i++;
    let v = 0;
    for (; i < end && h[i] !== 0x20 && h[i] !== 0; i++) {
      const d = h[i] - 0x30;
      if (d < 0 || d > 7) throw this.#fail(`invalid ${what} in the header at byte ${at}`);
      v = v * 8 + d;
    }
    return v;
  }

  /** PAX records: "LEN key=value\n", LEN counting the whole record. */
  #pax(data: Uint8Array, at: number): { path?: string; linkpath?: string; size?: number } {
    const out: { path?: string; linkpath?: string; size?: number } = {};
    let i = 0;
    while (i < data.length) {
      if (data[i] === 0) break; // NUL padding after the last record
      let len = 0;
      let j = i;
      while (j < data.length && data[j] >= 0x30 && data[j] <= 0x39 && j - i < 10) {
        len = len * 10 + data[j] - 0x30;
        j++;
      }
      if (j === i || data[j] !== 0x20 || len <= j - i + 1 || i + len > data.length) {
        throw this.#fail(`malformed PAX header at byte ${at}`);
      }
      const rec = data.subarray(j + 1, i + len);
      if (rec[rec.length - 1] !== 0x0a) throw this.#fail(`malformed PAX header at byte ${at}`);
      const eq = rec.indexOf(0x3d);
      if (eq === -1) throw this.#fail(`malformed PAX header at byte ${at}`);
      const key = decoder.decode(rec.subarray(0, eq));
      const value = decoder.decode(rec.subarray(eq + 1, rec.length - 1));
      // An empty value removes the key: the header's own field applies again.
      if (key === "path") out.path = value || undefined;
      else if (key === "linkpath") out.linkpath = value || undefined;
      else if (key === "size") {
        if (value !== "" && !/^[0-9]{1,16}$/.test(value)) {
          throw this.#fail(`invalid PAX size "${value}" at byte ${at}`);
        }
        out.size = value === "" ? undefined : Number(value);
        if (out.size !== undefined && !Number.isSafeInteger(out.size)) {
          throw this.#fail(`PAX size too large at byte ${at}`);
        }
      }
      i += len;
    }
    return out;
  }
}

function pad(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function isZero(h: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (h[i] !== 0) return false;
  return true;
}

/** The header checksum: bytes summed with the checksum field read as spaces (signed too, for old tars). */
function checksumOk(h: Uint8Array): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  let stored = 0;
  let i = 148;
  while (i < 156 && (h[i] === 0x20 || h[i] === 0)) i++;
  let digits = 0;
  for (; i < 156 && h[i] >= 0x30 && h[i] <= 0x37; i++, digits++) stored = stored * 8 + h[i] - 0x30;
  return digits > 0 && (stored === unsigned || stored === signed);
}

function isUstar(h: Uint8Array): boolean {
  // "ustar\0" then version "00"
  return h[257] === 0x75 && h[258] === 0x73 && h[259] === 0x74 && h[260] === 0x61 &&
    h[261] === 0x72 && h[262] === 0 && h[263] === 0x30 && h[264] === 0x30;
}

/** Bytes up to the first NUL, as UTF-8. */
function cString(b: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return decoder.decode(b.subarray(off, end));
}

/** A ByteSource over an open file (reads straight into the caller's buffer). */
export function fileSource(f: Deno.FsFile): ByteSource {
  return { read: (into) => f.read(into) };
}

/** A ByteSource over a web stream: its chunks are copied out piece by piece. */
export function streamSource(stream: ReadableStream<Uint8Array>): ByteSource & { cancel(): void } {
  const reader = stream.getReader();
  let pending: Uint8Array = new Uint8Array(0);
  return {
    async read(into) {
      while (pending.length === 0) {
        const { value, done } = await reader.read();
        if (done) return null;
        pending = value;
      }
      const n = Math.min(into.length, pending.length);
      into.set(pending.subarray(0, n));
      pending = pending.subarray(n);
      return n;
    },
    cancel() {
      reader.cancel().catch(() => {});
    },
  };
}
