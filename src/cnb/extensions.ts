/**
 * Image extensions (CNB Dockerfiles): a builder's order may name extensions
 * (`[[order-extensions]]`, `/cnb/extensions`), and the detector runs them with the buildpacks.
 * Those that pass generate Dockerfiles: `build.Dockerfile` extends the build image,
 * `run.Dockerfile` extends or replaces the run image. locald runs the phases on this machine
 * (or its VM), not in the builder image, and has no image builder (the lifecycle's extender
 * needs kaniko), so it applies neither:
 *
 * - development builds go on, and say which extensions were not applied: the build uses this
 *   machine's tools, and the environment is this machine plus the layers, so what a
 *   Dockerfile would install must be here; the run image stays the one the analyzer chose;
 * - image builds go on when only build.Dockerfiles were generated (the build runs on this
 *   machine either way), and stop, naming the extensions, when a run.Dockerfile was: the
 *   image would lack what it adds.
 */
import { join } from "../util/path.ts";
import type { Output } from "../output.ts";
import type { ProjectPaths } from "../config/paths.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import { parseToml } from "../config/toml.ts";
import { exists, readTextIfExists, removeIfExists, writeFileAtomic } from "../util/fs.ts";
import { escapeId } from "./buildpacks.ts";
import { childPath } from "../util/names.ts";

export interface Unapplied {
  /** id@version of the extension. */
  extension: string;
  dockerfiles: ("build" | "run")[];
}

/**
 * The Dockerfiles the extensions in group.toml generated: `<generated>/<id>/<kind>.Dockerfile`
 * (platform API 0.13 and later), `<generated>/<kind>/<id>/Dockerfile` before. A run.Dockerfile
 * that a later one makes irrelevant is renamed `.ignore` by the lifecycle and not counted.
 */
export async function generatedDockerfiles(paths: ProjectPaths): Promise<Unapplied[]> {
  const text = await readTextIfExists(paths.group);
  if (!text) return [];
  // deno-lint-ignore no-explicit-any
  const group = parseToml(text, paths.group) as any;
  const out: Unapplied[] = [];
  for (const e of group["group-extensions"] ?? []) {
    const dockerfiles: Unapplied["dockerfiles"] = [];
    // The id comes from the extension's extension.toml: it names a directory, nothing more.
    const id = escapeId(String(e.id));
    const generated = join(paths.layers, "generated");
    for (const kind of ["build", "run"] as const) {
      if (
        await exists(join(childPath(generated, id, "extension id"), `${kind}.Dockerfile`)) ||
        await exists(join(childPath(join(generated, kind), id, "extension id"), "Dockerfile"))
      ) dockerfiles.push(kind);
    }
    if (dockerfiles.length) out.push({ extension: `${e.id}@${e.version}`, dockerfiles });
  }
  return out;
}

/**
 * After the detector: say which extensions are not applied (or stop an image build that
 * needs a run.Dockerfile applied), put back the analyzer's analyzed.toml (the generator may
 * have switched the run image to one that was never pulled), and drop the Dockerfiles.
 */
export async function afterDetect(
  paths: ProjectPaths,
  o: { image: boolean; analyzed?: string; out: Output },
): Promise<Unapplied[]> {
  const unapplied = await generatedDockerfiles(paths);
  if (!unapplied.length) return [];
  const list = (u: Unapplied[]) =>
    u.map((x) => `${x.extension} (${x.dockerfiles.map((k) => `${k}.Dockerfile`).join(", ")})`)
      .join(", ");
  const run = unapplied.filter((u) => u.dockerfiles.includes("run"));
  if (o.image && run.length) {
    throw new LocaldError(
      `image extensions that change the run image cannot be applied: ${list(run)}`,
      {
        hint: "locald does not apply extensions' Dockerfiles; build this image with a platform " +
          "that does (pack), or with a builder whose extensions do not detect for this app",
        exitCode: ExitCode.unsupported,
      },
    );
  }
  o.out.warn(
    `image extensions not applied (locald runs no Dockerfiles; this machine's tools are used): ` +
      list(unapplied),
  );
  if (o.analyzed !== undefined) await writeFileAtomic(paths.analyzed, o.analyzed);
  await removeIfExists(join(paths.layers, "generated"));
  return unapplied;
}
