/**
 * `locald build`: options and project.toml become a plan; the native host runs the lifecycle
 * phases; the layers they write become the development environment.
 */
import { join, resolve } from "node:path";
import type { Output } from "../cli/output.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import { type ProjectPaths, projectPaths } from "../config/paths.ts";
import { loadProject } from "../config/project.ts";
import { parseToml } from "../config/toml.ts";
import { cnbIds, nativeHost } from "../hosts/native.ts";
import type { Host } from "../hosts/types.ts";
import { spawn } from "../hosts/spawn.ts";
import { type Network, sandboxHost, systemLayout } from "../hosts/sandbox.ts";
import {
  checkSandbox,
  type SandboxAvailability,
  sandboxUnavailable,
} from "../hosts/sandbox_check.ts";
import { decideSandbox, loadSettings, type SandboxDecision } from "../config/settings.ts";
import {
  ensureLifecycle,
  findLifecycle,
  type Lifecycle,
  lifecycleInstallDir,
} from "../tools/lifecycle.ts";
import { LIFECYCLE } from "../tools/pins.ts";
import { acquireLock } from "../util/lock.ts";
import { removeIfExists, writeFileAtomic } from "../util/fs.ts";
import {
  type Buildpack,
  escapeId,
  localBuildpackPath,
  orderToml,
  readBuildpack,
  writeBuildpacksDir,
} from "./buildpacks.ts";
import { mergeBuildEnv, parseEnvFile, parseEnvFlag } from "./env.ts";
import { hostRunImageRef, hostTarget, writeHostRunImage } from "./hostimage.ts";
import {
  hideNonLaunchLayers,
  layerRecords,
  profileScripts,
  pruneForRebuild,
  restoreReusedLaunchLayers,
  scanLayers,
} from "./layers.ts";
import { type BuildPlan, createBuildPlan } from "./plan.ts";
import { LOCALD_PLATFORM_APIS, negotiatePlatformApi } from "./platform_api.ts";
import { type BuildRecord, processLink, type ProcessRecord, readBuildRecord } from "./record.ts";

export interface BuildOptions {
  projectDir: string;
  /** Directory -b paths are relative to (the caller's working directory). */
  cwd: string;
  env: Record<string, string>;
  out: Output;
  buildpacks: string[];
  envFlags: string[];
  envFiles: string[];
  clearCache: boolean;
  platformApi?: string;
  verbose?: boolean;
  /** --sandbox (true/false, absent: settings decide), --network, --trust-builder. */
  isolation?: { sandbox?: boolean; network?: Network; trustBuilder?: boolean };
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
  sandbox: SandboxDecision;
}

async function resolveBuildpacks(
  o: BuildOptions,
  group: { id?: string; version?: string; uri?: string }[],
) {
  const bps: Buildpack[] = [];
  const fromFlags = o.buildpacks.length > 0;
  const refs = fromFlags
    ? o.buildpacks.map((ref) => ({ ref, base: o.cwd, id: undefined as string | undefined }))
    : group.map((g) => ({ ref: g.uri ?? "", base: o.projectDir, id: g.id }));
  for (const { ref, base, id } of refs) {
    const local = ref ? localBuildpackPath(ref, base) : undefined;
    if (!local) {
      throw new LocaldError(
        `buildpack "${ref || id}" is not a local directory`,
        {
          hint: "give -b (or a project.toml group entry's uri) the path of a buildpack " +
            "directory, e.g. -b ./buildpacks/mine",
          exitCode: ExitCode.input,
        },
      );
    }
    const bp = await readBuildpack(local, ref);
    if (bp.order) {
      throw new LocaldError(`${ref} is a composite buildpack; locald builds with its parts`, {
        hint: "pass each component buildpack's directory with -b",
        exitCode: ExitCode.input,
      });
    }
    bps.push(bp);
  }
  if (!bps.length) {
    throw new LocaldError(`no buildpacks to build ${o.projectDir} with`, {
      hint: "pass -b PATH for each buildpack, or list them under [[io.buildpacks.group]] " +
        "in project.toml",
      exitCode: ExitCode.input,
    });
  }
  return bps;
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
  buildpacks: Buildpack[];
  buildEnv: Record<string, string>;
  lifecycle?: Lifecycle;
  runImage: string;
  /** Whether the phases run sandboxed, and why. */
  isolation: SandboxDecision;
  /** The probed sandbox, when the build runs sandboxed (only probed when `install`). */
  sandbox?: SandboxAvailability;
}

