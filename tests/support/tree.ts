/** A directory as tar entries for tests/support/images.ts (modes and symlinks kept). */
import { join, relative } from "node:path";
import type { Entry } from "./images.ts";

export async function entriesOf(dir: string, prefix: string): Promise<Entry[]> {
  const out: Entry[] = [{ name: `${prefix}/`, type: "directory" }];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = join(d, e.name);
      const name = `${prefix}/${relative(dir, p)}`;
      const st = await Deno.lstat(p);
      if (st.isSymlink) out.push({ name, type: "symlink", linkname: await Deno.readLink(p) });
      else if (st.isDirectory) {
        out.push({ name: `${name}/`, type: "directory" });
        await walk(p);
      } else out.push({ name, content: await Deno.readFile(p), mode: (st.mode ?? 0o644) & 0o777 });
    }
  };
  await walk(dir);
  return out;
}

export const dirs = (...names: string[]): Entry[] =>
  names.map((n) => ({ name: `${n}/`, type: "directory" }));
