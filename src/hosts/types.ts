/**
 * A plan is pure data: which programs to run, with which argv, environment, working
 * directory and visible paths. A host turns one step into the concrete command that runs it
 * where it runs (directly, under bwrap, through `limactl shell`, through `wsl.exe`). Hosts
 * translate; they never decide what to run.
 */

export interface Mount {
  /** Path as the step sees it (on the native host this is also the real path). */
  path: string;
  writable: boolean;
  /**
   * The host path that appears at `path` inside a mount namespace (the sandbox), when the two
   * differ: e.g. `{ source: "<state>/layers", path: "/layers" }`. Unset: the same path.
   * Only a host with a mount namespace (sandbox) honours it; the native host runs argv as is.
   */
  source?: string;
}

export interface Step {
  /** Short name for headers and --dry-run, e.g. "detector". */
  name: string;
  /** argv[0] is the program's path. */
  argv: string[];
  /** The complete environment of the step; nothing from locald's own environment leaks in. */
  env: Record<string, string>;
  cwd: string;
  /** Run as an unprivileged uid when locald itself is root (detector and builder refuse root). */
  dropRoot: boolean;
  /** What the step needs to see; a sandbox exposes exactly these. */
  mounts: Mount[];
  /** The step owns the terminal (shell, exec, run): a sandbox keeps the TTY usable. */
  interactive?: boolean;
}

/** The concrete process a host runs for a step. */
export interface HostCommand {
  argv: string[];
  env: Record<string, string>;
  cwd?: string;
}

export interface Host {
  readonly name: "native" | "lima" | "wsl";
  /** Translate a step into the command that runs it on this host. Pure. */
  wrap(step: Step): HostCommand;
}
