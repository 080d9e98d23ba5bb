/**
 * The process runner for everything off the start-up path (limactl and wsl.exe control calls,
 * bwrap probes, credential helpers, copies): dax's CommandBuilder with the program and its
 * arguments as one exact argv array (dax escapes each element; nothing is re-parsed from a
 * string), stdin, line-by-line output callbacks, a timeout, and failures as LocaldError with a
 * hint. dax is a heavy import (shared FACTS: about 1.9x a bare Deno start), so exec, env,
 * shell and run never import this module: they use util/run.ts (see the README's Development
 * section for the numbers).
 *
 * argv[0] is looked up on PATH here (the env's PATH when one is given), so dax's built-in
 * commands (cat, cp, rm, ...) never stand in for the real program and a missing program is a
 * clear error before anything runs.
 *
 * Limit: dax 0.49.0 reports exit 0 for a child killed by a signal it did not send (the timeout
 * here is sent by dax and comes back as an error); callers check the output they rely on.
 */
import { CommandBuilder, KillController } from "dax";
import { ExitCode, LocaldError } from "../errors.ts";

export interface RunOptions {
  cwd?: string;
  /** Variables for the child; with clearEnv, the only ones it sees. */
  env?: Record<string, string>;
  clearEnv?: boolean;
  /** Text, bytes or a stream written to the child's stdin, or "inherit"; default "null". */
  stdin?: string | Uint8Array | ReadableStream<Uint8Array> | "inherit" | "null";
  /** "piped" (default): kept in the result and given to the line callbacks. */
  stdout?: "piped" | "inherit" | "null";
  stderr?: "piped" | "inherit" | "null";
  /** Each line of output as it arrives, without its newline (in order per stream). */
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
  /**
   * Kill the child (SIGTERM, then SIGKILL a second later) after this many milliseconds. Only
   * the child: a grandchild that keeps its output open keeps the run waiting.
   */
  timeout?: number;
  /** Throw a LocaldError when the program exits non-zero (default: return the code). */
  check?: boolean;
  /** The error's message when the program is not found (default "cannot run NAME: not found"). */
  missing?: string;
  /** What to say when the program cannot be run or fails `check` (the `hint:` line). */
  hint?: string;
  /** The exit code of those errors (default ExitCode.failure, and 127 for a missing program). */
  exitCode?: number;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The same output as bytes (for output that is not UTF-8, such as wsl.exe's UTF-16). */
  stdoutBytes: Uint8Array;
  stderrBytes: Uint8Array;
}

/** The path of `name` on `path` (a name with a slash is taken as it is). */
export async function resolveProgram(
  name: string,
  path: string | undefined,
): Promise<string | undefined> {
  const exists = async (p: string) => {
    try {
      const st = await Deno.stat(p);
      return st.isFile && (Deno.build.os === "windows" || ((st.mode ?? 0o111) & 0o111) !== 0);
    } catch {
      return false;
    }
  };
  const windows = Deno.build.os === "windows";
  if (name.includes("/") || (windows && name.includes("\\"))) {
    return (await exists(name)) ? name : undefined;
  }
  const exts = windows ? ["", ".exe", ".cmd", ".bat"] : [""];
  for (const dir of (path ?? "").split(windows ? ";" : ":")) {
    if (!dir) continue;
    for (const ext of exts) {
      const p = `${dir}${windows ? "\\" : "/"}${name}${ext}`;
      if (await exists(p)) return p;
    }
  }
  return undefined;
}

/** Splits a byte stream into lines for `each`, keeping the whole text too. */
function lineSink(each: ((line: string) => void) | undefined) {
  const dec = new TextDecoder();
  const chunks: Uint8Array[] = [];
  let text = "";
  let partial = "";
  const stream = new WritableStream<Uint8Array>({
    write(chunk) {
      chunks.push(chunk.slice());
      const s = dec.decode(chunk, { stream: true });
      text += s;
      if (!each) return;
      const lines = (partial + s).split("\n");
      partial = lines.pop()!;
      for (const l of lines) each(l);
    },
    close() {
      const rest = dec.decode();
      text += rest;
      partial += rest;
      if (each && partial) each(partial);
      partial = "";
    },
  });
  const bytes = () => {
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) all.set(c, (at += c.length) - c.length);
    return all;
  };
  return { stream, text: () => text, bytes };
}

/** Runs argv to the end. See RunOptions; throws LocaldError when it cannot run or times out. */
export async function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const name = argv[0];
  const path = opts.env?.PATH ?? (opts.clearEnv ? undefined : Deno.env.get("PATH"));
  const program = name ? await resolveProgram(name, path) : undefined;
  if (!program) {
    throw new LocaldError(opts.missing ?? `cannot run ${name || "(empty command)"}: not found`, {
      hint: opts.hint ?? "check that it is installed and on PATH",
      exitCode: opts.exitCode ?? 127,
    });
  }
  let b = new CommandBuilder().command([program, ...argv.slice(1)]).noThrow();
  if (opts.cwd) b = b.cwd(opts.cwd);
  if (opts.clearEnv) b = b.clearEnv();
  if (opts.env) b = b.env(opts.env);
  const stdin = opts.stdin ?? "null";
  b = typeof stdin === "string" && stdin !== "inherit" && stdin !== "null"
    ? b.stdinText(stdin)
    : b.stdin(stdin);
  const out = lineSink(opts.onStdoutLine);
  const err = lineSink(opts.onStderrLine);
  const outKind = opts.stdout ?? "piped";
  const errKind = opts.stderr ?? "piped";
  b = outKind === "piped" ? b.stdout(out.stream) : b.stdout(outKind);
  b = errKind === "piped" ? b.stderr(err.stream) : b.stderr(errKind);
  const kill = new KillController();
  b = b.signal(kill.signal);
  let timedOut = false;
  let hard: ReturnType<typeof setTimeout> | undefined;
  const timer = opts.timeout === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    kill.kill("SIGTERM");
    hard = setTimeout(() => kill.kill("SIGKILL"), 1000);
  }, opts.timeout);
  let code: number;
  try {
    code = (await b).code;
  } catch (e) {
    throw new LocaldError(`cannot run ${name}: ${(e as Error).message.split("\n")[0]}`, {
      hint: opts.hint,
      exitCode: opts.exitCode ?? ExitCode.failure,
      cause: e,
    });
  } finally {
    clearTimeout(timer);
    clearTimeout(hard);
  }
  const result = {
    code,
    stdout: out.text(),
    stderr: err.text(),
    stdoutBytes: out.bytes(),
    stderrBytes: err.bytes(),
  };
  if (timedOut) {
    throw new LocaldError(`${name} did not finish within ${opts.timeout} ms and was stopped`, {
      hint: opts.hint,
      exitCode: opts.exitCode ?? ExitCode.failure,
    });
  }
  if (opts.check && code !== 0) {
    const why = result.stderr.trim().split("\n").pop();
    throw new LocaldError(`${name} failed (exit ${code})${why ? `: ${why}` : ""}`, {
      hint: opts.hint,
      exitCode: opts.exitCode ?? ExitCode.failure,
    });
  }
  return result;
}
