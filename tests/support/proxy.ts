/**
 * A loopback HTTP proxy in front of the test registry that counts requests and injects the
 * faults real networks produce: 5xx answers and connections dropped in the middle of a blob.
 */
export interface ProxyLog {
  method: string;
  path: string;
  range?: string;
  status: number;
}

export interface FaultProxy {
  host: string;
  log: ProxyLog[];
  /** Answer the next N blob requests with 503. */
  fail503: number;
  /** Cut the next N blob bodies after this many bytes. */
  dropBlobs: number;
  dropAfter: number;
  /** Only blobs whose path contains this string get faults (default: every blob). */
  only: string;
  stop(): Promise<void>;
}

export function startProxy(upstream: string): FaultProxy {
  const ac = new AbortController();
  const state: FaultProxy = {
    host: "",
    log: [],
    fail503: 0,
    dropBlobs: 0,
    dropAfter: 1024,
    only: "",
    stop: async () => {
      ac.abort();
      await server.finished;
    },
  };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    async (req) => {
      const url = new URL(req.url);
      const isBlob = url.pathname.includes("/blobs/sha256:") && req.method === "GET" &&
        url.pathname.includes(state.only);
      const entry: ProxyLog = {
        method: req.method,
        path: url.pathname,
        range: req.headers.get("range") ?? undefined,
        status: 0,
      };
      state.log.push(entry);
      if (isBlob && state.fail503 > 0) {
        state.fail503--;
        entry.status = 503;
        return new Response("busy", { status: 503 });
      }
      const headers = new Headers(req.headers);
      headers.delete("host");
      const res = await fetch(`http://${upstream}${url.pathname}${url.search}`, {
        method: req.method,
        headers,
        body: req.body,
        redirect: "manual",
      });
      entry.status = res.status;
      const out = new Headers(res.headers);
      if (isBlob && res.ok && state.dropBlobs > 0) {
        state.dropBlobs--;
        const limit = state.dropAfter;
        const reader = res.body!.getReader();
        let sent = 0;
        const body = new ReadableStream<Uint8Array>({
          async pull(c) {
            const { done, value } = await reader.read();
            if (done) return c.close();
            if (sent + value.length >= limit) {
              c.enqueue(value.subarray(0, limit - sent));
              await reader.cancel();
              c.error(new Error("dropped by the test proxy"));
              return;
            }
            sent += value.length;
            c.enqueue(value);
          },
        });
        return new Response(body, { status: res.status, headers: out });
      }
      return new Response(res.body, { status: res.status, headers: out });
    },
  );
  state.host = `127.0.0.1:${server.addr.port}`;
  return state;
}
