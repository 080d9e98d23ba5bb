/**
 * Dev commands of a stack build (build.json `userland: "stack"`): `exec`, `run`, `shell` and
 * `env` start the launcher inside the run image's root filesystem under bwrap (src/hosts/
 * stack.ts), where commands run (this machine, the VM on Lima, the distribution on WSL, with
 * every mount in that system's paths). The launcher is the
 * builder's own /cnb/lifecycle, bound at the same path; process types start through
 * /cnb/process/TYPE links, as in an app image. With the project, the layers, the user's HOME
 * and /tmp, the terminal and the host's network (stackStep's `dev`); the user's ssh agent
 * socket; /etc/resolv.conf and /etc/hosts from the host; and a passwd/group entry for the user
 * when the image has none (written into the project's state, never into the shared root).
 *
 * Loaded only for stack builds (a dynamic import from launch.ts), and only when the line is
 * not remembered (stack_dev.ts, which also checks the roots): a host build's exec never pays
 * for it, nor does a stack build's next exec. Light itself: no node:path, no crypto, no
 * process runner on the way to the command.
 */
import type { Mount, Step } from "../hosts/types.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import { join } from "../util/path.ts";
import { lstatIf, readTextIf, writeFileAtomic } from "../util/fs.ts";
import { stackStep, stackSystem, userEntries } from "../hosts/stack.ts";
import {
  layoutIfRecorded,
  recordedLayout,
  rootHasFile,
  rootIdentity,
  type RootLayoutRecord,
} from "../oci/root_layout.ts";
import { guestMounts } from "../hosts/sandbox.ts";
import {
  type DevEnv,
  devSandboxRequest,
  type SandboxFlags,
  STACK_LAUNCHER,
  STACK_PROCESSES,
  type StackDev,
} from "./dev_env.ts";

/** Extra parts of a command a dev step runs in the run image. */
export interface RunImageExtra {
  /** `run`: the process type started through /cnb/process/TYPE. */
  processType?: string;
  /** More host paths the command needs (the shell's rc files, the environment capture). */
  mounts?: Mount[];
}

/**
 * The dev step `step` (from commandIn/processCommand/devStep) as it runs in the run image:
 * under stackStep, with the user's ids named in /etc/passwd and /etc/group. --sandbox and
 * --network none keep their meaning (HOME hidden, the environment cut, no network).
 */
export async function runImageStep(
  flags: SandboxFlags,
  d: DevEnv,
  step: Step,
  command: string,
  extra: RunImageExtra = {},
): Promise<Step> {
  const st = d.stack!;
  const req = devSandboxRequest(flags, command);
  const why = `locald ${command} in the run image (${st.runImage.ref})`;
  if (!d.view?.sandboxOptions) {
    throw new LocaldError(`${why}: no backend to run bwrap with`, {
      hint: "this is a bug in locald; please report it",
      exitCode: ExitCode.failure,
    });
  }
  const opts = await d.view.sandboxOptions(req?.network ?? "default", why, { probe: false });
  // Mounts as the system bwrap runs on sees them (on WSL, the distribution's paths); files
  // looked at through this side's view of them.
  const g = (p: string) => d.view!.guestPath(p);
  const here = (p: string) => d.view?.hostView?.(p) ?? p;
  // Mounts shown only when their source exists (nothing to bind otherwise).
  const optional = guestMounts(extra.mounts ?? [], g);
  const mounts = [...guestMounts(step.mounts, g), ...optional];
  if (extra.processType !== undefined) {
    mounts.push({
      source: g(await processLinks(d, extra.processType)),
      path: STACK_PROCESSES,
      writable: false,
    });
  }
  // The ssh agent's socket, where neither HOME nor /tmp shows it (/run/user/UID/...).
  const sock = step.env.SSH_AUTH_SOCK;
  if (!req && sock?.startsWith("/") && !sock.startsWith("/tmp/")) {
    const home = step.env.HOME;
    if (!home || !sock.startsWith(home.replace(/\/+$/, "") + "/")) {
      optional.push({ path: sock, writable: false });
      mounts.push(optional.at(-1)!);
    }
  }
  // A dev command runs as the user (as root too): those are the ids /etc must name.
  const inside = { uid: opts.uid, gid: opts.gid };
  const dev = !req;
  // A HOME that does not exist here cannot be shown: the command gets an empty one instead
  // (as under --sandbox), not a bwrap error.
  const env = { ...step.env };
  if (dev && env.HOME && !lstatIf(here(env.HOME))) delete env.HOME;
  const s = {
    ...step,
    env,
    mounts: mounts.filter((m) => !optional.includes(m) || lstatIf(here(m.source ?? m.path))),
  };
  // The record stands in for the root's first levels wherever it is there (natively too).
  const layout = runLayout(d) ?? layoutIfRecorded(st.runRoot);
  const etc = await identityFiles(d, st, inside, step.env, layout);
  const system = stackSystem(s, {
    layout,
    root: st.runRoot,
    guestRoot: g(st.runRoot),
    dev,
    etc: Object.fromEntries(Object.entries(etc).map(([k, v]) => [k, g(v)])),
    isFile: (m) => lstatIf(here(m.source ?? m.path))?.isFile ?? false,
  });
  return stackStep(s, { ...opts, system, dev });
}

