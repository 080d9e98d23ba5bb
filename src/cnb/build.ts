/**
 * `locald build`: options and project.toml become a plan; the native host runs the lifecycle
 * phases; the layers they write become the development environment.
 */
import { join, resolve } from "../util/path.ts";
import { formatAgo, type Output } from "../output.ts";
import { ExitCode, LocaldError, NO_SPACE_HINT } from "../errors.ts";
import { type LocaldDirs, pathsUnder, type ProjectPaths, withLayersAt } from "../config/paths.ts";
import { forExecEnv, loadProject } from "../config/project.ts";
import { parseToml } from "../config/toml.ts";
import { cnbIds } from "../hosts/native.ts";
import type { Host, Step } from "../hosts/types.ts";
import type { Backend } from "../hosts/backend.ts";
import { spawn } from "../hosts/spawn.ts";
import { type SandboxOptions, sandboxStep } from "../hosts/sandbox.ts";
import type { Network } from "../config/defaults.ts";
import { decideSandbox, loadSettings, type SandboxDecision } from "../config/settings.ts";
import type { Lifecycle } from "../tools/lifecycle.ts";
import { LIFECYCLE } from "../tools/pins.ts";
import { acquireLock } from "../util/lock.ts";
import { trace } from "../util/trace.ts";
import {
  exists,
  readTextIf,
  readTextIfExists,
  removeIfExists,
  removeIfExistsSync,
  writeFileAtomic,
} from "../util/fs.ts";
import { childPath } from "../util/names.ts";
import { assertLauncherSafePath } from "../util/shell.ts";
import { afterDetect } from "./extensions.ts";
import {
  assertBuildpackApi,
  type Buildpack,
  escapeId,
  orderToml,
  treeBuildpacks,
  unsupportedBuildpackApi,
  writeBuildpacksDir,
} from "./buildpacks.ts";
import type { LayerState } from "./layers.ts";
import { mergeBuildEnv, parseEnvFile, parseEnvFlag } from "./env.ts";
import { resolveSources, type Sources } from "./sources.ts";
import {
  type ExportedImage,
  exportedImage,
  imageMounts,
  type ImageOptions,
  imageView,
  imageWorkspace,
  layoutDirOf,
  layoutRunImageRef,
  linkLayoutAlias,
  registryAuths,
  removeWorkspace,
  stageWorkspace,
  withRegistryAuth,
} from "./image.ts";
import { combineDigest } from "./fingerprint.ts";
import { pacedTreeDigest, treeDigest } from "../util/tree_digest.ts";
import { hostRunImageRef, writeHostRunImage } from "./hostimage.ts";
import type { Target } from "../hosts/target.ts";
import { hideNonLaunchLayers, layerRecords, profileScripts, scanLayers } from "./layers.ts";
import {
  type CopyTree,
  type Generation,
  generationMounts,
  namespaceStep,
  pointLayersAt,
  pruneGenerations,
  recoverGeneration,
  renameBack,
  renameDone,
  renameIn,
  restoreReusedLaunchLayers,
  settleGeneration,
  type Started,
  startGeneration,
} from "./generations.ts";
import { type BuildPlan, createBuildPlan } from "./plan.ts";
import type { UserlandChoice, UserlandMode } from "./userland.ts";
import {
  builderIds,
  builderLifecycle,
  decideUserland,
  IMAGE_CNB,
  type StackBuild,
  stackEtc,
  stackHost,
} from "./stack_build.ts";
import { chooseExecEnv, LOCALD_PLATFORM_APIS, negotiatePlatformApi } from "./platform_api.ts";
import {
  type BuildRecord,
  chooseDefaultProcess,
  processLink,
  type ProcessRecord,
  readBuildRecord,
  unknownDefaultProcess,
} from "./record.ts";

/**
 * Files that set up editors and shells around the environment (what `locald devcontainer`
 * writes, direnv's .envrc and its cache): not build inputs, so they never make a project out of
 * date. Patterns in project.toml `exclude` syntax, anchored at the project root.
 */
export const EDITOR_FILES = ["/.envrc", "/.direnv/", "/.devcontainer/"];

export interface BuildOptions {
  projectDir: string;
  /** Directory -b paths are relative to (the caller's working directory). */
  cwd: string;
  env: Record<string, string>;
  /** Where locald keeps things (config/paths.ts), resolved once by the caller. */
  dirs: LocaldDirs;
  out: Output;
  buildpacks: string[];
  envFlags: string[];
  envFiles: string[];
  clearCache: boolean;
  platformApi?: string;
  /** --exec-env: the execution environment buildpacks build for (CNB_EXEC_ENV). */
  execEnv?: string;
  /** --default-process: the process type `run` and the image start (CNB_PROCESS_TYPE). */
  defaultProcess?: string;
  /** Build even when nothing the build depends on changed. */
  force?: boolean;
  builder?: string;
  runImage?: string;
  pullPolicy?: "always" | "if-not-present" | "never";
  insecureRegistries?: string[];
  verbose?: boolean;
  /** --export / --publish: an image build (see src/cnb/image.ts). */
  image?: ImageOptions;
  /** --sandbox (true/false, absent: settings decide), --network, --trust-builder. */
  isolation?: { sandbox?: boolean; network?: Network; trustBuilder?: boolean };
  /** Where the phases run (native, Lima, WSL): openBackend(env). */
  backend: Backend;
  /** --stack / --host (absent: project.toml, the settings, then auto; see userland.ts). */
  userland?: UserlandMode;
}

export interface BuildSummary {
  projectDir: string;
  stateDir: string;
  platformApi: string;
  lifecycle: string;
  buildpacks: { id: string; version: string }[];
  processes: ProcessRecord[];
  layers: BuildRecord["layers"];
  durationsMs: Record<string, number>;
  /** True when nothing changed since the last build, so the lifecycle did not run. */
  skipped: boolean;
  sandbox: SandboxDecision;
  /** Image builds: what was exported, with the digest from the lifecycle's report.toml. */
  image?: ExportedImage;
  /** CNB_EXEC_ENV the buildpacks saw (absent below platform API 0.15). */
  execEnv?: string;
  /** Where the phases got their system from, and why. */
  userland: UserlandChoice;
}

