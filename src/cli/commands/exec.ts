import type { CommandContext } from "../context.ts";
import { UsageError } from "../../errors.ts";
import { commandIn, explainFailure, inUserland, workingDir } from "../../devenv/launch.ts";
import { signalsOf, spawn } from "../../hosts/spawn.ts";
import { inDevEnv, openDevSession } from "../../devenv/session.ts";
import { trace } from "../../util/trace.ts";

export async function run(ctx: CommandContext): Promise<number> {
  const { args, env, dir, out } = ctx;
  const argv = args.dashdash && !args.positionals.length
    ? args.rest
    : [...args.positionals, ...args.rest];
  if (!argv.length) throw new UsageError("no command given", "exec");
  const s = await openDevSession(dir, ctx);
  trace("exec: build loaded");
  const { b, d } = s;
  return await inDevEnv(s, env, out, async (base, started) => {
    const cmd = await commandIn(d, argv, workingDir(d.projectDir, dir), base, { notFound: true });
    const run = b.host.wrap(await inUserland(ctx.args.flags, d, cmd, "exec"));
    trace("exec: command ready");
    const running = () => {
      trace("exec: started");
      started();
    };
    const code = (await spawn(run, { mode: "inherit", started: running, ...signalsOf(run) })).code;
    trace("exec: exited");
    if (code !== 0) await explainFailure(d, argv[0], base, code);
    return code;
  });
}
