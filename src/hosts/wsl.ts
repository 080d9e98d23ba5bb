/**
 * The WSL2 host (Windows): every step runs inside a WSL distribution through
 *
 *   wsl.exe -d DISTRO --cd GUEST_CWD --exec /bin/sh -c SCRIPT locald-env N NAME CARRIER ... ARGV...
 *
 * `--exec` hands argv to the Linux side as is (no shell re-parses it; the `--` form would run
 * `$SHELL -c`). Variable values never travel on the command line: each one rides in a carrier
 * variable LOCALD_ENV_<i> listed in WSLENV (no flags, so WSL copies the value unchanged), and
 * SCRIPT rebuilds the step's environment from them under `env -i`, so nothing WSL adds
 * (a PATH with Windows directories, WSL_INTEROP, WSL_DISTRO_NAME) reaches the step. Carriers
 * keep step names such as PATH from colliding with Windows' case-insensitive `Path`.
 *
 * Paths: a Windows path C:\Users\x is /mnt/c/Users/x inside the distro (the automount root
 * is /mnt/ unless /etc/wsl.conf changes it); other forms fall back to `wslpath -u`. State
 * (layers, caches, the lifecycle) lives in the distro's own ext4 disk under the distro user's
 * ~/.local/share/locald: /mnt/c is a 9p share, many times slower per file operation and
 * without Linux permissions. Messages show Windows paths (\\wsl.localhost\DISTRO\... for
 * paths in the distro).
 */
import { ExitCode, LocaldError } from "../errors.ts";
import {
  checkEnvName,
  checkStep,
  GUEST_ENV,
  GUEST_PROBE_SCRIPT,
  type GuestProbe,
  parseGuestProbe,
  programArgv,
} from "./guest.ts";
import { nativeHost } from "./native.ts";
import type { Host, HostCommand, Step } from "./types.ts";

export const CARRIER_PREFIX = "LOCALD_ENV_";

/**
 * Runs inside the distro: `$1` is the number of variables, then NAME CARRIER pairs, then the
 * step's argv. Each value is read from its carrier (by eval of our own carrier name only),
 * appended as NAME=VALUE, then argv is rotated behind the assignments and env -i runs it.
 */
export const WSL_ENV_SCRIPT = [
  "n=$1; shift; i=0",
  'while [ "$i" -lt "$n" ]; do',
  "  name=$1; carrier=$2; shift 2",
  '  eval "isset=\\${$carrier+x}"',
  '  if [ -z "$isset" ]; then',
  '    echo "locald: $carrier did not arrive through WSLENV" >&2; exit 125',
  "  fi",
  '  eval "value=\\${$carrier}"',
  '  set -- "$@" "$name=$value"; i=$((i+1))',
  "done",
  "m=$(($# - n)); i=0",
  'while [ "$i" -lt "$m" ]; do a=$1; shift; set -- "$@" "$a"; i=$((i+1)); done',
  `exec ${GUEST_ENV} -i -- "$@"`,
].join("\n");

export interface WslHostOptions {
  /** Path of wsl.exe (usually just "wsl.exe" on PATH). */
  wsl: string;
  distro: string;
  /** locald's own (Windows) environment: wsl.exe needs SystemRoot and friends. */
  hostEnv: Record<string, string>;
  /** The distro user's uid; 0 when the distro's default user is root. */
  guestUid?: number;
}

/** The arguments after wsl.exe, and the carrier variables to add to its environment. */
export function wslExecArgs(
  distro: string,
  cwd: string,
  env: Record<string, string>,
  argv: string[],
): { args: string[]; carriers: Record<string, string> } {
  const names = Object.keys(env).sort();
  const carriers: Record<string, string> = {};
  const pairs: string[] = [];
  names.forEach((name, i) => {
    checkEnvName(name, "wsl");
    const carrier = `${CARRIER_PREFIX}${i}`;
    carriers[carrier] = env[name];
    pairs.push(name, carrier);
  });
  return {
    args: [
      "-d",
      distro,
      "--cd",
      cwd,
      "--exec",
      "/bin/sh",
      "-c",
      WSL_ENV_SCRIPT,
      "locald-env",
      String(names.length),
      ...pairs,
      ...programArgv(argv),
    ],
    carriers,
  };
}

/** locald's environment for wsl.exe: the user's, minus stale carriers, plus ours and WSLENV. */
export function wslProcessEnv(
  hostEnv: Record<string, string>,
  carriers: Record<string, string>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(hostEnv)) {
    if (k.toUpperCase().startsWith(CARRIER_PREFIX) || k.toUpperCase() === "WSLENV") continue;
    env[k] = v;
  }
  Object.assign(env, carriers);
  env.WSLENV = Object.keys(carriers).join(":");
  return env;
}

