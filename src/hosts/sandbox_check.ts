/**
 * Can this machine run the sandbox? Finds bwrap on PATH, tries one real sandbox (the same
 * namespaces a build uses), and when that fails reads the kernel's user-namespace switches to
 * say exactly why and what to run. `diagnose()` is pure; `checkSandbox()` does the probing.
 * A sandbox that was asked for and is not available is an error, never a silent fallback.
 */
import { findOnPath, readTextIfExists, writeFileAtomic } from "../util/fs.ts";
export { findOnPath };
import { ExitCode, LocaldError } from "../errors.ts";
import { NAMESPACE_ID } from "./native.ts";
import { command } from "../util/run.ts";

export interface SandboxAvailability {
  available: boolean;
  /** Absolute path of bwrap, when found. */
  bwrap?: string;
  version?: string;
  /** Why not, one line. */
  reason?: string;
  /** The command that fixes it, one line. */
  fix?: string;
  /** Alternatives and how to make the fix permanent. */
  details: string[];
  /** The kernel switches read (absent: not present on this kernel). */
  userns: {
    maxUserNamespaces?: number;
    apparmorRestrict?: number;
    unprivilegedClone?: number;
  };
}

export interface DiagnoseInput {
  /** bwrap found on PATH. */
  found: boolean;
  bwrap?: string;
  uid: number;
  /** The trial sandbox's exit code and stderr (when bwrap was found). */
  trial?: { code: number; stderr: string };
  userns: SandboxAvailability["userns"];
  /** ID and ID_LIKE from /etc/os-release, for the install command. */
  distro: string[];
  inContainer: boolean;
}

/** The package manager's install command for bubblewrap on this distribution. */
export function installCommand(distro: string[], uid: number): string {
  const sudo = uid === 0 ? "" : "sudo ";
  const has = (...ids: string[]) => ids.some((id) => distro.includes(id));
  if (has("debian", "ubuntu")) return `${sudo}apt-get install bubblewrap`;
  if (has("fedora", "rhel", "centos")) return `${sudo}dnf install bubblewrap`;
  if (has("arch")) return `${sudo}pacman -S bubblewrap`;
  if (has("suse", "opensuse")) return `${sudo}zypper install bubblewrap`;
  if (has("alpine")) return `${sudo}apk add bubblewrap`;
  return "install bubblewrap (the bwrap command) with your package manager";
}

export function diagnose(
  i: DiagnoseInput,
): Omit<SandboxAvailability, "userns" | "bwrap" | "version"> {
  const sudo = i.uid === 0 ? "" : "sudo ";
  if (!i.found) {
    return {
      available: false,
      reason: "bwrap (bubblewrap) is not installed or not on PATH",
      fix: installCommand(i.distro, i.uid),
      details: [],
    };
  }
  if (i.trial && i.trial.code === 0) return { available: true, details: [] };
  const said =
    i.trial?.stderr.trim().split("\n").filter(Boolean).pop()?.replace(/^bwrap:\s*/, "") ??
      "it did not start";
  const u = i.userns;
  if (u.maxUserNamespaces === 0) {
    return {
      available: false,
      reason: "user namespaces are switched off (user.max_user_namespaces = 0)",
      fix: `${sudo}sysctl -w user.max_user_namespaces=15000`,
      details: [
        "to keep it after a reboot: echo user.max_user_namespaces=15000 | " +
        `${sudo}tee /etc/sysctl.d/60-locald-userns.conf`,
        `bwrap said: ${said}`,
      ],
    };
  }
  if (u.unprivilegedClone === 0 && i.uid !== 0) {
    return {
      available: false,
      reason:
        "unprivileged user namespaces are switched off (kernel.unprivileged_userns_clone = 0)",
      fix: `${sudo}sysctl -w kernel.unprivileged_userns_clone=1`,
      details: [
        "to keep it after a reboot: echo kernel.unprivileged_userns_clone=1 | " +
        `${sudo}tee /etc/sysctl.d/60-locald-userns.conf`,
        `bwrap said: ${said}`,
      ],
    };
  }
  if (u.apparmorRestrict === 1 && i.uid !== 0) {
    const bwrap = i.bwrap ?? "/usr/bin/bwrap";
    const profile = `abi <abi/4.0>,\\ninclude <tunables/global>\\nprofile locald-bwrap ${bwrap} ` +
      `flags=(unconfined) {\\n  userns,\\n}\\n`;
    return {
      available: false,
      reason: "AppArmor blocks unprivileged user namespaces " +
        "(kernel.apparmor_restrict_unprivileged_userns = 1)",
      fix: `printf '${profile}' | sudo tee /etc/apparmor.d/locald-bwrap && ` +
        "sudo apparmor_parser -r /etc/apparmor.d/locald-bwrap",
      details: [
        "that profile lets only bwrap create user namespaces; the blunt alternative is " +
        "`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`",
        `bwrap said: ${said}`,
      ],
    };
  }
  if (i.inContainer) {
    return {
      available: false,
      reason: `bwrap cannot create namespaces inside this container: ${said}`,
      fix: "run the container with --security-opt seccomp=unconfined " +
        "--security-opt apparmor=unconfined (or --privileged), or build outside it",
      details: [],
    };
  }
  return {
    available: false,
    reason: `bwrap cannot create a sandbox here: ${said}`,
    fix: `check that user namespaces work: ${i.bwrap ?? "bwrap"} --unshare-all --ro-bind / / true`,
    details: [],
  };
}

