/**
 * The development environment is what the lifecycle's launcher makes of the layers: bin/,
 * lib/, env/ (every suffix), env.launch/, exec.d/, profile.d/. locald never re-implements
 * that; it asks the launcher. This module stays light (no TOML, no tar): shell, exec, run and
 * env load only this and the build record.
 */
import { dirname, join } from "../util/path.ts";
import { type BuildRecord, notBuiltError, readBuildRecord } from "../cnb/record.ts";
import type { Host, HostCommand, Step } from "../hosts/types.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import { assertLauncherSafePath, shellQuote, shellWord } from "../util/shell.ts";
import { existsSync } from "../util/fs.ts";
import { parseEnvZ } from "./format.ts";
import { command } from "../util/run.ts";
import { trace } from "../util/trace.ts";
import { recall, remember, stackDev, stepInputs } from "./stack_dev.ts";
import {
  type DevEnv,
  devSandboxRequest,
  launcherOf,
  type SandboxFlags,
  STACK_LIFECYCLE,
  STACK_PROCESSES,
  type StateView,
} from "./dev_env.ts";

export {
  type DevEnv,
  devSandboxRequest,
  launcherOf,
  type SandboxFlags,
  STACK_LAUNCHER,
  STACK_LIFECYCLE,
  STACK_PROCESSES,
  type StackDev,
  type StateView,
} from "./dev_env.ts";

/** The build for `dir`, or for the nearest parent directory that has one. */
export function loadDevEnv(dir: string, view: StateView): DevEnv {
  let cur = dir;
  let imageOnly: string | undefined;
  while (true) {
    const paths = view.projectPaths(cur);
    const rec = readBuildRecord(paths);
    if (rec) {
      // The launcher's bash sees these paths inside double quotes.
      assertLauncherSafePath(cur, "project");
      assertLauncherSafePath(rec.layersDir, "state");
      // Natively and on Lima the launcher's path is the same on this side; on WSL it is not.
      const here = view.name !== "wsl";
      if (rec.userland === "stack") {
        const stack = stackDev(rec, cur, here);
        if (here) assertLayers(rec.layersDir, cur);
        return { projectDir: cur, paths, rec, view, stack };
      }
      if (here) {
        assertLauncher(rec.lifecycle.launcher, cur);
        assertLayers(rec.layersDir, cur);
      }
      return { projectDir: cur, paths, rec, view };
    }
    if (existsSync(`${paths.buildRecord}.incomplete`)) {
      throw new LocaldError(`the last build of ${cur} did not complete`, {
        hint: `run \`${buildCommand(cur)}\` again`,
        exitCode: ExitCode.notBuilt,
      });
    }
    imageOnly ??= existsSync(join(paths.state, "image", "build.json")) ? cur : undefined;
    const parent = dirname(cur);
    if (parent === cur) {
      if (!imageOnly) throw notBuiltError(dir);
      // An image build's layers live at /layers inside the image: not an environment here.
      throw new LocaldError(`${imageOnly} has only an image build (--export or --publish)`, {
        hint: `run \`${buildCommand(imageOnly)}\` for a development environment ` +
          "(it reuses the image build's builder and buildpacks)",
        exitCode: ExitCode.notBuilt,
      });
    }
    cur = parent;
  }
}

function buildCommand(projectDir: string): string {
  return `locald build${projectDir === Deno.cwd() ? "" : ` -C ${shellWord(projectDir)}`}`;
}

/**
 * The project `locald build` in `dir` is about, found as shell, exec, run and env find it: the
 * nearest directory (dir or a parent) with a build (of either kind, or one that was cut), else
 * dir. A project.toml marks a project of its own: the walk stops there. Nor does it leave a
 * repository (a new clone under a built directory is its own project).
 */
export function enclosingProject(dir: string, view: StateView): string {
  for (let cur = dir;;) {
    const paths = view.projectPaths(cur);
    for (
      const f of [
        paths.buildRecord,
        `${paths.buildRecord}.incomplete`,
        join(paths.state, "image", "build.json"),
        join(cur, "project.toml"),
      ]
    ) if (existsSync(f)) return cur;
    const parent = dirname(cur);
    if (parent === cur || existsSync(join(cur, ".git"))) return dir;
    cur = parent;
  }
}

