/**
 * The build record (build.json in the project's state directory): what the last successful
 * build produced, in the shape `shell`, `exec`, `run` and `env` need. JSON, so those commands
 * start without a TOML parser.
 */
import { ExitCode, LocaldError } from "../errors.ts";
import { childPath } from "../util/names.ts";
import type { ProjectPaths } from "../config/paths.ts";

export interface ProcessRecord {
  type: string;
  command: string[];
  args: string[];
  direct: boolean;
  default: boolean;
  buildpackId?: string;
  /** `exec-env` of the process (Buildpack API 0.12): where the launcher starts it. */
  execEnv?: string[];
}

export interface LayerRecord {
  buildpack: string;
  name: string;
  build: boolean;
  launch: boolean;
  cache: boolean;
  /** True when the build re-used the layer from an earlier build. */
  reused?: boolean;
}

export interface BuildRecord {
  recordVersion: 1;
  projectDir: string;
  builtAt: string;
  platformApi: string;
  lifecycle: { root: string; version: string; launcher: string };
  layersDir: string;
  buildpacks: { id: string; version: string; api?: string }[];
  processes: ProcessRecord[];
  layers: LayerRecord[];
  /** profile.d scripts found in launch layers (the launcher sources these). */
  profiles: string[];
  durationsMs: Record<string, number>;
  /** The run image's registry reference, when the build had one (a builder's). */
  runImage?: string;
  /** Image builds: the paths the phases saw (`/workspace`, `/layers`). */
  imageMode?: boolean;
  /** CNB_EXEC_ENV of the build; the launcher gets it too (absent: production). */
  execEnv?: string;
  /** Digest of everything the build depended on (see fingerprint.ts). */
  fingerprint?: string;
  /**
   * Development builds: the generation `layers` points at (src/cnb/generations.ts), and the
   * one before it, kept for processes started from it.
   */
  generation?: string;
  previousGeneration?: string;
  /**
   * Where the phases got their system from (absent: host, records from before). `stack`: the
   * builder image's root filesystem; dev commands then run in the run image's.
   */
  userland?: "host" | "stack";
  /** Stack mode: the images' root filesystems (host paths) and the builder's ids. */
  stack?: {
    builder: { ref: string; digest: string; root: string };
    runImage: { ref: string; digest: string; root: string };
    uid: number;
    gid: number;
  };
  /**
   * The source tree's digest and how it was taken (for staleness checks). With `phasesEnd`, the
   * digest is the tree before the phases, and the tree counts as unchanged also when it differs
   * only by changes made before `phasesEnd` (what buildpacks wrote into it; see build.ts).
   */
  sources?: {
    digest: string;
    phasesEnd?: number;
    gitignore: boolean;
    exclude: string[];
    include?: string[];
  };
}

/** Synchronous: one small file, read before every dev command (no round trip to a thread). */
export function readBuildRecord(paths: ProjectPaths): BuildRecord | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(paths.buildRecord);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  try {
    const rec = JSON.parse(text) as BuildRecord;
    return rec.recordVersion === 1 ? rec : undefined;
  } catch {
    return undefined;
  }
}

export function notBuiltError(projectDir: string): LocaldError {
  return new LocaldError(`${projectDir} has not been built yet`, {
    hint: `run \`locald build${projectDir === Deno.cwd() ? "" : ` -C ${projectDir}`}\` first`,
    exitCode: ExitCode.notBuilt,
  });
}

export function processLink(paths: ProjectPaths, type: string): string {
  return childPath(paths.processes, type, "process type");
}

/**
 * The default process, as the platform spec (API 0.6 and later) and the exporter define it: the
 * type chosen with --default-process, else the buildpacks' `default = true` one; there is no
 * other fallback (not "web", not the only one), so `locald run` starts what the image would.
 */
export function defaultProcess(rec: BuildRecord): ProcessRecord | undefined {
  return rec.processes.find((p) => p.default);
}

/**
 * Mark `type` as the default process (--default-process), as the exporter does with
 * CNB_PROCESS_TYPE; a type the buildpacks did not declare is refused with the same words.
 */
export function chooseDefaultProcess(processes: ProcessRecord[], type: string): ProcessRecord[] {
  if (!processes.some((p) => p.type === type)) throw unknownDefaultProcess(type, processes);
  return processes.map((p) => ({ ...p, default: p.type === type }));
}

export function unknownDefaultProcess(type: string, processes: { type: string }[]): LocaldError {
  return new LocaldError(
    `--default-process ${type}: the buildpacks declared no process type "${type}"`,
    {
      hint: processes.length
        ? `choose one of: ${processes.map((p) => p.type).join(", ")}`
        : "the buildpacks declared no process types; leave --default-process out",
      exitCode: ExitCode.input,
    },
  );
}
