import type { CommandContext } from "../registry.ts";
import { flagString } from "../args.ts";
import { ExitCode, LocaldError, UsageError } from "../../errors.ts";
import { commandIn, loadDevEnv, withSandbox, workingDir } from "../../devenv/launch.ts";
import { spawn } from "../../hosts/spawn.ts";
import { warnIfStale } from "../../devenv/stale.ts";
import { openBackend } from "../../hosts/select.ts";

export async function run(ctx: CommandContext): Promise<number> {
  const { args, env, dir, out } = ctx;
  if (args.positionals.length || args.rest.length) {
    throw new UsageError(
      `unexpected argument "${[...args.positionals, ...args.rest][0]}"`,
      "shell",
    );
  }
  const command = flagString(args, "command");
  if (env.LOCALD_SHELL && command === undefined) {
    throw new LocaldError(
      `already inside a locald shell for ${env.LOCALD_PROJECT ?? "a project"}`,
      {
        hint: "exit it first (type `exit`), or use `locald shell -c CMD` for one command",
        exitCode: ExitCode.input,
      },
    );
  }
  const b = await openBackend(env);
  const d = await loadDevEnv(dir, env, b);
  await warnIfStale(d, out);
  await b.ready(out);
  const start = await b.commandEnv(env);
  // Your $SHELL natively; in a VM the guest login's shell (macOS's /bin/zsh is not the VM's).
  const shell = start.SHELL || "/bin/bash";
  let argv = [shell, "-c", command ?? ""];
  let base = { ...start, LOCALD_SHELL: "1", LOCALD_PROJECT: d.projectDir };
  if (command === undefined) {
    // Interactive: the user's shell, its startup files, and a marker in the prompt.
    const { interactiveShell } = await import("../../devenv/prompt.ts");
    const launch = await interactiveShell(shell, d.projectDir, d.paths.state, start);
    argv = launch.argv;
    base = { ...base, ...launch.env };
    out.info(`locald: entering the environment of ${d.projectDir} (exit to leave)`);
  }
  const cmd = await commandIn(d, argv, workingDir(d.projectDir, dir), base);
  const run = b.command(await withSandbox(ctx, d, cmd, "shell"), "shell");
  return (await spawn(run, { mode: "inherit" })).code;
}
