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

/**
 * One probe of the guest, run through its login shell: ids, machine, the login's own basics,
 * then os-release. Everything the plan needs to describe the guest rather than this machine.
 */
export const GUEST_PROBE_SCRIPT = [
  'printf "%s\\n" "$(id -u)" "$(id -g)" "$(uname -m)" "$HOME" "$PATH" "$SHELL" ' +
  '"${USER:-$(id -un 2>/dev/null)}"',
  "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null || true",
].join("; ");

export interface GuestProbe {
  uid: number;
  gid: number;
  machine: string;
  login: Record<string, string>;
  osRelease: string;
}

/** GUEST_PROBE_SCRIPT's output, or undefined when it is not what the script prints. */
export function parseGuestProbe(text: string): GuestProbe | undefined {
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  if (lines.length < 7) return undefined;
  const [uid, gid, machine, home, path, shell, user] = lines;
  if (!/^\d+$/.test(uid) || !/^\d+$/.test(gid) || !home.startsWith("/")) return undefined;
  const login: Record<string, string> = { HOME: home };
  if (path) login.PATH = path;
  if (shell) login.SHELL = shell;
  if (user) {
    login.USER = user;
    login.LOGNAME = user;
  }
  return {
    uid: Number(uid),
    gid: Number(gid),
    machine: machine.trim(),
    login,
    osRelease: lines.slice(7).join("\n"),
  };
}

/** Variables that describe this machine, not the guest: they never cross into it. */
const HOST_ONLY = new RegExp(
  "^(" + [
    "PATH",
    "HOME",
    "SHELL",
    "USER",
    "LOGNAME",
    "TMPDIR",
    "TMP",
    "TEMP",
    "PWD",
    "OLDPWD",
    "SHLVL",
    "_",
    "SSH_.*",
    "DISPLAY",
    "XAUTHORITY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "LD_.*",
    "DYLD_.*",
    "__CF.*",
    "XPC_.*",
    "TERM_SESSION_ID",
    "TERM_PROGRAM.*",
    "SECURITYSESSIONID",
    "LaunchInstanceID",
    "LIMA_.*",
    "WSLENV",
    "WSL_.*",
    "LOCALD_ENV_.*",
    // Windows' own
    ".*\\(.*",
    "APPDATA",
    "LOCALAPPDATA",
    "ALLUSERSPROFILE",
    "ProgramData",
    "ProgramFiles.*",
    "CommonProgram.*",
    "SystemRoot",
    "SystemDrive",
    "windir",
    "ComSpec",
    "PATHEXT",
    "PSModulePath",
    "USERPROFILE",
    "USERDOMAIN.*",
    "USERNAME",
    "COMPUTERNAME",
    "OS",
    "PROCESSOR_.*",
    "NUMBER_OF_PROCESSORS",
    "PUBLIC",
    "DriverData",
    "HOMEDRIVE",
    "HOMEPATH",
    "LOGONSERVER",
    "SESSIONNAME",
    "OneDrive.*",
  ].join("|") + ")$",
  "i",
);

/**
 * The environment a command or phase starts from in a guest: the user's variables (so
 * `FOO=1 locald exec -- cmd` means the same everywhere) minus those that describe this
 * machine (PATH, HOME, TMPDIR, Windows' and macOS's own), plus the guest login's HOME, PATH,
 * SHELL, USER and LOGNAME. Pure.
 */
export function guestCommandEnv(
  userEnv: Record<string, string>,
  login: Record<string, string>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(userEnv)) {
    if (!HOST_ONLY.test(k) && !k.includes("=") && k !== "") env[k] = v;
  }
  env.PATH = login.PATH || "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const k of ["HOME", "SHELL", "USER", "LOGNAME"]) if (login[k]) env[k] = login[k];
  return env;
}
