/**
 * The Lima host (macOS): every step runs inside locald's own VM through
 *
 *   limactl shell --tty=false --workdir CWD locald /usr/bin/env -i -- K=V... ARGV...
 *
 * How Lima v2.2.0 carries that argv (cmd/limactl/shell.go): it quotes each argument with
 * shellescape.Quote (single quotes, `'` as `'"'"'`), joins them with spaces, quotes the joined
 * string once more and sends `cd WORKDIR || exit 1 ; exec "$SHELL" -l -c QUOTED` over ssh.
 * Two rounds of POSIX single quoting undo exactly, so spaces, quotes, `$`, globs and newlines
 * arrive as they left. Two traps in that code, both avoided here: leading arguments that contain
 * `=` are taken as variable assignments and only their value is quoted (our first argument is
 * always /usr/bin/env), and a second argument of `--` is dropped (we never pass one there).
 * The login shell adds its own variables; `env -i` throws them away, so the step sees exactly
 * its own environment.
 *
 * TTY: the command inherits locald's stdio. limactl asks ssh for a terminal (`-t`) only when its
 * stdout is a terminal, so `locald shell` is interactive and piped output stays byte-exact.
 * `--tty=false` stops limactl from asking questions (e.g. "start the stopped VM?").
 *
 * Exit codes: ssh returns the remote exit status and limactl exits with it; 255 means ssh itself
 * failed, and limactl's own errors exit 1.
 *
 * Paths: the home directory (or LOCALD_VM_MOUNTS) is mounted at the same path inside the VM
 * (virtiofs), and so is $LOCALD_HOME under it: projects, per-project state and the lifecycle
 * need no translation, and every message shows the user's own path. See README "macOS and
 * Windows" for why state lives on the shared mount rather than on the VM's disk.
 */
import { join } from "node:path";
import { ExitCode, LocaldError } from "../errors.ts";
import type { EnvAndDirs } from "../config/paths.ts";
import { checkStep, exactEnvArgv } from "./guest.ts";
import { nativeHost } from "./native.ts";
import type { Host, HostCommand, Step } from "./types.ts";

/** The one instance locald creates in its private LIMA_HOME. */
export const LIMA_INSTANCE = "locald";
/**
 * A directory on the VM's own disk that the provision script prepares for locald's user.
 * Unused by builds today (state is on the shared mount); kept for a guest-side agent or
 * caches that gain from the VM's disk.
 */
export const GUEST_STATE_DIR = "/var/lib/locald";
/** macOS sun_path is 104 bytes including the NUL. */
export const UNIX_PATH_MAX = 104;
/** The longest socket Lima creates in an instance directory (filenames.LongestSock). */
const LONGEST_SOCK = "ssh.sock.1234567890123456";

/** Variables limactl (and the ssh it runs) needs from the user's environment. */
const LIMACTL_ENV = ["HOME", "PATH", "USER", "LOGNAME", "TMPDIR", "TERM", "LANG", "SSH_AUTH_SOCK"];

export function longestSocketPath(limaHome: string, instance = LIMA_INSTANCE): string {
  return join(limaHome, instance, LONGEST_SOCK);
}

function fits(limaHome: string, instance: string): boolean {
  return new TextEncoder().encode(longestSocketPath(limaHome, instance)).length < UNIX_PATH_MAX;
}

/**
 * locald's private LIMA_HOME, never the user's own ~/.lima. Chosen in this order:
 * LOCALD_LIMA_HOME if set; `<LOCALD_HOME>/lima` when Lima's longest socket path under it fits
 * in 104 bytes; `~/.locald/lima` otherwise. A path that does not fit is an error, not a
 * silent truncation.
 */
export function limaHome(ed: EnvAndDirs, instance = LIMA_INSTANCE): string {
  const env = ed.env;
  const chosen = env.LOCALD_LIMA_HOME;
  if (chosen) {
    if (!fits(chosen, instance)) throw tooLong(chosen, instance, "LOCALD_LIMA_HOME");
    return chosen;
  }
  const preferred = ed.dirs.lima;
  if (fits(preferred, instance)) return preferred;
  if (env.HOME) {
    const short = join(env.HOME, ".locald", "lima");
    if (fits(short, instance)) return short;
  }
  throw tooLong(preferred, instance, "LOCALD_HOME");
}

function tooLong(home: string, instance: string, variable: string) {
  const p = longestSocketPath(home, instance);
  return new LocaldError(
    `Lima's socket path ${p} would be ${new TextEncoder().encode(p).length} bytes; macOS allows ${
      UNIX_PATH_MAX - 1
    }`,
    {
      hint: `set LOCALD_LIMA_HOME to a short directory (e.g. ~/.locald/lima)` +
        (variable === "LOCALD_LIMA_HOME" ? "" : ` or a shorter ${variable}`),
      exitCode: ExitCode.input,
    },
  );
}

