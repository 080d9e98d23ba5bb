/**
 * Decompression into the caller's buffer (gzip, multi-member too, and zstd), for TarReader.
 *
 * node:zlib's streams hand out every output chunk as a new buffer, which V8 frees only at its
 * next collection: extracting a layer grew the process by tens of MiB of such garbage. Here the
 * compressed input is read into one reused buffer and inflated straight into the reader's
 * buffer, through the zlib handle that node:zlib's own streams drive (`_handle.writeSync` with
 * `_writeState`, the same in Node and in Deno). Where a runtime has no such handle the public
 * stream is used instead (one copy per chunk, the old memory profile).
 */
import { createGunzip, createZstdDecompress } from "node:zlib";
import type { Transform } from "node:stream";
import { ExitCode, LocaldError } from "../errors.ts";
import type { ByteSource } from "./tar.ts";

export type Codec = "gzip" | "zstd";

export interface InflateSource extends ByteSource {
  close(): void;
  /** True when this runtime had no zlib handle and the public stream is used (copies). */
  readonly streaming: boolean;
}

interface ZlibHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
  close(): void;
  onerror?: (message: string, errno: number) => void;
}

// zlib's Z_NO_FLUSH/Z_FINISH; zstd's ZSTD_e_continue/ZSTD_e_end.
const FLUSH = { gzip: [0, 4], zstd: [0, 2] } as const;

function corrupt(label: string, why: string, hint: string) {
  return new LocaldError(`cannot unpack ${label}: ${why}`, { hint, exitCode: ExitCode.download });
}

export interface InflateOptions {
  label?: string;
  hint?: string;
  /** Size of the compressed-input buffer (default 64 KiB). */
  bufferSize?: number;
  /** Use node:zlib's public stream even where the handle is there (tests the fallback). */
  streaming?: boolean;
}

/** Decompress `input` (gzip or zstd) into each caller's buffer. */
export function inflateSource(
  input: ByteSource,
  codec: Codec,
  opts: InflateOptions = {},
): InflateSource {
  const label = opts.label ?? "archive";
  const hint = opts.hint ?? "the archive is damaged or not compressed as it says";
  const stream = (codec === "gzip" ? createGunzip() : createZstdDecompress()) as Transform & {
    _handle?: ZlibHandle;
    _writeState?: Uint32Array;
  };
  const h = stream._handle;
  const state = stream._writeState;
  if (opts.streaming || typeof h?.writeSync !== "function" || !(state instanceof Uint32Array)) {
    return streamingSource(input, stream, label, hint, opts.bufferSize);
  }
  let error: string | undefined;
  h.onerror = (message) => {
    error ??= message;
  };
  const buf = new Uint8Array(opts.bufferSize ?? 1 << 16);
  let off = 0;
  let len = 0;
  let eof = false;
  let finished = false;
  const [noFlush, finish] = FLUSH[codec];
  return {
    streaming: false,
    async read(into) {
      if (finished || into.length === 0) return finished ? null : 0;
      for (;;) {
        if (len === 0 && !eof) {
          const n = await input.read(buf);
          if (n === null) eof = true;
          else {
            off = 0;
            len = n;
          }
        }
        h.writeSync(eof ? finish : noFlush, buf, off, len, into, 0, into.length);
        if (error !== undefined) throw corrupt(label, `${codec}: ${error}`, hint);
        const produced = into.length - state[0];
        const consumed = len - state[1];
        off += consumed;
        len -= consumed;
        if (produced > 0) return produced;
        if (eof) {
          finished = true;
          return null;
        }
        // Input there, room for output, and neither moved: the decompressor is stuck.
        if (consumed === 0 && len > 0) throw corrupt(label, `${codec}: corrupt data`, hint);
      }
    },
    close() {
      h.close();
    },
  };
}

/** The fallback: node:zlib's public stream, fed from `input`, its chunks copied out. */
function streamingSource(
  input: ByteSource,
  z: Transform,
  label: string,
  hint: string,
  bufferSize = 1 << 16,
): InflateSource {
  let failure: Error | undefined;
  z.on("error", (e: Error) => failure ??= e);
  const feed = (async () => {
    for (;;) {
      const chunk = new Uint8Array(bufferSize);
      const n = await input.read(chunk);
      if (n === null) break;
      if (!z.write(chunk.subarray(0, n))) {
        await new Promise<void>((resolve) => {
          const done = () => {
            z.off("drain", done);
            z.off("close", done);
            resolve();
          };
          z.on("drain", done);
          z.on("close", done);
        });
      }
      if (z.destroyed) return;
    }
    z.end();
  })();
  feed.catch((e) => z.destroy(e));
  const it = z[Symbol.asyncIterator]();
  let pending: Uint8Array = new Uint8Array(0);
  return {
    streaming: true,
    async read(into) {
      while (pending.length === 0) {
        let r: IteratorResult<Uint8Array>;
        try {
          r = await it.next();
        } catch (e) {
          const why = (failure ?? e as Error).message.split("\n")[0];
          throw corrupt(label, why, hint);
        }
        if (r.done) return null;
        pending = r.value;
      }
      const n = Math.min(into.length, pending.length);
      into.set(pending.subarray(0, n));
      pending = pending.subarray(n);
      return n;
    },
    close() {
      z.destroy();
    },
  };
}
