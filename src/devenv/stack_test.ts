import assert from "node:assert/strict";
import { shellCandidates } from "./stack.ts";

Deno.test("shellCandidates: the user's shell, then bash, then sh", () => {
  assert.deepEqual(shellCandidates("/usr/bin/zsh"), [
    "/usr/bin/zsh",
    "/bin/bash",
    "/usr/bin/bash",
    "/bin/sh",
    "/usr/bin/sh",
  ]);
  assert.deepEqual(shellCandidates("/bin/bash")[0], "/bin/bash");
  assert.equal(shellCandidates("/bin/bash").length, 4);
  assert.equal(shellCandidates(undefined)[0], "/bin/bash");
});
