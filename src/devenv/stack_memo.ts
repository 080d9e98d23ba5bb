/**
 * A stack build's dev step, remembered. The bwrap command line runImageStep() (stack.ts) makes
 * for a dev command depends only on what stepInputs() gathers here with a few lstat calls: the
 * mounts and what their sources are, HOME, the ssh agent's socket, the user, PATH (where bwrap
 * is found), the roots (named by digest, never changed once extracted) and the working
 * directory. The next command with the same inputs starts from the remembered line
 * (`<state>/stack/step-COMMAND.json`) and loads none of stack.ts and the modules it pulls in (root
 * layout, sandbox, identity files): about 3 ms of every `exec`, `run`, `env` and `shell`,
 * where the goal is 5 ms over a host build's. One line per command (`step-exec.json`...), so
 * direnv's `env` and the user's `exec` do not push each other's out.
 *
 * Natively and without --sandbox only (elsewhere the sandbox options come from the guest).
 * The files runImageStep writes beside it (passwd, group, the process links) live in the same
 * state directory, so they are there whenever the line is; a remembered bwrap that is gone is
 * looked up again. Light: imported by launch.ts on every dev command's path.
 */
import type { Mount, Step } from "../hosts/types.ts";
import type { DevEnv } from "./dev_env.ts";
import { join } from "../util/path.ts";
import { lstatIf, writeFileAtomic } from "../util/fs.ts";
import { VERSION } from "../version.ts";

/**
 * Bump when runImageStep's line changes for the same inputs. With locald's version: a line
 * another release made is never used.
 */
const FORMAT = 1;

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
    VERSION,
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
    r = JSON.parse(Deno.readTextFileSync(file(d, command)));
  } catch {
    return undefined;
  }
  if (r?.inputs !== inputs || !Array.isArray(r.prefix) || typeof r.home !== "string") {
    return undefined;
  }
  // The bwrap it names is still there (else it is looked up again).
  if (!lstatIf(r.prefix[0])?.isFile) return undefined;
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
  const r: Remembered = { inputs, prefix: made.argv.slice(0, cut), home };
  await writeFileAtomic(file(d, command), JSON.stringify(r)).catch(() => {});
}
