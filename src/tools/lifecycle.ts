/** The CNB lifecycle: pinned release, installed once under $LOCALD_HOME, or a local copy. */
import { join } from "../util/path.ts";
import { parse as parseToml } from "smol-toml";
import type { Output } from "../output.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import type { EnvAndDirs } from "../config/paths.ts";
import { LIFECYCLE } from "./pins.ts";

/** How to build without downloading the lifecycle (said when its server stalls). */
export const LIFECYCLE_OFFLINE =
  "LOCALD_LIFECYCLE_DIR=DIR uses an unpacked lifecycle release instead";

export const PHASES = ["analyzer", "detector", "restorer", "builder", "exporter"] as const;
export type Phase = (typeof PHASES)[number];

export interface Lifecycle {
  /** Root of the unpacked release (holds lifecycle.toml and lifecycle/). */
  root: string;
  version: string;
  platformApis: string[];
  buildpackApis: string[];
  launcher: string;
  phase(name: Phase): string;
  /** "pinned release", "LOCALD_LIFECYCLE_DIR", ... */
  source: string;
}

export function hostAsset(os = Deno.build.os, arch = Deno.build.arch): string {
  return `${os}-${arch}`;
}

/** Where the pinned release for `asset` is installed under locald's tools directory. */
export function lifecycleInstallDir(tools: string, asset?: string): string {
  asset ??= hostAsset();
  return join(tools, "lifecycle", `${LIFECYCLE.version}-${asset}`);
}

async function validateLayout(root: string) {
  for (const name of ["lifecycle", "launcher", ...PHASES]) {
    const p = join(root, "lifecycle", name);
    try {
      await Deno.stat(p);
    } catch {
      throw new LocaldError(`the lifecycle at ${root} has no lifecycle/${name}`, {
        hint: "point LOCALD_LIFECYCLE_DIR at an unpacked lifecycle release " +
          "(the directory that holds lifecycle.toml and lifecycle/)",
        exitCode: ExitCode.input,
      });
    }
  }
}

/** Read apis from lifecycle.toml; a missing descriptor means the supported set of this pin. */
export async function readDescriptor(root: string) {
  let text: string | undefined;
  try {
    text = await Deno.readTextFile(join(root, "lifecycle.toml"));
  } catch { /* no descriptor */ }
  if (text === undefined) {
    return { version: "unknown", platform: [] as string[], buildpack: [] as string[] };
  }
  // deno-lint-ignore no-explicit-any
  const doc = parseToml(text) as any;
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
  return {
    version: String(doc?.lifecycle?.version ?? "unknown"),
    platform: list(doc?.apis?.platform?.supported),
    buildpack: list(doc?.apis?.buildpack?.supported),
  };
}

function make(
  root: string,
  source: string,
  d: Awaited<ReturnType<typeof readDescriptor>>,
): Lifecycle {
  return {
    root,
    version: d.version,
    platformApis: d.platform,
    buildpackApis: d.buildpack,
    launcher: join(root, "lifecycle", "launcher"),
    phase: (name) => join(root, "lifecycle", name),
    source,
  };
}

/** The lifecycle unpacked at `root` (host view), as it is. */
export async function lifecycleAt(root: string, source: string): Promise<Lifecycle> {
  return make(root, source, await readDescriptor(root));
}

/**
 * The installed lifecycle if there is one, without downloading. `asset` (e.g. linux-aarch64)
 * is the release for a VM's architecture; by default this machine's.
 */
export async function findLifecycle(
  ed: EnvAndDirs,
  asset?: string,
): Promise<Lifecycle | undefined> {
  const env = ed.env;
  const root = env.LOCALD_LIFECYCLE_DIR || lifecycleInstallDir(ed.dirs.tools, asset);
  try {
    await Deno.stat(join(root, "lifecycle", "launcher"));
  } catch {
    return undefined;
  }
  return make(
    root,
    env.LOCALD_LIFECYCLE_DIR ? "LOCALD_LIFECYCLE_DIR" : "pinned release",
    await readDescriptor(root),
  );
}

export async function ensureLifecycle(
  ed: EnvAndDirs,
  out?: Output,
  asset?: string,
): Promise<Lifecycle> {
  const env = ed.env;
  if (env.LOCALD_LIFECYCLE_DIR) {
    const root = env.LOCALD_LIFECYCLE_DIR;
    await validateLayout(root);
    return make(root, "LOCALD_LIFECYCLE_DIR", await readDescriptor(root));
  }
  if (asset === undefined && Deno.build.os !== "linux") {
    throw new LocaldError("the CNB lifecycle runs on Linux only", {
      hint: "on macOS and Windows locald runs it inside its VM (LOCALD_BACKEND=lima|wsl)",
      exitCode: ExitCode.unsupported,
    });
  }
  const dirs = ed.dirs;
  const dest = lifecycleInstallDir(dirs.tools, asset);
  try {
    await Deno.stat(join(dest, "lifecycle", "launcher"));
    return make(dest, "pinned release", await readDescriptor(dest));
  } catch { /* not installed yet */ }
  // The installer (tar, gzip, hashing) loads only when something must be installed.
  const { installRelease } = await import("./install.ts");
  await installRelease({
    pin: LIFECYCLE,
    asset: asset ?? hostAsset(),
    dest,
    downloads: dirs.downloads,
    locks: dirs.locks,
    env,
    out,
    offline: LIFECYCLE_OFFLINE,
    validate: validateLayout,
  });
  return make(dest, "pinned release", await readDescriptor(dest));
}
