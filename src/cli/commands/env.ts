import type { CommandContext } from "../registry.ts";
import { flagString } from "../args.ts";
import { ExitCode, LocaldError, UsageError } from "../../errors.ts";
import { commandIn, loadDevEnv, workingDir } from "../../devenv/launch.ts";
import { warnIfStale } from "../../devenv/stale.ts";
import { openBackend } from "../../hosts/select.ts";
import { diffEnv, type Format, FORMATS, parseEnvZ, renderEnv } from "../../devenv/format.ts";

export async function run({ args, env, dir, out }: CommandContext): Promise<number> {
  if (args.positionals.length || args.rest.length) {
    throw new UsageError(`unexpected argument "${[...args.positionals, ...args.rest][0]}"`, "env");
  }
  const format = (flagString(args, "format") ?? "sh") as Format;
  if (!FORMATS.includes(format)) {
    throw new UsageError(`unknown format "${format}" (use ${FORMATS.join(", ")})`, "env");
  }
  const b = await openBackend(env);
  const d = await loadDevEnv(dir, env, b);
  await warnIfStale(d, out);
  await b.ready(out);
  const base = await b.commandEnv(env);
  const cmd = b.command(
    await commandIn(d, ["env", "-0"], workingDir(d.projectDir, dir), base),
    "env",
  );
  const res = await new Deno.Command(cmd.argv[0], {
    args: cmd.argv.slice(1),
    env: cmd.env,
    clearEnv: true,
    cwd: cmd.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!res.success) {
    const why = new TextDecoder().decode(res.stderr).trim().split("\n").pop();
    throw new LocaldError(
      `the launcher could not compute the environment${why ? `: ${why}` : ""}`,
      {
        hint:
          "rebuild with `locald build`; if it persists, run `locald exec -- env` to see the error",
        exitCode: ExitCode.failure,
      },
    );
  }
  const after = parseEnvZ(new TextDecoder().decode(res.stdout));
  // What the environment adds to what the command started from (natively: your own).
  const text = renderEnv(diffEnv(base, after), format, [d.paths.buildRecord]);
  if (text) console.log(text);
  return 0;
}
