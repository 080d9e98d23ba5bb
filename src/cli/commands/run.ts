import type { CommandContext } from "../context.ts";
import { ExitCode, LocaldError } from "../../errors.ts";
import { explainFailure, inUserland, processCommand } from "../../devenv/launch.ts";
import { defaultProcess } from "../../cnb/record.ts";
import { signalsOf, spawn } from "../../hosts/spawn.ts";
import { inDevEnv, openDevSession } from "../../devenv/session.ts";

export async function run(ctx: CommandContext): Promise<number> {
  const { args, env, dir, out } = ctx;
  // `run TYPE ARGS...`, `run TYPE -- ARGS...` and `run -- ARGS...` (default process).
  const procArgs = args.rest[0] === "--" && args.positionals.length
    ? args.rest.slice(1)
    : args.rest;
  const s = await openDevSession(dir, ctx);
  const { b, d } = s;
  const types = d.rec.processes.map((p) => p.type);
  const requested = args.positionals[0];
  const proc = requested === undefined
    ? defaultProcess(d.rec)
    : d.rec.processes.find((p) => p.type === requested);
  if (!proc) {
    if (!types.length) {
      throw new LocaldError(`the build of ${d.projectDir} declared no process types`, {
        hint: "add a Procfile (with a buildpack that reads it), or use `locald exec -- CMD`",
        exitCode: ExitCode.input,
      });
    }
    throw new LocaldError(
      requested === undefined
        ? `no default process type in ${d.projectDir}: no buildpack marked one default`
        : `no process type "${requested}" in ${d.projectDir}`,
      {
        hint: requested === undefined
          ? `name one (\`locald run ${types[0]}\`; types: ${types.join(", ")}), or build with ` +
            `\`--default-process ${types[0]}\``
          : `choose one of: ${types.join(", ")}`,
        exitCode: ExitCode.input,
      },
    );
  }
  return await inDevEnv(s, env, out, async (base, started) => {
    const cmd = await inUserland(
      ctx.args.flags,
      d,
      processCommand(d, proc.type, procArgs, base),
      "run",
      { processType: proc.type },
    );
    const host = b.host.wrap(cmd);
    const code = (await spawn(host, { mode: "inherit", started, ...signalsOf(host) })).code;
    if (code !== 0) await explainFailure(d, proc.direct ? proc.command[0] : undefined, base, code);
    return code;
  });
}
