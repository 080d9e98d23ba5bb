/**
 * Buildpacks on disk: read buildpack.toml, lay them out the way the lifecycle expects
 * (`<buildpacks>/<escaped id>/<version>/`) and write order.toml. A builder image (src/oci/)
 * feeds the same shape: a directory of buildpacks plus an order.
 */
import { isAbsolute, join, resolve } from "../util/path.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import { parseToml, toToml } from "../config/toml.ts";
import { childPath } from "../util/names.ts";
import { goArch, hostTarget } from "../hosts/target.ts";
import { isDir } from "../util/fs.ts";

export interface Buildpack {
  id: string;
  version: string;
  api: string;
  /** Directory holding buildpack.toml and bin/. */
  dir: string;
  /** Set for composite (meta) buildpacks. */
  order?: { group: { id: string; version?: string; optional?: boolean }[] }[];
  /**
   * Multi-platform layout (`linux/amd64/bin/detect`, or a target's `path`): the platform root
   * folder for this machine, laid over `dir` when the buildpacks directory is written, as
   * `pack buildpack package` flattens it.
   */
  platformDir?: string;
  /** `[buildpack] exec-env` (Buildpack API 0.12): the execution environments it builds for. */
  execEnv?: string[];
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
  const order = Array.isArray(doc.order) ? doc.order : undefined;
  const root = resolve(dir);
  return {
    id,
    version,
    api: String(doc.api ?? "0.7"),
    dir: root,
    order,
    platformDir: order ? undefined : await platformRoot(root, doc.targets, shownAs),
    execEnv: Array.isArray(doc.buildpack["exec-env"])
      ? doc.buildpack["exec-env"].map(String)
      : undefined,
  };
}

/**
 * Where a buildpack keeps bin/ for this machine. A buildpack with bin/ at its root needs none;
 * a multi-platform one (RFC 0128) has `<os>/<arch>[/<variant>][/<distro>@<version>]/bin`, or
 * names the folder with a target's `path`. Only linux targets can run here (the phases run on
 * Linux, natively or in the VM).
 */
async function platformRoot(
  root: string,
  targets: unknown,
  shownAs: string,
): Promise<string | undefined> {
  if (await isDir(join(root, "bin"))) return undefined;
  const arch = goArch(Deno.build.arch);
  const list = Array.isArray(targets) ? targets as Record<string, unknown>[] : [];
  for (const t of list) {
    if (
      t.os === "linux" && (t.arch === undefined || t.arch === arch) && typeof t.path === "string"
    ) {
      const p = resolve(root, t.path);
      if (!p.startsWith(`${root}/`) && p !== root) continue; // a name from a file stays inside
      if (await isDir(join(p, "bin"))) return p;
    }
  }
  const base = join(root, "linux", arch);
  if (await isDir(join(base, "bin"))) return base;
  // Variant and distribution folders below: the one with bin/ (one level or two).
  const found: string[] = [];
  for (const a of await subdirs(base)) {
    if (await isDir(join(base, a, "bin"))) found.push(join(base, a));
    else {
      for (const b of await subdirs(join(base, a))) {
        if (await isDir(join(base, a, b, "bin"))) found.push(join(base, a, b));
      }
    }
  }
  if (found.length === 1) return found[0];
  // Distribution folders (`<name>@<version>`): the binaries run here, so this system's.
  if (found.length > 1) {
    const distro = (await hostTarget()).distro;
    const mine = distro && found.filter((f) => f.endsWith(`/${distro.name}@${distro.version}`));
    if (mine && mine.length === 1) return mine[0];
  }
  const hasLinux = await isDir(join(root, "linux"));
  if (!hasLinux && !found.length) return undefined; // not multi-platform: the lifecycle says why
  throw new LocaldError(
    found.length
      ? `${shownAs} has several linux/${arch} folders with bin/ (${
        found.map((f) => f.slice(root.length + 1)).join(", ")
      }) and no target path choosing one`
      : `${shownAs} is a multi-platform buildpack without a linux/${arch} build ` +
        `(no bin/ at its root or under linux/${arch}/)`,
    {
      hint: found.length
        ? "name the folder with `path` in the buildpack.toml [[targets]] entry for this machine"
        : `add linux/${arch}/bin/detect and bin/build, or use the buildpack on a machine it supports`,
      exitCode: ExitCode.unsupported,
    },
  );
}

