/**
 * An advisory lock (flock) on a file. If another process holds it, say so and wait; the lock
 * goes away with the process that held it, so a crash never leaves a stale lock behind.
 */
import { dirname } from "node:path";
import type { Output } from "../cli/output.ts";

export interface Lock {
  release(): void;
}

export async function acquireLock(path: string, what: string, out?: Output): Promise<Lock> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const file = await Deno.open(path, { read: true, write: true, create: true });
  const locked = file.lock(true);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const waiting = await Promise.race([
    locked.then(() => false),
    new Promise<boolean>((r) => timer = setTimeout(() => r(true), 150)),
  ]);
  clearTimeout(timer);
  if (waiting) {
    let holder = "";
    try {
      holder = (await Deno.readTextFile(path)).trim();
    } catch { /* unknown */ }
    out?.info(`waiting for ${what}${holder ? ` (process ${holder})` : ""} to finish...`);
    await locked;
  }
  await file.truncate(0);
  await file.write(new TextEncoder().encode(String(Deno.pid)));
  return {
    release() {
      try {
        file.truncateSync(0);
        file.unlockSync();
        file.close();
      } catch { /* already closed */ }
    },
  };
}
