/**
 * Development builds are transactional. The environment's layers live in generations
 * (`<state>/generations/<id>/`); `<state>/layers`, the one path buildpacks, the launcher and
 * every tool inside the layers know, is a symlink to the generation the build record names. A
 * build fills a new generation with what a platform restores (cached layers with their content,
 * launch layers' metadata) and runs the phases in a mount namespace where `<state>/layers` is
 * that new generation, so the same absolute paths land in it while `shell`, `exec` and `run`
 * keep using the last good one. Only a complete build switches the symlink (one rename); a
 * failed or cut build leaves the last good generation, and so the buildpacks' cache, as it was.
 * The generation before stays one more build, for processes started from it.
 *
 * Where no mount namespace can be made (WSL, whose Windows side cannot make links Linux
 * follows; no usable bwrap), `layers` is a plain directory: a build renames it aside
 * (`generations/last-good`), puts the new generation in its place, and renames it back when
 * the build fails or is cut (the next build does, if locald itself was killed). A failure still
 * keeps the last good state, but `exec` during the build sees the build in progress.
 *
 * Each generation's cached build-only layers (`<id>.held/`, `layers.held/` in place) stay out
 * of the launcher's sight until the next build.
 */
import { basename, join } from "../util/path.ts";
import type { ProjectPaths } from "../config/paths.ts";
import { parseToml, toToml } from "../config/toml.ts";
import type { Mount, Step } from "../hosts/types.ts";
import { NAMESPACE_ID } from "../hosts/native.ts";
import { orderMounts } from "../hosts/sandbox.ts";
import { copyTree, exists, isDir, isDirSync, removeIfExists } from "../util/fs.ts";
import { buildpackDirsIn, type LayerState, scanLayers } from "./layers.ts";

export interface Generation {
  id: string;
  /** The layers directory of this generation. */
  dir: string;
  /** Its cached build-only layers, hidden from the launcher. */
  held: string;
}

export function generationsDir(paths: ProjectPaths): string {
  return join(paths.state, "generations");
}

export function generation(paths: ProjectPaths, id: string): Generation {
  const dir = join(generationsDir(paths), id);
  return { id, dir, held: `${dir}.held` };
}

