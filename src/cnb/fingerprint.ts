/**
 * What a build depends on, as one digest: the source tree (minus .git, what .gitignore and
 * project.toml exclude, or only what its include names), the buildpacks (their ids, versions
 * and files), the build-time
 * environment, the platform API, the lifecycle and the target. Equal digests mean a build
 * would see exactly the same inputs, so locald can skip it. The source tree's part is
 * util/tree_digest.ts's walk (the builder cache checks extracted trees with it too).
 */
import { sha256HexSync } from "../util/sha256.ts";

export interface BuildInputsDigest {
  sources: string;
  buildpacks: string[];
  env: Record<string, string>;
  platformApi: string;
  lifecycle: string;
  target: string;
  builder?: string;
  isolation?: string;
  /** --default-process (absent: the buildpacks decide). */
  defaultProcess?: string;
  /** CNB_EXEC_ENV: buildpacks build differently per execution environment. */
  execEnv?: string;
  /** Stack mode: the images the phases ran in (absent: the host's userland). */
  userland?: string;
}

export function combineDigest(d: BuildInputsDigest): string {
  const env = Object.entries(d.env).sort(([a], [b]) => a.localeCompare(b));
  return sha256HexSync(JSON.stringify({ ...d, env }));
}
