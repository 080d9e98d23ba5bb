/**
 * Builders described locally: `-B ./builder.toml` reads the file `pack builder create` reads
 * (buildpack and extension directories or images, order, order-extensions, run images, build
 * env, stack id) and lays it out the way a builder image's /cnb is, without creating or pushing
 * an image: buildpacks/ and extensions/ as links to the authors' own directories, order.toml,
 * run.toml, build-config/env. An edited buildpack is in the next build, which is how buildpack
 * authors iterate.
 *
 * The layout lives in `$LOCALD_HOME/oci/local-builders/<path key>-<content key>/cnb`; the
 * content key covers builder.toml and every buildpack directory's files, so it doubles as the
 * builder's digest in the build fingerprint.
 */
import { dirname, join, resolve } from "node:path";
import { ExitCode, LocaldError } from "../errors.ts";
import { parseToml, toToml } from "../config/toml.ts";
import type { BuilderInfo } from "../oci/builder.ts";
import type { ImageDirs } from "../oci/image.ts";
import type { Output } from "../output.ts";
import {
  type Buildpack,
  localBuildpackPath,
  readBuildpack,
  treeBuildpacks,
  writeBuildpacksDir,
} from "./buildpacks.ts";
import { treeDigest } from "../util/tree_digest.ts";
import { goArch } from "../hosts/target.ts";
import { sha256HexSync } from "../util/sha256.ts";
import { exists, isDir, readTextIfExists, removeIfExists } from "../util/fs.ts";

export interface LocalBuilderOptions {
  /** locald's environment, for pulling buildpack images (proxies, credentials). */
  env: Record<string, string>;
  dirs: ImageDirs;
  out: Output;
  insecureRegistries: string[];
  /** False for --dry-run: buildpack images are not pulled, nothing is written. */
  network: boolean;
  /** Copy the buildpacks instead of linking them (the phases cannot follow the links). */
  copy?: boolean;
}

interface Module {
  id: string;
  version: string;
  dir: string;
  platformDir?: string;
}

// deno-lint-ignore no-explicit-any
type Doc = any;

function bad(file: string, what: string, hint: string, exitCode: number = ExitCode.input) {
  return new LocaldError(`${file}: ${what}`, { hint, exitCode });
}