/** The environment needs the lifecycle it was built with; say so if that is gone. */
function assertLauncher(launcher: string, projectDir: string) {
  try {
    Deno.statSync(launcher);
  } catch {
    throw new LocaldError(
      `the lifecycle ${projectDir} was built with is gone (${launcher})`,
      {
        hint:
          `run \`locald build --force${projectDir === Deno.cwd() ? "" : ` -C ${projectDir}`}\` ` +
          "to build it with the lifecycle locald has now",
        exitCode: ExitCode.notBuilt,
      },
    );
  }
}

/** The layers are the environment: say so if they were removed, rather than fail silently. */
function assertLayers(layersDir: string, projectDir: string) {
  try {
    if (Deno.statSync(layersDir).isDirectory) return;
  } catch { /* gone */ }
  throw new LocaldError(`the environment of ${projectDir} is gone (${layersDir} was removed)`, {
    hint: `run \`locald build${
      projectDir === Deno.cwd() ? "" : ` -C ${projectDir}`
    }\` to make it again`,
    exitCode: ExitCode.notBuilt,
  });
}

/** Variables the launcher reads; it drops CNB_* before starting the command. */
export function launcherVars(rec: BuildRecord, appDir: string): Record<string, string> {
  return {
    CNB_PLATFORM_API: rec.platformApi,
    CNB_LAYERS_DIR: rec.layersDir,
    CNB_APP_DIR: appDir,
    // The launcher starts only the processes of the build's execution environment.
    ...(rec.execEnv ? { CNB_EXEC_ENV: rec.execEnv } : {}),
  };
}

/** Whether the app has a `.profile` (the launcher sources it, as profile.d scripts). */
export async function hasAppProfile(projectDir: string): Promise<boolean> {
  try {
    return (await Deno.stat(join(projectDir, ".profile"))).isFile;
  } catch {
    return false;
  }
}

/**
 * The launcher's argv for `argv`: exec'd directly when nothing is to be sourced, otherwise
 * through the launcher's bash (which sources profile.d and .profile first) as a quoted script
 * that changes to `cwd`, so no argument is re-evaluated. `check`: bash code run just before
 * the command (in a bash of its own when nothing is sourced).
 */
export function launcherArgv(
  launcher: string,
  sourced: boolean,
  argv: string[],
  cwd: string,
  check = "",
): string[] {
  const pre = check ? `${check}; ` : "";
  if (!sourced) {
    return check
      ? [launcher, "--", "/bin/bash", "-c", `${pre}exec "$@"`, "locald", ...argv]
      : [launcher, "--", ...argv];
  }
  return [launcher, `cd -- ${shellQuote(cwd)} && ${pre}exec ${argv.map(shellQuote).join(" ")}`];
}

/**
 * A command that writes its environment (NUL-separated) to `file`. profile.d scripts, the
 * app's .profile and exec.d programs print to the same stdout as the process, so the
 * environment never travels on stdout: only the command's own redirection writes the file.
 * bash (which the launcher needs for profile scripts anyway), not sh: dash drops variables
 * whose names are not shell names, such as exported functions (`BASH_FUNC_name%%`).
 */
export function envCaptureArgv(file: string): string[] {
  return ["/bin/bash", "-c", 'exec /usr/bin/env -0 >"$1"', "locald-env", file];
}

