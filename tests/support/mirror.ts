/**
 * A static file server on 127.0.0.1 for tests: serves one directory over plain HTTP/1.1
 * (one request per connection), honours `Range: bytes=N-` and `bytes=N-M`, and injects faults
 * per path so download code meets what real networks do to it.
 *
 *   const m = await startMirror(dir, { "/a.tgz": { cutAfter: 1000, times: 1 } });
 *   ... m.url ... m.requests ...
 *   await m.close();
 *
 * Written on raw TCP on purpose: cutting a connection after N bytes or stalling mid-body needs
 * control that a framework hides.
 */
import { join, normalize } from "node:path";

export interface Fault {
  /** Send the headers (with the full length) and this many body bytes, then drop the connection. */
  cutAfter?: number;
  /** Send the headers and this many body bytes, then send nothing more (until closed). */
  stallAfter?: number;
  /** Answer with this HTTP status instead of the file. */
  status?: number;
  /** Serve the file with some bytes changed (same length). */
  corrupt?: boolean;
  /** Answer 404 even though the file exists. */
  notFound?: boolean;
  /** Serve this text instead of the file (a forged checksums file, say). */
  body?: string;
  /** Apply the fault to this many requests for the path, then serve normally. Default: all. */
  times?: number;
  /** Ignore Range headers (answer 200 with the whole file). */
  ignoreRange?: boolean;
  /** Wait this long before answering (so concurrent clients overlap). */
  delayMs?: number;
}

export interface MirrorRequest {
  method: string;
  path: string;
  range?: string;
  status: number;
  /** Body bytes sent. */
  bytes: number;
  fault?: string;
}

export interface Mirror {
  /** Base URL, no trailing slash: `http://127.0.0.1:PORT`. */
  url: string;
  port: number;
  requests: MirrorRequest[];
  /** Set or clear (undefined) the fault for a path ("/name"); resets its counter. */
  setFault(path: string, fault: Fault | undefined): void;
  /** Requests seen for a path (any method). */
  requestsFor(path: string): MirrorRequest[];
  close(): Promise<void>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function startMirror(
  root: string,
  faults: Record<string, Fault> = {},
): Promise<Mirror> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const active = new Map<string, { fault: Fault; used: number }>();
  for (const [p, f] of Object.entries(faults)) active.set(p, { fault: f, used: 0 });
  const requests: MirrorRequest[] = [];
  const conns = new Set<Deno.Conn>();
  const handlers = new Set<Promise<void>>();
  let closing = false;

