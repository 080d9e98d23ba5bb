import assert from "node:assert/strict";
import { ExitCode, LocaldError, machineError, notUtf8Error } from "./errors.ts";

Deno.test("machineError names the path and what the machine did, also through causes", () => {
  const full = new Error(
    "No space left on device (os error 28): writefile '/h/projects/x/build.json'",
  );
  const e = machineError(full)!;
  assert.equal(e.message, "cannot write /h/projects/x/build.json: no space left on the device");
  assert.equal(e.exitCode, ExitCode.machine);
  assert.match(e.hint!, /locald cache prune/);
  const ro = machineError(new Error("Read-only file system (os error 30): mkdir '/h/tools'"))!;
  assert.equal(ro.message, "cannot create the directory /h/tools: the file system is read-only");
  // Wrapped, as an archive or download error does.
  const wrapped = new LocaldError("cannot unpack layer 1: x", { cause: full });
  assert.match(machineError(wrapped)!.message, /no space left on the device/);
  assert.equal(machineError(new Error("connection reset")), undefined);
  assert.equal(machineError(new Error("Connection refused (os error 111)")), undefined);
});

Deno.test("notUtf8Error says which path is not UTF-8", () => {
  const e = notUtf8Error(
    new Deno.errors.InvalidData('File name or path "/a\\xFF" is not valid UTF-8'),
  );
  assert.equal(e?.exitCode, ExitCode.input);
  assert.match(e!.message, /is not valid UTF-8: locald works only with UTF-8 paths/);
  assert.equal(notUtf8Error(new Error("other")), undefined);
});
