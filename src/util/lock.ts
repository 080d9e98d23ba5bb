/**
 * An advisory lock (flock) on a file. If another process holds it, say so and wait; the lock
 * goes away with the process that held it, so a crash never leaves a stale lock behind.
 *
 * A lock file may be removed while someone waits on it (`cache prune` removes a project's
 * state, lock file included, while holding its lock): whoever then gets the lock on the removed
 * file would share nothing with the next process, which creates a new one. So a lock counts
 * only while its file is still the one at `path`; otherwise it is taken again.
 */
import { dirname } from "./path.ts";

export interface Lock {
  release(): void;
}

/** Whether the open file is (still) the file at `path`. */
function stillAt(file: Deno.FsFile, path: string): boolean {
  try {
    const open = file.statSync(), now = Deno.lstatSync(path);
    return open.ino === now.ino && open.dev === now.dev;
  } catch {
    return false;
  }
}

function held(file: Deno.FsFile, exclusive: boolean): Lock {
  return {
    release() {
      try {
        if (exclusive) file.truncateSync(0);
        file.unlockSync();
        file.close();
      } catch { /* already closed */ }
    },
  };
}

/** Synchronous calls, as for the rest of a free lock (each await is a thread's round trip). */
function open(path: string): Deno.FsFile {
  Deno.mkdirSync(dirname(path), { recursive: true });
  return Deno.openSync(path, { read: true, write: true, create: true });
}

export async function acquireLock(
  path: string,
  what: string,
  /** Where the "waiting for" line goes (an Output). */
  out?: { info(line: string): void },
  opts: { shared?: boolean } = {},
): Promise<Lock> {
  const exclusive = !opts.shared;
  let told = false;
  while (true) {
    const file = open(path);
    // Free (the usual case): taken at once, with no timer (the timer globals' first use loads
    // Deno's node:timers and the node internals behind it: milliseconds of every build).
    if (!file.tryLockSync(exclusive)) await waitFor(file, exclusive);
    if (!stillAt(file, path)) {
      held(file, false).release();
      continue;
    }
    if (exclusive) {
      file.truncateSync(0);
      file.writeSync(new TextEncoder().encode(String(Deno.pid)));
    }
    return held(file, exclusive);
  }

  /** The lock another process holds: "waiting for" said once it takes longer than 150 ms. */
  async function waitFor(file: Deno.FsFile, exclusive: boolean) {
    const locked = file.lock(exclusive);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waiting = await Promise.race([
      locked.then(() => false),
      new Promise<boolean>((r) => timer = setTimeout(() => r(true), 150)),
    ]);
    clearTimeout(timer);
    if (waiting) {
      if (!told) {
        let holder = "";
        try {
          holder = (await Deno.readTextFile(path)).trim();
        } catch { /* unknown */ }
        out?.info(`waiting for ${what}${holder ? ` (process ${holder})` : ""} to finish...`);
        told = true;
      }
      await locked;
    }
  }
}

/**
 * The lock if nobody holds it now, else undefined (never waits). For work that must leave
 * alone what another process is using (`cache prune`).
 */
export function tryLock(path: string): Lock | undefined {
  while (true) {
    const file = open(path);
    if (!file.tryLockSync(true)) {
      file.close();
      return undefined;
    }
    if (stillAt(file, path)) return held(file, false);
    held(file, false).release();
  }
}
