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
  /** Digest of everything the build depended on (see fingerprint.ts). */
  fingerprint?: string;
  /**
   * Development builds: the generation `layers` points at (src/cnb/generations.ts), and the
   * one before it, kept for processes started from it.
   */
  generation?: string;
  previousGeneration?: string;
  /** The source tree's digest after the build, and how it was taken (for staleness checks). */
  sources?: { digest: string; gitignore: boolean; exclude: string[]; include?: string[] };
}

export async function readBuildRecord(paths: ProjectPaths): Promise<BuildRecord | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(paths.buildRecord);
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

/** The default process: the one marked default, else "web", else the only one. */
export function defaultProcess(rec: BuildRecord): ProcessRecord | undefined {
  return rec.processes.find((p) => p.default) ??
    rec.processes.find((p) => p.type === "web") ??
    (rec.processes.length === 1 ? rec.processes[0] : undefined);
}
