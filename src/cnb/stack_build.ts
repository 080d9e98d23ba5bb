/**
 * A build in the stack's userland (issue 16): the phases run inside the builder image's root
 * filesystem under bwrap (src/hosts/stack.ts), as pack runs them in the builder's container,
 * with the builder's own /cnb/lifecycle when it ships one and its CNB_USER_ID/CNB_GROUP_ID as
 * the ids inside. Here: the facts chooseUserland() needs, the root filesystems (builder and run
 * image, src/oci/rootfs.ts), the builder's lifecycle, passwd/group for the user inside, and the
 * host that wraps each step.
 */
import { join } from "../util/path.ts";
import type { Output } from "../output.ts";
import type { Backend } from "../hosts/backend.ts";
import type { Host, Mount, Step } from "../hosts/types.ts";
import type { SandboxOptions } from "../hosts/sandbox.ts";
import type { Network, UserlandSetting } from "../config/defaults.ts";
import type { LocaldDirs } from "../config/paths.ts";
import { type Lifecycle, lifecycleAt, PHASES } from "../tools/lifecycle.ts";
import { exists, writeFileAtomic } from "../util/fs.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import { trace } from "../util/trace.ts";
import type { BuilderSource } from "./sources.ts";
import type { Rootfs } from "../oci/rootfs_known.ts";
import { chooseUserland, type UserlandChoice, type UserlandRequest } from "./userland.ts";

/** Where the builder's own lifecycle is inside its image (as pack runs it). */
export const IMAGE_CNB = "/cnb";

/** One image's root filesystem, as the build record keeps it (host view). */
export interface StackRoot {
  ref: string;
  digest: string;
  root: string;
}

/** What a stack build runs in: build.json's `stack` (src/cnb/record.ts). */
export interface StackBuild {
  builder: StackRoot;
  /** The run image's root (dev commands run there); the builder's when there is no run image. */
  runImage: StackRoot;
  /** CNB_USER_ID / CNB_GROUP_ID of the builder: the ids the phases run as inside. */
  uid: number;
  gid: number;
}

export interface UserlandFacts {
  choice: UserlandChoice;
  /** Stack mode, real builds only (a dry run extracts nothing). */
  stack?: StackBuild;
  /** How the backend sandboxes a step (stack mode): the base of every stack step. */
  sandbox?: SandboxOptions;
}

export interface UserlandInputs {
  flag?: "stack" | "host";
  project?: UserlandSetting;
  projectFile?: string;
  settings: UserlandSetting;
  settingsFile?: string;
  builder?: BuilderSource;
  /** The run image's registry reference (a builder's, or --run-image). */
  runImage?: string;
  image: boolean;
  network: Network;
  backend: Backend;
  env: Record<string, string>;
  /** Where locald keeps things (the root filesystems among them). */
  dirs: LocaldDirs;
  out: Output;
  insecureRegistries: string[];
  pullPolicy?: "always" | "if-not-present" | "never";
  /** False for --dry-run: nothing extracted (the choice stops before the root filesystem). */
  install: boolean;
  /** The backend's sandbox options when the build already asked for them (not probed again). */
  sandbox?: SandboxOptions;
}

/** The builder's CNB_USER_ID/CNB_GROUP_ID (pack requires them; 1000 when a builder lacks one). */
export function builderIds(b: BuilderSource): { uid: number; gid: number } {
  const id = (v: string | undefined) => {
    const n = Number(v);
    return v !== undefined && v !== "" && Number.isInteger(n) && n >= 0 ? n : 1000;
  };
  return { uid: id(b.imageEnv.CNB_USER_ID), gid: id(b.imageEnv.CNB_GROUP_ID) };
}

/**
 * Whether `dir` (made if missing) treats names that differ only in case as one: a probe file
 * written in lower case, looked up in upper case. Unknown (an unwritable dir): false, and the
 * extraction says what is wrong.
 */
export function foldsCase(dir: string): boolean {
  const name = `.case-probe-${Deno.pid}-${Date.now()}`;
  const lower = join(dir, `${name}-a`);
  try {
    Deno.mkdirSync(dir, { recursive: true });
    Deno.writeFileSync(lower, new Uint8Array(), { createNew: true });
  } catch {
    return false;
  }
  try {
    Deno.lstatSync(join(dir, `${name.toUpperCase()}-A`));
    return true;
  } catch {
    return false;
  } finally {
    try {
      Deno.removeSync(lower);
    } catch { /* gone already */ }
  }
}