/** The environment limactl runs with: the user's basics plus the private LIMA_HOME. */
export function limactlEnv(hostEnv: Record<string, string>, home: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of LIMACTL_ENV) if (hostEnv[k] !== undefined) env[k] = hostEnv[k];
  env.LIMA_HOME = home;
  return env;
}

export interface LimaHostOptions {
  limactl: string;
  limaHome: string;
  /** locald's own environment (HOME, PATH for limactl and ssh). */
  hostEnv: Record<string, string>;
  instance?: string;
  /** The uid of the VM's user; Lima gives it the host user's uid, never 0. */
  guestUid?: number;
}

/** The arguments after `limactl` that run `argv` in the VM with exactly `env`. */
export function limaShellArgs(
  instance: string,
  cwd: string,
  env: Record<string, string>,
  argv: string[],
): string[] {
  return ["shell", "--tty=false", "--workdir", cwd, instance, ...exactEnvArgv(env, argv)];
}

export function limaHost(o: LimaHostOptions): Host {
  const instance = o.instance ?? LIMA_INSTANCE;
  const inner = nativeHost({ uid: o.guestUid ?? 1000 });
  const env = limactlEnv(o.hostEnv, o.limaHome);
  return {
    name: "lima",
    wrap(step: Step): HostCommand {
      checkStep(step, "lima");
      const g = inner.wrap(step);
      return {
        argv: [o.limactl, ...limaShellArgs(instance, g.cwd ?? step.cwd, g.env, g.argv)],
        env,
      };
    },
  };
}

/** Is `dir` inside one of the mounted host directories (same path in the VM)? */
export function isMounted(dir: string, mounts: string[]): boolean {
  return mounts.some((m) => {
    const root = m.replace(/\/+$/, "");
    return dir === root || dir.startsWith(root + "/") || root === "";
  });
}

// ---------------------------------------------------------------------------------------------
// VM lifecycle: status, start, stop, delete. These run limactl; everything above is pure.

export type LimaStatus = "Running" | "Stopped" | "Broken" | "Installing" | "Uninitialized" | string;

export interface LimaInstance {
  name: string;
  status: LimaStatus;
  dir: string;
  vmType?: string;
  arch?: string;
  cpus?: number;
  memory?: number;
  disk?: number;
  errors?: string[];
  /** Host directories mounted into the VM (from the instance's config). */
  mounts?: string[];
}

/** `limactl list --json` prints one JSON object per line. */
export function parseLimaList(text: string): LimaInstance[] {
  const out: LimaInstance[] = [];
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (!t) continue;
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch {
      throw new LocaldError(`limactl list printed a line that is not JSON: ${t.slice(0, 80)}`, {
        hint: "check that LOCALD_LIMACTL (if set) points at limactl 2.2.0 or newer",
        exitCode: ExitCode.failure,
      });
    }
    const o = v as Record<string, unknown>;
    if (typeof o.name !== "string") continue;
    out.push({
      name: o.name,
      status: String(o.status ?? ""),
      dir: String(o.dir ?? ""),
      vmType: o.vmType as string | undefined,
      arch: o.arch as string | undefined,
      cpus: o.cpus as number | undefined,
      memory: o.memory as number | undefined,
      disk: o.disk as number | undefined,
      errors: Array.isArray(o.errors) ? o.errors.map(String) : undefined,
      mounts: mountLocations(o.config),
    });
  }
  return out;
}

function mountLocations(config: unknown): string[] | undefined {
  const mounts = (config as { mounts?: unknown } | undefined)?.mounts;
  if (!Array.isArray(mounts)) return undefined;
  return mounts.map((m) => (m as { location?: unknown })?.location).filter(
    (l): l is string => typeof l === "string",
  );
}

/** The host agent's log: where Lima writes why a VM failed. */
export function haLogPath(home: string, instance = LIMA_INSTANCE): string {
  return join(home, instance, "ha.stderr.log");
}

export function brokenError(home: string, inst: LimaInstance): LocaldError {
  const log = haLogPath(home, inst.name);
  const why = inst.errors?.[0] ? `: ${inst.errors[0].split("\n")[0]}` : "";
  return new LocaldError(`the locald VM is broken${why}`, {
    hint: `read ${log}; then \`locald vm stop\` and \`locald vm start\`, or \`locald vm rm\` ` +
      "to start over",
    details: [`log: ${log}`],
    exitCode: ExitCode.failure,
  });
}

/**
 * Apple's Virtualization.framework (vmType vz) needs macOS 13 (Darwin 22) or newer. Takes the
 * Darwin kernel release (Deno.osRelease() on macOS, e.g. "22.6.0").
 */
