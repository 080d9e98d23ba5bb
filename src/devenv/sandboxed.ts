/**
 * `shell`, `exec` and `run` with --sandbox: the launcher and the project's code run under the
 * same walls as a sandboxed build. The project directory is writable; the layers, the
 * launcher and the process links are read-only; HOME is empty; the environment is cut to the
 * allow-list (host secrets stay out); --network none cuts the network.
 */
import type { CommandContext } from "../cli/registry.ts";
import type { HostCommand, Step } from "../hosts/types.ts";
import { type Network, parseNetwork, sandboxHost } from "../hosts/sandbox.ts";
import type { DevEnv } from "./launch.ts";
import { ExitCode, LocaldError } from "../errors.ts";

/** The --sandbox/--network request of a dev command; undefined when it runs unsandboxed. */
export function devSandboxRequest(
  ctx: Pick<CommandContext, "args">,
  command: string,
): { network: Network } | undefined {
  const network = parseNetwork(
    typeof ctx.args.flags.network === "string" ? ctx.args.flags.network : undefined,
    command,
  );
  if (ctx.args.flags.sandbox === true || network === "none") {
    return { network: network ?? "default" };
  }
  return undefined;
}

/**
 * The command wrapped in the sandbox when the command line asks for it, else as it was. An
 * unavailable sandbox is an error, never skipped. Commands import this module only when
 * --sandbox or --network is on their command line, so plain `exec` stays light.
 */
export async function applySandbox(
  ctx: Pick<CommandContext, "args" | "env">,
  d: DevEnv,
  cmd: HostCommand,
  command: string,
): Promise<HostCommand> {
  const req = devSandboxRequest(ctx, command);
  if (!req) return cmd;
  const why = `locald ${command}`;
  if (!d.view?.sandboxOptions) {
    throw new LocaldError(`${why}: no backend to sandbox the command with`, {
      hint: "this is a bug in locald; please report it",
      exitCode: ExitCode.failure,
    });
  }
  // Where the command runs: this machine's bwrap natively, the VM's on Lima.
  const opts = await d.view.sandboxOptions(req.network, why);
  const step: Step = {
    name: command,
    argv: cmd.argv,
    env: cmd.env,
    cwd: cmd.cwd ?? d.projectDir,
    dropRoot: false,
    interactive: Deno.stdin.isTerminal(),
    mounts: [
      { path: d.projectDir, writable: true },
      { path: d.rec.layersDir, writable: false },
      { path: d.rec.lifecycle.root, writable: false },
      { path: d.paths.processes, writable: false },
    ],
  };
  return sandboxHost(opts).wrap(step);
}
