import assert from "node:assert/strict";
import { chooseBackend } from "./select.ts";
import { LocaldError } from "../errors.ts";

Deno.test("backend follows the OS; LOCALD_BACKEND overrides; a bad value exits 3", () => {
  assert.equal(chooseBackend({}, "linux").name, "native");
  assert.equal(chooseBackend({}, "darwin").name, "lima");
  assert.equal(chooseBackend({}, "windows").name, "wsl");
  assert.deepEqual(chooseBackend({ LOCALD_BACKEND: "lima" }, "linux"), {
    name: "lima",
    reason: "LOCALD_BACKEND",
  });
  assert.throws(
    () => chooseBackend({ LOCALD_BACKEND: "Lima" }, "darwin"),
    (e: unknown) => e instanceof LocaldError && e.exitCode === 3,
  );
});