/** Point `<state>/layers` at a generation in one rename (or at nothing). */
export async function pointLayersAt(paths: ProjectPaths, id: string | undefined) {
  if (id === undefined) {
    await removeIfExists(paths.layers);
    return;
  }
  const tmp = `${paths.layers}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.symlink(join("generations", id), tmp);
  try {
    await Deno.rename(tmp, paths.layers);
  } catch (e) {
    await removeIfExists(tmp);
    throw e;
  }
}

/** How a build switches generations: see the module comment. */
export type Switching = "link" | "rename";

/** Where a build without a mount namespace keeps the last good layers while it runs. */
const LAST_GOOD = "last-good";

/** The layers directory in place (rename switching), and its cached build-only layers. */
function inPlace(paths: ProjectPaths): Generation {
  return { id: "", dir: paths.layers, held: `${paths.layers}.held` };
}

async function moveGeneration(from: Generation, to: Generation) {
  await Deno.rename(from.dir, to.dir);
  await Deno.rename(from.held, to.held).catch(() => {});
}

async function dropGeneration(g: Generation) {
  await removeIfExists(g.dir);
  await removeIfExists(g.held);
}

/**
 * Put right what a cut build left, before anything looks at the environment (cheap: a stat or
 * two): a build that renamed the last good layers aside gets them back; `layers` points at the
 * generation the build record names (a build cut between its last two steps may have left it
 * elsewhere).
 */
export async function recoverGeneration(paths: ProjectPaths, recorded: string | undefined) {
  const stash = generation(paths, LAST_GOOD);
  if (await isDir(stash.dir)) {
    const here = inPlace(paths);
    await dropGeneration(here);
    await moveGeneration(stash, here);
    return;
  }
  if (!recorded || !(await isDir(generation(paths, recorded).dir))) return;
  let info: Deno.FileInfo | undefined;
  try {
    info = await Deno.lstat(paths.layers);
  } catch { /* removed: point it at the recorded generation again */ }
  if (info && !info.isSymlink) return; // a directory: settleGeneration decides
  const target = info ? basename(await Deno.readLink(paths.layers)) : undefined;
  if (target !== recorded) await pointLayersAt(paths, recorded);
}

/**
 * The generation the environment is (after recoverGeneration), with the layout `how` needs: a
 * plain `layers` directory (an older locald, or rename switching) becomes a generation for link
 * switching, and a link becomes the directory for rename switching. Undefined before the first
 * build.
 */
export async function settleGeneration(
  paths: ProjectPaths,
  how: Switching,
): Promise<Generation | undefined> {
  const here = inPlace(paths);
  // An older locald kept cached build-only layers here.
  const legacyHeld = join(paths.state, "cached-build-layers");
  if (await exists(legacyHeld)) {
    await removeIfExists(here.held);
    await Deno.rename(legacyHeld, here.held);
  }
  await removeIfExists(join(paths.state, "previous-launch-layers"));
  let info: Deno.FileInfo | undefined;
  try {
    info = await Deno.lstat(paths.layers);
  } catch { /* no layers yet */ }
  if (how === "rename") {
    if (info?.isSymlink) {
      const g = generation(paths, basename(await Deno.readLink(paths.layers)));
      await Deno.remove(paths.layers);
      if (await isDir(g.dir)) await moveGeneration(g, here);
    }
    return (await isDir(here.dir)) ? here : undefined;
  }
  let current: string | undefined;
  if (info?.isSymlink) {
    current = basename(await Deno.readLink(paths.layers));
  } else if (info?.isDirectory) {
    current = newGenerationId();
    await Deno.mkdir(generationsDir(paths), { recursive: true });
    await moveGeneration(here, generation(paths, current));
    await pointLayersAt(paths, current);
  }
  if (current === undefined || !(await isDir(generation(paths, current).dir))) {
    return undefined;
  }
  return generation(paths, current);
}

/**
 * Rename switching, before the phases: the last good layers move aside and the new
 * generation takes their place. Returns both where they now are.
 */
export async function renameIn(
  paths: ProjectPaths,
  started: Started,
  current: Generation | undefined,
): Promise<{ started: Started; current: Generation | undefined }> {
  const stash = generation(paths, LAST_GOOD);
  if (current) await moveGeneration(current, stash);
  const here = inPlace(paths);
  await moveGeneration(started.next, here);
  return { started: { ...started, next: here }, current: current && stash };
}

/** Rename switching, after a failure: the last good layers come back. */
export async function renameBack(paths: ProjectPaths) {
  const here = inPlace(paths);
  const stash = generation(paths, LAST_GOOD);
  await dropGeneration(here);
  if (await isDir(stash.dir)) await moveGeneration(stash, here);
}

/** Rename switching, once the build is recorded: the last good layers are no longer needed. */
export async function renameDone(paths: ProjectPaths) {
  await dropGeneration(generation(paths, LAST_GOOD));
}

function newGenerationId(): string {
  return `${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Remove every generation but those named (leftovers of failed builds, old ones). */
export async function pruneGenerations(paths: ProjectPaths, keep: (string | undefined)[]) {
  const names = new Set(keep.filter((k): k is string => !!k).flatMap((k) => [k, `${k}.held`]));
  let entries: Deno.DirEntry[] = [];
  try {
    entries = await Array.fromAsync(Deno.readDir(generationsDir(paths)));
  } catch { /* none */ }
  for (const e of entries) {
    if (!names.has(e.name)) await removeIfExists(join(generationsDir(paths), e.name));
  }
}

/** How trees are copied: natively here; where locald cannot make Linux links, in the guest. */
export type CopyTree = (from: string, to: string, how: "copy" | "link") => Promise<void>;

export interface Started {
  next: Generation;
  /** The layers the new generation starts with (for re-use reporting). */
  before: LayerState[];
  /** Launch layers that start as metadata only: their content comes back if re-used. */
  metadataOnly: Set<string>;
}

function copyToml(from: string, to: string) {
  let text: string;
  try {
    text = Deno.readTextFileSync(from);
  } catch {
    return;
  }
  try {
    const doc = parseToml(text, from);
    delete doc.types;
    Deno.writeTextFileSync(to, toToml(doc));
  } catch {
    // Unreadable: the builder will judge it, as it would have before.
    Deno.writeTextFileSync(to, text);
  }
}

/**
 * A new generation holding what a platform restores before a build, from the current one:
 * `cache = true` layers with their content (copied: the build may change them, the current
 * generation must not change) and metadata; launch layers' metadata only; restored metadata
 * without its `[types]`. Nothing else: build-only layers, `.ignore`d layers, and the files a
 * buildpack writes beside its layers (launch.toml, build.toml, store.toml) start absent.
 */
export async function startGeneration(
  paths: ProjectPaths,
  current: Generation | undefined,
  copy: CopyTree = copyTree,
): Promise<Started> {
  const next = generation(paths, newGenerationId());
  // Synchronous calls for the small steps (each await is a thread's round trip).
  Deno.mkdirSync(next.dir, { recursive: true });
  const metadataOnly = new Set<string>();
  if (current) {
    const bpDirs = buildpackDirsIn(current.dir);
    for (const l of scanLayers(current.dir, bpDirs)) {
      if (!l.types.cache && !l.types.launch) continue;
      const to = join(next.dir, l.buildpackDir, l.name);
      Deno.mkdirSync(join(next.dir, l.buildpackDir), { recursive: true });
      copyToml(join(current.dir, l.buildpackDir, `${l.name}.toml`), `${to}.toml`);
      if (l.types.cache) {
        const visible = join(current.dir, l.buildpackDir, l.name);
        const from = isDirSync(visible) ? visible : join(current.held, l.buildpackDir, l.name);
        if (isDirSync(from)) await copy(from, to, "copy");
      } else {
        metadataOnly.add(`${l.buildpackDir}/${l.name}`);
      }
    }
  }
  const before = scanLayers(next.dir, buildpackDirsIn(next.dir));
  return { next, before, metadataOnly };
}

/**
 * After the build: launch layers the buildpack kept without re-creating them get their
 * content from the current generation (linked: that generation no longer changes). Returns
 * the layers re-used this way.
 */
export async function restoreReusedLaunchLayers(
  started: Started,
  current: Generation | undefined,
  copy: CopyTree = copyTree,
): Promise<Set<string>> {
  const reused = new Set<string>();
  if (!current) return reused;
  for (const key of started.metadataOnly) {
    const [bp, name] = key.split("/");
    const [state] = scanLayers(started.next.dir, [bp]).filter((l) => l.name === name);
    const dir = join(started.next.dir, bp, name);
    const from = join(current.dir, bp, name);
    if (!state?.types.launch || await exists(dir) || !(await isDir(from))) continue;
    await copy(from, dir, "link");
    reused.add(key);
  }
  return reused;
}

/**
 * The plan's mounts for a build into `next`: `<state>/layers` shows the new generation, and
 * the rest of the state directory is shown entry by entry (read-only, as before), so that
 * inside the namespace `layers` is a real directory and no path through it names a generation.
 * `entries`: the names in the state directory now. With `refs` (the step's arguments, the
 * values of its environment and its working directory), only the entries the step names are
 * shown: the phases learn every path they use from these (CNB_ORDER_PATH, CNB_RUN_PATH, ...),
 * and locald's own files (the record, the lock, the options) are none of their business. Each
 * entry shown is a bind mount that bwrap makes and remounts read-only before every phase
 * (about half a millisecond each). Pure.
 */
export function generationMounts(
  mounts: Mount[],
  paths: ProjectPaths,
  entries: string[],
  nextDir: string,
  refs?: string[],
): Mount[] {
  const out = mounts.filter((m) => m.path !== paths.state);
  const shown = new Set(out.map((m) => m.path));
  const named = (path: string) => !refs || refs.some((r) => r === path || r.startsWith(`${path}/`));
  for (const name of entries) {
    const path = join(paths.state, name);
    if (name === "generations" || path === paths.layers || shown.has(path)) continue;
    if (name.startsWith("layers.tmp-") || !named(path)) continue;
    out.push({ path, writable: false });
  }
  return out.map((m) => (m.path === paths.layers ? { ...m, source: nextDir } : m));
}

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir + "/");
}

/**
 * A step in a mount namespace that changes nothing but the state directory: everything is seen
 * as it is, except `state`, which shows only the step's mounts under it (with their sources).
 * As root, a step that must not run as root runs as uid 1000 in a user namespace, as the
 * native host does. The host wraps the result as any other step. Pure.
 */
export function namespaceStep(step: Step, bwrap: string, uid: number, state: string): Step {
  const a = [bwrap, "--dev-bind", "/", "/", "--tmpfs", state];
  for (const m of orderMounts(step.mounts)) {
    if (m.path === state || !within(m.path, state)) continue;
    a.push(m.writable ? "--bind" : "--ro-bind", m.source ?? m.path, m.path);
  }
  if (uid === 0 && step.dropRoot) {
    a.push("--unshare-user", "--uid", String(NAMESPACE_ID), "--gid", String(NAMESPACE_ID));
  }
  a.push("--die-with-parent", "--chdir", step.cwd, "--");
  // The working directory is not remapped: bwrap starts where the step would have.
  return { ...step, argv: [...a, ...step.argv], dropRoot: false };
}
