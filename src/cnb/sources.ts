/**
 * Where a build's buildpacks, order and run image come from: local directories (-b PATH,
 * project.toml `uri`), a builder image (-B, project.toml `builder`, or the default builder),
 * buildpack images (`-b docker://REF`), and ids that name a builder's buildpacks. The result
 * always has one shape: a buildpacks directory (`<escaped id>/<version>/`), an order, and the
 * run image the detector's target comes from.
 */
import { join } from "../util/path.ts";
import { localBuilderPath } from "../oci/builder_cache.ts";
import type { Output } from "../output.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import type { GroupEntry } from "../config/project.ts";
import type { ImageDirs } from "../oci/image.ts";
import {
  type Buildpack,
  escapeId,
  localBuildpackPath,
  readBuildpack,
  treeBuildpacks,
} from "./buildpacks.ts";
import { isDir, readTextIfExists } from "../util/fs.ts";
import { childPath } from "../util/names.ts";
import { parseToml } from "../config/toml.ts";
import { DEFAULT_BUILDER } from "../config/defaults.ts";

/** The builder's part, as the build needs it (src/oci/builder.ts BuilderInfo, narrowed). */
export interface BuilderSource {
  ref: string;
  digest: string;
  root: string;
  buildpacksDir: string;
  orderPath: string;
  runPath?: string;
  runImage?: { image: string; mirrors: string[] };
  buildConfigDir?: string;
  imageEnv: Record<string, string>;
  /** Platform APIs the builder's own lifecycle declares (they cap the build's). */
  platformApis?: string[];
  /** A local builder (builder.toml): the directories its buildpacks' links point into. */
  sourceDirs?: string[];
  /** The extracted /cnb when it holds lifecycle/ (the builder's own lifecycle). */
  lifecycleDir?: string;
}

export interface Sources {
  builder?: BuilderSource;
  /** The buildpacks the user named, in order; empty: the builder's order decides. */
  group: Buildpack[];
  /** Extra buildpack trees (buildpack images) to lay out next to the group's. */
  extraTrees: string[];
  /** Local buildpacks a composite's package.toml names, laid out beside the group. */
  dependencies: Buildpack[];
  /** Registry reference of the run image, when a builder (or --run-image) names one. */
  runImage?: string;
}

export interface SourceOptions {
  projectDir: string;
  cwd: string;
  env: Record<string, string>;
  /** Where pulled builders and buildpack images are kept. */
  dirs: ImageDirs;
  out: Output;
  buildpacks: string[];
  builder?: string;
  runImage?: string;
  pullPolicy?: "always" | "if-not-present" | "never";
  insecureRegistries: string[];
  /** False for --dry-run: use what is cached, download nothing. */
  network: boolean;
  /** Where the phases cannot follow links locald makes (WSL): local builders copy. */
  copyBuildpacks?: boolean;
}

const IMAGE_REF = /^(docker:\/\/)|^[a-z0-9.-]+(:\d+)?\/.+[:@]|^[^/]+:[^/]+$/i;

/**
 * A buildpack named by id (`heroku/nodejs`, `heroku/nodejs@3.0.0`), to look up in a builder,
 * rather than an image reference: no tag or digest (`:`), and no registry host (a first part
 * with a dot or a port, or `localhost`) before the first `/`.
 */
export function isBuildpackId(ref: string): boolean {
  if (ref.includes(":") || !/^[A-Za-z0-9][A-Za-z0-9._/-]*(@[A-Za-z0-9._+-]+)?$/.test(ref)) {
    return false;
  }
  const first = ref.split("/")[0];
  return !(ref.includes("/") && (first.includes(".") || first === "localhost"));
}

// A -B value or project.toml `builder` that names a builder.toml rather than an image.
export { localBuilderPath };

/**
 * The builder to use: -B, then project.toml, then the default unless the named buildpacks
 * need none (`selfContained`: every one is a directory or an image, none an id).
 */
