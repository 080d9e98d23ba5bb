import assert from "node:assert/strict";
import { childPath, envValueProblem, isEnvName, isPlainName } from "./names.ts";
import { LocaldError } from "../errors.ts";

Deno.test("childPath keeps plain names and refuses any that leave the directory", () => {
  assert.equal(childPath("/s/env", "NODE_ENV", "name"), "/s/env/NODE_ENV");
  assert.equal(childPath("/s/bp", "heroku_nodejs", "id"), "/s/bp/heroku_nodejs");
  for (const bad of ["", ".", "..", "../x", "a/b", "/etc/passwd", "a\\b", "a\0b"]) {
    assert.equal(isPlainName(bad), false, bad);
    assert.throws(() => childPath("/s/env", bad, "project.toml env name"), (e) => {
      assert.ok(e instanceof LocaldError);
      assert.equal(e.exitCode, 3);
      assert.match(e.message, /^project\.toml env name ".*" is not a plain name/);
      return true;
    });
  }
});

Deno.test("env names follow the POSIX rule; values fit a process environment", () => {
  for (const ok of ["A", "_x", "NODE_ENV", "a1"]) assert.ok(isEnvName(ok), ok);
  for (const bad of ["", "1A", "a/b", "../x", "A-B", "A=B", "A B"]) assert.ok(!isEnvName(bad), bad);
  assert.equal(envValueProblem("A", "x".repeat(1000)), undefined);
  assert.match(envValueProblem("A", "a\0b")!, /NUL/);
  assert.match(envValueProblem("A", "x".repeat(128 * 1024))!, /bytes long/);
  assert.equal(envValueProblem("A", "x".repeat(128 * 1024 - 3)), undefined);
});
