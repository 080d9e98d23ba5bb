import assert from "node:assert/strict";
import { LocaldError } from "../errors.ts";
import { netTimeoutMs, StallError, timedFetch } from "./net.ts";

Deno.test("LOCALD_NET_TIMEOUT: seconds, a default, and a clear error for nonsense", () => {
  assert.equal(netTimeoutMs({}), 30_000);
  assert.equal(netTimeoutMs({ LOCALD_NET_TIMEOUT: "2.5" }), 2500);
  for (const bad of ["0", "-1", "soon"]) {
    assert.throws(() => netTimeoutMs({ LOCALD_NET_TIMEOUT: bad }), (e: unknown) => {
      assert.ok(e instanceof LocaldError);
      assert.equal(e.exitCode, 3);
      assert.match(e.message, /LOCALD_NET_TIMEOUT must be a number of seconds/);
      return true;
    });
  }
});

// Long enough that a loaded machine (tests run in parallel on 2 cores) never looks like a stall;
// the trickle's 60 ms gaps stay far below it.
const STALL_MS = 1500;

Deno.test("timedFetch: a server that stalls before its headers or mid-body is named, not waited on", async () => {
  const ac = new AbortController();
  let release!: () => void;
  const stopped = new Promise<void>((r) => (release = r));
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    async (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/headers") {
        await stopped;
        return new Response("late");
      }
      if (path === "/trickle") {
        // Slower in total than the limit, but never quiet for that long: fine.
        let n = 0;
        return new Response(
          new ReadableStream({
            async pull(c) {
              await new Promise((r) => setTimeout(r, 60));
              if (n++ === 5) c.close();
              else c.enqueue(new Uint8Array(10));
            },
          }),
        );
      }
      return new Response(
        new ReadableStream({
          async pull(c) {
            c.enqueue(new TextEncoder().encode("first part"));
            await stopped;
            c.close();
          },
        }),
      );
    },
  );
  const host = `127.0.0.1:${server.addr.port}`;
  try {
    await assert.rejects(timedFetch(`http://${host}/headers`, {}, STALL_MS), (e: unknown) => {
      assert.ok(e instanceof StallError);
      assert.equal(e.when, "headers");
      assert.match(e.message, new RegExp(`${host} sent no answer within 1.5 s`));
      return true;
    });
    const res = await timedFetch(`http://${host}/body`, {}, STALL_MS);
    assert.equal(res.status, 200);
    await assert.rejects(res.text(), (e: unknown) => {
      assert.ok(e instanceof StallError);
      assert.match(e.message, new RegExp(`${host} stopped sending for 1.5 s`));
      return true;
    });
    const slow = await timedFetch(`http://${host}/trickle`, {}, STALL_MS);
    assert.equal((await slow.arrayBuffer()).byteLength, 50);
  } finally {
    release();
    ac.abort();
    await server.finished;
  }
});

Deno.test("timedFetch: a body read into one reused buffer (BYOB) arrives whole, and a stall still ends it", async () => {
  const ac = new AbortController();
  let release!: () => void;
  const stopped = new Promise<void>((r) => (release = r));
  const data = new Uint8Array(300_000);
  crypto.getRandomValues(data.subarray(0, 65536));
  for (let i = 65536; i < data.length; i++) data[i] = i % 251;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    (req) =>
      new URL(req.url).pathname === "/stall"
        ? new Response(
          new ReadableStream({
            async pull(c) {
              c.enqueue(data.subarray(0, 1000));
              await stopped;
              c.close();
            },
          }),
        )
        : new Response(data),
  );
  const host = `127.0.0.1:${server.addr.port}`;
  const readAll = async (path: string) => {
    const res = await timedFetch(`http://${host}${path}`, {}, STALL_MS);
    const reader = res.body!.getReader({ mode: "byob" });
    let buf = new Uint8Array(4096);
    const got: number[] = [];
    for (;;) {
      const r = await reader.read(buf);
      if (r.done) break;
      got.push(...r.value);
      buf = new Uint8Array(r.value.buffer);
    }
    return { got };
  };
  try {
    const { got } = await readAll("/whole");
    assert.equal(got.length, data.length);
    assert.deepEqual(new Uint8Array(got), data);
    await assert.rejects(readAll("/stall"), StallError);
  } finally {
    release();
    ac.abort();
    await server.finished;
  }
});
