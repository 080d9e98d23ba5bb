/**
 * The least a Deno program can do to run a command in a built environment: spawn the
 * lifecycle's launcher with the three variables it needs, wait, exit with its code. The floor
 * for `locald exec -- CMD`.
 *
 * deno run -A bench/lib/spawn_launcher.ts [--script] LAUNCHER LAYERS_DIR APP_DIR PLATFORM_API -- CMD...
 *
 * Plain, the launcher execs CMD directly (`launcher -- CMD`: no profile.d scripts sourced).
 * With --script, CMD goes to the launcher as the bash script locald passes when the build has
 * profile.d scripts or a .profile (`cd -- APP && exec CMD`): the launcher's bash sources them
 * first, as for `locald exec`.
 */
const script = Deno.args[0] === "--script";
const [launcher, layers, app, api, _dashdash, ...cmd] = Deno.args.slice(script ? 1 : 0);
const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
const child = new Deno.Command(launcher, {
  args: script ? [`cd -- ${q(app)} && exec ${cmd.map(q).join(" ")}`] : ["--", ...cmd],
  env: { CNB_PLATFORM_API: api, CNB_LAYERS_DIR: layers, CNB_APP_DIR: app },
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
Deno.exitCode = (await child.status).code;
