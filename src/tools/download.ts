/**
 * Downloads that are verified before use. Bytes go to a stable `.part` file next to the
 * destination, so a dropped connection resumes with a Range request on the next attempt (or
 * the next run); the sha256 covers the whole file; only a verified file is renamed into place.
 */
import { createHash } from "node:crypto";
import { dirname } from "node:path";
import { ExitCode, LocaldError, machineError } from "../errors.ts";
import type { Output } from "../output.ts";
import { exists, removeIfExists, sizeOf } from "../util/fs.ts";
import { hashFile } from "../util/hash_file.ts";
import { DEFAULT_NET_TIMEOUT_S, StallError, stallHint, timedFetch } from "../util/net.ts";

export interface DownloadRequest {
  url: string;
  /** Final path. Written only once the content matches `sha256`. */
  dest: string;
  /** Expected lowercase hex sha256. */
  sha256: string;
  /** Label for the progress bar. */
  label: string;
  out?: Output;
  /** Hint added to network errors (e.g. which mirror variable to set). */
  hint?: string;
  attempts?: number;
  /** The longest wait for headers and for each next chunk (LOCALD_NET_TIMEOUT; net.ts). */
  timeoutMs?: number;
  /** How to do without this download (said when the server stalls). */
  offline?: string;
}

const defaultTimeout = DEFAULT_NET_TIMEOUT_S * 1000;

export async function sha256File(path: string): Promise<string> {
  return (await hashFile(path)).hex;
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Fetch a small text resource (a checksums file). */
export async function fetchText(
  url: string,
  hint?: string,
  timeoutMs = defaultTimeout,
  offline?: string,
): Promise<string> {
  let res: Response;
  try {
    res = await timedFetch(url, {}, timeoutMs);
    if (res.ok) return await res.text();
  } catch (e) {
    throw downloadError(url, e, hint, offline);
  }
  await res.body?.cancel();
  throw new LocaldError(`cannot download ${url}: HTTP ${res.status}`, {
    hint,
    exitCode: ExitCode.download,
  });
}

/** A network failure (a stall names its host and how to do without the server). */
function downloadError(url: string, e: unknown, hint?: string, offline?: string): LocaldError {
  const stall = e instanceof StallError ? e : undefined;
  return new LocaldError(`cannot download ${url}: ${networkReason(e)}`, {
    hint: stall && offline ? stallHint(offline) : hint,
    exitCode: ExitCode.download,
    cause: e,
  });
}

function networkReason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0];
}

/** Download `url` to `dest`, verified; returns the path. Idempotent when dest already matches. */
export async function downloadVerified(req: DownloadRequest): Promise<string> {
  const expected = req.sha256.toLowerCase();
  if (await exists(req.dest)) {
    if ((await sha256File(req.dest)) === expected) return req.dest;
    await removeIfExists(req.dest);
  }
  await Deno.mkdir(dirname(req.dest), { recursive: true });
  const part = `${req.dest}.part`;
  const attempts = req.attempts ?? 4;
  let lastError: unknown;
  let restarted = false;
  // A previous run may have fetched every byte and stopped before the rename.
  if ((await exists(part)) && (await sha256File(part)) === expected) {
    await Deno.rename(part, req.dest);
    return req.dest;
  }
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const before = await sizeOf(part);
    try {
      const resumedFrom = await fetchInto(req, part);
      const got = await sha256File(part);
      if (got !== expected) {
        await removeIfExists(part);
        // A partial file left by an older run may hold other bytes (the mirror changed, or
        // it was damaged): one fresh download before calling the file bad.
        if (resumedFrom > 0 && !restarted) {
          restarted = true;
          attempt--;
          continue;
        }
        throw new LocaldError(
          `checksum mismatch for ${basename(req.url)}: expected sha256 ${expected}, got ${got}`,
          {
            hint: "nothing was installed; if you use a mirror, check that it serves the " +
              "official release files, then run the command again",
            exitCode: ExitCode.download,
          },
        );
      }
      await Deno.rename(part, req.dest);
      return req.dest;
    } catch (e) {
      // A full disk or an unwritable directory is not the network: no retry (main says so).
      if (e instanceof LocaldError || machineError(e)) throw e;
      lastError = e;
      // A try that brought new bytes resets the budget: a flaky link that keeps moving wins.
      if ((await sizeOf(part)) > before) attempt = 0;
      if (attempt < attempts) await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
    }
  }
  throw downloadError(req.url, lastError, req.hint, req.offline);
}

class HttpStatusError extends Error {}

/** Fetch into `part`, resuming what is there; returns the offset it resumed from (0: fresh). */
async function fetchInto(req: DownloadRequest, part: string): Promise<number> {
  let have = 0;
  try {
    have = (await Deno.stat(part)).size;
  } catch { /* no partial file */ }
  const headers: Record<string, string> = {};
  if (have > 0) headers.Range = `bytes=${have}-`;
  const res = await timedFetch(req.url, { headers }, req.timeoutMs ?? defaultTimeout);
  if (res.status === 416) {
    // The part file is already complete (or larger than the resource): start over.
    await res.body?.cancel();
    await removeIfExists(part);
    return await fetchInto(req, part);
  }
  if (!res.ok) {
    await res.body?.cancel();
    if (res.status >= 500) throw new HttpStatusError(`HTTP ${res.status}`);
    throw new LocaldError(`cannot download ${req.url}: HTTP ${res.status}`, {
      hint: req.hint,
      exitCode: ExitCode.download,
    });
  }
  const append = res.status === 206 && have > 0;
  if (!append) have = 0;
  const lengthHeader = res.headers.get("content-length");
  const total = lengthHeader ? have + Number(lengthHeader) : undefined;
  const file = await Deno.open(part, { write: true, create: true, append, truncate: !append });
  const bar = req.out?.progress(req.label, total);
  let done = have;
  try {
    for await (const chunk of res.body!) {
      let off = 0;
      while (off < chunk.length) off += await file.write(chunk.subarray(off));
      done += chunk.length;
      bar?.update(done);
    }
  } finally {
    file.close();
    bar?.end();
  }
  if (total !== undefined && done !== total) {
    throw new Error(`connection closed after ${done} of ${total} bytes`);
  }
  return append ? have : 0;
}

function basename(url: string): string {
  return decodeURIComponent(new URL(url).pathname.split("/").pop() ?? url);
}
