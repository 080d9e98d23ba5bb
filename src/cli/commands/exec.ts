import type { CommandContext } from "../context.ts";
import { UsageError } from "../../errors.ts";
import { commandIn, loadDevEnv, withSandbox, workingDir } from "../../devenv/launch.ts";
import { spawn } from "../../hosts/spawn.ts";
import { withStaleCheck } from "../../devenv/stale.ts";
import { openBackend } from "../../hosts/select.ts";
import { withoutLocaldEnv } from "../../devenv/format.ts";

export async function run(ctx: CommandContext): Promise<number> {
  const { args, env, dir, out } = ctx;
  const argv = args.dashdash && !args.positionals.length
    ? args.rest
    : [...args.positionals, ...args.rest];
  if (!argv.length) throw new UsageError("no command given", "exec");
  const b = await openBackend(env);
  const d = await loadDevEnv(dir, env, b);
  return await withStaleCheck(d, out, async (started) => {
    await b.ready(out);
    // Without what an earlier `eval "$(locald env)"` added (the launcher adds it again).
    const base = withoutLocaldEnv(await b.commandEnv(env));
    const cmd = await commandIn(d, argv, workingDir(d.projectDir, dir), base, { notFound: true });
    const run = b.host.wrap(await withSandbox(ctx.args.flags, d, cmd, "exec"));
    return (await spawn(run, { mode: "inherit", started })).code;
  });
}
