/**
 * The only impure entry point: parse the command line, run one command, turn errors into a
 * message, a hint and an exit code. Nothing else in locald calls Deno.exit.
 */
import { parseInvocation } from "./src/cli/invocation.ts";
import { COMMANDS, TABLE } from "./src/cli/registry.ts";
import { createOutput } from "./src/output.ts";
import {
  checkPathVariables,
  errorMessage,
  ExitCode,
  LocaldError,
  machineError,
  notUtf8Error,
  UsageError,
} from "./src/errors.ts";

import { writeText } from "./src/util/stdio.ts";
// Small and import-free: static, so that no module load waits on another before a command.
import { resolve } from "./src/util/path.ts";
// The map of locald's home: exec, env, shell and run load it anyway (their project's state).
import { envAndDirs } from "./src/config/paths.ts";
import { LAUNCHER_UNSAFE } from "./src/util/shell.ts";
import { trace } from "./src/util/trace.ts";

// A reader that went away must not turn a finished command into a failure (src/util/stdio.ts).
const err = (s: string) => writeText("stderr", s + "\n");

async function main(argv: string[]): Promise<number> {
  trace("main");
  const env = Deno.env.toObject();
  const out = createOutput(env);
  let command: string | undefined;
  // --json asks for machine output: a failure is then a JSON object on stdout as well.
  const dashDash = argv.indexOf("--");
  let json = argv.slice(0, dashDash === -1 ? undefined : dashDash).includes("--json");
  const jsonFailure = (e: { message: string; exitCode: number; hint?: string }, d: string[]) => {
    if (!json) return;
    const error = { message: e.message, exitCode: e.exitCode, hint: e.hint, details: d };
    console.log(JSON.stringify({ ok: false, command, error }, null, 2));
  };
  try {
    const inv = parseInvocation(argv);
    if (inv.kind === "help") {
      const { mainHelp } = await import("./src/cli/help.ts");
      if (!inv.asked) {
        err(mainHelp(COMMANDS));
        return ExitCode.usage;
      }
      console.log(mainHelp(COMMANDS));
      return ExitCode.ok;
    }
    const { spec, sub, args } = inv;
    command = sub ? `${spec.name} ${sub.name}` : spec.name;
    json = args.flags.json === true;
    if (args.flags.help) {
      const { commandHelp } = await import("./src/cli/help.ts");
      console.log(commandHelp(spec, sub));
      return ExitCode.ok;
    }
    checkPathVariables(env);
    // The command's modules start loading, then the project directory is checked (its error
    // wins) with synchronous calls: a few system calls, where each asynchronous one would be a
    // round trip to another thread.
    const loading = spec.load();
    loading.catch(() => {});
    const dir = resolveDir(inv.dirs);
    const mod = await loading;
    trace(`loaded ${spec.name}`);
    const where = envAndDirs(env);
    return await mod.run({
      args,
      out,
      env,
      dir,
      table: TABLE,
      get dirs() {
        return where.dirs;
      },
    });
  } catch (caught) {
    // A full disk or a read-only directory is the machine's doing, not a bug (nor bad input).
    // A LocaldError keeps its own words, except a download's or an unpacking's, which would
    // blame the network or the archive for what the disk did.
    const keep = caught instanceof LocaldError && caught.exitCode !== ExitCode.download;
    const e = keep ? caught : machineError(caught) ?? notUtf8Error(caught) ?? caught;
    if (e instanceof UsageError) {
      const { usageError } = await import("./src/cli/help.ts");
      err(usageError(e, TABLE, command));
      jsonFailure(e, []);
      return e.exitCode;
    }
    if (e instanceof LocaldError) {
      err(`locald: ${e.message}`);
      for (const d of e.details) err(`  ${d}`);
      if (e.hint) err(`hint: ${e.hint}`);
      jsonFailure(e, e.details);
      return e.exitCode;
    }
    // Anything else is a bug in locald: one line, and the stack only when asked for.
    err(`locald: internal error: ${errorMessage(e)}`);
    if (env.LOCALD_DEBUG && e instanceof Error && e.stack) err(e.stack);
    else err("hint: this is a bug in locald; rerun with LOCALD_DEBUG=1 and report the output");
    jsonFailure({ message: `internal error: ${errorMessage(e)}`, exitCode: ExitCode.failure }, []);
    return ExitCode.failure;
  }
}

/** The project directory: every -C in turn (a relative one is relative to the one before). */
function resolveDir(dirs: string[]): string {
  let abs = resolve(".", ...dirs);
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(abs);
  } catch (e) {
    // Deno turns bytes that are not UTF-8 in arguments into U+FFFD.
    const what = abs.includes("\uFFFD")
      ? "is not a UTF-8 path (locald works only with UTF-8 paths)"
      : e instanceof Deno.errors.NotFound
      ? "does not exist"
      : "cannot be read";
    throw new LocaldError(`project directory ${abs} ${what}`, {
      hint: "pass an existing directory with -C DIR, or run locald from inside your project",
      exitCode: ExitCode.input,
      cause: e,
    });
  }
  if (!info.isDirectory) {
    throw new LocaldError(`${abs} is not a directory`, {
      hint: "-C takes the project's directory, not a file in it",
      exitCode: ExitCode.input,
    });
  }
  // One project whichever path reaches it: state is keyed by the real path, not a symlink's;
  // unless the real path has what the launcher's bash would run as code and this one has not
  // (a symlink is how such a project is used at all).
  let real = abs;
  try {
    real = Deno.realPathSync(abs);
  } catch { /* keep abs */ }
  if (!LAUNCHER_UNSAFE.test(real) || LAUNCHER_UNSAFE.test(abs)) abs = real;
  try {
    for (const _ of Deno.readDirSync(abs)) break;
  } catch (e) {
    throw new LocaldError(`project directory ${abs} cannot be read`, {
      hint: "check its permissions (locald needs to read the source tree)",
      exitCode: ExitCode.input,
      cause: e,
    });
  }
  return abs;
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
  trace("main done");
  globalThis.addEventListener("unload", () => trace("unload"));
}
