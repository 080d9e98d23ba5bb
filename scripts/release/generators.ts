/** Shared by the Homebrew and Scoop generators: read a release's SHA256SUMS, find assets. */
import { parseChecksums } from "../../src/tools/checksums.ts";
import { archiveName, type Target, TARGETS, VERSION_RE } from "./project.ts";

export class ReleaseInputError extends Error {}

export function checkVersion(version: string | undefined): string {
  const v = (version ?? "").replace(/^v/, "");
  if (!VERSION_RE.test(v)) {
    throw new ReleaseInputError(`--version ${version ?? "(missing)"} is not a version (X.Y.Z)`);
  }
  return v;
}

/** The sha256 of each target's archive; every asked-for target must be listed. */
export function assetHashes(
  sumsText: string,
  targets: Target[] = TARGETS,
): Map<Target, { file: string; sha256: string }> {
  const sums = parseChecksums(sumsText);
  const out = new Map<Target, { file: string; sha256: string }>();
  const missing: string[] = [];
  for (const t of targets) {
    const file = archiveName(t);
    const sha256 = sums.get(file);
    if (sha256) out.set(t, { file, sha256 });
    else missing.push(file);
  }
  if (missing.length) {
    throw new ReleaseInputError(`SHA256SUMS has no entry for ${missing.join(", ")}`);
  }
  return out;
}

/** `--version X --sums FILE [--out FILE]` for both generators. */
export async function generatorMain(
  name: string,
  render: (version: string, sumsText: string) => string,
) {
  const { parseArgs } = await import("node:util");
  try {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        version: { type: "string" },
        sums: { type: "string" },
        out: { type: "string" },
      },
    });
    if (!values.sums) {
      throw new ReleaseInputError("--sums FILE (the release's SHA256SUMS) is required");
    }
    const text = render(checkVersion(values.version), await Deno.readTextFile(values.sums));
    if (values.out) await Deno.writeTextFile(values.out, text);
    else await Deno.stdout.write(new TextEncoder().encode(text));
  } catch (e) {
    if (
      !(e instanceof ReleaseInputError || e instanceof Deno.errors.NotFound ||
        (e instanceof TypeError && /option|argument/i.test(e.message)))
    ) throw e;
    console.error(`${name}: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
