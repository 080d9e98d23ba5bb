/** Is the environment older than the sources? One line on stderr if so; never a rebuild. */
import { formatAgo, type Output } from "../cli/output.ts";
import { treeDigest } from "../cnb/fingerprint.ts";
import type { DevEnv } from "./launch.ts";

export async function warnIfStale(d: DevEnv, out: Output): Promise<boolean> {
  const s = d.rec.sources;
  if (!s) return false;
  const now = await treeDigest(d.projectDir, {
    gitignore: s.gitignore,
    exclude: s.exclude,
    include: s.include,
  });
  if (now === s.digest) return false;
  out.warn(
    `${d.projectDir} changed since its environment was built ` +
      `(${formatAgo(d.rec.builtAt)}); ` +
      "run `locald build` to update it",
  );
  return true;
}
