/**
 * Names that come from files (project.toml, env files, image metadata, buildpack ids and
 * versions, process types) become file names under directories locald owns. This is the one
 * place that turns such a name into a path, and it refuses any name that would leave its
 * directory: empty, `.`, `..`, a path separator or a NUL byte. Pure; light enough for the
 * exec/env/shell/run path.
 */
import { ExitCode, LocaldError } from "../errors.ts";
import { join } from "./path.ts";

/** Whether `name` stays inside any directory it is joined to (one plain path segment). */
export function isPlainName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !/[/\\\0]/.test(name);
}

/**
 * `dir/name`, or a LocaldError (exit 3) saying which name from which file was refused.
 * `what` says where the name came from, e.g. `project.toml env name` or `buildpack id`.
 */
export function childPath(dir: string, name: string, what: string): string {
  if (!isPlainName(name)) {
    throw new LocaldError(
      `${what} ${JSON.stringify(name)} is not a plain name: as a file name it would leave ${dir}`,
      {
        hint: "names read from files must be one path segment (no /, no .., no NUL byte); " +
          "fix the file it came from",
        exitCode: ExitCode.input,
      },
    );
  }
  return join(dir, name);
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The rule every build-time variable name follows, whatever its source (POSIX names). */
export function isEnvName(name: string): boolean {
  return ENV_NAME.test(name);
}

/** Linux refuses one `NAME=VALUE` environment string of 128 KiB or more (MAX_ARG_STRLEN). */
export const MAX_ENV_BYTES = 128 * 1024;

/**
 * Why a value cannot reach a buildpack's environment (a NUL byte ends a C string; the kernel
 * refuses a longer variable), or undefined when it can.
 */
export function envValueProblem(name: string, value: string): string | undefined {
  if (value.includes("\0")) return "contains a NUL byte";
  const bytes = new TextEncoder().encode(value).length + name.length + 1;
  if (bytes >= MAX_ENV_BYTES) {
    return `is ${bytes} bytes long; a process's environment takes less than 128 KiB per variable`;
  }
  return undefined;
}