/**
 * The userland of this build, and in stack mode the root filesystems it runs in. The choice is
 * made with what is known at each step, so nothing is probed or extracted that the choice does
 * not need: flags and settings first, then bwrap where the steps run, then (auto only, real
 * builds) whether the builder's root holds a system.
 */
export async function decideUserland(i: UserlandInputs): Promise<UserlandFacts> {
  const req: UserlandRequest = {
    flag: i.flag,
    project: i.project,
    projectFile: i.projectFile,
    settings: i.settings,
    settingsFile: i.settingsFile,
    builder: i.builder && { ref: i.builder.ref, local: i.builder.sourceDirs !== undefined },
    image: i.image,
    bwrap: { ok: true },
  };
  let choice = chooseUserland(req);
  if (choice.mode === "host") return { choice };
  let sandbox = i.sandbox;
  try {
    sandbox ??= await i.backend.sandboxOptions(i.network, "this build in the builder's image");
  } catch (e) {
    req.bwrap = { ok: false, reason: (e as Error).message, fix: (e as { hint?: string }).hint };
  }
  // Where the roots are kept and written: locald's store here, or the backend's own (WSL: the
  // distribution's disk, written by its tar).
  const roots = i.backend.stackRoots;
  const rootfsDir = roots?.dir ?? i.dirs.rootfs;
  req.store = foldsCase(rootfsDir)
    ? { ok: false, why: `${rootfsDir} folds names that differ only in case` }
    : { ok: true };
  choice = chooseUserland(req);
  if (choice.mode === "host") return { choice, sandbox };
  const b = i.builder!;
  // A root extracted before is found and held without loading what pulls and extracts.
  const { knownRootfs } = await import("../oci/rootfs_known.ts");
  const ensureRootfs: typeof import("../oci/rootfs.ts").ensureRootfs = async (ref, o) =>
    (o.pullPolicy !== "always" && await knownRootfs(ref, o)) ||
    (await import("../oci/rootfs.ts")).ensureRootfs(ref, o);
  const { rootHasFile } = await import("../oci/root_layout.ts");
  const byRecord = i.backend.rootsByRecord === true;
  // A system to build in has a shell (links followed inside the image, never out of it; from
  // the root's record where this side cannot read its links).
  const hasShell = (r: Rootfs) => rootHasFile(r.dir, "/bin/sh", byRecord ? r.layout : undefined);
  const { formatReference, parseReference, withDigest } = await import("../oci/reference.ts");
  const pull = {
    env: i.env,
    dirs: { ...i.dirs, rootfs: rootfsDir },
    writer: roots?.writer,
    needLayout: byRecord,
    out: i.out,
    insecureRegistries: i.insecureRegistries,
    pullPolicy: i.pullPolicy,
  };
  // The builder exactly as its /cnb was extracted: pinned to the digest the build uses.
  const pinned = formatReference(withDigest(parseReference(b.ref), b.digest));
  if (!i.install) {
    // A dry run extracts nothing: a root extracted before says whether it holds a system.
    const known = await ensureRootfs(pinned, {
      ...pull,
      pullPolicy: "never",
      what: "builder image",
    })
      .catch(() => undefined);
    if (known) {
      req.rootfs = hasShell(known) ? { ok: true } : { ok: false, why: "no /bin/sh in its image" };
      known.release();
    }
    return { choice: chooseUserland(req), sandbox };
  }
  // Auto only: an image that cannot be had (offline, and only its /cnb was pulled before)
  // leaves the build on the host, said with why; asked for, the stack stops the build.
  const auto = choice.why.startsWith("auto:");
  const cannot = (what: string) => (e: unknown): undefined => {
    if (!auto || !(e instanceof LocaldError) || e.exitCode === ExitCode.interrupted) throw e;
    req.rootfs = { ok: false, why: `cannot get ${what}: ${e.message}` };
    return undefined;
  };
  const builderRoot = await ensureRootfs(pinned, { ...pull, what: "builder image" })
    .catch(cannot("its root filesystem"));
  trace("build: builder root filesystem ready");
  if (builderRoot) {
    req.rootfs = hasShell(builderRoot)
      ? { ok: true }
      : { ok: false, why: "no /bin/sh in its image" };
  }
  const runRoot = !builderRoot || !req.rootfs?.ok
    ? undefined
    : i.runImage
    ? await ensureRootfs(i.runImage.replace(/^docker:\/\//, ""), { ...pull, what: "run image" })
      .catch(cannot("the run image's root filesystem"))
    : builderRoot;
  trace("build: run image root filesystem ready");
  choice = chooseUserland(req);
  if (choice.mode === "host" || !builderRoot || !runRoot) {
    builderRoot?.release();
    runRoot?.release();
    return { choice };
  }
  return {
    choice,
    sandbox,
    stack: {
      builder: { ref: b.ref, digest: builderRoot.digest, root: builderRoot.dir },
      runImage: { ref: runRoot.ref, digest: runRoot.digest, root: runRoot.dir },
      ...builderIds(b),
    },
  };
}

/**
 * The builder's own lifecycle (its /cnb/lifecycle, read from the extracted /cnb), when it has
 * every phase and the launcher: a stack build then downloads none. Undefined: use locald's.
 */
export async function builderLifecycle(b: BuilderSource): Promise<Lifecycle | undefined> {
  if (!b.lifecycleDir) return undefined;
  for (const name of ["launcher", ...PHASES]) {
    if (!(await exists(join(b.lifecycleDir, "lifecycle", name)))) return undefined;
  }
  return await lifecycleAt(b.lifecycleDir, `the builder's own (${b.ref})`);
}

/**
 * passwd and group for the phases: the builder image's own when they name the ids inside,
 * else copies with an entry added, written into the state directory. Returned as the /etc
 * files to bind (steps' view).
 */
export async function stackEtc(
  stack: StackBuild,
  stateDir: string,
  backend: Pick<Backend, "guestPath" | "rootsByRecord">,
): Promise<Record<string, string>> {
  const { userEntries } = await import("../hosts/stack.ts");
  const { recordedLayout, rootIdentity } = await import("../oci/root_layout.ts");
  const root = stack.builder.root;
  const image = rootIdentity(root, backend.rootsByRecord ? recordedLayout(root) : undefined);
  const added = userEntries(image.passwd, image.group, {
    uid: stack.uid,
    gid: stack.gid,
    name: "cnb",
    home: "/home/cnb",
    shell: "/bin/sh",
  });
  if (!added) return {};
  await Deno.mkdir(stateDir, { recursive: true });
  const passwd = join(stateDir, "stack-passwd");
  const group = join(stateDir, "stack-group");
  await writeFileAtomic(passwd, added.passwd);
  await writeFileAtomic(group, added.group);
  return { "/etc/passwd": backend.guestPath(passwd), "/etc/group": backend.guestPath(group) };
}

/**
 * The host that runs a stack build's steps: each step in the builder's root filesystem
 * (stackStep over the backend's sandbox options), as the ids the builder names, then wrapped
 * by the backend's host as any other step.
 */
export async function stackHost(
  b: Backend,
  sandbox: SandboxOptions,
  stack: StackBuild,
  etc: Record<string, string>,
): Promise<Host> {
  const { stackStep, stackSystem } = await import("../hosts/stack.ts");
  const { layoutIfRecorded, recordedLayout } = await import("../oci/root_layout.ts");
  const root = stack.builder.root;
  // Natively too where it is there: the layout of each of the four phases from one record.
  const layout = b.rootsByRecord ? recordedLayout(root) : layoutIfRecorded(root);
  const guestRoot = b.guestPath(root);
  // The steps' mounts are guest paths: looked at through this side's view of them (WSL).
  const view = b.hostView;
  const isFile = view
    ? (m: Mount) => {
      try {
        return Deno.lstatSync(view(m.source ?? m.path)).isFile;
      } catch {
        return false;
      }
    }
    : undefined;
  return {
    name: b.host.name,
    wrap: (s: Step) =>
      b.host.wrap(stackStep(s, {
        ...sandbox,
        inside: { uid: stack.uid, gid: stack.gid },
        system: stackSystem(s, { root, guestRoot, etc, isFile, layout }),
      })),
  };
}