async function readNumber(path: string): Promise<number | undefined> {
  try {
    const n = Number((await Deno.readTextFile(path)).trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

async function distroIds(): Promise<string[]> {
  try {
    const text = await Deno.readTextFile("/etc/os-release");
    const ids: string[] = [];
    for (const m of text.matchAll(/^(ID|ID_LIKE)=("?)([^"\n]*)\2$/gm)) {
      ids.push(...m[3].split(/\s+/));
    }
    return ids.filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * A probe: a plain Deno.Command (util/run.ts), killed after 30 s. Not the dax runner: every
 * build with a mount namespace probes, and loading dax took longer than the probe itself.
 */
async function run(argv: string[], env: Record<string, string>) {
  try {
    const out = await command(argv, {
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // Not setTimeout: the timer globals' first use loads Deno's node:timers (milliseconds).
      signal: AbortSignal.timeout(30_000),
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (e) {
    return { code: 127, stdout: "", stderr: (e as Error).message };
  }
}

/**
 * What a trial sandbox's success depends on: bwrap itself (path, inode, size, change time),
 * who runs it, this boot of the kernel and its user-namespace switches. The same key means
 * the same answer, so a good trial is remembered under it (checkSandbox's `remember`).
 */
function trialKey(bwrap: string, uid: number, userns: SandboxAvailability["userns"]) {
  try {
    const st = Deno.statSync(bwrap);
    const boot = Deno.readTextFileSync("/proc/sys/kernel/random/boot_id").trim();
    return JSON.stringify({
      bwrap,
      ino: st.ino,
      size: st.size,
      ctime: st.ctime?.getTime(),
      uid,
      gid: Deno.gid(),
      boot,
      userns,
    });
  } catch {
    return undefined; // nothing to key on: always tried
  }
}

/**
 * Probe this machine: bwrap on `env.PATH`, then one real sandbox like a build's. `version`
 * asks bwrap for its version too (doctor); commands skip that spawn.
 */
export async function checkSandbox(
  env: Record<string, string>,
  opts: {
    version?: boolean;
    /**
     * A file where a good trial is remembered (trialKey): while nothing it depends on changed,
     * the trial is not run again (it costs a spawn and new namespaces on every build).
     */
    remember?: string;
  } = {},
): Promise<SandboxAvailability> {
  const uid = Deno.uid() ?? 0;
  const userns = {
    maxUserNamespaces: await readNumber("/proc/sys/user/max_user_namespaces"),
    apparmorRestrict: await readNumber("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
    unprivilegedClone: await readNumber("/proc/sys/kernel/unprivileged_userns_clone"),
  };
  const bwrap = Deno.build.os === "linux" ? findOnPath("bwrap", env.PATH) : undefined;
  let version: string | undefined;
  let trial: { code: number; stderr: string } | undefined;
  const childEnv = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };
  if (bwrap && opts.version) {
    version =
      (await run([bwrap, "--version"], childEnv)).stdout.trim().replace(/^bubblewrap\s+/, "") ||
      undefined;
  }
  const key = bwrap && opts.remember ? trialKey(bwrap, uid, userns) : undefined;
  if (key && (await readTextIfExists(opts.remember!).catch(() => undefined)) === key) {
    return { available: true, details: [], bwrap, version, userns };
  }
  if (bwrap) {
    const inside = uid === 0 ? NAMESPACE_ID : uid;
    trial = await run([
      bwrap,
      "--unshare-all",
      "--die-with-parent",
      "--unshare-user",
      "--uid",
      String(inside),
      "--gid",
      String(uid === 0 ? NAMESPACE_ID : Deno.gid() ?? inside),
      "--ro-bind",
      "/",
      "/",
      "--proc",
      "/proc",
      "--dev",
      "/dev",
      "--",
      "true",
    ], childEnv);
  }
  let inContainer = false;
  for (const f of ["/.dockerenv", "/run/.containerenv"]) {
    try {
      await Deno.lstat(f);
      inContainer = true;
    } catch { /* not there */ }
  }
  const d = diagnose({
    found: !!bwrap,
    bwrap,
    uid,
    trial,
    userns,
    distro: await distroIds(),
    inContainer,
  });
  if (key && d.available) {
    await writeFileAtomic(opts.remember!, key).catch(() => {/* tried again next time */});
  }
  return { ...d, bwrap, version, userns };
}

/**
 * The error for a sandbox that was asked for and cannot run: one line, the fix as the hint
 * (`locald doctor` shows the alternatives and what bwrap said).
 */
export function sandboxUnavailable(a: SandboxAvailability, why: string): LocaldError {
  return new LocaldError(`cannot sandbox ${why}: ${a.reason}`, {
    hint: a.fix,
    exitCode: ExitCode.unsupported,
  });
}
