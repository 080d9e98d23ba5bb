import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { sha256HexSync } from "./sha256.ts";

Deno.test("sha256HexSync matches node:crypto on edge lengths and unicode", () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000]) {
    const s = "a".repeat(n);
    assert.equal(sha256HexSync(s), createHash("sha256").update(s).digest("hex"), `length ${n}`);
  }
  const u = "/home/ünïcode/proj €";
  assert.equal(sha256HexSync(u), createHash("sha256").update(u).digest("hex"));
});

Deno.test("sha256HexSync matches node:crypto on bytes of every value, many blocks", () => {
  for (const n of [1, 64, 200, 4999]) {
    const b = new Uint8Array(n).map((_, i) => (i * 151 + (i >> 3) * 7) & 0xff);
    assert.equal(sha256HexSync(b), createHash("sha256").update(b).digest("hex"), `length ${n}`);
  }
});