/** builder.toml, laid out as a builder's /cnb; returns what a pulled builder would. */
export async function loadLocalBuilder(
  file: string,
  o: LocalBuilderOptions,
): Promise<BuilderInfo & { sourceDirs: string[] }> {
  const text = await readTextIfExists(file).catch(() => undefined);
  if (text === undefined) {
    throw new LocaldError(`builder file ${file} does not exist`, {
      hint: "-B takes a builder image reference or the path of a builder.toml",
      exitCode: ExitCode.input,
    });
  }
  const doc: Doc = parseToml(text, file);
  const base = dirname(file);
  const buildpacks: Buildpack[] = [];
  const trees: string[] = [];
  for (const [i, e] of list(doc.buildpacks).entries()) {
    const uri = typeof e?.uri === "string" ? e.uri : "";
    const local = uri ? localBuildpackPath(uri, base) : undefined;
    if (local && (await isDir(local))) {
      const bp = await readBuildpack(local, `${uri} (in ${file})`);
      checkNamed(file, `buildpacks[${i}]`, e, bp);
      buildpacks.push(bp);
      continue;
    }
    if (uri.startsWith("docker://") || (!local && /^[a-z0-9.-]+(:\d+)?\/\S+$/i.test(uri))) {
      if (!o.network) {
        throw new LocaldError(`--dry-run cannot pull ${uri}, a buildpack of ${file}`, {
          hint: "run the build once without --dry-run",
          exitCode: ExitCode.input,
        });
      }
      const { pullBuildpack } = await import("../oci/builder.ts");
      const img = await pullBuildpack(uri.replace(/^docker:\/\//, ""), {
        env: o.env,
        dirs: o.dirs,
        out: o.out,
        insecureRegistries: o.insecureRegistries,
      });
      trees.push(img.buildpacksDir);
      continue;
    }
    throw bad(
      file,
      `buildpacks[${i}] uri ${JSON.stringify(uri)} is ${
        !uri
          ? "missing"
          : local
          ? "not a directory"
          : "not supported (locald takes directories and images)"
      }`,
      "give each [[buildpacks]] a uri: a buildpack directory (relative to builder.toml) or an " +
        "image (docker://REF); archives and registry URNs are not supported",
      uri && !local ? ExitCode.unsupported : ExitCode.input,
    );
  }
  const extensions: Module[] = [];
  for (const [i, e] of list(doc.extensions).entries()) {
    const uri = typeof e?.uri === "string" ? e.uri : "";
    const local = uri ? localBuildpackPath(uri, base) : undefined;
    if (!local || !(await isDir(local))) {
      throw bad(
        file,
        `extensions[${i}] uri ${JSON.stringify(uri)} is not an extension directory`,
        "give each [[extensions]] the directory holding its extension.toml (relative to " +
          "builder.toml); extension images are not supported here",
        local ? ExitCode.input : ExitCode.unsupported,
      );
    }
    extensions.push(await readExtension(local, `${uri} (in ${file})`));
  }

  // Every buildpack an order names must be here (by id, and by version when it gives one).
  const have = [
    ...buildpacks.map((b) => ({ id: b.id, version: b.version })),
    ...(await treeBuildpacks(trees)).map((t) => {
      const [id, version] = t.rel.split("/");
      return { id, version };
    }),
  ];
  const order = groups(doc.order, file, "order", have);
  const orderExtensions = groups(doc["order-extensions"], file, "order-extensions", extensions);
  if (!order.length) {
    throw bad(file, "has no [[order]]", "add an [[order]] with the buildpacks to detect");
  }

  const runImages = list(doc.run?.images).map((r: Doc) => ({
    image: String(r?.image ?? ""),
    mirrors: list(r?.mirrors).map(String),
  })).filter((r: { image: string }) => r.image);
  if (!runImages.length && typeof doc.stack?.["run-image"] === "string") {
    runImages.push({
      image: doc.stack["run-image"],
      mirrors: list(doc.stack["run-image-mirrors"]).map(String),
    });
  }
  const buildConfigEnv: Record<string, string> = {};
  for (const [i, e] of list(doc.build?.env).entries()) {
    const name = String(e?.name ?? "");
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw bad(
        file,
        `build.env[${i}] name ${JSON.stringify(name)} is not a variable name`,
        "use NAME",
      );
    }
    const suffix = e?.suffix === undefined ? "" : String(e.suffix);
    if (!["", "default", "override", "append", "prepend"].includes(suffix)) {
      throw bad(
        file,
        `build.env[${i}] suffix "${suffix}" is not one of default, override, append, prepend`,
        "leave it out or use one of those",
      );
    }
    buildConfigEnv[suffix ? `${name}.${suffix}` : name] = String(e?.value ?? "");
    if (e?.delim !== undefined) buildConfigEnv[`${name}.delim`] = String(e.delim);
  }

  // The layout: keyed by the file's path and by what it is made of.
  const sourceDirs = [...buildpacks.map((b) => b.dir), ...extensions.map((x) => x.dir)];
  const contents = await Promise.all(sourceDirs.map((d) => treeDigest(d)));
  const digest = sha256HexSync(
    JSON.stringify({ text, sourceDirs, contents, trees, copy: o.copy === true }),
  );
  const parent = join(o.dirs.oci, "local-builders");
  const prefix = sha256HexSync(file).slice(0, 12);
  const root = join(parent, `${prefix}-${digest.slice(0, 16)}`);
  const cnbDir = join(root, "cnb");
  // --dry-run writes nothing: the plan names where the layout goes.
  if (o.network && !(await exists(join(root, "complete")))) {
    await Deno.mkdir(parent, { recursive: true });
    const tmp = await Deno.makeTempDir({ dir: parent, prefix: ".tmp-" });
    try {
      const cnb = join(tmp, "cnb");
      const more = await treeBuildpacks(trees);
      const copy = { copy: o.copy };
      await writeBuildpacksDir(join(cnb, "buildpacks"), buildpacks, more, copy);
      if (extensions.length) {
        await writeBuildpacksDir(
          join(cnb, "extensions"),
          extensions.map((x) => ({ ...x, api: "" })),
          [],
          copy,
        );
      }
      await Deno.writeTextFile(
        join(cnb, "order.toml"),
        toToml({
          order,
          ...(orderExtensions.length ? { "order-extensions": orderExtensions } : {}),
        }),
      );
      if (runImages.length) {
        await Deno.writeTextFile(join(cnb, "run.toml"), toToml({ images: runImages }));
      }
      if (Object.keys(buildConfigEnv).length) {
        await Deno.mkdir(join(cnb, "build-config", "env"), { recursive: true });
        for (const [k, v] of Object.entries(buildConfigEnv)) {
          await Deno.writeTextFile(join(cnb, "build-config", "env", k), v);
        }
      }
      await Deno.writeTextFile(join(tmp, "complete"), "");
      await Deno.rename(tmp, root).catch(async (e) => {
        // Another build laid out the same builder first: theirs is identical.
        if (!(await exists(join(root, "complete")))) throw e;
        await removeIfExists(tmp);
      });
    } catch (e) {
      await removeIfExists(tmp);
      throw e;
    }
    await removeOlderLayouts(parent, prefix, root);
  }
  const arch = goArch(Deno.build.arch);
  return {
    ref: file,
    digest: `local:sha256:${digest}`,
    platform: `linux/${arch}`,
    root,
    cnbDir,
    buildpacksDir: join(cnbDir, "buildpacks"),
    orderPath: join(cnbDir, "order.toml"),
    runPath: runImages.length ? join(cnbDir, "run.toml") : undefined,
    runImage: runImages[0],
    runImages,
    buildConfigDir: Object.keys(buildConfigEnv).length ? join(cnbDir, "build-config") : undefined,
    buildConfigEnv,
    imageEnv: typeof doc.stack?.id === "string" ? { CNB_STACK_ID: doc.stack.id } : {},
    metadata: {
      description: typeof doc.description === "string" ? doc.description : undefined,
      buildpacks: buildpacks.map((b) => ({ id: b.id, version: b.version })),
      extensions: extensions.map((x) => ({ id: x.id, version: x.version })),
      ...(typeof doc.lifecycle?.version === "string"
        ? { lifecycle: { version: doc.lifecycle.version } }
        : {}),
    },
    buildpackLayers: null,
    order,
    size: 0,
    blobs: [],
    pulledAt: new Date().toISOString(),
    // What the layout's links point into: the phases (sandboxed or not) must see it.
    sourceDirs: [...sourceDirs, ...trees],
  };
}

