/**
 * Which host runs the plan: native on Linux, locald's Lima VM on macOS, WSL 2 on Windows, or
 * what LOCALD_BACKEND says. The Lima and WSL modules load only when chosen, so the native
 * path (and `locald exec`'s start-up) pays nothing for them.
 *
 * Two views of a path. locald itself reads and writes per-project state (platform/env,
 * order.toml, the run image layout, layers between builds, build.json) through the *host
 * view*: the path as this process opens it. Steps (lifecycle phases, the launcher) see the
 * *guest view*. A Backend says how one becomes the other (`guestPath`): natively and on Lima
 * (state on the shared mount at the same path) it is the identity; on WSL it turns
 * `C:\x` into `/mnt/c/x` and `\\wsl.localhost\<distro>\x` into `/x`. The plan and the dev-env
 * commands apply it where they are created, and nowhere else.
 */
import type { Output } from "../output.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import { type ProjectPaths, projectPaths } from "../config/paths.ts";
import type { Lifecycle } from "../tools/lifecycle.ts";
import type { Target } from "./target.ts";
import type { Host, HostCommand, Step } from "./types.ts";
import type { SandboxOptions } from "./sandbox.ts";
import type { Network } from "../config/defaults.ts";
import type { GuestSandbox } from "./guest.ts";

export const BACKENDS = ["native", "lima", "wsl"] as const;
export type BackendName = (typeof BACKENDS)[number];

/** The backend for this OS, or LOCALD_BACKEND's. Pure. */
export function chooseBackend(
  env: Record<string, string>,
  os: string = Deno.build.os,
): { name: BackendName; reason: string } {
  const forced = env.LOCALD_BACKEND;
  if (forced !== undefined && forced !== "") {
    if ((BACKENDS as readonly string[]).includes(forced)) {
      return { name: forced as BackendName, reason: "LOCALD_BACKEND" };
    }
    throw new LocaldError(`LOCALD_BACKEND must be native, lima or wsl (got "${forced}")`, {
      hint: "unset LOCALD_BACKEND to let locald choose from the operating system",
      exitCode: ExitCode.input,
    });
  }
  switch (os) {
    case "linux":
      return { name: "native", reason: "Linux runs the lifecycle directly" };
    case "darwin":
      return { name: "lima", reason: "macOS runs the lifecycle in locald's Lima VM" };
    case "windows":
      return { name: "wsl", reason: "Windows runs the lifecycle in WSL 2" };
    default:
      throw new LocaldError(`locald does not support ${os}`, {
        hint: "set LOCALD_BACKEND=native if this system runs Linux binaries",
        exitCode: ExitCode.unsupported,
      });
  }
}

/** What the plan needs to know about the Linux system its steps run on. */
export interface GuestFacts {
  /** The ids steps run as (before any user namespace). */
  uid: number;
  gid: number;
  /** `uname -m`: x86_64 or aarch64. Chooses the lifecycle release. */
  machine: string;
  /** os, arch and distro (os-release) for the run image the analyzer reads. */
  target: Target;
  /** The guest login's HOME, PATH, SHELL, USER, LOGNAME (empty natively: the user's are it). */
  login: Record<string, string>;
  /**
   * What a sandbox in the guest needs (its bwrap and system layout). Natively never set (this
   * machine is probed when needed); absent in facts an older locald cached: unknown.
   */
  sandbox?: GuestSandbox;
}

