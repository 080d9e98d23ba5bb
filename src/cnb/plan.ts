/**
 * The build plan: which lifecycle phases run, with which argv, environment, working directory
 * and visible paths. Pure data, printed by --dry-run and executed by a host.
 */
import type { ProjectPaths } from "../config/paths.ts";
import type { Mount, Step } from "../hosts/types.ts";
import type { Phase } from "../tools/lifecycle.ts";
import { PASSTHROUGH_ENV } from "../hosts/target.ts";

export interface BuildInputs {
  projectDir: string;
  /** The directory the phases build (CNB_APP_DIR); default projectDir (image builds: a copy). */
  appDir?: string;
  paths: ProjectPaths;
  /** `inImage`: the lifecycle is the builder image's own (its /cnb), not mounted from here. */
  lifecycle: { root: string; version: string; phase(name: Phase): string; inImage?: boolean };
  platformApi: string;
  /** CNB_EXEC_ENV (platform API 0.15): production, test, development, ... */
  execEnv?: string;
  /** CNB_USER_ID / CNB_GROUP_ID as the phases see them. */
  ids: { uid: number; gid: number };
  /** Run image reference, resolved from the OCI layout directory. */
  runImage: string;
  layoutDir: string;
  /** Name of the (never exported here) app image the analyzer looks up. */
  appImage: string;
  /** Directories of the buildpacks in use, so a sandbox can show them read-only. */
  buildpackDirs: string[];
  /** locald's own environment; only an allow-list passes to the phases. */
  hostEnv: Record<string, string>;
  logLevel: "info" | "debug";
  color: boolean;
  /** Extra read-only directories (e.g. a builder's extracted /cnb). */
  extraMounts?: Mount[];
  /** A builder's own buildpacks dir, order, run.toml and build-config, when it decides. */
  buildpacksDir?: string;
  /** A builder's image extensions (/cnb/extensions), when its order names them. */
  extensionsDir?: string;
  orderPath?: string;
  runPath?: string;
  buildConfigDir?: string;
  /**
   * Every path above is as locald sees it (host view); this gives the path the steps see.
   * Identity natively and on Lima; on WSL `C:\x` -> `/mnt/c/x`. Applied here and only here.
   */
  guestPath?: (hostPath: string) => string;
  /** A builder image's own CNB_* environment (its config's Env); locald's settings win. */
  builderEnv?: Record<string, string>;
  /** Image builds: the exporter runs last (layout or registry), with this launcher. */
  exporter?: {
    launcher: string;
    /** OCI layout mode (CNB_USE_LAYOUT); false: the registry. */
    layout: boolean;
    insecureRegistries?: string[];
    /** --default-process: the image's entrypoint (CNB_PROCESS_TYPE). */
    defaultProcess?: string;
  };
}

export interface BuildPlan {
  projectDir: string;
  stateDir: string;
  platformApi: string;
  lifecycleVersion: string;
  steps: Step[];
}

export function passthroughEnv(hostEnv: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of PASSTHROUGH_ENV) if (hostEnv[k] !== undefined) env[k] = hostEnv[k];
  env.PATH ??= "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  return env;
}

/** The platform environment shared by every phase: every container default set explicitly. */
export function platformEnv(i: BuildInputs): Record<string, string> {
  const p = i.paths;
  return {
    CNB_PLATFORM_API: i.platformApi,
    CNB_LAYERS_DIR: p.layers,
    CNB_APP_DIR: i.appDir ?? i.projectDir,
    CNB_PLATFORM_DIR: p.platform,
    CNB_BUILDPACKS_DIR: i.buildpacksDir ?? p.buildpacks,
    CNB_EXTENSIONS_DIR: i.extensionsDir ?? `${p.state}/extensions`,
    CNB_ORDER_PATH: i.orderPath ?? p.order,
    CNB_GROUP_PATH: p.group,
    CNB_PLAN_PATH: p.plan,
    CNB_ANALYZED_PATH: p.analyzed,
    CNB_CACHE_DIR: p.cache,
    CNB_RUN_PATH: i.runPath ?? `${p.state}/run.toml`,
    CNB_STACK_PATH: `${p.state}/stack.toml`,
    CNB_BUILD_CONFIG_DIR: i.buildConfigDir ?? `${p.state}/build-config`,
    CNB_GENERATED_DIR: `${p.layers}/generated`,
    CNB_REPORT_PATH: p.report,
    CNB_PROJECT_METADATA_PATH: `${p.layers}/project-metadata.toml`,
    CNB_USER_ID: String(i.ids.uid),
    CNB_GROUP_ID: String(i.ids.gid),
    CNB_LOG_LEVEL: i.logLevel,
    CNB_NO_COLOR: i.color ? "false" : "true",
    ...(i.exporter && !i.exporter.layout
      ? {
        CNB_USE_LAYOUT: "false",
        ...(i.exporter.insecureRegistries?.length
          ? { CNB_INSECURE_REGISTRIES: i.exporter.insecureRegistries.join(",") }
          : {}),
      }
      : { CNB_USE_LAYOUT: "true", CNB_LAYOUT_DIR: i.layoutDir }),
    CNB_EXPERIMENTAL_MODE: "quiet",
    ...(i.execEnv ? { CNB_EXEC_ENV: i.execEnv } : {}),
  };
}