/**
 * The run image's record, where this side reads roots by their records (WSL). Elsewhere the
 * tree is asked where the record is not enough (a shell outside RECORDED_SHELLS).
 */
function runLayout(d: DevEnv): RootLayoutRecord | undefined {
  return d.view?.rootsByRecord ? recordedLayout(d.stack!.runRoot) : undefined;
}

/**
 * `<state>/stack/process/TYPE` -> /cnb/lifecycle/launcher: the launcher picks the process type
 * from the name it is started by. The link points into the run image (dangling out here).
 */
async function processLinks(d: DevEnv, type: string): Promise<string> {
  const dir = join(d.paths.state, "stack", "process");
  if (type.includes("/") || type === "." || type === "..") {
    throw new LocaldError(`invalid process type "${type}"`, { exitCode: ExitCode.input });
  }
  const link = join(dir, type);
  let target: string | undefined;
  try {
    target = Deno.readLinkSync(link);
  } catch { /* not yet */ }
  if (target !== STACK_LAUNCHER) {
    await Deno.mkdir(dir, { recursive: true });
    const tmp = `${link}.tmp-${Deno.pid}`;
    await Deno.remove(tmp).catch(() => {});
    await Deno.symlink(STACK_LAUNCHER, tmp);
    await Deno.rename(tmp, link);
  }
  return dir;
}

/** The user's name on this side (for the entry the image lacks). */
function hostName(uid: number, env: Record<string, string>): string {
  const row = (readTextIf("/etc/passwd") ?? "").split("\n")
    .map((l) => l.split(":")).find((f) => f[2] === String(uid));
  return row?.[0] || env.USER || env.LOGNAME || `user${uid}`;
}

/**
 * /etc/passwd and /etc/group for the run image with an entry for the user's ids where the
 * image has none (userEntries()): kept in the project's state, rewritten when the image or the
 * user changes, never written into the shared root. {} when the image's files are right.
 */
export async function identityFiles(
  d: DevEnv,
  st: StackDev,
  ids: { uid: number; gid: number },
  env: Record<string, string>,
  layout?: RootLayoutRecord,
): Promise<Record<string, string>> {
  const image = rootIdentity(st.runRoot, layout);
  const files = userEntries(
    image.passwd,
    image.group,
    {
      ...ids,
      name: hostName(ids.uid, env),
      home: env.HOME || "/",
      shell: env.SHELL || "/bin/sh",
    },
  );
  if (!files) return {};
  const out: Record<string, string> = {};
  for (const name of ["passwd", "group"] as const) {
    const path = join(d.paths.state, "stack", name);
    if (readTextIf(path) !== files[name]) {
      await writeFileAtomic(path, files[name]);
    }
    out[`/etc/${name}`] = path;
  }
  return out;
}

/** The shells `locald shell` tries in a run image, in order: the user's, then bash, then sh. */
export function shellCandidates(userShell: string | undefined): string[] {
  const out: string[] = [];
  if (userShell && userShell.startsWith("/")) out.push(userShell);
  for (const s of ["/bin/bash", "/usr/bin/bash", "/bin/sh", "/usr/bin/sh"]) {
    if (!out.includes(s)) out.push(s);
  }
  return out;
}

/**
 * The shell `locald shell` starts in the run image: the user's $SHELL if the image has it,
 * else bash, else sh. `note`: one line to say when it is not the user's own (said once per
 * project, run image and shell: a marker in the state). No shell at all: one line naming the
 * shells looked for.
 */
export async function runImageShell(
  d: DevEnv,
  userShell: string | undefined,
): Promise<{ shell: string; note?: string }> {
  const st = d.stack!;
  const tried = shellCandidates(userShell);
  const layout = runLayout(d);
  for (const c of tried) {
    if (!rootHasFile(st.runRoot, c, layout)) continue;
    if (!userShell || c === userShell) return { shell: c };
    const marker = join(d.paths.state, "stack", "shell-note");
    const key = `${st.runImage.digest} ${userShell} ${c}\n`;
    if (readTextIf(marker) === key) return { shell: c };
    await writeFileAtomic(marker, key).catch(() => {});
    return {
      shell: c,
      note: `locald: the run image (${st.runImage.ref}) has no ${userShell}; using ${c}`,
    };
  }
  throw new LocaldError(
    `the run image (${st.runImage.ref}) has no shell: looked for ${tried.join(", ")}`,
    {
      hint: "run a program directly with `locald exec -- PROGRAM`, or use a run image with a shell",
      exitCode: ExitCode.unsupported,
    },
  );
}
