/**
 * What a dev command knows of the project's build, and the names both ways of running it share
 * (launch.ts on the host, stack.ts in the run image). Types and small pure helpers only: both
 * import this, neither imports the other's module statically.
 */
import type { ProjectPaths } from "../config/paths.ts";
import type { BuildRecord } from "../cnb/record.ts";
import type { SandboxOptions } from "../hosts/sandbox.ts";
import { type Network, parseNetwork } from "../config/defaults.ts";

/**
 * Where the build's state is and how the launcher's side sees it: natively (and on Lima) the
 * same paths; on WSL the distro's view of them (see src/hosts/backend.ts). A Backend is one.
 */
export interface StateView {
  name: string;
  projectPaths(userDir: string): ProjectPaths;
  guestPath(hostPath: string): string;
  /** A guest-view path as this side opens it (WSL: \\wsl.localhost\...); absent: the same. */
  hostView?(guestPath: string): string;
  /** Whether stack roots are read by their records (see Backend.rootsByRecord). */
  rootsByRecord?: boolean;
  /** Whether per-type symlinks to the launcher exist (`<state>/process/<type>`). */
  symlinks: boolean;
  /** How to sandbox a command where commands run (see Backend.sandboxOptions). */
  sandboxOptions?(
    network: Network | undefined,
    why: string,
    opts?: { probe?: boolean },
  ): Promise<SandboxOptions>;
}

export interface DevEnv {
  projectDir: string;
  paths: ProjectPaths;
  /** Its paths (layersDir, lifecycle) are as the launcher sees them. */
  rec: BuildRecord;
  view?: StateView;
  /** A stack build: commands run in its run image (src/devenv/stack.ts). */
  stack?: StackDev;
}

/** Where the builder's lifecycle and the process links appear inside a stack's run image. */
export const STACK_LIFECYCLE = "/cnb/lifecycle";
export const STACK_LAUNCHER = `${STACK_LIFECYCLE}/launcher`;
export const STACK_PROCESSES = "/cnb/process";

/** The launcher as commands see it: the build's own, or the builder's in the run image. */
export function launcherOf(d: DevEnv): string {
  return d.stack ? STACK_LAUNCHER : d.rec.lifecycle.launcher;
}

/** What a stack build's dev commands need, checked once when the build record is read. */
export interface StackDev {
  /** Host path of the run image's root filesystem. */
  runRoot: string;
  runImage: { ref: string; digest: string };
  /** Host path of the builder's /cnb/lifecycle (resolved inside the builder's root). */
  lifecycle: string;
}

/** The dev command's --sandbox and --network flags, as parsed. */
export interface SandboxFlags {
  sandbox?: unknown;
  network?: unknown;
}

/** The --sandbox/--network request of a dev command; undefined when it runs unsandboxed. */
export function devSandboxRequest(
  flags: SandboxFlags,
  command: string,
): { network: Network } | undefined {
  const network = parseNetwork(
    typeof flags.network === "string" ? flags.network : undefined,
    command,
  );
  if (flags.sandbox === true || network === "none") return { network: network ?? "default" };
  return undefined;
}
