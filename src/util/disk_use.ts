/**
 * Bytes a tree takes on disk (allocated blocks; the size where a file system does not say),
 * without following links. Synchronous: one call per entry, and an asynchronous one waits for
 * a free thread each time (a root filesystem has thousands of entries).
 */
import { join } from "./path.ts";

export function diskUse(path: string): number {
  let total = 0;
  const walk = (p: string) => {
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(p);
    } catch {
      return;
    }
    total += st.blocks !== null ? st.blocks * 512 : st.size;
    if (!st.isDirectory) return;
    try {
      for (const e of Deno.readDirSync(p)) walk(join(p, e.name));
    } catch { /* unreadable: counted as far as it goes */ }
  };
  walk(path);
  return total;
}
