import assert from "node:assert/strict";
import * as node from "node:path";
import { basename, dirname, join, relative, resolve } from "./path.ts";

Deno.test("path helpers agree with node:path on POSIX paths", () => {
  for (
    const parts of [
      ["/a", "b"],
      ["/a/", "/b/"],
      ["a", "b", "c.toml"],
      ["/", "x"],
      ["/cnb/buildpacks", "..", "extensions"],
      ["/a/b", "../../.."],
      ["a", "../..", "./c/"],
      ["./a", "."],
      ["a", ".."],
      ["/a/.hidden", "..b", "c"],
    ]
  ) {
    assert.equal(join(...parts), node.join(...parts), parts.join(","));
  }
  for (const p of ["/a/b/c", "/a", "/", "a/b", "/a/b/"]) {
    assert.equal(dirname(p), node.dirname(p), p);
    assert.equal(basename(p), node.basename(p), p);
  }
  for (const [from, to] of [["/a/b", "/a/b/c/d"], ["/a/b", "/a/x"], ["/a", "/a"], ["/", "/a"]]) {
    assert.equal(relative(from, to), node.relative(from, to), `${from} -> ${to}`);
  }
  for (const parts of [["/a/b", "../c"], ["/a", "/b/./c/"], ["x/y"]]) {
    assert.equal(resolve(...parts), node.resolve(...parts), parts.join(","));
  }
});
