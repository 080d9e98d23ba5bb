/**
 * What the VM and WSL hosts share: turning a step into an argv that runs inside a Linux guest
 * with exactly the step's environment. The guest's own login environment (whatever Lima's
 * login shell or WSL adds: PATH with Windows directories, WSL_INTEROP, MOTD variables) never
 * reaches the step: `env -i` starts from nothing and sets exactly the step's variables.
 */
import { ExitCode, LocaldError } from "../errors.ts";
import type { Step } from "./types.ts";
import {
  ETC_ENTRIES,
  layoutFromFacts,
  type PathFact,
  SYSTEM_DIRS,
  type SystemEntry,
} from "./sandbox.ts";

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

/** The line that starts the sandbox part of the probe's answer (after os-release). */
export const SANDBOX_MARKER = "@locald-sandbox";

/**
 * The line that starts the probe's answer. The login shell sources the guest user's profile
 * before the probe runs, and what it prints (a greeting, a motd) comes first on the same
 * stdout: everything before this line is not the answer.
 */
export const PROBE_MARKER = "@locald-probe";

/**
 * One probe of the guest, run through its login shell: ids, machine, the login's own basics,
 * then os-release, then what a sandbox inside the guest needs: where bwrap is (an empty line
 * when it is missing), whether it can create the namespaces a build uses (exit code and its
 * last line of complaint, e.g. AppArmor's), and how each system path exists (`p` plain,
 * `l` symlink with its target and real path; absent and dangling ones are not listed).
 */
export const GUEST_PROBE_SCRIPT = [
  `printf "%s\\n" ${PROBE_MARKER}`,
  'printf "%s\\n" "$(id -u)" "$(id -g)" "$(uname -m)" "$HOME" "$PATH" "$SHELL" ' +
  '"${USER:-$(id -un 2>/dev/null)}"',
  "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null || true",
  `printf "\\n%s\\n" ${SANDBOX_MARKER}`,
  "b=$(command -v bwrap 2>/dev/null || true)",
  'printf "%s\\n" "$b"',
  'if [ -n "$b" ]; then e=$("$b" --unshare-all --die-with-parent --unshare-user ' +
  "--ro-bind / / --proc /proc --dev /dev -- true 2>&1 >/dev/null); rc=$?; " +
  'printf "%s\\n" "$rc" "$(printf "%s" "$e" | tail -n 1)"; else printf "\\n\\n"; fi',
  `for p in ${[...SYSTEM_DIRS, ...ETC_ENTRIES].join(" ")}; do ` +
  'if [ -L "$p" ]; then if [ -e "$p" ]; then ' +
  'printf "l\\t%s\\t%s\\t%s\\n" "$p" "$(readlink "$p")" "$(readlink -f "$p")"; fi; ' +
  'elif [ -e "$p" ]; then printf "p\\t%s\\n" "$p"; fi; done',
  "true",
].join("; ");

/** What a sandbox inside the guest needs to know (absent in facts an older locald cached). */
export interface GuestSandbox {
  /** Absolute path of the guest's bwrap; empty when it has none. */
  bwrap: string;
  /** Whether a trial sandbox started (user namespaces allowed, e.g. by AppArmor). */
  works: boolean;
  /** What bwrap said when it did not start. */
  error?: string;
  /** The guest's system paths, as systemLayout() would find them there. */
  system: SystemEntry[];
}

export interface GuestProbe {
  uid: number;
  gid: number;
  machine: string;
  login: Record<string, string>;
  osRelease: string;
  /** Absent when the answer has no sandbox part (a probe script without one). */
  sandbox?: GuestSandbox;
}

function parseSandboxPart(lines: string[]): GuestSandbox | undefined {
  if (lines.length < 3) return undefined;
  const [bwrap, rc, error] = lines;
  if (bwrap !== "" && !bwrap.startsWith("/")) return undefined;
  const facts: PathFact[] = [];
  for (const line of lines.slice(3)) {
    const f = line.split("\t");
    if (f[0] === "p" && f.length === 2) facts.push({ path: f[1], kind: "plain" });
    else if (f[0] === "l" && f.length === 4) {
      facts.push({ path: f[1], kind: "symlink", target: f[2], real: f[3] });
    }
  }
  const works = bwrap !== "" && rc === "0";
  return {
    bwrap,
    works,
    ...(bwrap && !works ? { error: error.replace(/^bwrap:\s*/, "") || `exit ${rc}` } : {}),
    system: layoutFromFacts(facts),
  };
}

/** GUEST_PROBE_SCRIPT's output, or undefined when it is not what the script prints. */
export function parseGuestProbe(text: string): GuestProbe | undefined {
  let lines = text.replace(/\r\n/g, "\n").split("\n");
  const start = lines.indexOf(PROBE_MARKER);
  if (start !== -1) lines = lines.slice(start + 1);
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
  const marker = lines.indexOf(SANDBOX_MARKER, 7);
  const sandbox = marker === -1 ? undefined : parseSandboxPart(lines.slice(marker + 1));
  return {
    uid: Number(uid),
    gid: Number(gid),
    machine: machine.trim(),
    login,
    osRelease: lines.slice(7, marker === -1 ? undefined : marker).join("\n"),
    ...(sandbox ? { sandbox } : {}),
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