async function buildEnvFor(o: BuildOptions, projectEnv: { name: string; value: string }[]) {
  const files: [string, string][][] = [];
  for (const f of o.envFiles) {
    const path = resolve(o.cwd, f);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      throw new LocaldError(`cannot read env file ${path}: ${(e as Error).message}`, {
        hint: "--env-file takes a file of NAME=VALUE lines",
        exitCode: ExitCode.input,
      });
    }
    files.push(parseEnvFile(text, path));
  }
  return mergeBuildEnv([
    projectEnv.map((e) => [e.name, e.value] as [string, string]),
    ...files,
    o.envFlags.map((f) => parseEnvFlag(f, o.env)),
  ]);
}

export interface Prepared {
  plan: BuildPlan;
  paths: ProjectPaths;
  sources: Sources;
  /** The buildpacks the user named (empty when the builder's order decides). */
  buildpacks: Buildpack[];
  buildEnv: Record<string, string>;
  lifecycle?: Lifecycle;
  runImage: string;
  exclude: string[];
  include: string[];
  /** Whether the phases run sandboxed, and why. */
  isolation: SandboxDecision;
  /**
   * How the backend sandboxes a step, when the build runs sandboxed or builds an image (only
   * probed when `install`).
   */
  sandbox?: SandboxOptions;
  /** What the host run image describes: the system the phases run on (the VM's, not the Mac's). */
  target: Target;
  /** The execution environment (CNB_EXEC_ENV), and why there is none when there is none. */
  execEnv?: string;
  execEnvNote?: string;
  /** The build's userland (host or the builder's image), and why. */
  userland: UserlandChoice;
  /** Stack mode (real builds): the root filesystems and ids the phases run with. */
  stack?: StackBuild;
  /** The phases run the builder image's own lifecycle (its /cnb/lifecycle). */
  lifecycleInImage?: boolean;
}

/**
 * The plan of a dry run (`build --dry-run`): nothing installed, downloaded or written, no VM
 * started; what is not there yet is described as it would be.
 */
export function planBuild(o: BuildOptions): Promise<Prepared> {
  return prepare(o, false);
}

/** Everything a real build needs up to the plan: the lifecycle installed, sources pulled. */
export function prepareBuild(o: BuildOptions): Promise<Prepared> {
  return prepare(o, true);
}

