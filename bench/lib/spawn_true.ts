/**
 * Spawn `true` once and exit with its code, through one of locald's two process makers:
 * `run` (src/util/run.ts, Deno.Command; the exec/env/shell/run path) or `runner`
 * (src/util/runner.ts, dax). The difference is what importing dax costs a command's start-up.
 *
 * deno run -A bench/lib/spawn_true.ts run|runner
 */
if (Deno.args[0] === "runner") {
  const { run } = await import("../../src/util/runner.ts");
  Deno.exitCode = (await run(["true"])).code;
} else {
  const { command } = await import("../../src/util/run.ts");
  Deno.exitCode = (await command(["true"], { stdin: "null" }).spawn().status).code;
}
