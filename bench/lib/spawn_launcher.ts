/**
 * The least a Deno program can do to run a command in a built environment: spawn the
 * lifecycle's launcher with the three variables it needs, wait, exit with its code. The floor
 * for `locald exec -- CMD`.
 *
 * deno run -A bench/lib/spawn_launcher.ts LAUNCHER LAYERS_DIR APP_DIR PLATFORM_API -- CMD...
 */
const [launcher, layers, app, api, _dashdash, ...cmd] = Deno.args;
const child = new Deno.Command(launcher, {
  args: ["--", ...cmd],
  env: { CNB_PLATFORM_API: api, CNB_LAYERS_DIR: layers, CNB_APP_DIR: app },
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
Deno.exitCode = (await child.status).code;