/** Everything up to the plan; nothing written (with `install` false, no VM is started either). */
async function prepare(o: BuildOptions, install: boolean): Promise<Prepared> {
  const b = o.backend;
  trace("build: start prepare");
  // The environment's launcher would meet these paths inside double quotes in bash (an
  // image's are /workspace and /layers).
  if (!o.image) assertLauncherSafePath(o.projectDir, "project");
  const project = await loadProject(o.projectDir);
  const sources = await resolveSources(
    {
      projectDir: o.projectDir,
      cwd: o.cwd,
      env: o.env,
      dirs: o.dirs,
      out: o.out,
      buildpacks: o.buildpacks,
      builder: o.builder,
      runImage: o.runImage,
      pullPolicy: o.pullPolicy,
      insecureRegistries: o.insecureRegistries ?? [],
      network: install,
      copyBuildpacks: !o.backend.symlinks,
    },
    project.group,
    project.builder,
  );
  trace("build: sources resolved");
  const buildpacks = sources.group;
  const builder = sources.builder;
  const settings = await loadSettings(o.env);
  for (const w of settings.warnings) o.out.warn(w);
  const isolation = decideSandbox({
    flag: o.isolation?.sandbox,
    network: o.isolation?.network,
    trustBuilder: o.isolation?.trustBuilder ?? false,
    settings,
    builder: builder?.ref,
    localBuildpacks: buildpacks.length > 0,
  });
  // Asked-for isolation that cannot be had stops the build before anything is written.
  let sandbox: SandboxOptions | undefined;
  if (o.image && !sources.runImage) {
    throw new LocaldError("an image needs a run image, and this build has none", {
      hint: "build with a builder (-B REF, whose run.toml names one) or pass --run-image REF",
      exitCode: ExitCode.input,
    });
  }
  // An image build's layers switch through a link (a devcontainer's /layers): none can be made
  // from Windows in the distribution.
  if (o.image && !b.symlinks) {
    throw new LocaldError(
      `image builds (--export, --publish) do not run through ${b.name} yet: their layers ` +
        "switch through a link that locald cannot make in the distribution from Windows",
      {
        hint: "run locald inside the distribution itself (it runs natively there), or build " +
          "without --export/--publish",
        exitCode: ExitCode.unsupported,
      },
    );
  }
  // Image builds need a mount namespace (/workspace, /layers): the sandbox's runner, where the
  // phases run (natively this machine's bwrap; on Lima the VM's).
  if (install && (isolation.sandbox || o.image)) {
    sandbox = await b.sandboxOptions(
      isolation.network,
      o.image
        ? "an image build (it runs in a mount namespace)"
        : `this build (${isolation.reason})`,
    );
    // The private Docker config with registry credentials (image builds) is the one variable
    // beyond the allow-list a phase may keep; locald sets it, the user's own never passes.
    if (o.image) sandbox = { ...sandbox, allowEnv: [...(sandbox.allowEnv ?? []), "DOCKER_CONFIG"] };
  }
  trace("build: sandbox decided");
  const userland = await decideUserland({
    flag: o.userland,
    project: project.userland,
    projectFile: project.file,
    settings: settings.userland,
    settingsFile: settings.file,
    builder,
    runImage: sources.runImage,
    image: o.image !== undefined,
    network: isolation.network,
    backend: b,
    env: o.env,
    dirs: o.dirs,
    out: o.out,
    insecureRegistries: o.insecureRegistries ?? [],
    pullPolicy: o.pullPolicy,
    install,
    sandbox,
  });
  const inStack = userland.choice.mode === "stack";
  // A stack build runs every phase under bwrap in the builder's root filesystem: the sandbox's
  // options are its base (the image shows only what it mounts, whatever the trust rules say).
  if (inStack && userland.sandbox) {
    sandbox = { ...userland.sandbox, allowEnv: sandbox?.allowEnv ?? userland.sandbox.allowEnv };
  }
  const guest = await b.guest();
  // Stack builds use the builder's own lifecycle when it ships one (as pack does): none is
  // downloaded. Builds without one (or on the host) use locald's pinned release.
  const own = inStack && builder ? await builderLifecycle(builder) : undefined;
  const { lifecycle, root } = own
    ? { lifecycle: own, root: own.root }
    : await b.lifecycle(o.env, o.out, install);
  trace("build: lifecycle found");
  // A buildpack API this lifecycle cannot run stops the build now, naming the range.
  if (lifecycle) {
    for (const bp of [...buildpacks, ...sources.dependencies]) {
      assertBuildpackApi(bp, lifecycle.buildpackApis, lifecycle.version);
    }
  }
  const platformApi = negotiatePlatformApi(
    lifecycle?.platformApis ?? LOCALD_PLATFORM_APIS,
    o.platformApi,
    builder?.platformApis,
  );
  const { execEnv, note: execEnvNote } = chooseExecEnv({
    flag: o.execEnv,
    project: project.devExecEnv,
    image: o.image !== undefined,
    platformApi,
  });
  // project.toml variables marked `exec-env` apply in those environments only.
  const buildEnv = await buildEnvFor(
    o,
    project.env.filter((e) => forExecEnv(e.execEnv, execEnv ?? "production")),
  );
  const devPaths = b.projectPaths(o.projectDir);
  if (!o.image) assertLauncherSafePath(devPaths.layers, "state");
  // Image builds keep their own layers and cache: their paths (/workspace, /layers) differ,
  // and the lifecycle's volume cache records absolute paths.
  const paths = o.image ? pathsUnder(join(devPaths.state, "image")) : devPaths;
  b.assertVisible(o.projectDir, "the project");
  b.assertVisible(paths.state, "locald's state in");
  // Buildpacks are linked where the phases can follow the link, copied where they cannot.
  if (b.symlinks) { for (const bp of buildpacks) b.assertVisible(bp.dir, "the buildpack"); }
  const target = guest.target;
  const runImage = sources.runImage
    ? (o.image?.mode === "layout"
      ? await layoutRunImageRef(sources.runImage)
      : await canonicalRef(sources.runImage))
    : hostRunImageRef(target);
  // A builder's image extensions, for the detector when the builder's order decides.
  const extensionsDir = builder && join(builder.buildpacksDir, "..", "extensions");
  trace("build: paths and target");
  // In the builder's image, its own /cnb is where pack's phases find it: the lifecycle, the
  // buildpacks, order, run.toml and build-config at their in-image paths.
  const inImage = (p: string | undefined, cnbFile: string) =>
    p === undefined ? undefined : inStack ? `${IMAGE_CNB}/${cnbFile}` : p;
  const lifecycleInImage = own !== undefined;
  const plan = createBuildPlan({
    projectDir: o.projectDir,
    paths,
    lifecycle: {
      root: lifecycleInImage ? IMAGE_CNB : root,
      version: lifecycle?.version ?? LIFECYCLE.version,
      phase: (p) => lifecycleInImage ? `${IMAGE_CNB}/lifecycle/${p}` : join(root, "lifecycle", p),
      inImage: lifecycleInImage,
    },
    platformApi,
    execEnv,
    ids: inStack && builder ? builderIds(builder) : cnbIds(guest.uid, guest.gid),
    runImage,
    layoutDir: layoutDirOf(paths),
    appImage: o.image?.ref ?? "locald.local/dev/app",
    buildpackDirs: [
      ...[...buildpacks, ...sources.dependencies].map((b) => b.dir),
      ...sources.extraTrees,
      ...(builder ? [builder.root, ...(builder.sourceDirs ?? [])] : []),
    ],
    buildpacksDir: buildpacks.length ? undefined : inImage(builder?.buildpacksDir, "buildpacks"),
    extensionsDir: buildpacks.length ? undefined : inImage(extensionsDir, "extensions"),
    orderPath: buildpacks.length ? undefined : inImage(builder?.orderPath, "order.toml"),
    runPath: sources.runImage
      ? await stackRunPath(builder, userland.stack, inStack, o.backend.rootsByRecord)
      : undefined,
    buildConfigDir: inImage(builder?.buildConfigDir, "build-config"),
    // The builder's CNB_* settings (stack id, target, ...), except the ids locald must choose.
    builderEnv: builder
      ? Object.fromEntries(
        Object.entries(builder.imageEnv).filter(([k]) =>
          k.startsWith("CNB_") && k !== "CNB_USER_ID" && k !== "CNB_GROUP_ID"
        ),
      )
      : undefined,
    hostEnv: await b.commandEnv(o.env),
    logLevel: o.verbose ? "debug" : "info",
    color: o.out.color,
    appDir: o.image ? imageWorkspace(paths) : undefined,
    guestPath: inStack
      ? keepImagePaths(o.image ? imageView(paths) : b.guestPath)
      : o.image
      ? imageView(paths)
      : b.guestPath,
    exporter: o.image && {
      launcher: lifecycleInImage
        ? `${IMAGE_CNB}/lifecycle/launcher`
        : join(root, "lifecycle", "launcher"),
      layout: o.image.mode === "layout",
      insecureRegistries: o.insecureRegistries,
      defaultProcess: o.defaultProcess,
    },
  });
  if (o.image) {
    plan.steps = plan.steps.map((s) => ({
      ...s,
      mounts: imageMounts(s.mounts, paths),
    }));
  }
  return {
    plan,
    paths,
    sources,
    buildpacks,
    buildEnv,
    lifecycle,
    runImage,
    exclude: project.exclude,
    include: project.include,
    isolation,
    sandbox,
    target,
    execEnv,
    execEnvNote,
    userland: userland.choice,
    stack: userland.stack,
    lifecycleInImage,
  };
}

/** A guest-path mapping that leaves paths inside the builder's image (/cnb/...) as they are. */
function keepImagePaths(g: (p: string) => string): (p: string) => string {
  return (p) => p === IMAGE_CNB || p.startsWith(`${IMAGE_CNB}/`) ? p : g(p);
}

/**
 * run.toml in a stack build: the image's /cnb/run.toml when the builder ships one; a legacy
 * builder's (written by locald from its stack.toml beside its extracted /cnb) where it is.
 */
async function stackRunPath(
  builder: Sources["builder"],
  stack: StackBuild | undefined,
  inStack: boolean,
  byRecord?: boolean,
): Promise<string | undefined> {
  const p = builder?.runPath;
  if (!p || !inStack) return p;
  // Where this side cannot read the root (WSL), its record's first levels say.
  const inImage = !stack ||
    (byRecord
      ? (await import("../oci/root_layout.ts")).recordedLayout(stack.builder.root)
        .entries["cnb/run.toml"] !== undefined
      : await exists(join(stack.builder.root, "cnb", "run.toml")));
  return inImage ? `${IMAGE_CNB}/run.toml` : p;
}

