/**
 * Buildpacks on disk: read buildpack.toml, lay them out the way the lifecycle expects
 * (`<buildpacks>/<escaped id>/<version>/`) and write order.toml. A builder image (src/oci/)
 * feeds the same shape: a directory of buildpacks plus an order.
 */
import { isAbsolute, join, resolve } from "node:path";
import { ExitCode, LocaldError } from "../errors.ts";
import { parseToml, toToml } from "../config/toml.ts";
import { childPath } from "../util/names.ts";

export interface Buildpack {
  id: string;
  version: string;
  api: string;
  /** Directory holding buildpack.toml and bin/. */
  dir: string;
  /** Set for composite (meta) buildpacks. */
  order?: { group: { id: string; version?: string; optional?: boolean }[] }[];
}

export interface OrderGroupEntry {
  id: string;
  version?: string;
  optional?: boolean;
}

/** The lifecycle's directory name for a buildpack id (launch.EscapeID). */
export function escapeId(id: string): string {
  return id.replaceAll("/", "_");
}

export async function readBuildpack(dir: string, shownAs = dir): Promise<Buildpack> {
  const file = join(dir, "buildpack.toml");
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    const missing = e instanceof Deno.errors.NotFound;
    throw new LocaldError(
      missing
        ? `${shownAs} is not a buildpack: it has no buildpack.toml`
        : `cannot read ${file}: ${(e as Error).message}`,
      {
        hint: "pass -b the directory that holds a buildpack's buildpack.toml",
        exitCode: ExitCode.input,
      },
    );
  }
  // deno-lint-ignore no-explicit-any
  const doc = parseToml(text, file) as any;
  const id = doc?.buildpack?.id;
  const version = doc?.buildpack?.version;
  if (typeof id !== "string" || typeof version !== "string") {
    throw new LocaldError(`${file}: [buildpack] needs an id and a version`, {
      hint: "see https://buildpacks.io/docs/reference/spec/buildpack-api/",
      exitCode: ExitCode.input,
    });
  }
  return {
    id,
    version,
    api: String(doc.api ?? "0.7"),
    dir: resolve(dir),
    order: Array.isArray(doc.order) ? doc.order : undefined,
  };
}

/** A -b value or a project.toml uri that names a local directory, resolved against `base`. */
export function localBuildpackPath(ref: string, base: string): string | undefined {
  let p = ref;
  if (p.startsWith("file://")) p = decodeURIComponent(new URL(p).pathname);
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) return undefined;
  if (!(isAbsolute(p) || p.startsWith(".") || p.includes("/"))) return undefined;
  return isAbsolute(p) ? p : resolve(base, p);
}

/**
 * Lay buildpacks out as the lifecycle's buildpacks directory: symlinks
 * `<dir>/<escaped id>/<version>` to each buildpack's own directory. Rebuilt on every build.
 */
export async function writeBuildpacksDir(
  dir: string,
  bps: Buildpack[],
  more: { rel: string; path: string }[] = [],
  opts: { copy?: boolean } = {},
) {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const links = [
    ...more,
    ...bps.map((bp) => ({ rel: `${escapeId(bp.id)}/${bp.version}`, path: bp.dir })),
  ];
  for (const { rel, path } of links) {
    // `<escaped id>/<version>`: both parts come from buildpack.toml files or image trees.
    const cut = rel.indexOf("/");
    const idDir = childPath(dir, rel.slice(0, cut), "buildpack id");
    const link = childPath(idDir, rel.slice(cut + 1), "buildpack version");
    await Deno.mkdir(join(link, ".."), { recursive: true });
    await Deno.remove(link, { recursive: true }).catch(() => {});
    // Where the phases cannot follow a link locald creates (WSL, written from Windows): a copy.
    if (opts.copy) await copyTree(path, link);
    else await Deno.symlink(path, link);
  }
}

/**
 * Copy a buildpack directory: files with their modes (bin/detect and bin/build must stay
 * executable; Windows file systems keep no modes, so files under bin/ are made executable),
 * symlinks inside it as the files they point to.
 */
async function copyTree(src: string, dest: string, rel = "") {
  await Deno.mkdir(dest, { recursive: true });
  for await (const e of Deno.readDir(src)) {
    const from = join(src, e.name);
    const to = join(dest, e.name);
    const st = await Deno.stat(from);
    if (st.isDirectory) await copyTree(from, to, rel ? `${rel}/${e.name}` : e.name);
    else {
      await Deno.copyFile(from, to);
      const exec = rel === "bin" || rel.startsWith("bin/");
      const mode = st.mode ?? (exec ? 0o755 : 0o644);
      await Deno.chmod(to, exec ? mode | 0o755 : mode).catch(() => {});
    }
  }
}

export function orderToml(groups: OrderGroupEntry[][]): string {
  return toToml({
    order: groups.map((g) => ({
      group: g.map((e) => ({
        id: e.id,
        ...(e.version ? { version: e.version } : {}),
        ...(e.optional ? { optional: true } : {}),
      })),
    })),
  });
}
