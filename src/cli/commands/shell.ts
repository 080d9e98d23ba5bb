import type { CommandContext } from "../context.ts";
import { flagString } from "../args.ts";
import { ExitCode, LocaldError, UsageError } from "../../errors.ts";
import { commandIn, devStep, inUserland, launcherEnv, workingDir } from "../../devenv/launch.ts";
import { diffEnv, renderReapply } from "../../devenv/format.ts";
import { signalsOf, spawn } from "../../hosts/spawn.ts";
import { SHELL_HOLD_MS } from "../../devenv/stale.ts";
import { basename } from "../../util/path.ts";
import { inDevEnv, openDevSession } from "../../devenv/session.ts";

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
  const s = await openDevSession(dir, ctx);
  const { b, d } = s;
  // An interactive shell gives the check a moment more: its line comes before the prompt.
  return await inDevEnv(s, env, out, async (start, started) => {
    // Your $SHELL natively; in a VM the guest login's shell (macOS's /bin/zsh is not the VM's);
    // in a stack's run image yours if it has it, else bash, else sh.
    let shell = start.SHELL || "/bin/bash";
    if (d.stack) {
      const picked = await (await import("../../devenv/stack.ts")).runImageShell(d, start.SHELL);
      shell = picked.shell;
      if (picked.note) out.info(picked.note);
    }
    const cwd = workingDir(d.projectDir, dir);
    const base = { ...start, LOCALD_SHELL: "1", LOCALD_PROJECT: d.projectDir };
    const sandboxed = args.flags.sandbox !== undefined || args.flags.network !== undefined;
    const prompt = () => import("../../devenv/prompt.ts");
    // The shell started directly, the environment (computed by the launcher) applied by its own
    // startup code after the user's files.
    const reapplied = async (
      argv: string[],
      extra: Record<string, string>,
      lang: "sh" | "fish",
    ) => {
      // What profile scripts print shows before the shell starts, as it did through the launcher.
      const after = await launcherEnv(d, b.host, cwd, base, { show: true });
      const g = d.view?.guestPath ?? ((p: string) => p);
      return devStep(d, "shell", {
        argv,
        env: {
          ...base,
          ...extra,
          [(await prompt()).REAPPLY_VAR]: renderReapply(diffEnv(base, after), base, lang),
        },
        cwd: g(cwd),
      });
    };
    let cmd;
    if (command === undefined) {
      // Interactive: the user's shell, its startup files, then the environment and a marker in
      // the prompt. Sandboxed, home is hidden (no startup files): the shell starts in it.
      const launch = await (await prompt()).interactiveShell(
        shell,
        d.projectDir,
        d.paths.state,
        start,
        !sandboxed,
      );
      cmd = launch.reapply
        ? await reapplied(launch.argv, launch.env, launch.reapply)
        : await commandIn(d, launch.argv, cwd, { ...base, ...launch.env });
      out.info(`locald: entering the environment of ${d.projectDir} (exit to leave)`);
    } else if (basename(shell) === "fish" && !sandboxed) {
      // fish reads config.fish for -c too: the environment goes on after it, as interactively.
      cmd = await reapplied(
        [shell, "-C", (await prompt()).FISH_REAPPLY, "-c", command],
        {},
        "fish",
      );
    } else cmd = await commandIn(d, [shell, "-c", command], cwd, base);
    // The rc files locald writes for the shell (in the run image, a mount like any other).
    const rc = [{ path: `${d.paths.state}/shell`, writable: false }];
    const run = b.host.wrap(
      await inUserland(
        ctx.args.flags,
        d,
        cmd,
        "shell",
        command === undefined ? { mounts: rc } : {},
      ),
    );
    return (await spawn(run, { mode: "inherit", started, ...signalsOf(run) })).code;
  }, command === undefined ? SHELL_HOLD_MS : 0);
}