/** Everything up to the plan; nothing written. */
export async function prepareBuild(o: BuildOptions, install: boolean): Promise<Prepared> {
  const project = await loadProject(o.projectDir);
  const buildEnv = await buildEnvFor(o, project.env);
  const buildpacks = await resolveBuildpacks(o, project.group);
  const settings = await loadSettings(o.env);
  for (const w of settings.warnings) o.out.warn(w);
  const isolation = decideSandbox({
    flag: o.isolation?.sandbox,
    network: o.isolation?.network,
    trustBuilder: o.isolation?.trustBuilder ?? false,
    settings,
    // Builders are not wired in yet; every buildpack here comes from a local directory.
    builder: undefined,
    localBuildpacks: buildpacks.length > 0,
  });
  // Asked-for isolation that cannot be had stops the build before anything is written.
  let sandbox: SandboxAvailability | undefined;
  if (install && isolation.sandbox) {
    sandbox = await checkSandbox(o.env);
    if (!sandbox.available) throw sandboxUnavailable(sandbox, `this build (${isolation.reason})`);
  }
  const lifecycle = install ? await ensureLifecycle(o.env, o.out) : await findLifecycle(o.env);
  const platformApi = negotiatePlatformApi(
    lifecycle?.platformApis ?? LOCALD_PLATFORM_APIS,
    o.platformApi,
  );
  const paths = projectPaths(o.env, o.projectDir);
  const target = await hostTarget();
  const runImage = hostRunImageRef(target);
  const root = lifecycle?.root ?? o.env.LOCALD_LIFECYCLE_DIR ?? lifecycleInstallDir(o.env);
  const plan = createBuildPlan({
    projectDir: o.projectDir,
    paths,
    lifecycle: {
      root,
      version: lifecycle?.version ?? LIFECYCLE.version,
      phase: (p) => join(root, "lifecycle", p),
    },
    platformApi,
    ids: cnbIds(Deno.uid() ?? 0, Deno.gid() ?? 0),
    runImage,
    layoutDir: join(paths.state, "layout"),
    appImage: "locald.local/dev/app",
    buildpackDirs: buildpacks.map((b) => b.dir),
    hostEnv: o.env,
    logLevel: o.verbose ? "debug" : "info",
    color: o.out.color,
  });
  return { plan, paths, buildpacks, buildEnv, lifecycle, runImage, isolation, sandbox };
}

