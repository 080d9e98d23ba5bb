/**
 * Running a host command: signals pass through, exit codes come back (128+N for a child
 * killed by signal N), and output can be streamed to stderr while it is kept for errors.
 */
import type { HostCommand } from "./types.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import { writeAll } from "../util/stdio.ts";
import { command } from "../util/run.ts";

/** Signals passed on to the child. Windows knows only Ctrl-C and Ctrl-Break. */
export function forwardedSignals(os: string = Deno.build.os): Deno.Signal[] {
  return os === "windows" ? ["SIGINT", "SIGBREAK"] : ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];
}
const SIGNUM: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGTERM: 15,
};

export interface SpawnOptions {
  /** "inherit": the child owns the terminal (shell, exec, run); "capture": stream to stderr. */
  mode: "inherit" | "capture";
  /** Keep at most this many bytes of the output for error reports. */
  keep?: number;
  /** Echo captured output to stderr while it runs (default true). */
  echo?: boolean;
  /** Rewrites each echoed line (the kept output is as the command wrote it). */
  rewrite?: (line: string) => string;
  /** Called once the child runs (work that must not delay its start waits for this). */
  started?: () => void;
  /**
   * The process a passed-on signal goes to, given the child's pid (default: the child). bwrap
   * dies of a signal without passing it on, and its command with it (--die-with-parent): a
   * command under bwrap gets the signal itself (bwrapCommandPid).
   */
  signalTarget?: (pid: number) => number | undefined;
}

export interface SpawnResult {
  code: number;
  /** Captured output (stdout and stderr interleaved), when mode is "capture". */
  output: string;
  /** The signal locald received and passed on, if any. */
  interrupted?: Deno.Signal;
}

export async function spawn(cmd: HostCommand, opts: SpawnOptions): Promise<SpawnResult> {
  let child: Deno.ChildProcess;
  try {
    child = command(cmd.argv, {
      env: cmd.env,
      clearEnv: true,
      cwd: cmd.cwd,
      stdin: opts.mode === "inherit" ? "inherit" : "null",
      stdout: opts.mode === "inherit" ? "inherit" : "piped",
      stderr: opts.mode === "inherit" ? "inherit" : "piped",
    }).spawn();
  } catch (e) {
    const missing = e instanceof Deno.errors.NotFound;
    throw new LocaldError(
      missing
        ? `cannot run ${cmd.argv[0]}: not found`
        : `cannot run ${cmd.argv[0]}: ${(e as Error).message}`,
      {
        hint: missing ? "check that it is installed and on PATH" : undefined,
        exitCode: missing ? 127 : ExitCode.failure,
        cause: e,
      },
    );
  }
  // A terminal's Ctrl-C already reaches the child (same process group); pass signals on only
  // when they cannot have come from the terminal, so the child does not get them twice.
  const fromTerminal = opts.mode === "inherit" && Deno.stdin.isTerminal();
  let interrupted: Deno.Signal | undefined;
  const handlers = forwardedSignals().map((sig) => {
    const h = () => {
      interrupted = sig;
      if (fromTerminal && (sig === "SIGINT" || sig === "SIGQUIT")) return;
      try {
        const target = opts.signalTarget?.(child.pid);
        if (target !== undefined) Deno.kill(target, sig);
        else child.kill(sig);
      } catch { /* already gone */ }
    };
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  let output = "";
  opts.started?.();
  try {
    if (opts.mode === "capture") {
      const keep = opts.keep ?? 256 * 1024;
      const echo = opts.echo ?? true;
      const dec = new TextDecoder();
      // A reader that went away must not stop the phase (src/util/stdio.ts).
      const write = (b: Uint8Array) => writeAll("stderr", b);
      const pump = async (s: ReadableStream<Uint8Array>) => {
        const lines = new TextDecoder();
        let partial = "";
        for await (const chunk of s) {
          if (echo && opts.rewrite) {
            const text = partial + lines.decode(chunk, { stream: true });
            const cut = text.lastIndexOf("\n") + 1;
            partial = text.slice(cut);
            if (cut) {
              write(new TextEncoder().encode(
                text.slice(0, cut - 1).split("\n").map(opts.rewrite).join("\n") + "\n",
              ));
            }
          } else if (echo) write(chunk);
          output += dec.decode(chunk, { stream: true });
          if (output.length > keep) output = output.slice(-keep);
        }
        if (echo && partial) write(new TextEncoder().encode(opts.rewrite!(partial)));
      };
      await Promise.all([pump(child.stdout), pump(child.stderr)]);
    }
    const status = await child.status;
    const code = status.signal ? 128 + (SIGNUM[status.signal] ?? 0) : status.code;
    return { code, output, interrupted };
  } finally {
    for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
  }
}

/**
 * The command bwrap runs, below `pid` (bwrap, and its init when it made a pid namespace), from
 * /proc's children lists; undefined when it cannot be found (then bwrap gets the signal).
 */
export function bwrapCommandPid(pid: number): number | undefined {
  let p = pid;
  for (let depth = 0; depth < 3; depth++) {
    let comm: string, children: string;
    try {
      comm = Deno.readTextFileSync(`/proc/${p}/comm`).trim();
      children = Deno.readTextFileSync(`/proc/${p}/task/${p}/children`).trim();
    } catch {
      return undefined;
    }
    if (comm !== "bwrap") return p === pid ? undefined : p;
    const first = Number(children.split(/\s+/)[0]);
    if (!children || !Number.isInteger(first)) return undefined;
    p = first;
  }
  return undefined;
}

/**
 * Spawn options for a dev command: one bwrap runs here (a stack build's run image, --sandbox
 * natively) gets signals at its command, as an unsandboxed command does.
 */
export function signalsOf(cmd: HostCommand): Pick<SpawnOptions, "signalTarget"> {
  return cmd.argv[0]?.endsWith("/bwrap") && Deno.build.os === "linux"
    ? { signalTarget: bwrapCommandPid }
    : {};
}
