import assert from "node:assert/strict";

Deno.test("signals passed on: POSIX set; on Windows only Ctrl-C and Ctrl-Break (others throw there)", async () => {
  const { forwardedSignals } = await import("./spawn.ts");
  assert.deepEqual(forwardedSignals("linux"), ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"]);
  assert.deepEqual(forwardedSignals("windows"), ["SIGINT", "SIGBREAK"]);
});

Deno.test("a phase killed by a signal it did not get from locald fails with 128+N", async () => {
  // Why phases stay on Deno.Command and not on util/runner.ts: dax 0.49.0 reports exit 0 for a
  // child killed by a signal dax did not send (an out-of-memory kill, say).
  const { spawn } = await import("./spawn.ts");
  const r = await spawn(
    { argv: ["sh", "-c", "echo before; kill -KILL $$"], env: { PATH: "/usr/bin:/bin" }, cwd: "/" },
    { mode: "capture", echo: false },
  );
  assert.equal(r.code, 137);
  assert.equal(r.output, "before\n");
});