export function wslHost(o: WslHostOptions): Host {
  const inner = nativeHost({ uid: o.guestUid ?? 1000 });
  return {
    name: "wsl",
    wrap(step: Step): HostCommand {
      checkStep(step, "wsl");
      const g = inner.wrap(step);
      const { args, carriers } = wslExecArgs(o.distro, g.cwd ?? step.cwd, g.env, g.argv);
      return { argv: [o.wsl, ...args], env: wslProcessEnv(o.hostEnv, carriers) };
    },
  };
}

/** The simpler form for one-off commands whose environment does not matter (probes). */
export function wslProbeArgs(distro: string, argv: string[]): string[] {
  return ["-d", distro, "--exec", ...argv];
}

// ---------------------------------------------------------------------------------------------
// wsl.exe output and distributions

/**
 * wsl.exe writes its own messages in UTF-16LE unless WSL_UTF8=1 (programs inside the distro
 * write whatever they write, usually UTF-8). Decide from the bytes: a BOM, or NULs in the odd
 * positions of ASCII text.
 */
export function decodeWslOutput(bytes: Uint8Array): string {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) {
    return new TextDecoder("utf-16le").decode(bytes.subarray(2));
  }
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return new TextDecoder().decode(bytes.subarray(3));
  }
  let odd = 0;
  const n = Math.min(bytes.length, 200) & ~1;
  for (let i = 1; i < n; i += 2) if (bytes[i] === 0) odd++;
  if (n > 0 && odd * 2 >= n / 2) return new TextDecoder("utf-16le").decode(bytes);
  return new TextDecoder().decode(bytes);
}

export interface WslDistro {
  name: string;
  /** As wsl.exe printed it (localized, e.g. "Running", "Stopped"). */
  state: string;
  version: number;
  isDefault: boolean;
}

/**
 * `wsl.exe -l -v`: a header (NAME STATE VERSION, localized), then one row per distro with `*`
 * before the default. Distro names have no spaces; a localized state may.
 */
export function parseWslList(text: string): WslDistro[] {
  const out: WslDistro[] = [];
  for (const raw of text.replace(/\0/g, "").split(/\r?\n/)) {
    let line = raw.trim();
    if (!line) continue;
    const isDefault = line.startsWith("*");
    if (isDefault) line = line.slice(1).trim();
    const tokens = line.split(/\s+/);
    if (tokens.length < 3 || !/^\d+$/.test(tokens[tokens.length - 1])) continue;
    out.push({
      name: tokens[0],
      state: tokens.slice(1, -1).join(" "),
      version: Number(tokens[tokens.length - 1]),
      isDefault,
    });
  }
  return out;
}

/** Distros that belong to other tools and must never be used for builds. */
const FOREIGN =
  /^(docker-desktop|docker-desktop-data|rancher-desktop|rancher-desktop-data|podman-machine.*)$/i;

/**
 * Which distro to use: the configured one (LOCALD_WSL_DISTRO) if it exists and is WSL 2;
 * otherwise the default distro (`*`) if it is WSL 2 and not another tool's; otherwise the
 * first WSL 2 distro whose name starts with Ubuntu, then any WSL 2 distro.
 */
export function chooseDistro(
  list: WslDistro[],
  configured?: string,
): { distro: WslDistro; reason: string } {
  const names = list.map((d) => d.name).join(", ") || "none";
  if (configured) {
    const d = list.find((x) => x.name.toLowerCase() === configured.toLowerCase());
    if (!d) {
      throw new LocaldError(`WSL distribution "${configured}" does not exist`, {
        hint: `installed: ${names}; set LOCALD_WSL_DISTRO to one of them`,
        exitCode: ExitCode.input,
      });
    }
    if (d.version !== 2) throw wsl1(d);
    return { distro: d, reason: "LOCALD_WSL_DISTRO" };
  }
  const usable = list.filter((d) => d.version === 2 && !FOREIGN.test(d.name));
  const def = usable.find((d) => d.isDefault);
  if (def) return { distro: def, reason: "the default WSL distribution" };
  const ubuntu = usable.find((d) => /^ubuntu/i.test(d.name));
  if (ubuntu) return { distro: ubuntu, reason: "the first Ubuntu distribution" };
  if (usable[0]) return { distro: usable[0], reason: "the first WSL 2 distribution" };
  throw new LocaldError(`no usable WSL 2 distribution (installed: ${names})`, {
    hint: "install one with `wsl --install -d Ubuntu-24.04`, or set LOCALD_WSL_DISTRO",
    exitCode: ExitCode.unsupported,
  });
}

function wsl1(d: WslDistro) {
  return new LocaldError(`WSL distribution "${d.name}" runs WSL 1; locald needs WSL 2`, {
    hint: `convert it with \`wsl --set-version ${d.name} 2\``,
    exitCode: ExitCode.unsupported,
  });
}

// ---------------------------------------------------------------------------------------------
// Paths

/**
 * A Windows path as the distro sees it, done the way wslpath does for the common forms:
 * `C:\x` and `C:/x` -> `/mnt/c/x`, `\\?\C:\x` likewise, `\\wsl$\DISTRO\x` and
 * `\\wsl.localhost\DISTRO\x` -> `/x` for this distro. Returns undefined for anything else
 * (other UNC shares, relative paths): ask `wslpath -u` then.
 */
