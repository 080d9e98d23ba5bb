/**
 * Every network request locald makes goes through `timedFetch`: a peer that accepts the
 * connection and then says nothing (before the headers, or in the middle of a body) never
 * errors by itself, so each wait has its own limit. LOCALD_NET_TIMEOUT (seconds, default 30)
 * sets it: the longest locald waits for a connection and headers, and for each next chunk of a
 * body. A body that keeps moving may take as long as it needs.
 */
import { ExitCode, LocaldError } from "../errors.ts";
import { after } from "./after.ts";

export const DEFAULT_NET_TIMEOUT_S = 30;

/** LOCALD_NET_TIMEOUT in milliseconds; a bad value is an input error. */
export function netTimeoutMs(env: Record<string, string>): number {
  const v = env.LOCALD_NET_TIMEOUT;
  if (v === undefined || v === "") return DEFAULT_NET_TIMEOUT_S * 1000;
  const s = Number(v);
  if (!Number.isFinite(s) || s <= 0) {
    throw new LocaldError(`LOCALD_NET_TIMEOUT must be a number of seconds above 0 (got "${v}")`, {
      hint:
        `unset it for the default (${DEFAULT_NET_TIMEOUT_S} s), or set e.g. LOCALD_NET_TIMEOUT=120`,
      exitCode: ExitCode.input,
    });
  }
  return Math.round(s * 1000);
}

/** A peer that went quiet: retried like a dropped connection, reported with its host. */
export class StallError extends Error {
  constructor(readonly host: string, readonly when: "headers" | "body", readonly ms: number) {
    super(
      when === "headers"
        ? `${host} sent no answer within ${ms / 1000} s`
        : `${host} stopped sending for ${ms / 1000} s in the middle of a download`,
    );
    this.name = "StallError";
  }
}

/** The hint for a stall: what waits longer, and how to go on without this server. */
export function stallHint(offline: string): string {
  return `the server accepted the connection and then went quiet; ${offline}, or set ` +
    `LOCALD_NET_TIMEOUT=SECONDS (default ${DEFAULT_NET_TIMEOUT_S}) to wait longer`;
}

/**
 * fetch() with a limit on the wait for headers and on every wait for the next body chunk.
 * Throws StallError (or fetch's own network errors); the body it returns errors with
 * StallError when the peer goes quiet midway.
 */
export async function timedFetch(
  url: string | URL,
  init: RequestInit,
  timeoutMs: number,
): Promise<Response> {
  const host = new URL(url).host;
  const ac = new AbortController();
  let stalled: StallError | undefined;
  const cancel = after(timeoutMs, true, () => {
    stalled = new StallError(host, "headers", timeoutMs);
    ac.abort(stalled);
  });
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: ac.signal });
  } catch (e) {
    throw stalled ?? e;
  } finally {
    cancel();
  }
  if (!res.body) return res;
  // A byte stream read into the caller's buffer: a reader that reuses one buffer (the blob
  // store's) then allocates nothing per chunk, which keeps large downloads' memory flat.
  const reader = res.body.getReader({ mode: "byob" });
  // A small body (a token, a manifest) is read in a chunk or two: timed without setTimeout.
  const small = Number(res.headers.get("content-length") ?? Infinity) <= 1 << 20;
  const body = new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: 1 << 16,
    async pull(ctrl) {
      const req = ctrl.byobRequest!;
      const v = req.view!;
      let cancel = () => {};
      const quiet = new Promise<never>((_, reject) => {
        cancel = after(timeoutMs, small, () => reject(new StallError(host, "body", timeoutMs)));
      });
      try {
        const r = await Promise.race([
          reader.read(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)),
          quiet,
        ]);
        if (r.done) {
          ctrl.close();
          if (r.value) req.respondWithNewView(r.value);
          else req.respond(0);
        } else req.respondWithNewView(r.value);
      } catch (e) {
        ac.abort(e);
        reader.cancel(e).catch(() => {});
        ctrl.error(e);
      } finally {
        cancel();
      }
    },
    cancel(reason) {
      ac.abort(reason);
      return reader.cancel(reason).catch(() => {});
    },
  });
  return new Response(body, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
}
