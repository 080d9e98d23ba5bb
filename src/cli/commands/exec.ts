import type { CommandContext } from "../registry.ts";
import { UsageError } from "../../errors.ts";
import { commandIn, loadDevEnv, workingDir } from "../../devenv/launch.ts";
import { spawn } from "../../hosts/spawn.ts";
import { openBackend } from "../../hosts/select.ts";

export async function run({ args, env, dir, out }: CommandContext): Promise<number> {
  const argv = args.dashdash && !args.positionals.length
    ? args.rest
    : [...args.positionals, ...args.rest];
  if (!argv.length) throw new UsageError("no command given", "exec");
  const b = await openBackend(env);
  const d = await loadDevEnv(dir, env, b);
  await b.ready(out);
  const cmd = await commandIn(d, argv, workingDir(d.projectDir, dir), await b.commandEnv(env));
  return (await spawn(b.command(cmd, "exec"), { mode: "inherit" })).code;
}