export function windowsToWsl(
  path: string,
  distro: string,
  automountRoot = "/mnt/",
): string | undefined {
  if (path.startsWith("/")) return path;
  let p = path.replace(/^\\\\\?\\(?=[A-Za-z]:)/, "");
  const drive = /^([A-Za-z]):(?:[\\/](.*))?$/.exec(p);
  if (drive) {
    const rest = (drive[2] ?? "").split(/[\\/]+/).filter(Boolean).join("/");
    const root = automountRoot.endsWith("/") ? automountRoot : automountRoot + "/";
    return `${root}${drive[1].toLowerCase()}${rest ? "/" + rest : ""}`;
  }
  const unc = /^\\\\(?:wsl\$|wsl\.localhost)\\([^\\]+)(\\.*)?$/i.exec(p);
  if (unc && unc[1].toLowerCase() === distro.toLowerCase()) {
    p = (unc[2] ?? "\\").replace(/\\+/g, "/");
    return p.length > 1 ? p.replace(/\/+$/, "") : "/";
  }
  return undefined;
}

/** A distro path as the Windows user knows it, for messages. */
export function wslToWindows(path: string, distro: string, automountRoot = "/mnt/"): string {
  const root = automountRoot.endsWith("/") ? automountRoot : automountRoot + "/";
  const m = new RegExp(`^${root.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}([a-z])(/.*)?$`).exec(path);
  if (m) return `${m[1].toUpperCase()}:${(m[2] ?? "\\").replace(/\//g, "\\")}`;
  return `\\\\wsl.localhost\\${distro}${path.replace(/\//g, "\\")}`;
}

async function runWsl(
  wsl: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: Uint8Array; stderr: Uint8Array }> {
  const { run } = await import("../util/runner.ts");
  const r = await run([wsl, ...args], {
    env,
    hint: "install WSL with `wsl --install` (Windows 10 2004+ or Windows 11)",
    exitCode: ExitCode.unsupported,
  });
  return { code: r.code, stdout: r.stdoutBytes, stderr: r.stderrBytes };
}

export async function listDistros(wsl: string, env: Record<string, string>): Promise<WslDistro[]> {
  const r = await runWsl(wsl, ["-l", "-v"], env);
  const text = decodeWslOutput(r.stdout);
  if (r.code !== 0) {
    // With no distribution installed, wsl -l -v fails and says so.
    const msg = (text + decodeWslOutput(r.stderr)).trim().split(/\r?\n/)[0] ?? "";
    throw new LocaldError(`wsl.exe -l -v failed: ${msg || `exit ${r.code}`}`, {
      hint: "install a distribution with `wsl --install -d Ubuntu-24.04`",
      exitCode: ExitCode.unsupported,
    });
  }
  return parseWslList(text);
}

/** The `wslpath -u` fallback for paths windowsToWsl cannot translate alone. */
export async function wslpath(
  wsl: string,
  distro: string,
  winPath: string,
  env: Record<string, string>,
): Promise<string> {
  const pure = windowsToWsl(winPath, distro);
  if (pure) return pure;
  const r = await runWsl(wsl, wslProbeArgs(distro, ["wslpath", "-u", winPath]), env);
  const out = new TextDecoder().decode(r.stdout).trim();
  if (r.code !== 0 || !out.startsWith("/")) {
    throw new LocaldError(`WSL cannot see ${winPath}`, {
      hint: "keep the project on a local drive (C:\\...) or inside the distro",
      exitCode: ExitCode.input,
    });
  }
  return out;
}

/** The distro user's home, ids, machine, login basics and os-release (one probe). */
export async function probeGuest(
  wsl: string,
  distro: string,
  env: Record<string, string>,
): Promise<GuestProbe & { home: string }> {
  const r = await runWsl(wsl, wslProbeArgs(distro, ["/bin/sh", "-c", GUEST_PROBE_SCRIPT]), env);
  const p = r.code === 0 ? parseGuestProbe(new TextDecoder().decode(r.stdout)) : undefined;
  if (!p) {
    const why = decodeWslOutput(r.stderr).trim().split(/\r?\n/)[0];
    throw new LocaldError(`WSL distribution ${distro} did not start${why ? `: ${why}` : ""}`, {
      hint: `try \`wsl -d ${distro}\` yourself; \`wsl --shutdown\` resets WSL`,
      exitCode: ExitCode.failure,
    });
  }
  // WSL appends Windows' PATH (/mnt/c/...): Windows programs have no place in a build.
  if (p.login.PATH) {
    p.login.PATH = p.login.PATH.split(":").filter((d) => !/^\/mnt\/[a-z]\//.test(d)).join(":");
  }
  return { ...p, home: p.login.HOME };
}

/** locald's state inside the distro (the distro's own disk). */
export function wslStateDir(guestHome: string): string {
  return `${guestHome.replace(/\/+$/, "")}/.local/share/locald`;
}
