/**
 * `locald vm start|stop|status|shell|rm`: the VM (macOS, Lima) or distribution (Windows, WSL)
 * that builds run in. On Linux there is none; status says so.
 */
import type { CommandContext } from "../context.ts";
import { flagString } from "../args.ts";
import { ExitCode, LocaldError, UsageError } from "../../errors.ts";
import { backendDriver, chooseBackend } from "../../hosts/select.ts";

const SUBCOMMANDS = ["start", "stop", "status", "shell", "rm"];

export async function run(ctx: CommandContext): Promise<number> {
  const [sub, ...extra] = ctx.args.positionals;
  if (!sub) throw new UsageError(`needs a subcommand: ${SUBCOMMANDS.join(", ")}`, "vm");
  if (!SUBCOMMANDS.includes(sub)) {
    throw new UsageError(`unknown subcommand "${sub}" (${SUBCOMMANDS.join(", ")})`, "vm");
  }
  if (extra.length) throw new UsageError(`vm ${sub} takes no arguments`, "vm");
  const chosen = chooseBackend(ctx.env);
  const driver = await backendDriver(chosen.name);
  if (driver.vm) {
    const size = {
      cpus: sizeFlag(ctx, "cpus"),
      memory: sizeFlag(ctx, "memory"),
      disk: sizeFlag(ctx, "disk"),
    };
    const json = ctx.args.flags.json === true;
    return await driver.vm(sub, {
      out: ctx.out,
      env: ctx.env,
      get dirs() {
        return ctx.dirs;
      },
      dir: ctx.dir,
      json,
      size,
    });
  }
  if (sub === "status") {
    if (ctx.args.flags.json) ctx.out.json({ backend: "native", vm: null });
    else {
      ctx.out.info(
        "no VM: on Linux locald runs builds directly (LOCALD_BACKEND=lima or wsl selects one)",
      );
    }
    return 0;
  }
  throw new LocaldError(`there is no VM to ${sub} on the native backend`, {
    hint: "locald uses a VM on macOS (Lima) and WSL 2 on Windows; on Linux builds run directly",
    exitCode: ExitCode.unsupported,
  });
}

function sizeFlag(ctx: CommandContext, name: string): string | undefined {
  return flagString(ctx.args, name);
}
