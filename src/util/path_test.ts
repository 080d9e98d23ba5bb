import assert from "node:assert/strict";
import * as node from "node:path";
import { basename, dirname, join } from "./path.ts";

Deno.test("path helpers agree with node:path on POSIX paths", () => {
  for (const parts of [["/a", "b"], ["/a/", "/b/"], ["a", "b", "c.toml"], ["/", "x"]]) {
    assert.equal(join(...parts), node.join(...parts), parts.join(","));
  }
  for (const p of ["/a/b/c", "/a", "/", "a/b", "/a/b/"]) {
    assert.equal(dirname(p), node.dirname(p), p);
    assert.equal(basename(p), node.basename(p), p);
  }
});
