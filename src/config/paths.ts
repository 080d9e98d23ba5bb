/** Where locald keeps its tools and per-project state. Pure: takes the environment. */
import { basename, join } from "../util/path.ts";
import { sha256HexSync } from "../util/sha256.ts";
import { ExitCode, LocaldError } from "../errors.ts";

export function localdHome(
  env: Record<string, string>,
  os: string = Deno.build.os,
): string {
  if (env.LOCALD_HOME) return env.LOCALD_HOME;
  if (env.XDG_DATA_HOME) return join(env.XDG_DATA_HOME, "locald");
  // Windows has no HOME by default: its per-user data directory.
  if (os === "windows" && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, "locald");
  if (env.HOME) return join(env.HOME, ".local", "share", "locald");
  if (os === "windows" && env.USERPROFILE) return join(env.USERPROFILE, ".locald");
  throw new LocaldError("cannot tell where to keep locald's data: HOME is not set", {
    hint: "set LOCALD_HOME (or HOME, or XDG_DATA_HOME) to a writable directory",
    exitCode: ExitCode.input,
  });
}

/**
 * Every place under locald's home, in one map: no other module joins a name onto the home.
 * Pure (the paths are computed, nothing is created).
 */
export interface LocaldDirs {
  home: string;
  /** Per-project state, one directory per project (projectStateDir). */
  projects: string;
  /** The content-addressed blob store; builders/ and refs/ under it. */
  oci: string;
  /** Extracted builder trees. */
  builders: string;
  /** What each pulled reference pointed at. */
  refs: string;
  /** Whole root filesystems of stack images: `<hex>/root` + `<hex>/rootfs.json`; refs/. */
  rootfs: string;
  /** Image layouts that locald owns (`build --export` without --layout-dir). */
  images: string;
  /** Tool downloads (`*.part` while in progress). */
  downloads: string;
  /** Installers' locks, one per tool and version. */
  locks: string;
  /** Installed tools: tools/lifecycle/VERSION-ASSET, tools/lima/VERSION-ASSET. */
  tools: string;
  /** The Lima VM's home, where its path is short enough for Lima's sockets. */
  lima: string;
  /** Private Docker configs of phases that pull or push (they hold credentials). */
  registryAuth: string;
  /** What a probe of this machine found, kept while what it depended on is unchanged. */
  probes: string;
}

/** locald's dirs under the home its environment names (localdHome). */
export function localdDirs(env: Record<string, string>, os: string = Deno.build.os): LocaldDirs {
  return dirsUnder(localdHome(env, os));
}

/** The same map under a home given as it is (e.g. the one inside a WSL distribution). */
export function dirsUnder(home: string): LocaldDirs {
  const oci = join(home, "oci");
  return {
    home,
    projects: join(home, "projects"),
    oci,
    builders: join(oci, "builders"),
    refs: join(oci, "refs"),
    rootfs: join(oci, "rootfs"),
    images: join(home, "images"),
    downloads: join(home, "downloads"),
    locks: join(home, "locks"),
    tools: join(home, "tools"),
    lima: join(home, "lima"),
    registryAuth: join(home, "registry-auth"),
    probes: join(home, "probes"),
  };
}

/**
 * What modules that need both start from: locald's environment (its variables: overrides,
 * mirrors, proxies, what child processes inherit) and its dirs, resolved once. `dirs` may be a
 * getter resolved on first use (CommandContext is one of these), so a command that never
 * touches the state directory runs without a HOME.
 */
export interface EnvAndDirs {
  readonly env: Record<string, string>;
  readonly dirs: LocaldDirs;
}

/** `env` and the dirs it names, resolved on first use, once (main's CommandContext uses it). */
export function envAndDirs(env: Record<string, string>): EnvAndDirs {
  let dirs: LocaldDirs | undefined;
  return {
    env,
    get dirs() {
      return dirs ??= localdDirs(env);
    },
  };
}

/** The same dirs with another environment (still resolved on first use). */
export function withEnv(ed: EnvAndDirs, env: Record<string, string>): EnvAndDirs {
  return {
    env,
    get dirs() {
      return ed.dirs;
    },
  };
}

/** The shared stores `locald cache ls` sizes besides the projects' state. */
export const SHARED_STORES = ["tools", "oci", "images", "downloads", "lima"] as const;

/** The per-project state directory: outside the source tree, keyed by the project's path. */
export function projectStateDir(dirs: Pick<LocaldDirs, "projects">, projectDir: string): string {
  const id = sha256HexSync(projectDir).slice(0, 12);
  const name = basename(projectDir).replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 40) || "root";
  return join(dirs.projects, `${name}-${id}`);
}

export interface ProjectPaths {
  state: string;
  layers: string;
  platform: string;
  cache: string;
  buildpacks: string;
  order: string;
  analyzed: string;
  group: string;
  plan: string;
  report: string;
  processes: string;
  lock: string;
  buildRecord: string;
}

export function projectPaths(
  dirs: Pick<LocaldDirs, "projects">,
  projectDir: string,
): ProjectPaths {
  return pathsUnder(projectStateDir(dirs, projectDir));
}

/** The layout of a state directory (a project's, or its image builds' under `image/`). */
export function pathsUnder(state: string): ProjectPaths {
  return withLayersAt({
    state,
    layers: "",
    platform: join(state, "platform"),
    cache: join(state, "cache"),
    buildpacks: join(state, "buildpacks"),
    order: join(state, "order.toml"),
    analyzed: "",
    group: "",
    plan: "",
    report: "",
    processes: join(state, "process"),
    lock: join(state, "build.lock"),
    buildRecord: join(state, "build.json"),
  }, join(state, "layers"));
}

/** The same paths with the layers directory (and the lifecycle's files in it) elsewhere. */
export function withLayersAt(paths: ProjectPaths, layers: string): ProjectPaths {
  return {
    ...paths,
    layers,
    analyzed: join(layers, "analyzed.toml"),
    group: join(layers, "group.toml"),
    plan: join(layers, "plan.toml"),
    report: join(layers, "report.toml"),
  };
}
