/**
 * The light part of a stack build's dev command (exec, run, shell, env), on every such
 * command's path before stack.ts: the roots checked (stackDev), and the bwrap line remembered.
 *
 * The line runImageStep() (stack.ts) makes for a dev command depends only on what
 * stepInputs() gathers here with a few lstat calls: the mounts and what their sources are,
 * HOME, the ssh agent's socket, the user, PATH (where bwrap is found), the roots (named by
 * digest, never changed once extracted) and the working directory. The next command with the
 * same inputs starts from the remembered line (`<state>/stack/step-COMMAND.json`) and loads
 * none of stack.ts and the modules it pulls in (root layout, sandbox, identity files): about
 * 3 ms of every `exec`, `run`, `env` and `shell`, where the goal is 5 ms over a host build's.
 * One line per command, so direnv's `env` and the user's `exec` do not push each other's out.
 *
 * Natively and without --sandbox only (elsewhere the sandbox options come from the guest).
 * The files of the state the line binds (the passwd and group runImageStep writes) are kept
 * with it and compared before it is used, since another command's line may rewrite them; a
 * remembered bwrap that is gone is looked up again. Light: imported by launch.ts (no node:path, no crypto).
 */
import type { Mount, Step } from "../hosts/types.ts";
import type { BuildRecord } from "../cnb/record.ts";
import { type DevEnv, STACK_LAUNCHER, STACK_LIFECYCLE, type StackDev } from "./dev_env.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import { join } from "../util/path.ts";
import { lstatIf, readTextIf, resolveIn, writeFileAtomic } from "../util/fs.ts";

function rebuild(projectDir: string): string {
  return `locald build${projectDir === Deno.cwd() ? "" : ` -C ${projectDir}`}`;
}

/**
 * The stack of `rec` as this side sees it; a root filesystem `cache prune` removed since the
 * build is one line with the fix. `check`: whether this side can see the paths (not on WSL).
 */
export function stackDev(rec: BuildRecord, projectDir: string, check: boolean): StackDev {
  const s = rec.stack;
  if (!s) {
    throw new LocaldError(`the build record of ${projectDir} names no stack images`, {
      hint: `run \`${rebuild(projectDir)}\` again`,
      exitCode: ExitCode.notBuilt,
    });
  }
  const gone = (what: string, ref: string) =>
    new LocaldError(`the ${what}'s root filesystem ${projectDir} was built with is gone (${ref})`, {
      hint: `run \`${rebuild(projectDir)}\` to extract it again`,
      exitCode: ExitCode.notBuilt,
    });
  let lifecycle = join(s.builder.root, STACK_LIFECYCLE);
  if (check) {
    if (!isDirSync(s.runImage.root)) throw gone("run image", s.runImage.ref);
    // Inside the builder's root: an image's absolute link never names this host's files.
    const launcher = resolveIn(s.builder.root, STACK_LAUNCHER);
    if (!launcher) throw gone("builder", s.builder.ref);
    lifecycle = launcher.slice(0, launcher.lastIndexOf("/"));
  }
  return {
    runRoot: s.runImage.root,
    runImage: { ref: s.runImage.ref, digest: s.runImage.digest },
    lifecycle,
  };
}