/** What envCaptureArgv wrote (then removed), or undefined when it wrote nothing. */
export async function readCapturedEnv(file: string): Promise<Record<string, string> | undefined> {
  try {
    return parseEnvZ(await Deno.readTextFile(file));
  } catch {
    return undefined;
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}

/**
 * One command in the environment, argv kept exact, run from `hostCwd`. With no profile.d
 * scripts the launcher execs it directly; otherwise it goes through the launcher's bash,
 * which sources the profiles, as a quoted script so no argument is re-evaluated. The command
 * comes back as a step, its paths as the launcher sees them (d.view), ready for the sandbox
 * (withSandbox) and the backend's host.
 */
export async function commandIn(
  d: DevEnv,
  argv: string[],
  hostCwd: string,
  baseEnv: Record<string, string>,
  opts: { notFound?: boolean } = {},
): Promise<Step> {
  const g = d.view?.guestPath ?? ((p: string) => p);
  const cwd = g(hostCwd);
  const sourced = d.rec.profiles.length > 0 || await hasAppProfile(d.projectDir);
  // `notFound`: a command the environment does not have is one locald line with a hint
  // (exit 127, as shells), not the launcher's or bash's own message.
  const check = opts.notFound ? notFoundCheck(argv[0], d.projectDir) : "";
  return devStep(d, "launcher", {
    argv: launcherArgv(launcherOf(d), sourced, argv, cwd, check),
    // Sourcing, the launcher changes to CNB_APP_DIR first (the script then to cwd).
    env: { ...baseEnv, ...launcherVars(d.rec, sourced ? g(d.projectDir) : cwd) },
    cwd,
  });
}

/**
 * A dev-env command as a step. It runs as it is (as root too: it is the user's own command);
 * the mounts are what it sees when sandboxed: the project writable; the layers, the lifecycle
 * and the process links read-only.
 */
export function devStep(d: DevEnv, name: string, cmd: HostCommand & { cwd: string }): Step {
  return {
    name,
    ...cmd,
    dropRoot: false,
    interactive: Deno.stdin.isTerminal(),
    mounts: [
      { path: d.projectDir, writable: true },
      { path: d.rec.layersDir, writable: false },
      d.stack
        ? { source: d.stack.lifecycle, path: STACK_LIFECYCLE, writable: false }
        : { path: d.rec.lifecycle.root, writable: false },
      // The process links name the launcher where it is on this side; the run image has its
      // own at /cnb/process (src/devenv/stack.ts).
      ...(d.stack ? [] : [{ path: d.paths.processes, writable: false }]),
    ],
  };
}

/** Shell code that stops with locald's message when `cmd` is not found in the environment. */
function notFoundCheck(cmd: string, projectDir: string): string {
  const lines = [
    `locald: ${cmd}: command not found in the environment of ${projectDir}`,
    "hint: neither the build's layers nor your PATH provide it: check the name, or build " +
    "with a buildpack that installs it (`locald build -b ...`)",
  ];
  return `command -v -- ${shellQuote(cmd)} >/dev/null 2>&1 || ` +
    `{ printf '%s\\n' ${lines.map(shellQuote).join(" ")} >&2; exit 127; }`;
}

/**
 * The environment a command gets in the build's environment, as the launcher computes it
 * (exec.d, profile.d and .profile included), run from `hostCwd` through the backend's host.
 * The launcher writes it to a file in the project's state
 * (visible to the guest on Lima and WSL), so what profile scripts print never mixes with it;
 * that goes to the terminal when `show`, else nowhere. Errors are one line with a hint.
 */
export async function launcherEnv(
  d: DevEnv,
  host: Host,
  hostCwd: string,
  base: Record<string, string>,
  opts: {
    show?: boolean;
    /** Called once the launcher runs. */
    started?: () => void;
  } = {},
): Promise<Record<string, string>> {
  const file = join(d.paths.state, `.env-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`);
  const g = d.view?.guestPath ?? ((p: string) => p);
  const step = await commandIn(d, envCaptureArgv(g(file)), hostCwd, base);
  // In the run image the launcher writes the file through a mount of the state directory.
  const cmd = host.wrap(
    await inUserland({}, d, step, "env", { mounts: [{ path: d.paths.state, writable: true }] }),
  );
  const launcher = command(cmd.argv, {
    env: cmd.env,
    clearEnv: true,
    cwd: cmd.cwd,
    stdin: "null",
    stdout: opts.show ? "inherit" : "null",
    stderr: "piped",
  }).spawn();
  opts.started?.();
  const res = await launcher.output();
  const after = await readCapturedEnv(file);
  if (!res.success || !after) {
    const why = new TextDecoder().decode(res.stderr).trim().split("\n").pop();
    throw new LocaldError(
      `the launcher could not compute the environment${why ? `: ${why}` : ""}`,
      {
        hint:
          "rebuild with `locald build`; if it persists, run `locald exec -- env` to see the error",
        exitCode: ExitCode.failure,
      },
    );
  }
  return after;
}

/**
 * A process type: the launcher picks the type from argv[0]'s name, so it starts through
 * `<state>/process/<type>` (a symlink to the launcher), or, where locald cannot create links
 * the guest follows (WSL), through bash's `exec -a TYPE launcher`.
 */
export function processCommand(
  d: DevEnv,
  type: string,
  args: string[],
  baseEnv: Record<string, string>,
): Step {
  const g = d.view?.guestPath ?? ((p: string) => p);
  // In the run image: /cnb/process/TYPE, as in an app image (runImageStep mounts the links).
  const argv = d.stack ? [`${STACK_PROCESSES}/${type}`, ...args] : d.view && !d.view.symlinks
    ? [
      "/bin/bash",
      "-c",
      `exec -a ${shellQuote(type)} ${shellQuote(launcherOf(d))} "$@"`,
      "locald-run",
      ...args,
    ]
    : [g(join(d.paths.processes, type)), ...args];
  return devStep(d, type, {
    argv,
    env: { ...baseEnv, ...launcherVars(d.rec, g(d.projectDir)) },
    cwd: g(d.projectDir),
  });
}

/** The working directory for commands: where the user is, if inside the project. */
export function workingDir(projectDir: string, requested: string): string {
  const cwd = Deno.cwd();
  if (requested !== cwd) return requested; // -C DIR given: run there, like make -C
  return cwd === projectDir || cwd.startsWith(projectDir + "/") ? cwd : projectDir;
}

/**
 * A dev step where it runs: in the run image for a stack build (src/devenv/stack.ts, loaded
 * only then), else as withSandbox makes it. `extra`: what the run image needs besides the
 * step (the process type's link, more mounts); a host build ignores it.
 */
export async function inUserland(
  flags: SandboxFlags,
  d: DevEnv,
  step: Step,
  command: string,
  extra: { processType?: string; mounts?: Step["mounts"] } = {},
): Promise<Step> {
  if (!d.stack) return await withSandbox(flags, d, step, command);
  // A dev command natively (no --sandbox): the line the last one made, where nothing it
  // depends on changed (stack_dev.ts), without loading stack.ts.
  const inputs = d.view?.name === "native" && !devSandboxRequest(flags, command)
    ? stepInputs(d, step, extra)
    : undefined;
  const known = inputs && recall(d, command, step, inputs);
  trace(`stack: step ${known ? "remembered" : "to make"}`);
  if (known) return known;
  const { runImageStep } = await import("./stack.ts");
  trace("stack: loaded");
  const s = await runImageStep(flags, d, step, command, extra);
  trace("stack: step ready");
  if (inputs) await remember(d, command, step, s, inputs);
  return s;
}

/**
 * After `exec` or `run` failed with `code`: a host build whose programs this host cannot load
 * (src/devenv/host_compat.ts), or a stack build whose bwrap could not start (exit 1 and the
 * sandbox check fails), is one line with the fix, thrown with the command's exit code; any
 * other failure is the command's own and passes through. Loaded only on a failure; only where
 * the command ran on this machine (natively), for codes a loader or bwrap failure gives.
 */
export async function explainFailure(
  d: DevEnv,
  program: string | undefined,
  env: Record<string, string>,
  code: number,
): Promise<void> {
  if (code < 1 || code > 127 || (d.view && d.view.name !== "native")) return;
  if (d.stack) {
    // bwrap that cannot set up its namespaces exits 1 before the command starts: say why.
    if (code !== 1) return;
    const { checkSandbox } = await import("../hosts/sandbox_check.ts");
    const a = await checkSandbox(env);
    if (a.available) return;
    throw new LocaldError(
      `bwrap cannot start the run image (${d.stack.runImage.ref}): ${a.reason}`,
      { hint: a.fix, exitCode: code },
    );
  }
  const { hostCannotRun } = await import("./host_compat.ts");
  const e = await hostCannotRun(d, program, env, Deno.cwd(), code);
  if (e) throw e;
}

/**
 * `shell`, `exec` and `run` with --sandbox: the launcher and the project's code run under the
 * same walls as a sandboxed build. The project directory is writable; the layers, the
 * launcher and the process links are read-only; HOME is empty; the environment is cut to the
 * allow-list (host secrets stay out); --network none cuts the network.
 *
 * The step under the sandbox when the command line asks for it, else as it was, still in the
 * guest view: the backend's host wraps it (on Lima, bwrap runs in the VM). An
 * unavailable sandbox is an error, never skipped. The sandbox module loads only when --sandbox
 * or --network is on the command line, so plain `exec` stays light.
 */
export async function withSandbox(
  flags: SandboxFlags,
  d: DevEnv,
  step: Step,
  command: string,
): Promise<Step> {
  if (flags.sandbox === undefined && flags.network === undefined) return step;
  const req = devSandboxRequest(flags, command);
  if (!req) return step;
  const why = `locald ${command}`;
  if (!d.view?.sandboxOptions) {
    throw new LocaldError(`${why}: no backend to sandbox the command with`, {
      hint: "this is a bug in locald; please report it",
      exitCode: ExitCode.failure,
    });
  }
  // Where the command runs: this machine's bwrap natively, the VM's on Lima.
  const opts = await d.view.sandboxOptions(req.network, why);
  const { guestMounts, sandboxStep } = await import("../hosts/sandbox.ts");
  // The mounts as the system bwrap runs on sees them (on WSL, the distribution's paths).
  return sandboxStep({ ...step, mounts: guestMounts(step.mounts, d.view.guestPath) }, opts);
}
