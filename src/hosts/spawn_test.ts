import assert from "node:assert/strict";

Deno.test("signals passed on: POSIX set; on Windows only Ctrl-C and Ctrl-Break (others throw there)", async () => {
  const { forwardedSignals } = await import("./spawn.ts");
  assert.deepEqual(forwardedSignals("linux"), ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"]);
  assert.deepEqual(forwardedSignals("windows"), ["SIGINT", "SIGBREAK"]);
});
