/**
 * Which host runs the plan: native on Linux, locald's Lima VM on macOS, WSL 2 on Windows, or
 * what LOCALD_BACKEND says. The Lima and WSL modules load only when chosen, so the native
 * path (and `locald exec`'s start-up) pays nothing for them.
 */
import type { Output } from "../cli/output.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import { type ProjectPaths, projectPaths } from "../config/paths.ts";
import type { Host } from "./types.ts";

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

/** Everything a command needs to run a plan somewhere, with paths as the steps see them. */
export interface Backend {
  name: BackendName;
  reason: string;
  host: Host;
  /** Start the VM or distro if needed (with progress); a no-op natively. */
  ready(out: Output): Promise<void>;
  /** The project directory as steps see it (errors if the VM cannot see it). */
  guestDir(userDir: string): Promise<string>;
  /** Per-project state as steps see it (on the VM's or distro's own disk). */
  projectPaths(userDir: string): Promise<ProjectPaths>;
  /** A path from a step's world, written for the user (messages, errors). */
  userPath(guestPath: string): string;
  /** Where the lifecycle of `version` lives for the steps; undefined natively (host's own). */
  lifecycleDir(version: string): string | undefined;
}

export async function openBackend(
  env: Record<string, string>,
  out: Output | undefined,
  os: string = Deno.build.os,
): Promise<Backend> {
  const { name, reason } = chooseBackend(env, os);
  if (name === "native") {
    const { nativeHost } = await import("./native.ts");
    return {
      name,
      reason,
      host: nativeHost({ uid: Deno.uid() ?? 1000 }),
      ready: () => Promise.resolve(),
      guestDir: (d) => Promise.resolve(d),
      projectPaths: (d) => Promise.resolve(projectPaths(env, d)),
      userPath: (p) => p,
      lifecycleDir: () => undefined,
    };
  }
  if (name === "lima") return await openLima(env, out, reason);
  return await openWsl(env, reason);
}

async function openLima(
  env: Record<string, string>,
  out: Output | undefined,
  reason: string,
): Promise<Backend> {
  const lima = await import("./lima.ts");
  const vm = await import("./vm.ts");
  const lc = (await vm.limaContext(env, out, true))!;
  const config = vm.vmConfig(env);
  let mounts = config.mounts;
  const arch = config.arch;
  return {
    name: "lima",
    reason,
    // Lima gives the VM's user the host user's uid (never root).
    host: lima.limaHost({
      limactl: lc.limactl.path,
      limaHome: lc.limactl.home,
      hostEnv: env,
      guestUid: Deno.uid() || 1000,
    }),
    async ready(o) {
      const { instance } = await vm.ensureLimaRunning(lc, o, config);
      if (instance.mounts?.length) mounts = instance.mounts;
    },
    guestDir(d) {
      if (!lima.isMounted(d, mounts)) {
        return Promise.reject(
          new LocaldError(`the locald VM cannot see ${d}`, {
            hint: `it mounts ${mounts.join(", ") || "nothing"}; add the directory to ` +
              "LOCALD_VM_MOUNTS, then `locald vm rm` and `locald vm start`",
            exitCode: ExitCode.input,
          }),
        );
      }
      return Promise.resolve(d);
    },
    projectPaths: (d) => Promise.resolve(lima.guestProjectPaths(d)),
    userPath: lima.userPath,
    lifecycleDir: (v) => lima.guestLifecycleDir(v, arch),
  };
}

async function openWsl(env: Record<string, string>, reason: string): Promise<Backend> {
  const wsl = await import("./wsl.ts");
  const { wslContext } = await import("./vm.ts");
  const ctx = await wslContext(env);
  const distro = ctx.distro.name;
  const guest = await wsl.probeGuest(ctx.wsl, distro, env);
  const state = wsl.wslStateDir(guest.home);
  return {
    name: "wsl",
    reason: `${reason}; distribution ${distro} (${ctx.reason})`,
    host: wsl.wslHost({ wsl: ctx.wsl, distro, hostEnv: env, guestUid: guest.uid }),
    ready: () => Promise.resolve(),
    guestDir: (d) => wsl.wslpath(ctx.wsl, distro, d, env),
    async projectPaths(d) {
      // Keyed by the path the distro sees, so the same project keeps its state.
      return projectPaths({ LOCALD_HOME: state }, await wsl.wslpath(ctx.wsl, distro, d, env));
    },
    userPath: (p) => wsl.wslToWindows(p, distro),
    lifecycleDir: (v) =>
      `${state}/tools/lifecycle/${v}-linux-${Deno.build.arch === "aarch64" ? "aarch64" : "x86_64"}`,
  };
}