/** Everything a command needs to run a plan somewhere. */
export interface Backend {
  name: BackendName;
  reason: string;
  host: Host;
  /** Start the VM or distro if needed (with progress); a no-op natively. */
  ready(out: Output): Promise<void>;
  /** Facts about the guest (asked once per process). */
  guest(): Promise<GuestFacts>;
  /** Per-project state, host view (where locald reads and writes). */
  projectPaths(userDir: string): ProjectPaths;
  /** A host-view path as steps see it (identity natively and on Lima). */
  guestPath(hostPath: string): string;
  /** Fails with a one-line error when steps cannot see `hostPath`. */
  assertVisible(hostPath: string, what: string): void;
  /** A guest-view path written for the user (messages, errors). */
  userPath(guestPath: string): string;
  /** Whether locald may create symlinks in the state directory that steps follow. */
  symlinks: boolean;
  /**
   * The lifecycle for the guest's architecture, installed (when `install`) where steps can run
   * it; `root` is where it is or would be (host view), for a dry run before any install.
   */
  lifecycle(
    env: Record<string, string>,
    out: Output,
    install: boolean,
  ): Promise<{ lifecycle?: Lifecycle; root: string }>;
  /** The environment commands and phases start from, given locald's own (after ready()). */
  commandEnv(userEnv: Record<string, string>): Promise<Record<string, string>>;
  /** The process that runs a dev-env command (guest view in, the host's wrapping out). */
  command(cmd: HostCommand, name: string): HostCommand;
  /**
   * How to sandbox a step where steps run (after ready()): the bwrap, ids and system layout of
   * that system, for sandboxStep(); the host then wraps the sandboxed step as any other. Fails
   * with a one-line error and the fix when no sandbox can run there (`why`: "this build (...)").
   */
  sandboxOptions(network: Network | undefined, why: string): Promise<SandboxOptions>;
}

export async function openBackend(
  env: Record<string, string>,
  os: string = Deno.build.os,
): Promise<Backend> {
  const { name, reason } = chooseBackend(env, os);
  if (name === "native") return await openNative(env, reason);
  if (name === "lima") return await openLima(env, reason);
  return await openWsl(env, reason);
}

async function openNative(env: Record<string, string>, reason: string): Promise<Backend> {
  const { nativeHost } = await import("./native.ts");
  let facts: GuestFacts | undefined;
  return {
    name: "native",
    reason,
    host: nativeHost({ uid: Deno.uid() ?? 1000 }),
    ready: () => Promise.resolve(),
    async guest() {
      if (!facts) {
        const { hostTarget } = await import("./target.ts");
        facts = {
          uid: Deno.uid() ?? 0,
          gid: Deno.gid() ?? 0,
          machine: Deno.build.arch,
          target: await hostTarget(),
          login: {},
        };
      }
      return facts;
    },
    projectPaths: (d) => projectPaths(env, d),
    guestPath: (p) => p,
    assertVisible: () => {},
    userPath: (p) => p,
    symlinks: true,
    async lifecycle(e, out, install) {
      const lc = await import("../tools/lifecycle.ts");
      const lifecycle = install ? await lc.ensureLifecycle(e, out) : await lc.findLifecycle(e);
      return {
        lifecycle,
        root: lifecycle?.root ?? e.LOCALD_LIFECYCLE_DIR ?? lc.lifecycleInstallDir(e),
      };
    },
    commandEnv: (e) => Promise.resolve(e),
    // Natively a dev-env command runs as it is (as root too: it is the user's own command).
    command: (cmd) => cmd,
    async sandboxOptions(network, why) {
      const { checkSandbox, sandboxUnavailable } = await import("./sandbox_check.ts");
      const a = await checkSandbox(env);
      if (!a.available) throw sandboxUnavailable(a, why);
      const { systemLayout } = await import("./sandbox.ts");
      return {
        bwrap: a.bwrap!,
        uid: Deno.uid() ?? 0,
        gid: Deno.gid() ?? 0,
        network,
        system: await systemLayout(),
      };
    },
  };
}

/** A dev-env command (already in the guest view) as a step, for hosts that wrap steps. */
export function commandStep(cmd: HostCommand, name: string): Step {
  return { name, argv: cmd.argv, env: cmd.env, cwd: cmd.cwd ?? "/", dropRoot: false, mounts: [] };
}

async function openLima(env: Record<string, string>, reason: string): Promise<Backend> {
  const { openLimaBackend } = await import("./lima_backend.ts");
  return await openLimaBackend(env, reason);
}

async function openWsl(env: Record<string, string>, reason: string): Promise<Backend> {
  const { openWslBackend } = await import("./wsl_backend.ts");
  return await openWslBackend(env, reason);
}