/** The inputs with every path in the steps' view. */
export function guestInputs(i: BuildInputs): BuildInputs {
  const g = i.guestPath;
  if (!g) return i;
  const opt = (p: string | undefined) => (p === undefined ? undefined : g(p));
  const paths = Object.fromEntries(
    Object.entries(i.paths).map(([k, v]) => [k, g(v)]),
  ) as unknown as ProjectPaths;
  return {
    ...i,
    projectDir: g(i.projectDir),
    appDir: opt(i.appDir),
    paths,
    lifecycle: {
      root: g(i.lifecycle.root),
      version: i.lifecycle.version,
      phase: (name) => g(i.lifecycle.phase(name)),
      inImage: i.lifecycle.inImage,
    },
    layoutDir: g(i.layoutDir),
    buildpackDirs: i.buildpackDirs.map(g),
    extraMounts: i.extraMounts?.map((m) => ({ ...m, path: g(m.path) })),
    buildpacksDir: opt(i.buildpacksDir),
    extensionsDir: opt(i.extensionsDir),
    orderPath: opt(i.orderPath),
    runPath: opt(i.runPath),
    buildConfigDir: opt(i.buildConfigDir),
    exporter: i.exporter && { ...i.exporter, launcher: g(i.exporter.launcher) },
    guestPath: undefined,
  };
}

export function createBuildPlan(input: BuildInputs): BuildPlan {
  const i = guestInputs(input);
  const env = { ...passthroughEnv(i.hostEnv), ...(i.builderEnv ?? {}), ...platformEnv(i) };
  const appDir = i.appDir ?? i.projectDir;
  const mounts: Mount[] = [
    { path: appDir, writable: true },
    // The state directory read-only (a sandboxed buildpack cannot touch build.json, the
    // process links or order.toml), with only what the phases write made writable inside it.
    { path: i.paths.state, writable: false },
    { path: i.paths.layers, writable: true },
    { path: i.paths.cache, writable: true },
    { path: i.paths.platform, writable: false },
    { path: i.layoutDir, writable: true },
    ...(i.lifecycle.inImage ? [] : [{ path: i.lifecycle.root, writable: false }]),
    ...i.buildpackDirs.map((path) => ({ path, writable: false })),
    ...(i.extraMounts ?? []),
  ];
  const step = (name: Phase, args: string[] = [], extra: Record<string, string> = {}): Step => ({
    name,
    argv: [i.lifecycle.phase(name), ...args],
    env: { ...env, ...extra },
    cwd: appDir,
    dropRoot: true,
    mounts,
  });
  return {
    // The user's own paths, for headers and messages; the steps carry the guest's.
    projectDir: input.projectDir,
    stateDir: input.paths.state,
    platformApi: i.platformApi,
    lifecycleVersion: i.lifecycle.version,
    steps: [
      step("analyzer", [i.appImage], { CNB_RUN_IMAGE: i.runImage }),
      step("detector"),
      step("restorer"),
      step("builder"),
      ...(i.exporter
        ? [step(
          "exporter",
          ["-launcher", i.exporter.launcher, i.appImage],
          i.exporter.defaultProcess ? { CNB_PROCESS_TYPE: i.exporter.defaultProcess } : {},
        )]
        : []),
    ],
  };
}
