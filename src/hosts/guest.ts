/**
 * What the VM and WSL hosts share: turning a step into an argv that runs inside a Linux guest
 * with exactly the step's environment. The guest's own login environment (whatever Lima's
 * login shell or WSL adds: PATH with Windows directories, WSL_INTEROP, MOTD variables) never
 * reaches the step: `env -i` starts from nothing and sets exactly the step's variables.
 */
import { ExitCode, LocaldError } from "../errors.ts";
import type { Step } from "./types.ts";

/** GNU coreutils env, present in every Ubuntu guest. */
export const GUEST_ENV = "/usr/bin/env";

export function checkStep(step: Step, host: string) {
  if (step.argv.length === 0) {
    throw new LocaldError(`step ${step.name} has no command`, {
      hint: "this is a bug in locald's plan; please report it",
      exitCode: ExitCode.failure,
    });
  }
  if (!step.cwd.startsWith("/")) {
    throw new LocaldError(`step ${step.name} has a relative working directory ${step.cwd}`, {
      hint: `the ${host} host needs absolute guest paths; this is a bug in locald's plan`,
      exitCode: ExitCode.failure,
    });
  }
  for (const k of Object.keys(step.env)) checkEnvName(k, step.name);
}

export function checkEnvName(name: string, step: string) {
  if (name === "" || name.includes("=") || name.includes("\0")) {
    throw new LocaldError(`step ${step} has an invalid variable name ${JSON.stringify(name)}`, {
      hint: "variable names cannot be empty or contain '='",
      exitCode: ExitCode.input,
    });
  }
}

/**
 * The command part after `env -i -- K=V...`. env takes the first word without `=` as the
 * program, so a program path containing `=` goes through `sh -c 'exec "$@"'`, which passes
 * every argument on untouched.
 */
export function programArgv(argv: string[]): string[] {
  if (!argv[0].includes("=")) return argv;
  return ["/bin/sh", "-c", 'exec "$@"', "sh", ...argv];
}

/** `env -i -- K=V ... argv`: run argv with exactly `env` (names in a stable order). */
export function exactEnvArgv(env: Record<string, string>, argv: string[]): string[] {
  const assignments = Object.keys(env).sort().map((k) => `${k}=${env[k]}`);
  return [GUEST_ENV, "-i", "--", ...assignments, ...programArgv(argv)];
}
