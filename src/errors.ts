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

/** Bad command line: main prints the command's usage and exits 2. */
export class UsageError extends LocaldError {
  readonly command?: string;
  constructor(message: string, command?: string) {
    super(message, { exitCode: ExitCode.usage });
    this.name = "UsageError";
    this.command = command;
  }
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