async function subdirs(p: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(p))).filter((e) => e.isDirectory).map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

/**
 * A buildpack whose Buildpack API the lifecycle does not support fails before anything runs,
 * naming the range (the lifecycle would stop at detect with a generic error).
 */
export function assertBuildpackApi(
  bp: { id: string; version: string; api: string },
  supported: string[],
  lifecycleVersion: string,
) {
  if (!supported.length || supported.includes(bp.api)) return;
  throw unsupportedBuildpackApi(`${bp.id}@${bp.version}`, bp.api, supported, lifecycleVersion);
}

export function unsupportedBuildpackApi(
  name: string,
  api: string,
  supported: string[],
  lifecycleVersion: string,
): LocaldError {
  const range = supported.length > 1
    ? `${supported[0]} to ${supported.at(-1)}`
    : supported[0] ?? "none listed";
  return new LocaldError(
    `buildpack ${name} uses Buildpack API ${api}; lifecycle ${lifecycleVersion} supports ` +
      `Buildpack APIs ${range}`,
    {
      hint: `use a version of the buildpack written for Buildpack API ${range}, or update its ` +
        "buildpack.toml `api` and code to one of them",
      exitCode: ExitCode.unsupported,
    },
  );
}

/** A -b value or a project.toml uri that names a local directory, resolved against `base`. */
export function localBuildpackPath(ref: string, base: string): string | undefined {
  let p = ref;
  if (p.startsWith("file://")) p = decodeURIComponent(new URL(p).pathname);
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p) || /^urn:/i.test(p)) return undefined;
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
  // Synchronous calls for the links (a builder brings dozens of buildpacks; each await is a
  // thread's round trip).
  const removeSync = (p: string) => {
    try {
      Deno.removeSync(p, { recursive: true });
    } catch { /* not there */ }
  };
  removeSync(dir);
  const links = [
    ...more,
    ...bps.map((bp) => ({
      rel: `${escapeId(bp.id)}/${bp.version}`,
      path: bp.dir,
      platformDir: bp.platformDir,
    })),
  ];
  for (
    const { rel, path, platformDir } of links as {
      rel: string;
      path: string;
      platformDir?: string;
    }[]
  ) {
    // `<escaped id>/<version>`: both parts come from buildpack.toml files or image trees.
    const cut = rel.indexOf("/");
    const idDir = childPath(dir, rel.slice(0, cut), "buildpack id");
    const link = childPath(idDir, rel.slice(cut + 1), "buildpack version");
    Deno.mkdirSync(join(link, ".."), { recursive: true });
    removeSync(link);
    if (platformDir) {
      // Multi-platform: the root's files (buildpack.toml, package.toml, ...) but not its
      // <os> folders, then the platform root folder's entries over them.
      Deno.mkdirSync(link);
      const entries = new Map<string, string>();
      for (const e of Deno.readDirSync(path)) {
        if (!["linux", "windows", "darwin"].includes(e.name)) {
          entries.set(e.name, join(path, e.name));
        }
      }
      for (const e of Deno.readDirSync(platformDir)) {
        entries.set(e.name, join(platformDir, e.name));
      }
      for (const [name, from] of entries) {
        if (opts.copy) {
          if (Deno.statSync(from).isDirectory) await copyTree(from, join(link, name), name);
          else Deno.copyFileSync(from, join(link, name));
        } else Deno.symlinkSync(from, join(link, name));
      }
      continue;
    }
    // Where the phases cannot follow a link locald creates (WSL, written from Windows): a copy.
    if (opts.copy) await copyTree(path, link);
    else Deno.symlinkSync(path, link);
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

/** Every `<escaped id>/<version>` directory under the given trees. */
export async function treeBuildpacks(trees: string[]): Promise<{ rel: string; path: string }[]> {
  const out: { rel: string; path: string }[] = [];
  for (const t of trees) {
    let ids: Deno.DirEntry[];
    try {
      ids = await Array.fromAsync(Deno.readDir(t));
    } catch {
      continue;
    }
    for (const id of ids) {
      if (!id.isDirectory) continue;
      for await (const v of Deno.readDir(join(t, id.name))) {
        out.push({ rel: `${id.name}/${v.name}`, path: join(t, id.name, v.name) });
      }
    }
  }
  return out;
}