export function checkVzSupported(darwinRelease: string): void {
  const major = Number(darwinRelease.split(".")[0]);
  if (!Number.isFinite(major) || major >= 22) return;
  const macos = major >= 20 ? `${major - 9}` : `10.${major - 4}`;
  throw new LocaldError(
    `this Mac runs macOS ${macos} (Darwin ${darwinRelease}); locald's VM needs macOS 13 or newer`,
    {
      hint: "update macOS to 13 (Ventura) or newer; Apple's Virtualization.framework (vz) " +
        "is not available before that",
      exitCode: ExitCode.unsupported,
    },
  );
}

export interface Limactl {
  path: string;
  home: string;
  env: Record<string, string>;
}

async function spawnCapture(
  l: Limactl,
  args: string[],
  onStderrLine?: (line: string) => void,
): Promise<{ code: number; stdout: string; stderr: string[] }> {
  const { run } = await import("../util/runner.ts");
  const stderr: string[] = [];
  const r = await run([l.path, ...args], {
    env: l.env,
    clearEnv: true,
    onStderrLine: (line) => {
      stderr.push(line);
      onStderrLine?.(line);
    },
    hint: "run `locald vm start` to install Lima, or unset LOCALD_LIMACTL",
    exitCode: ExitCode.failure,
  });
  return { code: r.code, stdout: r.stdout, stderr };
}

/** A logrus text line (`time=... level=info msg="..."`) as level and message. */
export function parseLogLine(line: string): { level: string; msg: string } {
  const level = /\blevel=(\w+)/.exec(line)?.[1] ?? "info";
  const m = /\bmsg=("(?:[^"\\]|\\.)*"|\S+)/.exec(line);
  if (!m) return { level, msg: line };
  let msg = m[1];
  if (msg.startsWith('"')) {
    try {
      msg = JSON.parse(msg);
    } catch {
      msg = msg.slice(1, -1);
    }
  }
  return { level, msg };
}

function lastError(lines: string[]): string | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const { level, msg } = parseLogLine(lines[i]);
    if (level === "fatal" || level === "error") return msg;
  }
  return lines.findLast((l) => l.trim())?.trim();
}

export async function limaInstance(
  l: Limactl,
  name = LIMA_INSTANCE,
): Promise<LimaInstance | undefined> {
  const r = await spawnCapture(l, ["list", "--json"]);
  if (r.code !== 0) {
    throw new LocaldError(`limactl list failed: ${lastError(r.stderr) ?? `exit ${r.code}`}`, {
      hint: `check ${l.home}; \`locald vm rm\` starts over`,
      exitCode: ExitCode.failure,
    });
  }
  return parseLimaList(r.stdout).find((i) => i.name === name);
}

export interface StartProgress {
  /** One line of Lima's progress, already stripped of logrus decoration. */
  (msg: string, level: string): void;
}

/**
 * Create (from `yamlFile`) or start the instance and wait until it is running. Lima's progress
 * lines are passed to `progress` as they come.
 */
export async function startLima(
  l: Limactl,
  opts: { yamlFile?: string; name?: string; progress?: StartProgress },
): Promise<void> {
  const name = opts.name ?? LIMA_INSTANCE;
  const args = opts.yamlFile
    ? ["start", "--tty=false", "--progress", "--name", name, opts.yamlFile]
    : ["start", "--tty=false", "--progress", name];
  const r = await spawnCapture(l, args, (line) => {
    if (!line.trim()) return;
    const { level, msg } = parseLogLine(line);
    opts.progress?.(msg, level);
  });
  if (r.code !== 0) {
    const log = haLogPath(l.home, name);
    throw new LocaldError(
      `the locald VM did not start: ${lastError(r.stderr) ?? `limactl exited ${r.code}`}`,
      {
        hint: `read ${log}; \`locald vm rm\` then \`locald vm start\` starts over`,
        details: [`log: ${log}`],
        exitCode: ExitCode.failure,
      },
    );
  }
}

export async function stopLima(l: Limactl, name = LIMA_INSTANCE): Promise<void> {
  const r = await spawnCapture(l, ["stop", "--tty=false", name]);
  if (r.code !== 0) {
    throw new LocaldError(`could not stop the locald VM: ${lastError(r.stderr) ?? r.code}`, {
      hint: `\`limactl stop --force\` with LIMA_HOME=${l.home} stops it hard`,
      details: [`log: ${haLogPath(l.home, name)}`],
      exitCode: ExitCode.failure,
    });
  }
}

export async function deleteLima(l: Limactl, name = LIMA_INSTANCE): Promise<void> {
  const r = await spawnCapture(l, ["delete", "--tty=false", "--force", name]);
  if (r.code !== 0) {
    throw new LocaldError(`could not delete the locald VM: ${lastError(r.stderr) ?? r.code}`, {
      hint: `remove ${join(l.home, name)} by hand once no limactl process is using it`,
      exitCode: ExitCode.failure,
    });
  }
}
