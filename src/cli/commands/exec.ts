import type { CommandContext } from "../context.ts";
import { UsageError } from "../../errors.ts";
import { commandIn, explainFailure, inUserland, workingDir } from "../../devenv/launch.ts";
import { signalsOf, spawn } from "../../hosts/spawn.ts";
import { inDevEnv, openDevSession } from "../../devenv/session.ts";

export async function run(ctx: CommandContext): Promise<number> {
  const { args, env, dir, out } = ctx;
  const argv = args.dashdash && !args.positionals.length
    ? args.rest
    : [...args.positionals, ...args.rest];
  if (!argv.length) throw new UsageError("no command given", "exec");
  const s = await openDevSession(dir, ctx);
  const { b, d } = s;
  return await inDevEnv(s, env, out, async (base, started) => {
    const cmd = await commandIn(d, argv, workingDir(d.projectDir, dir), base, { notFound: true });
    const run = b.host.wrap(await inUserland(ctx.args.flags, d, cmd, "exec"));
    const code = (await spawn(run, { mode: "inherit", started, ...signalsOf(run) })).code;
    if (code !== 0) await explainFailure(d, argv[0], base, code);
    return code;
  });
}
