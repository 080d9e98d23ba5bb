/**
 * A fault-injecting HTTP proxy on 127.0.0.1 for any loopback server (the test registry, the
 * lifecycle mirror): it forwards requests and does to chosen answers what real networks and
 * misbehaving servers do. Faults, each for the next `times` matching requests (default: all):
 *
 * - `stall-headers`: accept the request and never answer;
 * - `stall-body`: send the headers and `after` body bytes, then nothing more;
 * - `drop`: send `after` body bytes, then break the connection;
 * - `truncate`: send `after` body bytes and end the body early (short of its Content-Length);
 * - `5xx`: answer 503;
 * - `slow`: pass the body on in 16 KiB pieces, `delayMs` apart.
 *
 * Stalled answers are released when the proxy stops.
 */
export type FaultKind = "stall-headers" | "stall-body" | "drop" | "truncate" | "5xx" | "slow";

export interface Fault {
  kind: FaultKind;
  /** Requests whose path contains this (default: every GET). */
  match?: string;
  /**
   * Where in the resource the fault strikes (stall-body, drop, truncate), counted from its
   * first byte, so a resumed request (Range) meets it at the same place. Default 1024.
   */
  after?: number;
  /** Count `after` from the start of each answer instead: every answer gets that far. */
  perAnswer?: boolean;
  /** slow: pause between pieces. Default 20 ms. */
  delayMs?: number;
  /** How many matching requests get the fault (default: all). */
  times?: number;
}

export interface FaultLog {
  method: string;
  path: string;
  range?: string;
  fault?: FaultKind;
}

export interface FaultProxy {
  /** host:port of the proxy. */
  host: string;
  url: string;
  log: FaultLog[];
  /** Replace the faults (counters start again). */
  set(faults: Fault[]): void;
  stop(): Promise<void>;
}

const PIECE = 16 * 1024;

export function startFaultProxy(upstream: string): FaultProxy {
  const base = upstream.replace(/\/+$/, "");
  const ac = new AbortController();
  let release!: () => void;
  const stopped = new Promise<void>((r) => (release = r));
  let faults: { f: Fault; used: number }[] = [];
  const log: FaultLog[] = [];

  const pick = (method: string, path: string) => {
    if (method !== "GET") return undefined;
    for (const x of faults) {
      if (x.f.match && !path.includes(x.f.match)) continue;
      if (x.f.times !== undefined && x.used >= x.f.times) continue;
      return x;
    }
    return undefined;
  };
  const BODY_FAULTS: FaultKind[] = ["stall-body", "drop", "truncate"];

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    async (req) => {
      const url = new URL(req.url);
      const chosen = pick(req.method, url.pathname);
      let fault = chosen?.f;
      const entry: FaultLog = {
        method: req.method,
        path: url.pathname,
        range: req.headers.get("range") ?? undefined,
      };
      log.push(entry);
      // A body fault counts only for a body that reaches the place where it strikes.
      if (chosen && !BODY_FAULTS.includes(chosen.f.kind)) {
        chosen.used++;
        entry.fault = chosen.f.kind;
      }
      if (fault?.kind === "stall-headers") {
        await stopped;
        return new Response("stopped", { status: 503 });
      }
      if (fault?.kind === "5xx") return new Response("busy", { status: 503 });
      const headers = new Headers(req.headers);
      headers.delete("host");
      const res = await fetch(`${base}${url.pathname}${url.search}`, {
        method: req.method,
        headers,
        body: req.body,
        redirect: "manual",
      });
      if (!fault || !res.body) return res;
      const after = fault.after ?? 1024;
      const from = Number(/^bytes=(\d+)-/.exec(req.headers.get("range") ?? "")?.[1] ?? 0);
      let sent = fault.perAnswer || res.status !== 206 ? 0 : from;
      if (BODY_FAULTS.includes(fault.kind)) {
        const length = Number(res.headers.get("content-length") ?? NaN);
        if (!res.ok || !(sent + length > after)) fault = undefined;
        else {
          chosen!.used++;
          entry.fault = fault.kind;
        }
      }
      if (!fault) return res;
      const reader = res.body.getReader();
      let pending: Uint8Array | undefined;
      const body = new ReadableStream<Uint8Array>({
        async pull(c) {
          if (!pending?.length) {
            const { done, value } = await reader.read();
            if (done) return c.close();
            pending = value;
          }
          let piece = pending;
          if (fault.kind === "slow") {
            piece = pending.subarray(0, PIECE);
            await new Promise((r) => setTimeout(r, fault.delayMs ?? 20));
          } else if (sent + pending.length >= after) {
            piece = pending.subarray(0, Math.max(0, after - sent));
          }
          pending = pending.subarray(piece.length);
          sent += piece.length;
          if (piece.length) c.enqueue(piece);
          if (fault.kind === "slow" || sent < after) return;
          await reader.cancel().catch(() => {});
          if (fault.kind === "stall-body") await stopped;
          if (fault.kind === "truncate") c.close();
          else c.error(new Error(`${fault.kind} by the test proxy`));
        },
        cancel() {
          reader.cancel().catch(() => {});
        },
      });
      return new Response(body, { status: res.status, headers: res.headers });
    },
  );
  const host = `127.0.0.1:${server.addr.port}`;
  return {
    host,
    url: `http://${host}`,
    log,
    set(list) {
      faults = list.map((f) => ({ f, used: 0 }));
    },
    async stop() {
      release();
      ac.abort();
      await server.finished;
    },
  };
}
