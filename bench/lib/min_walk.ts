/**
 * The least a Deno program can do to read what the fingerprint reads: walk DIR with
 * Deno.readDirSync, lstat every file with Deno.lstatSync, and hash one line per entry (path,
 * size, mode, mtime) with Web Crypto's SHA-256, as `find -printf ... | sha256sum` does. No
 * sorting, no .gitignore, no slicing: the floor for a Deno program against which a no-op
 * `locald build` shows its own cost (bench/scale.ts --only noop).
 *
 *   deno run -A bench/lib/min_walk.ts DIR
 */
const lines: string[] = [];
const walk = (dir: string) => {
  for (const e of Deno.readDirSync(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) {
      lines.push(`${path}\n`);
      walk(path);
    } else {
      const st = Deno.lstatSync(path);
      lines.push(`${path} ${st.size} ${st.mode} ${st.mtime?.getTime()}\n`);
    }
  }
};
walk(Deno.args[0]);
const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(lines.join("")));
console.log(new Uint8Array(digest).reduce((s, b) => s + b.toString(16).padStart(2, "0"), ""));
