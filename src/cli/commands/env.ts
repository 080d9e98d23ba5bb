import type { CommandContext } from "../context.ts";
import { flagString } from "../args.ts";
import { ExitCode, LocaldError, UsageError } from "../../errors.ts";
import { enclosingProject, launcherEnv, loadDevEnv, workingDir } from "../../devenv/launch.ts";
import { openBackend } from "../../hosts/select.ts";
import { diffEnv, type Format, FORMATS, renderEnv, withMark } from "../../devenv/format.ts";
import { inDevEnv } from "../../devenv/session.ts";

export async function run(ctx: CommandContext): Promise<number> {
  const { args, env, dir, out } = ctx;
  if (args.positionals.length || args.rest.length) {
    throw new UsageError(`unexpected argument "${[...args.positionals, ...args.rest][0]}"`, "env");
  }
  const format = (flagString(args, "format") ?? "sh") as Format;
  if (!FORMATS.includes(format)) {
    throw new UsageError(`unknown format "${format}" (use ${FORMATS.join(", ")})`, "env");
  }
  const b = await openBackend(ctx);
  let d;
  try {
    d = loadDevEnv(dir, b);
  } catch (e) {
    if (format !== "direnv" || !(e instanceof LocaldError) || e.exitCode !== ExitCode.notBuilt) {
      throw e;
    }
    // Not built yet: direnv watches where the build will be recorded, so the first build
    // loads by itself.
    const project = enclosingProject(dir, b);
    out.warn(`${e.message}; direnv loads the environment once \`locald build\` has run`);
    console.log(renderEnv({ set: [], unset: [] }, format, [
      b.projectPaths(project).buildRecord,
    ]));
    return 0;
  }
  const dev = d; // narrowed, for the closure
  // The launcher's run has the stale check beside it (src/devenv/stale.ts).
  // Computed from the environment without an earlier `eval "$(locald env)"`'s additions, so
  // evaluating the output twice equals once.
  const { base, vars } = await inDevEnv({ b, d }, env, out, async (base, started) => ({
    base,
    vars: await launcherEnv(dev, b.host, workingDir(dev.projectDir, dir), base, { started }),
  }));
  // What the environment adds to what the command started from (natively: your own).
  const diff = diffEnv(base, vars);
  const evaluated = format !== "json" && format !== "dotenv";
  const text = renderEnv(evaluated ? withMark(base, diff) : diff, format, [d.paths.buildRecord]);
  if (text) console.log(text);
  return 0;
}
