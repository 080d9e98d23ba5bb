/**
 * One error type for everything a user can cause or fix. main.ts is the only place that turns
 * it into a message and an exit code; nothing else calls Deno.exit.
 */

/** Exit codes locald uses. Documented in the README; keep both in step. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  input: 3,
  notBuilt: 4,
  download: 5,
  build: 6,
  nothingDetected: 7,
  unsupported: 8,
  locked: 9,
  machine: 10,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface LocaldErrorOptions {
  /** One line that says what to do about it. */
  hint?: string;
  exitCode?: number;
  cause?: unknown;
  /** Extra lines printed after the message (for example the buildpacks tried). */
  details?: string[];
}

export class LocaldError extends Error {
  readonly hint?: string;
  readonly exitCode: number;
  readonly details: string[];
  constructor(message: string, opts: LocaldErrorOptions = {}) {
    super(message, { cause: opts.cause });
    this.name = "LocaldError";
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? ExitCode.failure;
    this.details = opts.details ?? [];
  }
}

export interface UsageErrorOptions {
  /** The names nearest to a mistyped one ("did you mean ...?"). */
  suggestions?: string[];
  /**
   * An unknown name (command, subcommand, flag, value): main answers in a few lines (the
   * message, the nearest match, where to look) instead of printing the usage.
   */
  brief?: boolean;
}

/** Bad command line: main prints the command's usage (or, when brief, a short answer); exit 2. */
export class UsageError extends LocaldError {
  readonly command?: string;
  readonly suggestions: string[];
  readonly brief: boolean;
  constructor(message: string, command?: string, opts: UsageErrorOptions = {}) {
    super(message, { exitCode: ExitCode.usage });
    this.name = "UsageError";
    this.command = command;
    this.suggestions = opts.suggestions ?? [];
    this.brief = opts.brief ?? false;
  }
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/** What to do about a full disk. */
export const NO_SPACE_HINT = "free some space (`locald cache prune` removes what locald no " +
  "longer needs), or set LOCALD_HOME to a directory on a disk with room";

/** What the machine did, by errno in Deno's error messages ("... (os error 28): open '/x'"). */
const MACHINE: { errno: number; what: string; hint: string }[] = [
  {
    errno: 28,
    what: "no space left on the device",
    hint: NO_SPACE_HINT,
  },
  {
    errno: 122,
    what: "disk quota exceeded",
    hint: NO_SPACE_HINT,
  },
  {
    errno: 30,
    what: "the file system is read-only",
    hint: "remount that file system read-write, or (for locald's own state) set " +
      "LOCALD_HOME to a writable directory",
  },
  {
    errno: 13,
    what: "permission denied",
    hint: "give yourself access to that path (for locald's own state: set LOCALD_HOME to a " +
      "directory you own)",
  },
  {
    errno: 1,
    what: "operation not permitted",
    hint: "give yourself access to that path (for locald's own state: set LOCALD_HOME to a " +
      "directory you own)",
  },
];

/**
 * An error the machine caused (a full disk, a read-only or unwritable directory), found in `e`
 * or its causes, as one line naming the path and what happened, with a hint (exit 10); else
 * undefined. main.ts turns such errors into this instead of "internal error", and prefers it
 * over a LocaldError that wrapped one (whose own guess would mislead: "not a valid tar
 * archive" for a full disk).
 */
export function machineError(e: unknown): LocaldError | undefined {
  for (let c = e, depth = 0; c instanceof Error && depth < 5; c = c.cause, depth++) {
    const m = c.message.match(/\(os error (\d+)\)(?::\s*(\w+)\s+'([^']*)')?/);
    const known = m && MACHINE.find((k) => k.errno === Number(m[1]));
    if (!known) continue;
    const path = m![3];
    return new LocaldError(
      path ? `cannot ${opVerb(m![2])} ${path}: ${known.what}` : `${known.what}`,
      { hint: known.hint, exitCode: ExitCode.machine, cause: e },
    );
  }
  return undefined;
}

function opVerb(op: string | undefined): string {
  if (op === "mkdir") return "create the directory";
  if (op === "remove" || op === "unlink" || op === "rmdir") return "remove";
  if (op === "rename") return "rename";
  if (op === "symlink" || op === "link") return "create a link at";
  if (op === "stat" || op === "lstat" || op === "readdir" || op === "readfile") return "read";
  return "write";
}

/**
 * A path or variable that is not UTF-8 (Deno cannot represent it): one line saying which, a
 * hint, exit 3; else undefined.
 */
export function notUtf8Error(e: unknown): LocaldError | undefined {
  if (!(e instanceof Deno.errors.InvalidData) || !/not valid (UTF-8|unicode)/i.test(e.message)) {
    return undefined;
  }
  return new LocaldError(`${e.message}: locald works only with UTF-8 paths`, {
    hint: "rename it, or run locald from (or point -C at) a directory whose path is UTF-8",
    exitCode: ExitCode.input,
    cause: e,
  });
}

/** Variables locald reads paths from; Deno drops a non-UTF-8 one from Deno.env.toObject(). */
const PATH_VARIABLES = [
  "LOCALD_HOME",
  "LOCALD_CONFIG",
  "LOCALD_LIFECYCLE_DIR",
  "XDG_DATA_HOME",
  "XDG_CONFIG_HOME",
  "HOME",
  "DOCKER_CONFIG",
];

/**
 * A path variable that is set but not UTF-8 would silently not count (locald would keep its
 * data somewhere else): say so instead. `env` is what Deno.env.toObject() gave.
 */
export function checkPathVariables(env: Record<string, string>): void {
  for (const name of PATH_VARIABLES) {
    if (name in env) continue;
    try {
      Deno.env.get(name);
    } catch {
      throw new LocaldError(`${name} is set to a path that is not valid UTF-8`, {
        hint: `set ${name} to a UTF-8 path (or unset it); locald works only with UTF-8 paths`,
        exitCode: ExitCode.input,
      });
    }
  }
}
