/** POSIX shell quoting, for scripts locald hands to bash/sh and for plans it prints. */
import { ExitCode, LocaldError } from "../errors.ts";

/** One single-quoted shell word: safe for any string. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** A word quoted only when it needs to be (for output people read). */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : shellQuote(s);
}

/** Characters that still act inside the launcher's double quotes (see below). */
export const LAUNCHER_UNSAFE = /["$`\\]/;

/**
 * The lifecycle's launcher writes the app directory and profile script paths into its bash
 * script between double quotes (`cd "DIR"`, `source "FILE"`), where `"`, `$`, a backquote and
 * `\` still act. A path with one of them would run as code: refuse it, naming it and saying
 * how to reach the project by a path without them. `what` says whose path it is.
 */
export function assertLauncherSafePath(path: string, what: "project" | "state"): void {
  const bad = path.match(LAUNCHER_UNSAFE);
  if (!bad) return;
  throw new LocaldError(
    `${what === "project" ? "the project directory" : "locald's state directory"} ${path} ` +
      `contains ${JSON.stringify(bad[0])}, which the launcher's bash would run as code`,
    {
      hint: what === "project"
        ? "rename the directory, or reach it through a symlink whose path has none of " +
          '" $ ` \\ (ln -s "DIR" ~/app && locald build -C ~/app)'
        : 'set LOCALD_HOME to a path without " $ ` \\',
      exitCode: ExitCode.input,
    },
  );
}
