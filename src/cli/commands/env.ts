import type { CommandContext } from "../registry.ts";
import { flagString } from "../args.ts";
import { ExitCode, LocaldError, UsageError } from "../../errors.ts";
import {
  commandIn,
  envCaptureArgv,
  loadDevEnv,
  readCapturedEnv,
  workingDir,
} from "../../devenv/launch.ts";
import { join } from "../../util/path.ts";
import { warnIfStale } from "../../devenv/stale.ts";
import { openBackend } from "../../hosts/select.ts";
import { diffEnv, type Format, FORMATS, renderEnv } from "../../devenv/format.ts";

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
  // The launcher writes the environment to a file in the project's state (visible to the
  // guest on Lima and WSL): what profile scripts print never mixes with it.
  const file = join(d.paths.state, `.env-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`);
  const g = d.view?.guestPath ?? ((p: string) => p);
  const cmd = b.command(
    await commandIn(d, envCaptureArgv(g(file)), workingDir(d.projectDir, dir), base),
    "env",
  );
  const res = await new Deno.Command(cmd.argv[0], {
    args: cmd.argv.slice(1),
    env: cmd.env,
    clearEnv: true,
    cwd: cmd.cwd,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const after = await readCapturedEnv(file);
  if (!res.success || !after) {
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
  // What the environment adds to what the command started from (natively: your own).
  const text = renderEnv(diffEnv(base, after), format, [d.paths.buildRecord]);
  if (text) console.log(text);
  return 0;
}