function isDirSync(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Bump when runImageStep's line changes for the same inputs. With the locald binary's own
 * identity (below): a line another build of locald made is never used.
 */
const FORMAT = 1;

/** The running binary (a release's locald; deno itself under `deno run`), as stat sees it. */
function binary(): (string | number | null)[] {
  const path = Deno.execPath(); // execPath: locald itself (or deno under `deno run`); only its stat
  const st = lstatIf(path);
  return [path, st?.size ?? null, st?.mtime?.getTime() ?? null, st?.ino ?? null];
}

/** What runImageStep's line for a dev command (no --sandbox) depends on, as a string. */
export function stepInputs(
  d: DevEnv,
  step: Step,
  extra: { processType?: string; mounts?: Mount[] },
): string {
  const kind = (p: string | undefined) => {
    const i = p ? lstatIf(p) : undefined;
    return !i ? "-" : i.isSymlink ? "l" : i.isDirectory ? "d" : i.isFile ? "f" : "o";
  };
  const mounts = [...step.mounts, ...(extra.mounts ?? [])];
  const e = step.env;
  const passwd = lstatIf("/etc/passwd");
  return JSON.stringify([
    FORMAT,
    binary(),
    // bwrap is looked up on PATH; the user and group ids are the user's own.
    [e.PATH ?? null, Deno.uid(), Deno.gid()],
    d.stack,
    d.paths.state,
    step.cwd,
    step.interactive ?? false,
    step.dropRoot,
    extra.processType ?? null,
    mounts.map((m) => [m.path, m.source ?? null, m.writable, kind(m.source ?? m.path)]),
    ["/tmp", kind("/tmp")],
    [e.HOME ?? null, kind(e.HOME), e.SSH_AUTH_SOCK ?? null, kind(e.SSH_AUTH_SOCK)],
    [e.SHELL ?? null, e.USER ?? null, e.LOGNAME ?? null],
    // The user's name in the entry the image may lack comes from here.
    [passwd?.mtime?.getTime() ?? null, passwd?.size ?? null, passwd?.ino ?? null],
  ]);
}

interface Remembered {
  inputs: string;
  /** bwrap and its arguments, up to and including `--`. */
  prefix: string[];
  /** HOME inside. */
  home: string;
  /**
   * The files of the project's state the line binds (the passwd and group with the user's
   * entry), with what they held: another command's line may have rewritten them since.
   */
  files: Record<string, string>;
}

/** The regular files under the state directory that a bwrap line binds, with their text. */
function boundStateFiles(d: DevEnv, prefix: string[]): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const under = d.paths.state + "/";
  for (let i = 0; i < prefix.length - 1; i++) {
    if (!prefix[i].startsWith("--") || !prefix[i + 1].startsWith(under)) continue;
    const src = prefix[i + 1];
    if (!lstatIf(src)?.isFile) continue;
    const text = readTextIf(src);
    if (text === undefined) return undefined;
    out[src] = text;
  }
  return out;
}

const file = (d: DevEnv, command: string) => join(d.paths.state, "stack", `step-${command}.json`);

/** The remembered step for these inputs, with `step`'s own command after bwrap's `--`. */
export function recall(
  d: DevEnv,
  command: string,
  step: Step,
  inputs: string,
): Step | undefined {
  let r: Remembered;
  try {
    r = JSON.parse(readTextIf(file(d, command)) ?? "null");
  } catch {
    return undefined;
  }
  if (r?.inputs !== inputs || !Array.isArray(r.prefix) || typeof r.home !== "string") {
    return undefined;
  }
  // The bwrap it names is still there (else it is looked up again), and the state files it
  // binds hold what they held.
  if (!lstatIf(r.prefix[0])?.isFile) return undefined;
  if (typeof r.files !== "object" || r.files === null) return undefined;
  for (const [path, text] of Object.entries(r.files)) {
    if (readTextIf(path) !== text) return undefined;
  }
  return {
    ...step,
    argv: [...r.prefix, ...step.argv],
    env: { ...step.env, HOME: r.home },
    cwd: "/",
    dropRoot: false,
  };
}

/** Keeps `made` (runImageStep's result for `step`) for the next command with these inputs. */
export async function remember(
  d: DevEnv,
  command: string,
  step: Step,
  made: Step,
  inputs: string,
) {
  const cut = made.argv.length - step.argv.length;
  const home = made.env.HOME;
  // Only a line that ends with the step's own command, as stackStep makes it.
  if (cut < 1 || made.argv[cut - 1] !== "--" || home === undefined) return;
  if (made.argv.slice(cut).some((a, i) => a !== step.argv[i])) return;
  const prefix = made.argv.slice(0, cut);
  const files = boundStateFiles(d, prefix);
  if (!files) return;
  const r: Remembered = { inputs, prefix, home, files };
  await writeFileAtomic(file(d, command), JSON.stringify(r)).catch(() => {});
}
