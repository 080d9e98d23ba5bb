import assert from "node:assert/strict";
import { formatAgo } from "./output.ts";

Deno.test("formatAgo: times as people say them", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");
  const ago = (s: number) => formatAgo(new Date(now - s * 1000).toISOString(), now);
  assert.equal(ago(3), "just now");
  assert.equal(ago(42), "42 seconds ago");
  assert.equal(ago(60), "1 minute ago");
  assert.equal(ago(3 * 60 + 20), "3 minutes ago");
  assert.equal(ago(2 * 3600), "2 hours ago");
  assert.equal(ago(86400), "1 day ago");
  assert.equal(ago(40 * 86400), "on 2026-10-22");
  assert.equal(formatAgo("2026-12-01T12:05:00.000Z", now), "at 2026-12-01T12:05:00.000Z");
  assert.equal(formatAgo("not a time", now), "not a time");
});
