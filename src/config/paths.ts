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

/** The per-project state directory: outside the source tree, keyed by the project's path. */
export function projectStateDir(env: Record<string, string>, projectDir: string): string {
  const id = sha256HexSync(projectDir).slice(0, 12);
  const name = basename(projectDir).replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 40) || "root";
  return join(localdHome(env), "projects", `${name}-${id}`);
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

export function projectPaths(env: Record<string, string>, projectDir: string): ProjectPaths {
  return pathsUnder(projectStateDir(env, projectDir));
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