  const accept = (async () => {
    while (!closing) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        break;
      }
      conns.add(conn);
      const h = handle(conn).catch(() => {}).finally(() => {
        conns.delete(conn);
        try {
          conn.close();
        } catch { /* already closed */ }
        handlers.delete(h);
      });
      handlers.add(h);
    }
  })();

  function faultFor(path: string): Fault | undefined {
    const a = active.get(path);
    if (!a) return undefined;
    if (a.fault.times !== undefined && a.used >= a.fault.times) return undefined;
    a.used++;
    return a.fault;
  }

  async function handle(conn: Deno.Conn) {
    const head = await readHead(conn);
    if (!head) return;
    const { method, target, headers } = head;
    const path = decodeURIComponent(target.split("?")[0]);
    const record: MirrorRequest = {
      method,
      path,
      range: headers.get("range") ?? undefined,
      status: 0,
      bytes: 0,
    };
    requests.push(record);
    const fault = faultFor(path);
    if (fault) {
      record.fault = Object.keys(fault).filter((k) => k !== "times").join(",");
    }

    const send = async (status: number, hdrs: Record<string, string>, body?: Uint8Array) => {
      record.status = status;
      const lines = [`HTTP/1.1 ${status} ${reason(status)}`, "Connection: close"];
      for (const [k, v] of Object.entries(hdrs)) lines.push(`${k}: ${v}`);
      await writeAll(conn, enc.encode(lines.join("\r\n") + "\r\n\r\n"));
      if (body && method !== "HEAD") {
        await writeAll(conn, body);
        record.bytes = body.length;
      }
    };

    if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault?.status) {
      const body = enc.encode(`injected HTTP ${fault.status}\n`);
      return await send(fault.status, { "Content-Length": String(body.length) }, body);
    }
    const rel = normalize(path).replace(/^\/+/, "");
    let data: Uint8Array | undefined;
    if (fault?.body !== undefined) data = enc.encode(fault.body);
    else if (!fault?.notFound && rel && !rel.startsWith("..")) {
      try {
        data = await Deno.readFile(join(root, rel));
      } catch { /* not found */ }
    }
    if (!data) {
      const body = enc.encode("not found\n");
      return await send(404, { "Content-Length": String(body.length) }, body);
    }
    if (fault?.corrupt) {
      data = data.slice();
      for (let i = Math.floor(data.length / 2); i < data.length; i += 4096) data[i] ^= 0xff;
    }

    let status = 200;
    let start = 0;
    let end = data.length; // exclusive
    const range = fault?.ignoreRange ? undefined : headers.get("range");
    const hdrs: Record<string, string> = {
      "Content-Type": "application/octet-stream",
      "Accept-Ranges": "bytes",
    };
    if (range) {
      const m = /^bytes=(\d+)-(\d*)$/.exec(range.trim());
      if (!m || Number(m[1]) >= data.length) {
        hdrs["Content-Range"] = `bytes */${data.length}`;
        return await send(416, { ...hdrs, "Content-Length": "0" });
      }
      start = Number(m[1]);
      if (m[2]) end = Math.min(data.length, Number(m[2]) + 1);
      status = 206;
      hdrs["Content-Range"] = `bytes ${start}-${end - 1}/${data.length}`;
    }
    const body = data.subarray(start, end);
    hdrs["Content-Length"] = String(body.length);

    const limit = fault?.cutAfter ?? fault?.stallAfter;
    if (limit === undefined || method === "HEAD") return await send(status, hdrs, body);
    // Partial body: headers promise the whole length, then the body stops short.
    await send(status, hdrs);
    const part = body.subarray(0, Math.min(limit, body.length));
    await writeAll(conn, part);
    record.bytes = part.length;
    if (fault?.stallAfter !== undefined) {
      // Hold the connection open until the client gives up or the mirror closes.
      const buf = new Uint8Array(1024);
      while (!closing) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) break;
      }
    }
  }

  return Promise.resolve({
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    setFault(path, fault) {
      if (fault) active.set(path, { fault, used: 0 });
      else active.delete(path);
    },
    requestsFor(path) {
      return requests.filter((r) => r.path === path);
    },
    async close() {
      closing = true;
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await accept;
      await Promise.allSettled([...handlers]);
    },
  });
}

async function readHead(conn: Deno.Conn) {
  let buf = new Uint8Array(0);
  const chunk = new Uint8Array(4096);
  while (true) {
    const n = await conn.read(chunk);
    if (n === null) return undefined;
    const next = new Uint8Array(buf.length + n);
    next.set(buf);
    next.set(chunk.subarray(0, n), buf.length);
    buf = next;
    const text = dec.decode(buf);
    const end = text.indexOf("\r\n\r\n");
    if (end !== -1) {
      const [requestLine, ...rest] = text.slice(0, end).split("\r\n");
      const [method, target] = requestLine.split(" ");
      const headers = new Headers();
      for (const line of rest) {
        const i = line.indexOf(":");
        if (i > 0) headers.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
      }
      return { method, target: target ?? "/", headers };
    }
    if (buf.length > 64 * 1024) return undefined;
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array) {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

function reason(status: number): string {
  return {
    200: "OK",
    206: "Partial Content",
    404: "Not Found",
    416: "Range Not Satisfiable",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
  }[status] ?? "Status";
}
