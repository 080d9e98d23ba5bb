/** Small filesystem helpers shared by the impure edges. */
import { dirname, join } from "./path.ts";

/**
 * Synchronous work behind an asynchronous signature: `f`'s result as a settled promise, its
 * throw as a rejection (as the awaited calls it replaced gave).
 */
function settled<T>(f: () => T): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Write a file atomically: a temporary sibling, then rename over the target. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, mode?: number) {
  Deno.mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    // Through a file, not Deno.writeFile or writeTextFile: their first use loads Deno's web
    // streams (milliseconds, on every build).
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    {
      using file = Deno.openSync(tmp, { write: true, createNew: true, mode });
      for (let at = 0; at < bytes.length;) at += file.writeSync(bytes.subarray(at));
    } // closed before the rename (Windows renames no open file)
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch { /* never made */ }
    throw e;
  }
}

/**
 * writeFileAtomicSync behind a promise. Synchronous calls: a build writes a dozen small files
 * this way, and each await was a round trip to another thread; nothing runs beside these
 * writes that would need the thread meanwhile.
 */
export function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode?: number,
): Promise<void> {
  return settled(() => writeFileAtomicSync(path, data, mode));
}

/** lstat of `path`, undefined when it cannot be had. Synchronous (the layout of a root). */
export function lstatIf(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch {
    return undefined;
  }
}

/** Whether something (a dangling symlink too) is at `path`; other errors than NotFound throw. */
export function existsSync(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** existsSync behind a promise (one lstat: no round trip to another thread). */
export function exists(path: string): Promise<boolean> {
  return settled(() => existsSync(path));
}

/** True for an existing directory (following symlinks); false for anything else or nothing. */
export function isDirSync(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** isDirSync behind a promise. */
export function isDir(path: string): Promise<boolean> {
  return Promise.resolve(isDirSync(path));
}

/** A file's size, 0 when it is not there. */
export async function sizeOf(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return 0;
  }
}

export async function removeIfExists(path: string) {
  await Deno.remove(path, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

/** removeIfExists, synchronously (no round trip to another thread). */
export function removeIfExistsSync(path: string) {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** A file's text, or undefined when it cannot be read. Synchronous: small files, hot paths. */
export function readTextIf(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Copy a tree keeping modes, symlinks and modification times; "link" hard-links files instead
 * of copying them (for content nothing will write to again).
 *
 * Synchronous file-system calls: each asynchronous one is a round trip to another thread, and
 * for a build cache of thousands of files three per file were most of the copy's cost. Nothing
 * else runs beside a copy (signals find no listener then: they end locald at once, and the next
 * build prunes the unfinished generation), so it need not yield.
 */
export function copyTree(from: string, to: string, how: "copy" | "link"): Promise<void> {
  const copy = (from: string, to: string) => {
    const st = Deno.lstatSync(from);
    if (st.isSymlink) {
      Deno.symlinkSync(Deno.readLinkSync(from), to);
      return;
    }
    if (st.isFile) {
      if (how === "link") {
        try {
          Deno.linkSync(from, to);
          return;
        } catch { /* a file system without hard links: copy */ }
      }
      Deno.copyFileSync(from, to);
      keepModeAndTimes(st, to);
      return;
    }
    if (!st.isDirectory) return; // sockets, fifos, devices: nothing a layer needs copied
    Deno.mkdirSync(to, { mode: 0o700 });
    for (const e of Deno.readDirSync(from)) copy(join(from, e.name), join(to, e.name));
    keepModeAndTimes(st, to);
  };
  return settled(() => copy(from, to));
}

function keepModeAndTimes(st: Deno.FileInfo, to: string) {
  if (st.mode !== null) Deno.chmodSync(to, st.mode & 0o7777);
  if (st.mtime && st.atime) Deno.utimeSync(to, st.atime, st.mtime);
}

/**
 * An executable `name` in one of PATH's directories. Synchronous: a few stat calls, on the way
 * to every command of a stack build (an await per directory costs more than the call).
 */
export function findOnPath(name: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? "").split(":")) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      const st = Deno.statSync(p);
      if (st.isFile && ((st.mode ?? 0o111) & 0o111) !== 0) return p;
    } catch { /* not here */ }
  }
  return undefined;
}

const MAX_LINKS = 40;

/**
 * `path` (absolute, as seen inside `root`) resolved to a host path inside root, following
 * symlinks as the system would if root were "/" (an image's absolute link means its own root,
 * never the host's); undefined when it does not exist or its links loop.
 */
export function resolveIn(root: string, path: string): string | undefined {
  const base = root.replace(/\/+$/, "");
  const parts = followLinksIn(path, (rel) => {
    const host = `${base}/${rel}`;
    const info = lstatIf(host);
    return !info ? undefined : info.isSymlink ? Deno.readLinkSync(host) : null;
  });
  return parts && `${base}/${parts.join("/")}`;
}

/**
 * `path` (absolute, inside a root) with its symlinks followed inside that root, as the system
 * would if the root were "/" (an absolute target means the root's own): the parts of what it
 * names, or undefined when something on the way does not exist or the links loop. `look(rel)`
 * (rel: the parts so far, joined with "/"): a link's target, null for anything else that
 * exists, undefined when nothing does. resolveIn() on disk; oci/flatten.ts on its model.
 */
export function followLinksIn(
  path: string,
  look: (rel: string) => string | null | undefined,
): string[] | undefined {
  const todo = path.split("/").filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === ".") continue;
    if (part === "..") {
      done.pop();
      continue;
    }
    const target = look([...done, part].join("/"));
    if (target === undefined) return undefined;
    if (target !== null) {
      if (++links > MAX_LINKS) return undefined;
      if (target.startsWith("/")) done.length = 0;
      todo.unshift(...target.split("/").filter(Boolean));
      continue;
    }
    done.push(part);
  }
  return done;
}