async function canonicalRef(ref: string): Promise<string> {
  const { formatReference, parseReference } = await import("../oci/reference.ts");
  return formatReference(parseReference(ref.replace(/^docker:\/\//, "")));
}

/** Synchronous calls, as the rest of a build's small writes: each await is a thread's round trip. */
function writePlatformDir(platformDir: string, env: Record<string, string>) {
  const envDir = join(platformDir, "env");
  removeIfExistsSync(envDir);
  Deno.mkdirSync(envDir, { recursive: true });
  for (const [k, v] of Object.entries(env)) {
    Deno.writeTextFileSync(childPath(envDir, k, "build-time variable name"), v);
  }
}

async function detectVerdicts(host: Host, plan: BuildPlan): Promise<string[]> {
  const detector = plan.steps.find((s) => s.name === "detector")!;
  const res = await spawn(
    host.wrap({ ...detector, env: { ...detector.env, CNB_LOG_LEVEL: "debug" } }),
    {
      mode: "capture",
      echo: false,
    },
  );
  const verdicts: string[] = [];
  for (const line of res.output.split("\n")) {
    const m = line.match(/^(pass|fail|skip|err):\s+(\S+)(.*)$/);
    if (m && m[2].includes("@")) {
      verdicts.push(`${m[2]}: ${m[1]}${m[3].trim() ? ` ${m[3].trim()}` : ""}`);
    }
  }
  return [...new Set(verdicts)];
}

function lastErrorLine(output: string): string | undefined {
  // deno-lint-ignore no-control-regex
  const lines = output.split("\n").map((l) => l.replace(/\x1b\[[0-9;]*m/g, "").trim()).filter(
    Boolean,
  );
  return lines.reverse().find((l) => /^ERROR:/.test(l))?.replace(/^ERROR:\s*/, "");
}

export async function runBuild(o: BuildOptions): Promise<BuildSummary> {
  await o.backend.ready(o.out);
  const prep = await prepareBuild(o);
  const { plan, paths, buildpacks } = prep;
  const sandbox = prep.sandbox;
  // The backend's host wraps the sandboxed step, wherever steps run (on Lima, bwrap runs
  // inside the VM).
  const host: Host = prep.stack && sandbox
    ? await stackHost(
      o.backend,
      sandbox,
      prep.stack,
      await stackEtc(prep.stack, paths.state, o.backend),
    )
    : !sandbox
    ? o.backend.host
    : { name: o.backend.host.name, wrap: (s) => o.backend.host.wrap(sandboxStep(s, sandbox)) };
  if (prep.stack) {
    o.out.info(
      `userland: stack, in ${prep.stack.builder.ref} (${prep.userland.why}); ` +
        `uid ${prep.stack.uid}, network ${prep.isolation.network}`,
    );
  } else if (prep.userland.why.startsWith("auto:")) {
    o.out.info(`userland: host (${prep.userland.why})`);
  }
  // (A stack build always runs under bwrap: said above; the trust rules' word only if they ask.)
  if (prep.sandbox && (!prep.stack || prep.isolation.sandbox)) {
    o.out.info(
      `sandbox: on (${prep.isolation.reason}); home hidden, network ${prep.isolation.network}`,
    );
  }
  // The builder's declared APIs kept the platform API below what locald's lifecycle has.
  const newest = negotiatePlatformApi(prep.lifecycle?.platformApis ?? LOCALD_PLATFORM_APIS);
  if (!o.platformApi && plan.platformApi !== newest) {
    o.out.info(
      `platform API ${plan.platformApi}: the newest builder ${
        prep.sources.builder?.ref ?? ""
      } declares (its buildpacks were tested with it; --platform-api ${newest} to use newer)`,
    );
  }
  if (prep.execEnvNote) o.out.info(prep.execEnvNote);
  trace("build: prepared");
  const lock = await acquireLock(paths.lock, `another build of ${o.projectDir}`, o.out);
  const gen: BuildGeneration = { renamed: false, switched: false };
  trace("build: locked");
  try {
    const previous = readBuildRecord(paths);
    // The environment is the generation the last good build recorded (generations.ts).
    await recoverGeneration(paths, previous?.generation);
    trace("build: record read");
    const sourceOptions = {
      gitignore: true,
      exclude: [...prep.exclude, ...EDITOR_FILES],
      include: prep.include,
    };
    // The buildpacks' files cannot change during the build: walked once.
    let bpDigests: string[] | undefined;
    const inputsDigest = async (sources: string) =>
      combineDigest({
        sources,
        buildpacks: bpDigests ??= await Promise.all(
          [...buildpacks, ...prep.sources.dependencies].map(async (b) =>
            `${b.id}@${b.version}:${await treeDigest(b.dir)}`
          ),
        ),
        env: prep.buildEnv,
        platformApi: plan.platformApi,
        lifecycle: `${prep.lifecycle!.version}:${prep.lifecycle!.root}`,
        target: prep.runImage,
        builder: prep.sources.builder?.digest,
        // A build asked to run with other walls is another build, even with the same inputs.
        isolation: `${prep.isolation.sandbox}:${prep.isolation.network}`,
        defaultProcess: o.defaultProcess,
        execEnv: prep.execEnv,
        // Another userland is another build (absent on the host: fingerprints stay as before).
        userland: prep.stack
          ? `stack:${prep.stack.builder.digest}:${prep.stack.runImage.digest}:` +
            `${prep.stack.uid}:${prep.stack.gid}`
          : undefined,
      });
    // The tree as the phases will start from it (when walked): recorded instead of walking it
    // again after the phases (see settledSources).
    let sourcesBefore: string | undefined;
    if (
      !o.image && previous?.fingerprint && !o.force && !o.clearCache &&
      // An environment whose layers were removed is not up to date, whatever the inputs (the
      // builder phase always writes config/metadata.toml).
      (await exists(join(paths.layers, "config", "metadata.toml"))) &&
      (await settledSources(previous, o.projectDir, sourceOptions, inputsDigest, paths, (d) => {
        sourcesBefore = d;
      }))
    ) {
      o.out.info(
        `${o.projectDir} is up to date: nothing it depends on changed since the build ` +
          `${formatAgo(previous.builtAt)} (use --force to build anyway)`,
      );
      return {
        ...summaryOf(previous, paths.state),
        skipped: true,
        sandbox: prep.isolation,
        userland: prep.userland,
      };
    }
    trace("build: fingerprint checked");
    const { copy, before, work, steps, runHost } = await prepareState(
      o,
      prep,
      previous,
      host,
      gen,
    );
    trace("build: state prepared");
    const durationsMs = await runPhases(o, prep, { ...plan, steps }, runHost, work);
    trace("build: phases done");
    const phasesEnd = sourcesBefore === undefined
      ? undefined
      : await markPhasesEnd(paths.state, o.projectDir);
    const record = await recordBuild({
      o,
      prep,
      plan,
      paths,
      work,
      started: gen.started,
      current: gen.current,
      renamed: gen.renamed,
      copy,
      previous,
      before,
      durationsMs,
      inputsDigest,
      sourceOptions,
      sourcesBefore: phasesEnd === undefined ? undefined : { digest: sourcesBefore!, phasesEnd },
    });
    trace("build: record ready");
    // The switch: the record names the new generation, then `layers` points at it (a cut
    // between the two is settled by the next build, from the record).
    await writeFileAtomic(paths.buildRecord, JSON.stringify(record, null, 2));
    if (gen.renamed) {
      gen.switched = true;
      await renameDone(paths);
    } else if (gen.started) {
      await pointLayersAt(paths, gen.started.next.id);
      gen.switched = true;
      // The one before stays for processes started from it, without its cached build-only
      // layers, which no process uses.
      await pruneGenerations(paths, [gen.started.next.id, gen.current?.id]);
      if (gen.current) await removeIfExists(gen.current.held);
    }
    await removeIfExists(`${paths.buildRecord}.incomplete`);
    const image = o.image
      ? await exportedImage(o.image, o.projectDir, paths, prep.sources.runImage!)
      : undefined;
    return {
      ...summaryOf(record, paths.state),
      skipped: false,
      sandbox: prep.isolation,
      userland: prep.userland,
      image,
    };
  } catch (e) {
    // A failed or cut build leaves the last good generation as it was, and drops its own.
    if (gen.started && !gen.switched) {
      try {
        if (gen.renamed) {
          await renameBack(paths);
        } else {
          await removeIfExists(gen.started.next.dir);
          await removeIfExists(gen.started.next.held);
        }
      } catch { /* the next build settles it from the record */ }
    }
    throw e;
  } finally {
    // The image build's copy of the project lives only as long as the build (the image holds
    // what the exporter took from it).
    if (o.image) await removeWorkspace(imageWorkspace(paths)).catch(() => {});
    lock.release();
  }
}

/** The generations a build works with; set as they come, so runBuild undoes a failure. */
interface BuildGeneration {
  /** The one this build writes. */
  started?: Started;
  /** The last good one. */
  current?: Generation;
  /** The new one took the last good one's place for the build (no mount namespace). */
  renamed: boolean;
  /** The record and `layers` name the new one: the build cannot be undone any more. */
  switched: boolean;
}

/**
 * The state around the phases: the platform and buildpacks directories, order.toml, the run
 * image in the layout, the new generation (or an image build's empty one and its workspace).
 * What the phases then run: their steps (mounts on the new generation) and host, where they
 * write (`work`), and the layers as they were before (`before`).
 */
async function prepareState(
  o: BuildOptions,
  prep: Prepared,
  previous: BuildRecord | undefined,
  host: Host,
  gen: BuildGeneration,
): Promise<
  { copy?: CopyTree; before: LayerState[]; work: ProjectPaths; steps: Step[]; runHost: Host }
> {
  const { plan, paths, buildpacks } = prep;
  // Link switching needs a link the phases follow: none where locald cannot write one (WSL).
  const ns = o.image || !o.backend.symlinks ? undefined : await buildNamespace(o, prep.sandbox);
  const copy = o.backend.symlinks ? undefined : guestCopy(o.backend);
  // Image builds always run in a mount namespace (the sandbox's): their layers are a link.
  gen.current = await settleGeneration(paths, o.image || ns ? "link" : "rename");
  // A build starts its generation from nothing; the last good one stays until it is done.
  if (o.clearCache) await removeIfExists(paths.cache);
  for (const d of [paths.cache, paths.platform]) Deno.mkdirSync(d, { recursive: true });
  writePlatformDir(paths.platform, prep.buildEnv);
  // Which project this state belongs to, even before a build succeeds (`locald cache`).
  Deno.writeTextFileSync(join(paths.state, "project-dir"), o.projectDir);
  if (buildpacks.length) {
    // The named group, with every buildpack the builder and buildpack images bring beside
    // it (composite buildpacks refer to others by id).
    const trees = [...prep.sources.extraTrees];
    if (prep.sources.builder) trees.unshift(prep.sources.builder.buildpacksDir);
    await writeBuildpacksDir(
      paths.buildpacks,
      [...prep.sources.dependencies, ...buildpacks],
      await treeBuildpacks(trees),
      { copy: !o.backend.symlinks },
    );
    await writeFileAtomic(
      paths.order,
      orderToml([buildpacks.map((b) => ({ id: b.id, version: b.version }))]),
    );
  }
  const layoutDir = layoutDirOf(paths);
  Deno.mkdirSync(layoutDir, { recursive: true });
  if (o.image) {
    // The exporter builds on the run image's layers: in layout mode all of them must be
    // in the layout; in registry mode the lifecycle reads them from the registry.
    if (o.image.mode === "layout") {
      const { pullImageToLayout } = await import("../oci/builder.ts");
      const pulled = await pullImageToLayout(prep.sources.runImage!, layoutDir, {
        env: o.env,
        dirs: o.dirs,
        out: o.out,
        insecureRegistries: o.insecureRegistries ?? [],
        full: true,
      });
      await linkLayoutAlias(layoutDir, prep.runImage, pulled);
    }
  } else if (prep.sources.runImage) {
    // Like the builder, the run image is fetched again only under --pull-policy always.
    const { layoutRelativePath, parseReference } = await import("../oci/reference.ts");
    const have = join(layoutDir, layoutRelativePath(parseReference(prep.runImage)), "index.json");
    if (o.pullPolicy === "always" || !(await exists(have))) {
      const { pullImageToLayout } = await import("../oci/builder.ts");
      await pullImageToLayout(prep.sources.runImage, layoutDir, {
        env: o.env,
        dirs: o.dirs,
        out: o.out,
        insecureRegistries: o.insecureRegistries ?? [],
      });
    }
  } else {
    const runImage = await writeHostRunImage(layoutDir, prep.target);
    const runToml = `[[images]]\nimage = "${runImage}"\n`;
    const runPath = join(paths.state, "run.toml");
    if (readTextIf(runPath) !== runToml) await writeFileAtomic(runPath, runToml);
  }
  let before: LayerState[] = [];
  // Where locald reads what the phases wrote: the new generation of a dev build.
  let work = paths;
  let steps = plan.steps;
  let runHost = host;
  if (o.image) {
    // An image build starts from an empty /layers, as in a container; the lifecycle's
    // volume cache (restorer in, exporter out) carries what buildpacks cache. It too builds
    // a new generation: the last image build's layers (a devcontainer's /layers) stay until
    // this one is complete.
    await pruneGenerations(paths, [gen.current?.id, previous?.previousGeneration]);
    gen.started = await startGeneration(paths, undefined);
    work = withLayersAt(paths, gen.started.next.dir);
    const next = o.backend.guestPath(gen.started.next.dir);
    steps = steps.map((s) => ({
      ...s,
      mounts: s.mounts.map((m) => (m.source === paths.layers ? { ...m, source: next } : m)),
    }));
    // The phases build a copy of the project shaped by project.toml's include/exclude.
    await stageWorkspace(o.projectDir, imageWorkspace(paths), prep, [o.dirs.home]);
  } else {
    // Leftovers of cut builds go; the generation before the current one stays for
    // processes started from it.
    await pruneGenerations(paths, [gen.current?.id, previous?.previousGeneration]);
    gen.started = await startGeneration(paths, o.clearCache ? undefined : gen.current, copy);
    before = gen.started.before;
    work = withLayersAt(paths, gen.started.next.dir);
    if (ns) {
      // The phases see the new generation at `<state>/layers`; everyone else the current one.
      const g = o.backend.guestPath;
      const view = { ...paths, state: g(paths.state), layers: g(paths.layers) };
      const entries = Array.from(Deno.readDirSync(paths.state), (e) => e.name);
      steps = steps.map((s) => ({
        ...s,
        mounts: generationMounts(s.mounts, view, entries, g(gen.started!.next.dir), [
          ...s.argv,
          ...Object.values(s.env),
          s.cwd,
        ]),
      }));
      if (ns !== "sandbox") {
        runHost = {
          name: host.name,
          wrap: (s) => host.wrap(namespaceStep(s, ns.bwrap, ns.uid, view.state)),
        };
      }
    } else {
      // No mount namespace here: the new generation takes the place of the last good one
      // for the build, which comes back if the build fails.
      ({ started: gen.started, current: gen.current } = await renameIn(
        paths,
        gen.started,
        gen.current,
      ));
      gen.renamed = true;
      work = withLayersAt(paths, gen.started.next.dir);
    }
  }
  return { copy, before, work, steps, runHost };
}

/** What recordBuild needs: the build as runBuild has it once the phases are done. */
interface Finished {
  o: BuildOptions;
  prep: Prepared;
  plan: BuildPlan;
  paths: ProjectPaths;
  /** Where the phases wrote (the new generation of a dev build). */
  work: ProjectPaths;
  started?: Started;
  current?: Generation;
  renamed: boolean;
  copy?: CopyTree;
  previous?: BuildRecord;
  before: LayerState[];
  durationsMs: Record<string, number>;
  inputsDigest: (sources: string) => Promise<string>;
  sourceOptions: { gitignore: boolean; exclude: string[]; include: Prepared["include"] };
  /** The tree before the phases and when they ended: recorded instead of a walk after them. */
  sourcesBefore?: { digest: string; phasesEnd: number };
}

/**
 * What the phases left, put in order and described: layers of buildpacks no longer in the
 * group go, launch layers reused from the last build come back, non-launch layers are hidden,
 * the process links are written; the record build.json will hold comes back (not yet written).
 */
async function recordBuild(
  {
    o,
    prep,
    plan,
    paths,
    work,
    started,
    current,
    renamed,
    copy,
    previous,
    before,
    durationsMs,
    inputsDigest,
    sourceOptions,
    sourcesBefore,
  }: Finished,
): Promise<BuildRecord> {
  const reusedLaunch = started && !o.image
    ? await restoreReusedLaunchLayers(started, current, copy)
    : new Set<string>();
  const bpIds = new Map<string, string>();
  // deno-lint-ignore no-explicit-any
  const group = parseToml(Deno.readTextFileSync(work.group), work.group) as any;
  const inGroup: { id: string; version: string; api?: string }[] = (group.group ?? []).map(
    // deno-lint-ignore no-explicit-any
    (g: any) => ({ id: g.id, version: g.version, api: g.api }),
  );
  // Ids come from buildpack.toml files (a builder's too): each must name a directory inside
  // the layers, or scanning and pruning them would reach the state around it.
  const groupDirs = inGroup.map((g) => {
    childPath(work.layers, escapeId(g.id), "buildpack id");
    return escapeId(g.id);
  });
  for (const g of inGroup) bpIds.set(escapeId(g.id), g.id);
  // Layers of buildpacks that are no longer in the group are no longer part of the environment.
  for (const old of previous?.buildpacks ?? []) {
    if (!groupDirs.includes(escapeId(old.id))) {
      await removeIfExists(childPath(work.layers, escapeId(old.id), "buildpack id"));
    }
  }
  // Processes of another execution environment are not this build's (the launcher would
  // not start them either).
  let processes = readProcesses(join(work.layers, "config", "metadata.toml"))
    .filter((p) => !prep.execEnv || forExecEnv(p.execEnv, prep.execEnv));
  if (o.defaultProcess) processes = chooseDefaultProcess(processes, o.defaultProcess);
  const after = scanLayers(work.layers, groupDirs);
  const layers = layerRecords(after, before, (d) => bpIds.get(d) ?? d, reusedLaunch);
  if (started && !o.image) hideNonLaunchLayers(work.layers, groupDirs, started.next.held);
  // The launcher and the layers as the phases (and later the launcher) see them.
  const g = o.backend.guestPath;
  // A stack build's lifecycle is the builder's own: the copy in its root filesystem.
  const lcRoot = prep.stack && prep.lifecycleInImage
    ? join(prep.stack.builder.root, "cnb")
    : prep.lifecycle!.root;
  const launcher = g(join(lcRoot, "lifecycle", "launcher"));
  if (o.backend.symlinks) writeProcessLinks(paths, processes.map((p) => p.type), launcher);
  else removeIfExistsSync(paths.processes);
  // Buildpacks may write into the source tree (node_modules, ...): the tree before the phases
  // with the time they ended (settled by the next walk), or else taken again now.
  const sources = sourcesBefore ??
    { digest: await treeDigest(o.projectDir, sourceOptions), phasesEnd: undefined };
  const record: BuildRecord = {
    recordVersion: 1,
    projectDir: o.projectDir,
    builtAt: new Date().toISOString(),
    platformApi: plan.platformApi,
    lifecycle: {
      root: g(lcRoot),
      version: prep.lifecycle!.version,
      launcher,
    },
    userland: prep.stack ? "stack" : "host",
    stack: prep.stack,
    layersDir: o.image ? "/layers" : g(paths.layers),
    runImage: prep.sources.runImage,
    imageMode: o.image ? true : undefined,
    execEnv: prep.execEnv,
    buildpacks: inGroup,
    processes,
    layers,
    // As the launcher will see them: through `<state>/layers`, not the generation.
    profiles: profileScripts(work.layers, groupDirs).map((p) =>
      paths.layers + p.slice(work.layers.length)
    ),
    durationsMs,
    fingerprint: await inputsDigest(sources.digest),
    sources: { ...sources, ...sourceOptions },
    generation: started && !renamed ? started.next.id : undefined,
    previousGeneration: started && !renamed ? current?.id : undefined,
  };
  return record;
}

/**
 * Is the source tree as the last build left it? Either its digest is the recorded one, or the
 * record holds the tree from before its phases (`phasesEnd` set) and the tree differs from it
 * only by changes made before the phases ended: what buildpacks wrote into it. A change made
 * while the phases ran counts as theirs (a walk after the phases, which this replaces, took it
 * in as well); anything changed later, a file edited, added or removed, means a build. A
 * settled record is rewritten with the digest of the tree as it is, so later checks compare
 * digests only. `walked` gets the digest of the tree now.
 */
async function settledSources(
  previous: BuildRecord,
  projectDir: string,
  sourceOptions: Finished["sourceOptions"],
  inputsDigest: (sources: string) => Promise<string>,
  paths: ProjectPaths,
  walked: (digest: string) => void,
): Promise<boolean> {
  const s = previous.sources;
  const track = s?.phasesEnd !== undefined ? { since: s.phasesEnd, changed: false } : undefined;
  const now = (await pacedTreeDigest(projectDir, sourceOptions, undefined, track))!;
  walked(now);
  const fingerprint = await inputsDigest(now);
  if (previous.fingerprint === fingerprint && !track) return true;
  if (previous.fingerprint !== fingerprint) {
    // Only the tree may differ, and only by what changed before the phases ended.
    if (!track || track.changed || previous.fingerprint !== (await inputsDigest(s!.digest))) {
      return false;
    }
  }
  const settled: BuildRecord = {
    ...previous,
    fingerprint,
    sources: { ...s!, digest: now, phasesEnd: undefined },
  };
  await writeFileAtomic(paths.buildRecord, JSON.stringify(settled, null, 2));
  return true;
}

/**
 * The time the phases ended, as the project's file system has it: the mtime of a file written
 * now in the state directory. Undefined (the tree is walked again instead) off Linux, when the
 * state is on another file system than the project (another clock or timestamp granularity), or
 * when the system does not report change times.
 */
async function markPhasesEnd(state: string, projectDir: string): Promise<number | undefined> {
  // Change times in the same second as the mark are settled with GNU stat (fingerprint.ts).
  if (Deno.build.os !== "linux") return undefined;
  const mark = join(state, "phases-end");
  await Deno.writeTextFile(mark, `${Date.now()}\n`);
  const [m, p] = await Promise.all([Deno.lstat(mark), Deno.lstat(projectDir)]);
  if (!m.ctime || !m.mtime || !p.ctime || m.dev !== p.dev) return undefined;
  return m.mtime.getTime();
}

/**
 * The phases, one after another, each under its header, through `host`; the first that fails
 * (or is interrupted) stops the build with its error. What each phase took, by name.
 */
async function runPhases(
  o: BuildOptions,
  prep: Prepared,
  plan: BuildPlan,
  host: Host,
  work: ProjectPaths,
): Promise<Record<string, number>> {
  // Registry credentials reach only the phases that talk to registries, never the plan.
  const authRoot = o.dirs.registryAuth;
  const auths = o.image?.mode === "registry"
    ? await registryAuths([o.image.ref, prep.sources.runImage!], o.env)
    : undefined;
  const durationsMs: Record<string, number> = {};
  let analyzed: string | undefined;
  for (const step of plan.steps) {
    const end = o.out.phase(step.name);
    const res = await withRegistryAuth(step.name, auths, authRoot, (secret) =>
      spawn(
        host.wrap({
          ...step,
          env: { ...step.env, ...secret.env },
          mounts: [...step.mounts, ...secret.mounts],
        }),
        {
          mode: "capture",
          // The exporter names the image by its id (a digest, or a short one); locald prints
          // the digest when it is done (in layout mode, of the manifest it rewrote): once.
          rewrite: step.name === "exporter"
            ? (l) => l.replace(/\*\*\* Images \(.*\):/, "*** Images:")
            : undefined,
        },
      ));
    durationsMs[step.name] = Math.round(end(res.code === 0));
    if (res.interrupted) {
      throw new LocaldError(`build interrupted during the ${step.name} phase`, {
        hint: "run locald build again; the next build starts from the last good state",
        exitCode: ExitCode.interrupted,
      });
    }
    if (res.code !== 0) {
      throw await phaseError(
        step.name,
        res.code,
        res.output,
        host,
        plan,
        o.projectDir,
        prep.sandbox && !prep.stack ? prep.isolation : undefined,
        work.layers,
        prep.lifecycle,
        prep.stack
          ? "stack"
          : prep.sources.builder && !prep.sources.builder.sourceDirs
          ? "host-with-builder"
          : undefined,
      );
    }
    if (step.name === "analyzer") analyzed = await readTextIfExists(work.analyzed);
    if (step.name === "detector") {
      await afterDetect(work, { image: !!o.image, analyzed, out: o.out });
    }
  }
  return durationsMs;
}

/**
 * How a dev build's phases get a mount namespace in which `<state>/layers` is the new
 * generation: the sandbox has one already; otherwise bwrap where the phases run, when it works
 * there. Undefined: none can be had (WSL, no usable bwrap), the build renames directories.
 */
async function buildNamespace(
  o: BuildOptions,
  sandbox: SandboxOptions | undefined,
): Promise<"sandbox" | { bwrap: string; uid: number } | undefined> {
  if (sandbox) return "sandbox";
  try {
    // Only bwrap and the ids: the namespace shows the host's root whole (namespaceStep).
    const s = await o.backend.sandboxOptions(undefined, "the build's generation", {
      layout: false,
    });
    return { bwrap: s.bwrap, uid: s.uid };
  } catch (e) {
    trace(`build: no mount namespace (${(e as Error).message}); layers are renamed instead`);
    return undefined;
  }
}

/**
 * Copying layers where locald cannot write the links Linux follows (WSL, from Windows): `cp -a`
 * in the guest, which keeps symlinks, modes and times as they are.
 */
function guestCopy(b: Backend): CopyTree {
  return async (from, to, how) => {
    const res = await spawn(
      b.host.wrap({
        name: "copy-layer",
        argv: ["cp", how === "link" ? "-al" : "-a", "--", b.guestPath(from), b.guestPath(to)],
        env: { PATH: "/usr/bin:/bin" },
        cwd: "/",
        dropRoot: false,
        mounts: [],
      }),
      { mode: "capture", echo: false },
    );
    if (res.code !== 0) {
      throw new LocaldError(`cannot copy the layer ${from}: ${res.output.trim()}`, {
        hint: "check the free space of the distribution's disk, then build again",
        exitCode: ExitCode.failure,
      });
    }
  };
}

function summaryOf(
  r: BuildRecord,
  stateDir: string,
): Omit<BuildSummary, "skipped" | "sandbox" | "userland"> {
  return {
    projectDir: r.projectDir,
    stateDir,
    platformApi: r.platformApi,
    lifecycle: r.lifecycle.version,
    buildpacks: r.buildpacks.map(({ id, version }) => ({ id, version })),
    processes: r.processes,
    layers: r.layers,
    durationsMs: r.durationsMs,
    execEnv: r.execEnv,
  };
}

async function phaseError(
  phase: string,
  code: number,
  output: string,
  host: Host,
  plan: BuildPlan,
  projectDir: string,
  sandboxed?: SandboxDecision,
  layersDir?: string,
  lifecycle?: { version: string; buildpackApis: string[] },
  userland?: "stack" | "host-with-builder",
): Promise<LocaldError> {
  if (phase === "detector" && (code === 20 || code === 21)) {
    const verdicts = await detectVerdicts(host, plan);
    return new LocaldError(`no buildpack detected for ${projectDir}`, {
      details: verdicts.length ? ["buildpacks tried:", ...verdicts.map((v) => `  ${v}`)] : [],
      hint: "check that the project has what its buildpacks look for, or pick others with -b",
      exitCode: ExitCode.nothingDetected,
    });
  }
  const reason = lastErrorLine(output);
  if (/no space left on device|disk quota exceeded/i.test(output)) {
    return new LocaldError(
      `the ${phase} phase failed (exit ${code}): the disk is full${reason ? ` (${reason})` : ""}`,
      { hint: NO_SPACE_HINT, exitCode: ExitCode.machine },
    );
  }
  // The exporter refuses a --default-process the buildpacks did not declare: said as a dev
  // build says it.
  const noSuchDefault = phase === "exporter" &&
    reason?.match(/tried to set (\S+) to default but it doesn't exist/);
  // A builder's buildpack (or one a composite names) the lifecycle refuses: name the range.
  const api = output.match(
    /(?:set API for \S+ '([^']+)': )?buildpack API version '([^']+)' is incompatible with the lifecycle/i,
  );
  if (api && lifecycle) {
    return unsupportedBuildpackApi(
      api[1] ?? "(one of the build's buildpacks)",
      api[2],
      lifecycle.buildpackApis,
      lifecycle.version,
    );
  }
  if (noSuchDefault) {
    const declared = layersDir ? readProcesses(join(layersDir, "config", "metadata.toml")) : [];
    return unknownDefaultProcess(noSuchDefault[1], declared);
  }
  if (/\b401 Unauthorized|\bUNAUTHORIZED\b|\bDENIED\b|403 Forbidden/.test(output)) {
    return new LocaldError(
      `the registry refused access during the ${phase} phase${reason ? `: ${reason}` : ""}`,
      {
        hint: "log in to it (`docker login REGISTRY`) or add credentials to " +
          "$DOCKER_CONFIG/config.json (else ~/.docker/config.json); locald passes them on",
        exitCode: ExitCode.input,
      },
    );
  }
  return new LocaldError(
    `the ${phase} phase failed (exit ${code})${reason ? `: ${reason}` : ""}`,
    {
      hint: phase === "builder"
        ? builderFailedHint(sandboxed, userland)
        : "see the lifecycle's output above; rerun with LOCALD_DEBUG=1 for more",
      exitCode: ExitCode.build,
    },
  );
}

/** What a failed builder phase says about where the buildpack ran. */
function builderFailedHint(
  sandboxed: SandboxDecision | undefined,
  userland: "stack" | "host-with-builder" | undefined,
): string {
  if (userland === "stack") {
    return "a buildpack failed: its output is above. It ran in the builder's image (its " +
      "userland: your host's tools and home are not there)";
  }
  const parts = ["a buildpack failed: its output is above."];
  if (sandboxed) {
    parts.push(
      "It ran sandboxed (only the project, its build directories and system directories " +
        "visible, home empty" + (sandboxed.network === "none" ? ", no network" : "") +
        "); if it needs more, build without --sandbox only if you trust it.",
    );
  }
  if (userland === "host-with-builder") {
    parts.push(
      `It ran on this host's userland (--host): a tool or library its builder's image has ` +
        "may be missing here; build in the builder's image with --stack",
    );
  }
  return parts.join(" ").replace(/\.$/, "");
}

function readProcesses(file: string): ProcessRecord[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch {
    return [];
  }
  // deno-lint-ignore no-explicit-any
  const doc = parseToml(text, file) as any;
  const defaultType = doc["buildpack-default-process-type"];
  // deno-lint-ignore no-explicit-any
  return (doc.processes ?? []).map((p: any) => ({
    type: String(p.type),
    command: Array.isArray(p.command)
      ? p.command.map(String)
      : p.command
      ? [String(p.command)]
      : [],
    args: Array.isArray(p.args) ? p.args.map(String) : [],
    direct: p.direct === true,
    default: p.default === true || p.type === defaultType,
    buildpackId: p["buildpack-id"],
    execEnv: Array.isArray(p["exec-env"]) ? p["exec-env"].map(String) : undefined,
  }));
}

function writeProcessLinks(paths: ProjectPaths, types: string[], launcher: string) {
  removeIfExistsSync(paths.processes);
  Deno.mkdirSync(paths.processes, { recursive: true });
  // processLink refuses a type that is not a plain name (types come from the buildpacks).
  for (const t of types) Deno.symlinkSync(launcher, processLink(paths, t));
}