export function chooseBuilder(
  flag: string | undefined,
  projectBuilder: string | undefined,
  selfContained: boolean,
  defaultBuilder: string,
): string | undefined {
  return flag ?? projectBuilder ?? (selfContained ? undefined : defaultBuilder);
}

export async function resolveSources(
  o: SourceOptions,
  projectGroup: GroupEntry[],
  projectBuilder: string | undefined,
): Promise<Sources> {
  // The OCI stack loads only when a builder or an image is involved.
  const oci = () => import("../oci/builder.ts");
  const entries = o.buildpacks.length
    ? o.buildpacks.map((ref) => ({ ref, base: o.cwd, id: undefined, version: undefined }))
    : projectGroup.map((g) => ({
      ref: g.uri ?? "",
      base: o.projectDir,
      id: g.id,
      version: g.version,
    }));
  // Buildpacks named by id need a builder to find them in, even with no -B.
  const ids: string[] = [];
  for (const e of entries) {
    const local = e.ref ? localBuildpackPath(e.ref, e.base) : undefined;
    if (local && (await isDir(local))) continue;
    if (!e.ref || isBuildpackId(e.ref)) ids.push(e.ref || e.id!);
  }
  const builderRef = chooseBuilder(
    o.builder,
    projectBuilder,
    entries.length > 0 && !ids.length,
    DEFAULT_BUILDER,
  );
  // Said unless project.toml names both the buildpacks and the builder.
  if (builderRef && ids.length && !o.builder && (o.buildpacks.length || !projectBuilder)) {
    o.out.info(
      `locald: looking up ${ids.join(", ")} in the builder ${builderRef} ` +
        `(${projectBuilder ? "project.toml's" : "the default"}; -B REF picks another)`,
    );
  }
  const pullOpts = {
    env: o.env,
    dirs: o.dirs,
    out: o.out,
    insecureRegistries: o.insecureRegistries,
  };
  let builder: BuilderSource | undefined;
  // -B ./builder.toml (relative to where locald runs), or project.toml's (to the project).
  const localBuilder = builderRef &&
    localBuilderPath(builderRef, o.builder !== undefined ? o.cwd : o.projectDir);
  if (localBuilder) {
    const { loadLocalBuilder } = await import("./local_builder.ts");
    builder = await loadLocalBuilder(localBuilder, {
      env: o.env,
      dirs: o.dirs,
      out: o.out,
      insecureRegistries: o.insecureRegistries,
      network: o.network,
      copy: o.copyBuildpacks,
    });
  } else if (builderRef) {
    // A builder pulled before needs only its record read back (no registry client, no tar).
    const { cachedBuilder, declaredPlatformApis } = await import("../oci/builder_cache.ts");
    const cached = o.pullPolicy === "always" ? undefined : cachedBuilder(builderRef, o.dirs);
    if (cached) builder = cached;
    else if (!o.network) {
      throw new LocaldError(`builder ${builderRef} has not been pulled yet`, {
        hint: `--dry-run downloads nothing: run \`locald builder pull ${builderRef}\` first`,
        exitCode: ExitCode.input,
      });
    } else {
      // "always" with the builder here and unchanged: one manifest request (warm_pull.ts).
      const warm = o.pullPolicy === "always"
        ? await (await import("../oci/warm_pull.ts")).warmPull(builderRef, pullOpts)
        : undefined;
      builder = warm ?? await (await oci()).pullBuilder(builderRef, {
        ...pullOpts,
        pullPolicy: o.pullPolicy,
      });
    }
    // Builders extracted before locald read the label: their metadata says the same.
    const md = (builder as { metadata?: { lifecycle?: { apis?: never } } | null }).metadata;
    builder.platformApis ??= declaredPlatformApis(md?.lifecycle?.apis);
  }

  const group: Buildpack[] = [];
  const extraTrees: string[] = [];
  const dependencies: Buildpack[] = [];
  for (const e of entries) {
    const local = e.ref ? localBuildpackPath(e.ref, e.base) : undefined;
    if (local && (await isDir(local))) {
      const bp = await readBuildpack(local, e.ref);
      if (bp.order) {
        // A composite names its parts by id: its package.toml's [[dependencies]] bring them,
        // else the builder must have them.
        const have = await packageDependencies(bp, e.ref, o, dependencies, extraTrees);
        if (!have && !builder) {
          throw new LocaldError(
            `${e.ref} is a composite buildpack and has no package.toml naming its parts, ` +
              "so without a builder there is nothing to build with",
            {
              hint: "add a package.toml beside its buildpack.toml with a [[dependencies]] uri " +
                "for each buildpack in its order, or build with a builder that has them (-B)",
              exitCode: ExitCode.input,
            },
          );
        }
        if (!builder) await assertOrderResolvable(bp, e.ref, dependencies, extraTrees);
      }
      group.push(bp);
      continue;
    }
    const [idPart, verPart] = (e.ref || `${e.id}${e.version ? `@${e.version}` : ""}`).split("@");
    const id = e.id ?? idPart;
    const version = e.version ?? verPart;
    if (builder && !e.ref.startsWith("docker://")) {
      const fromBuilder = await builderBuildpack(builder, id, version);
      if (fromBuilder) {
        group.push(fromBuilder);
        continue;
      }
    }
    if (e.ref && IMAGE_REF.test(e.ref) && !isBuildpackId(e.ref)) {
      if (!o.network) {
        throw new LocaldError(`--dry-run cannot pull the buildpack image ${e.ref}`, {
          hint: "run the build once without --dry-run",
          exitCode: ExitCode.input,
        });
      }
      const img = await (await oci()).pullBuildpack(e.ref.replace(/^docker:\/\//, ""), pullOpts);
      extraTrees.push(img.buildpacksDir);
      const top = img.buildpacks.find((b) => b.id === img.id) ?? img.buildpacks[0];
      if (!top) {
        throw new LocaldError(`${e.ref} holds no buildpack`, {
          hint: "pass a buildpack image or buildpackage",
          exitCode: ExitCode.input,
        });
      }
      group.push(await readBuildpack(top.path, e.ref));
      continue;
    }
    const what = e.ref || id;
    throw new LocaldError(
      builder
        ? `builder ${builder.ref} has no buildpack ${what}` +
          (local && !isBuildpackId(e.ref) ? `, and ${local} is not a directory` : "")
        : local
        ? `buildpack ${what}: no such directory (${local})`
        : `buildpack "${what}" is neither a directory nor an image reference`,
      {
        hint: "pass a buildpack directory (-b ./path), an id the builder has (-b id@version), " +
          "or an image (-b docker://REF)",
        exitCode: ExitCode.input,
      },
    );
  }
  if (!group.length && !builder) {
    throw new LocaldError(`no buildpacks to build ${o.projectDir} with`, {
      hint: "pass -B BUILDER or -b PATH, or name them in project.toml",
      exitCode: ExitCode.input,
    });
  }
  const runImage = o.runImage ?? builder?.runImage?.image;
  return { builder, group, extraTrees, dependencies, runImage };
}

/**
 * A composite buildpack's package.toml (as `pack buildpack package` reads it): each
 * [[dependencies]] uri, a directory (relative to the buildpack) or a buildpack image, is added
 * to `deps` or `trees`. False when there is no package.toml.
 */
async function packageDependencies(
  bp: Buildpack,
  shownAs: string,
  o: SourceOptions,
  deps: Buildpack[],
  trees: string[],
): Promise<boolean> {
  const file = join(bp.dir, "package.toml");
  const text = await readTextIfExists(file);
  if (text === undefined) return false;
  // deno-lint-ignore no-explicit-any
  const doc = parseToml(text, file) as any;
  const list = Array.isArray(doc.dependencies) ? doc.dependencies : [];
  for (const [i, d] of list.entries()) {
    const uri = typeof d?.uri === "string" ? d.uri : typeof d?.image === "string" ? d.image : "";
    const local = uri ? localBuildpackPath(uri, bp.dir) : undefined;
    if (local && (await isDir(local))) {
      const dep = await readBuildpack(local, `${uri} (a dependency of ${shownAs})`);
      if (deps.some((x) => x.id === dep.id && x.version === dep.version)) continue;
      deps.push(dep);
      if (dep.order) await packageDependencies(dep, uri, o, deps, trees);
      continue;
    }
    if (uri && (uri.startsWith("docker://") || IMAGE_REF.test(uri))) {
      if (!o.network) {
        throw new LocaldError(`--dry-run cannot pull ${uri}, a dependency of ${shownAs}`, {
          hint: "run the build once without --dry-run",
          exitCode: ExitCode.input,
        });
      }
      const img = await (await import("../oci/builder.ts")).pullBuildpack(
        uri.replace(/^docker:\/\//, ""),
        { env: o.env, dirs: o.dirs, out: o.out, insecureRegistries: o.insecureRegistries },
      );
      trees.push(img.buildpacksDir);
      continue;
    }
    throw new LocaldError(
      `${file}: dependencies[${i}] uri ${JSON.stringify(uri)} is ` +
        (local ? "not a directory" : "not supported (locald takes directories and images)"),
      {
        hint: "point it at a buildpack directory (relative to the buildpack) or a buildpack " +
          "image (docker://REF); archives and registry URNs are not supported",
        exitCode: local ? ExitCode.input : ExitCode.unsupported,
      },
    );
  }
  return true;
}

/** Every required buildpack of a composite's order must be among what was brought. */
async function assertOrderResolvable(
  bp: Buildpack,
  shownAs: string,
  deps: Buildpack[],
  trees: string[],
) {
  const have = new Set(deps.map((d) => `${d.id}@${d.version}`));
  const ids = new Set(deps.map((d) => d.id));
  for (const t of await treeBuildpacks(trees)) {
    const [id, version] = t.rel.split("/");
    have.add(`${id}@${version}`);
    ids.add(id);
  }
  const missing: string[] = [];
  for (const g of bp.order ?? []) {
    for (const e of g.group ?? []) {
      const ok = e.version
        ? have.has(`${e.id}@${e.version}`) || have.has(`${escapeId(e.id)}@${e.version}`)
        : ids.has(e.id) || ids.has(escapeId(e.id));
      if (!ok && !e.optional) missing.push(e.version ? `${e.id}@${e.version}` : e.id);
    }
  }
  if (missing.length) {
    throw new LocaldError(
      `composite buildpack ${shownAs} needs ${[...new Set(missing)].join(", ")}, which its ` +
        "package.toml does not bring",
      {
        hint: "add a [[dependencies]] uri for each to its package.toml, or build with a " +
          "builder that has them (-B)",
        exitCode: ExitCode.input,
      },
    );
  }
}

async function builderBuildpack(
  b: BuilderSource,
  id: string,
  version: string | undefined,
): Promise<Buildpack | undefined> {
  const dir = childPath(b.buildpacksDir, escapeId(id), "buildpack id");
  let versions: string[];
  try {
    versions = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
  } catch {
    return undefined;
  }
  const v = version ?? (versions.length === 1 ? versions[0] : undefined);
  if (!v) {
    throw new LocaldError(
      `builder ${b.ref} has several versions of ${id}: ${versions.join(", ")}`,
      {
        hint: `pick one with -b ${id}@VERSION`,
        exitCode: ExitCode.input,
      },
    );
  }
  if (!versions.includes(v)) {
    if (v.includes(":")) return undefined; // a digest: an image reference, not a version
    throw new LocaldError(`builder ${b.ref} has ${id} ${versions.join(", ")}, not ${v}`, {
      hint: `pick one of them with -b ${id}@VERSION, or another builder with -B REF`,
      exitCode: ExitCode.input,
    });
  }
  return await readBuildpack(join(dir, v), `${id}@${v}`);
}