async function writePlatformDir(platformDir: string, env: Record<string, string>) {
  const envDir = join(platformDir, "env");
  await removeIfExists(envDir);
  await Deno.mkdir(envDir, { recursive: true });
  for (const [k, v] of Object.entries(env)) await Deno.writeTextFile(join(envDir, k), v);
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
  const prep = await prepareBuild(o, true);
  const { plan, paths, buildpacks } = prep;
  const uid = Deno.uid() ?? 0;
  const host: Host = prep.sandbox
    ? sandboxHost({
      bwrap: prep.sandbox.bwrap!,
      uid,
      gid: Deno.gid() ?? 0,
      network: prep.isolation.network,
      system: await systemLayout(),
    })
    : nativeHost({ uid });
  if (prep.sandbox) {
    o.out.info(
      `sandbox: on (${prep.isolation.reason}); home hidden, network ${prep.isolation.network}`,
    );
  }
  const lock = await acquireLock(paths.lock, `another build of ${o.projectDir}`, o.out);
  try {
    const previous = await readBuildRecord(paths);
    if (o.clearCache) {
      await removeIfExists(paths.layers);
      await removeIfExists(paths.cache);
    }
    for (const d of [paths.layers, paths.cache, paths.platform]) {
      await Deno.mkdir(d, { recursive: true });
    }
    await writePlatformDir(paths.platform, prep.buildEnv);
    await writeBuildpacksDir(paths.buildpacks, buildpacks);
    await writeFileAtomic(
      paths.order,
      orderToml([buildpacks.map((b) => ({ id: b.id, version: b.version }))]),
    );
    const runImage = await writeHostRunImage(join(paths.state, "layout"), await hostTarget());
    await writeFileAtomic(join(paths.state, "run.toml"), `[[images]]\nimage = "${runImage}"\n`);
    // Files of the last build that the phases write again must not be mistaken for new ones.
    for (const f of [paths.group, paths.plan, paths.analyzed, paths.report]) {
      await removeIfExists(f);
    }
    await removeIfExists(paths.buildRecord);
    const stash = join(paths.state, "previous-launch-layers");
    const held = join(paths.state, "cached-build-layers");
    const before = await pruneForRebuild(paths.layers, stash, held);

    const durationsMs: Record<string, number> = {};
    for (const step of plan.steps) {
      const end = o.out.phase(step.name);
      const res = await spawn(host.wrap(step), { mode: "capture" });
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
          prep.sandbox ? prep.isolation : undefined,
        );
      }
    }

    await restoreReusedLaunchLayers(paths.layers, stash);
    const bpIds = new Map(buildpacks.map((b) => [escapeId(b.id), b.id]));
    // deno-lint-ignore no-explicit-any
    const group = parseToml(await Deno.readTextFile(paths.group), paths.group) as any;
    const inGroup: { id: string; version: string; api?: string }[] = (group.group ?? []).map(
      // deno-lint-ignore no-explicit-any
      (g: any) => ({ id: g.id, version: g.version, api: g.api }),
    );
    const groupDirs = inGroup.map((g) => escapeId(g.id));
    // Layers of buildpacks that are no longer in the group are no longer part of the environment.
    for (const old of previous?.buildpacks ?? []) {
      if (!groupDirs.includes(escapeId(old.id))) {
        await removeIfExists(join(paths.layers, escapeId(old.id)));
      }
    }
    const processes = await readProcesses(join(paths.layers, "config", "metadata.toml"));
    const after = await scanLayers(paths.layers, groupDirs);
    const layers = layerRecords(after, before, (d) => bpIds.get(d) ?? d);
    await hideNonLaunchLayers(paths.layers, groupDirs, held);
    await writeProcessLinks(paths, processes.map((p) => p.type), prep.lifecycle!.launcher);
    const record: BuildRecord = {
      recordVersion: 1,
      projectDir: o.projectDir,
      builtAt: new Date().toISOString(),
      platformApi: plan.platformApi,
      lifecycle: {
        root: prep.lifecycle!.root,
        version: prep.lifecycle!.version,
        launcher: prep.lifecycle!.launcher,
      },
      layersDir: paths.layers,
      buildpacks: inGroup,
      processes,
      layers,
      profiles: await profileScripts(paths.layers, groupDirs),
      durationsMs,
    };
    await writeFileAtomic(paths.buildRecord, JSON.stringify(record, null, 2));
    return {
      projectDir: o.projectDir,
      stateDir: paths.state,
      platformApi: plan.platformApi,
      lifecycle: prep.lifecycle!.version,
      buildpacks: inGroup.map(({ id, version }) => ({ id, version })),
      processes,
      layers,
      durationsMs,
      sandbox: prep.isolation,
    };
  } finally {
    lock.release();
  }
}

async function phaseError(
  phase: string,
  code: number,
  output: string,
  host: Host,
  plan: BuildPlan,
  projectDir: string,
  sandboxed?: SandboxDecision,
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
  return new LocaldError(
    `the ${phase} phase failed (exit ${code})${reason ? `: ${reason}` : ""}`,
    {
      hint: phase === "builder"
        ? sandboxed
          ? "a buildpack failed: its output is above. It ran sandboxed (only the project, " +
            "its build directories and system directories visible, home empty" +
            (sandboxed.network === "none" ? ", no network" : "") +
            "); if it needs more, build without --sandbox only if you trust it"
          : "a buildpack failed: its output is above"
        : "see the lifecycle's output above; rerun with LOCALD_DEBUG=1 for more",
      exitCode: ExitCode.build,
    },
  );
}

async function readProcesses(file: string): Promise<ProcessRecord[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
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
  }));
}

async function writeProcessLinks(paths: ProjectPaths, types: string[], launcher: string) {
  await removeIfExists(paths.processes);
  await Deno.mkdir(paths.processes, { recursive: true });
  for (const t of types) await Deno.symlink(launcher, processLink(paths, t));
}
