/**
 * The host seam: what a backend is (Backend, opened for one command), and what each backend
 * module offers besides (BackendDriver: open it, say how it stands, run `locald vm`). One file
 * per backend implements it (native_backend.ts, lima_backend.ts, wsl_backend.ts); select.ts
 * picks one and loads only that file.
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
import type { EnvAndDirs, ProjectPaths } from "../config/paths.ts";
import type { Network } from "../config/defaults.ts";
import type { Lifecycle } from "../tools/lifecycle.ts";
import type { Target } from "./target.ts";
import type { Host } from "./types.ts";
import type { SandboxOptions } from "./sandbox.ts";
import type { GuestSandbox } from "./guest.ts";
import type { RootfsWriter } from "../oci/rootfs.ts";

/**
 * The backends' names. The list itself (BACKENDS) lives where one is chosen, select.ts, checked
 * against this type: this file stays types only (a dev command loads no module for it) and
 * imports nothing back from select.ts.
 */
export type BackendName = "native" | "lima" | "wsl";

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
  /**
   * A guest-view path as this side opens it (WSL: Windows' view of the distribution's files);
   * absent: the same path.
   */
  hostView?(guestPath: string): string;
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
  /**
   * How to sandbox a step where steps run (after ready()): the bwrap, ids and system layout of
   * that system, for sandboxStep(); the host then wraps the sandboxed step as any other
   * (`host.wrap(sandboxStep(step, options))`, for builds and dev commands alike). Fails
   * with a one-line error and the fix when no sandbox can run there (`why`: "this build (...)").
   * `probe: false` (dev commands in a stack's run image, on every keystroke): skip what costs a
   * process (the trial sandbox) or is not needed there (the host's system layout: `system` is
   * empty); a bwrap that then cannot start is diagnosed after it failed (sandboxFailure).
   * `layout: false` (a host build's generation namespace, which shows the host's root whole):
   * the trial as usual, but `system` may be empty (the host's system layout is not read).
   */
  sandboxOptions(
    network: Network | undefined,
    why: string,
    opts?: { probe?: boolean; layout?: boolean },
  ): Promise<SandboxOptions>;
  /**
   * Where stack root filesystems are kept (host view) and what writes their trees, when not
   * locald's own store and layer applier: on WSL, the distribution's disk and its tar.
   */
  stackRoots?: { dir: string; writer: RootfsWriter };
  /**
   * Whether this side reads a stack root's layout, shells and passwd/group from the record
   * written when it was extracted (rootfs.json `layout`, src/hosts/stack.ts) rather than from
   * the tree: on WSL, where Windows sees the distribution's symlinks (/bin -> usr/bin) as
   * reparse points it cannot read.
   */
  rootsByRecord?: boolean;
  /**
   * Where projects' state lives when not under locald's home (host view; WSL: the
   * distribution's ~/.local/share/locald): `cache ls|prune` look there for projects and roots.
   */
  stateHome?: string;
}

/** How a backend stands, in doctor's terms (one line, a hint, facts for --json). */
export interface BackendStatus {
  status: "ok" | "warn" | "fail" | "info";
  summary: string;
  hint?: string;
  details?: string[];
  data?: Record<string, unknown>;
}

/** What `locald vm` hands a backend that has a VM (flags already checked). */
export interface VmRequest extends EnvAndDirs {
  out: Output;
  /** The directory from -C, or the current one (where `vm shell` starts). */
  dir: string;
  json: boolean;
  /** --cpus, --memory, --disk (start and shell only: they size a new VM). */
  size: { cpus?: string; memory?: string; disk?: string };
}

/** One backend module: everything locald does with a backend goes through these. */
export interface BackendDriver {
  /**
   * Open the backend for one command (cheap: starts nothing until `ready()`). `ed.dirs` is
   * read when a path under locald's home is first needed, not before.
   */
  open(ed: EnvAndDirs, reason: string): Promise<Backend>;
  /** The backend's state for doctor, without starting or installing anything. */
  status(ed: EnvAndDirs, reason: string): Promise<BackendStatus>;
  /** Whether steps can be sandboxed where they run, without starting anything. */
  sandboxStatus(ed: EnvAndDirs): Promise<BackendStatus>;
  /** `locald vm SUB` (start, stop, status, shell, rm); absent: this backend has no VM. */
  vm?(sub: string, req: VmRequest): Promise<number>;
}