function list(v: unknown): Doc[] {
  return Array.isArray(v) ? v : [];
}

function checkNamed(file: string, key: string, e: Doc, bp: { id: string; version: string }) {
  for (const k of ["id", "version"] as const) {
    if (typeof e?.[k] === "string" && e[k] !== bp[k]) {
      throw bad(
        file,
        `${key} says ${k} ${JSON.stringify(e[k])}, but its directory holds ${bp.id}@${bp.version}`,
        `fix the ${k} in builder.toml or point uri at the right directory`,
      );
    }
  }
}

function groups(
  v: unknown,
  file: string,
  key: string,
  have: { id: string; version: string }[],
): { group: { id: string; version?: string; optional?: boolean }[] }[] {
  return list(v).map((g: Doc, i: number) => ({
    group: list(g?.group).map((e: Doc, j: number) => {
      const id = String(e?.id ?? "");
      const version = typeof e?.version === "string" ? e.version : undefined;
      const escaped = id.replaceAll("/", "_");
      const found = have.filter((h) => h.id === id || h.id === escaped);
      const pick = version ? found.find((h) => h.version === version) : found[0];
      if (!pick) {
        throw bad(
          file,
          `${key}[${i}].group[${j}] names ${id}${version ? `@${version}` : ""}, which no ` +
            `[[${key === "order" ? "buildpacks" : "extensions"}]] entry brings`,
          `add its directory or image to builder.toml, or remove it from the ${key}`,
        );
      }
      return {
        id,
        version: version ?? pick.version,
        ...(e?.optional === true ? { optional: true } : {}),
      };
    }),
  }));
}

async function readExtension(dir: string, shownAs: string): Promise<Module> {
  const file = join(dir, "extension.toml");
  const text = await readTextIfExists(file);
  if (text === undefined) {
    throw new LocaldError(`${shownAs} is not an image extension: it has no extension.toml`, {
      hint: "point the [[extensions]] uri at the directory holding extension.toml",
      exitCode: ExitCode.input,
    });
  }
  const doc: Doc = parseToml(text, file);
  const id = doc?.extension?.id;
  const version = doc?.extension?.version;
  if (typeof id !== "string" || typeof version !== "string") {
    throw new LocaldError(`${file}: [extension] needs an id and a version`, {
      hint: "see https://buildpacks.io/docs/reference/spec/image-extension-api/",
      exitCode: ExitCode.input,
    });
  }
  return { id, version, dir: resolve(dir) };
}

/** Earlier layouts of the same builder.toml (an hour old: no build still reads them). */
async function removeOlderLayouts(parent: string, prefix: string, keep: string) {
  for await (const e of Deno.readDir(parent)) {
    const p = join(parent, e.name);
    if (p === keep || !(e.name.startsWith(`${prefix}-`) || e.name.startsWith(".tmp-"))) continue;
    const st = await Deno.lstat(p).catch(() => undefined);
    if (st?.mtime && Date.now() - st.mtime.getTime() > 3600_000) await removeIfExists(p);
  }
}
