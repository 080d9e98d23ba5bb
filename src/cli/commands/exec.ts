import type { CommandContext } from "../registry.ts";
import { UsageError } from "../../errors.ts";
import { commandIn, loadDevEnv, workingDir } from "../../devenv/launch.ts";
import { spawn } from "../../hosts/spawn.ts";
import { warnIfStale } from "../../devenv/stale.ts";

export async function run({ args, env, dir, out }: CommandContext): Promise<number> {
  const argv = args.dashdash && !args.positionals.length
    ? args.rest
    : [...args.positionals, ...args.rest];
  if (!argv.length) throw new UsageError("no command given", "exec");
  const d = await loadDevEnv(dir, env);
  await warnIfStale(d, out);
  const cmd = await commandIn(d, argv, workingDir(d.projectDir, dir), env);
  return (await spawn(cmd, { mode: "inherit" })).code;
}
