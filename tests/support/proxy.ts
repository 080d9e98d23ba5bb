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
  /**
   * When set, the proxy acts as a registry with a token service (as Docker Hub and GHCR do):
   * /v2/ requests need `Bearer <token>`, and /token hands tokens out to anonymous callers
   * (when `anonymous`) or to those with these basic-auth credentials.
   */
  bearer?: { user: string; password: string; anonymous: boolean };
  /** Token requests seen (query strings, to check service and scope). */
  tokenRequests: string[];
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
    tokenRequests: [],
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
      if (state.bearer) {
        const b = state.bearer;
        if (url.pathname === "/token") {
          state.tokenRequests.push(url.search);
          const auth = req.headers.get("authorization");
          const ok = auth === `Basic ${btoa(`${b.user}:${b.password}`)}` ||
            (!auth && b.anonymous);
          entry.status = ok ? 200 : 401;
          if (!ok) return new Response("{}", { status: 401 });
          return Response.json({ token: `tok-${auth ? "user" : "anon"}` });
        }
        const auth = req.headers.get("authorization") ?? "";
        if (!/^Bearer tok-/.test(auth)) {
          entry.status = 401;
          const repo = url.pathname.split("/").slice(2, -2).join("/");
          return new Response("{}", {
            status: 401,
            headers: {
              "WWW-Authenticate":
                `Bearer realm="http://${state.host}/token",service="test-registry",` +
                `scope="repository:${repo}:pull"`,
            },
          });
        }
      }
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
