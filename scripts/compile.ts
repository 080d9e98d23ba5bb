/**
 * Builds locald's release binaries, archives and SHA256SUMS.
 *
 *   deno task compile [--version X.Y.Z] [--target TRIPLE|OS-ARCH]... [--out DIR]
 *
 * For each target: dist/locald-<os>-<arch>[.exe], dist/locald-<os>-<arch>.tar.gz (holding
 * `locald`) or .zip for Windows (holding `locald.exe`), and one dist/SHA256SUMS over the
 * archives. Without --target, all five targets.
 *
 * Version: --version, else the exact `v*` tag on HEAD, else "<src/version.ts>+g<commit>".
 * The working tree is never modified: the modules of main.ts's graph (from `deno info`) are
 * copied to a staging directory, src/version.ts is stamped there, and that copy is compiled.
 * A module the graph names but the tree lacks (a registry entry without its file) stops the
 * build, since the binary would fail on that command.
 *
 * Everything the program needs is reached through imports (templates and checksum pins are
 * modules), so `deno compile` embeds it; nothing is read from the repository at run time.
 *
 * Runtime: `deno compile` downloads `denort` for each target from dl.deno.land. DENORT_BIN
 * names a local denort instead; it is one target's runtime, so it needs exactly one --target.
 *
 * V8 flags: the binary carries scripts/release/project.ts's V8_FLAGS (a small young generation:
 * bench/results/oci_pull.md), the same ones the benchmarks run main.ts with.
 *
 * Permissions: the binary is compiled with -A. locald exists to spawn processes (the CNB
 * lifecycle, bwrap, limactl, wsl.exe, and whatever the user passes to `exec`, `run` and
 * `shell`), and a spawned process runs outside Deno's sandbox. So --allow-run alone already
 * grants everything the other flags would restrict; an explicit list would only add ways to
 * fail (a new env variable or path that is not listed) without confining anything.
 */
import { parseArgs } from "node:util";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  archiveName,
  binaryName,
  type Target,
  TARGETS,
  v8FlagsArg,
  VERSION_RE,
} from "./release/project.ts";
import { writeSha256Sums, writeTarGz, writeZip } from "./release/archive.ts";

const repo = fileURLToPath(new URL("../", import.meta.url));
const versionFile = join(repo, "src", "version.ts");
const VERSION_LINE = /^export const VERSION = "[^"]*";$/m;

export class CompileError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
  }
}

const dec = new TextDecoder();
// deno-lint-ignore no-control-regex
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

async function git(...args: string[]): Promise<string | undefined> {
  try {
    const o = await new Deno.Command("git", { args, cwd: repo, stderr: "null" }).output();
    return o.success ? dec.decode(o.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

export async function resolveVersion(flag: string | undefined): Promise<string> {
  if (flag !== undefined) {
    const v = flag.replace(/^v/, "");
    if (!VERSION_RE.test(v)) {
      throw new CompileError(`--version ${flag} is not a version`, "use X.Y.Z, e.g. 1.2.3");
    }
    return v;
  }
  const tag = await git("describe", "--tags", "--exact-match", "--match", "v*", "HEAD");
  if (tag && VERSION_RE.test(tag.slice(1))) return tag.slice(1);
  const current = (await Deno.readTextFile(versionFile)).match(/VERSION = "([^"]*)"/)?.[1];
  const sha = await git("rev-parse", "--short=9", "HEAD");
  return `${current ?? "0.0.0-dev"}${sha ? `+g${sha}` : ""}`;
}

export function resolveTargets(names: string[], denortBin: string | undefined): Target[] {
  const chosen = names.length ? names.map(findTarget) : TARGETS;
  if (denortBin && chosen.length !== 1) {
    throw new CompileError(
      `DENORT_BIN is set (${denortBin}) but ${chosen.length} targets were asked for`,
      "DENORT_BIN is one target's runtime: pass exactly one --target with it",
    );
  }
  return chosen;
}

function findTarget(name: string): Target {
  const t = TARGETS.find((t) => t.triple === name || `${t.os}-${t.arch}` === name);
  if (!t) {
    throw new CompileError(
      `unknown target "${name}"`,
      `use one of: ${TARGETS.map((t) => t.triple).join(", ")}`,
    );
  }
  return t;
}

/**
 * Copies main.ts's module graph, deno.json and deno.lock into `stage`, with VERSION stamped
 * into the copy of src/version.ts (and deno.json without lazy-dynamic-imports). Returns the
 * staged main.ts.
 */
export async function stageSources(version: string, stage: string): Promise<string> {
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", join(repo, "main.ts")],
    cwd: repo,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!info.success) {
    throw new CompileError(
      `deno info main.ts failed: ${stripAnsi(dec.decode(info.stderr)).trim()}`,
    );
  }
  const graph = JSON.parse(dec.decode(info.stdout)) as {
    modules: { specifier: string; error?: string }[];
  };
  const broken = graph.modules.filter((m) => m.error).map((m) =>
    m.specifier.startsWith("file:") ? relative(repo, fileURLToPath(m.specifier)) : m.specifier
  );
  if (broken.length) {
    throw new CompileError(
      `main.ts imports modules that cannot be loaded: ${broken.join(", ")}`,
      "every command in src/cli/registry.ts needs its module; run `deno info main.ts`",
    );
  }
  const files = graph.modules.map((m) => m.specifier).filter((s) => s.startsWith("file:"))
    .map((s) => fileURLToPath(s));
  for (const f of [...files, join(repo, "deno.json"), join(repo, "deno.lock")]) {
    const rel = relative(repo, f);
    if (rel.startsWith("..")) throw new CompileError(`${f} is outside the repository`);
    await Deno.mkdir(dirname(join(stage, rel)), { recursive: true });
    await Deno.copyFile(f, join(stage, rel));
  }
  // deno.json asks `deno run` to load a command's modules only when its import runs
  // (unstable lazy-dynamic-imports); `deno compile` then leaves them out of the binary, so the
  // staged copy drops that: the binary embeds every command and still evaluates each lazily.
  const config = join(stage, "deno.json");
  const json = JSON.parse(await Deno.readTextFile(config));
  json.unstable = (json.unstable ?? []).filter((u: string) => u !== "lazy-dynamic-imports");
  if (!json.unstable.length) delete json.unstable;
  await Deno.writeTextFile(config, JSON.stringify(json, null, 2) + "\n");
  const stagedVersion = join(stage, relative(repo, versionFile));
  const original = await Deno.readTextFile(stagedVersion);
  if (!VERSION_LINE.test(original)) {
    throw new CompileError(`${versionFile} has no \`export const VERSION = "...";\` line`);
  }
  await Deno.writeTextFile(
    stagedVersion,
    original.replace(VERSION_LINE, `export const VERSION = ${JSON.stringify(version)};`),
  );
  return join(stage, "main.ts");
}

/** Turns `deno compile`'s multi-line failure into one line and a hint. */
export function explainCompileFailure(
  stderr: string,
  target: Target,
  denortBin: string | undefined,
): CompileError {
  const text = stripAnsi(stderr);
  const causes = text.split("\n")
    .map((l) => l.match(/^\s+\d+: (.+)$/)?.[1]?.trim())
    .filter((l): l is string => !!l);
  const first = text.split("\n").find((l) => /^error: /.test(l))?.replace(/^error: /, "") ??
    "deno compile failed";
  const runtimeStep = /Setting up base binary|denort|Writing binary bytes/i.test(text);
  const detail = causes.find((c) => !/^(Setting up base binary|Writing binary bytes)\.?$/.test(c));
  if (runtimeStep && denortBin) {
    return new CompileError(
      `DENORT_BIN=${denortBin} is not a usable runtime for ${target.triple}: ${detail ?? first}`,
      `point DENORT_BIN at the denort ${Deno.version.deno} build for ${target.triple}`,
    );
  }
  if (runtimeStep) {
    return new CompileError(
      `cannot get the Deno runtime (denort ${Deno.version.deno}) for ${target.triple}: ` +
        (detail ?? first),
      `deno compile downloads it from dl.deno.land: allow that host, or set DENORT_BIN to a ` +
        `local denort and pass --target ${target.triple}`,
    );
  }
  return new CompileError(`deno compile failed for ${target.triple}: ${detail ?? first}`);
}

async function compileTarget(
  target: Target,
  entry: string,
  dist: string,
  denortBin: string | undefined,
): Promise<string> {
  const final = join(dist, binaryName(target));
  const staging = await Deno.makeTempDir({ dir: dist, prefix: ".compile-" });
  try {
    const tmp = join(staging, binaryName(target));
    const env: Record<string, string> = { NO_COLOR: "1" };
    if (denortBin) env.DENORT_BIN = denortBin;
    const o = await new Deno.Command(Deno.execPath(), {
      args: [
        "compile",
        "-A",
        "--no-check", // checked once for all targets before this
        "--frozen-lockfile",
        "--exclude-unused-npm",
        v8FlagsArg(),
        "--target",
        target.triple,
        "--output",
        tmp,
        entry,
      ],
      cwd: dirname(entry),
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!o.success) throw explainCompileFailure(dec.decode(o.stderr), target, denortBin);
    await Deno.rename(tmp, final);
    return final;
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}

/** The archive for one compiled binary, named for the release. */
export async function packageTarget(
  target: Pick<Target, "os" | "arch">,
  binary: string,
  dist: string,
  mtime: Date,
): Promise<string> {
  const data = await Deno.readFile(binary);
  const path = join(dist, archiveName(target));
  if (target.os === "windows") await writeZip(path, "locald.exe", data, mtime);
  else await writeTarGz(path, "locald", data, mtime);
  return path;
}

async function sourceDate(env: Record<string, string>): Promise<Date> {
  const epoch = env.SOURCE_DATE_EPOCH ?? await git("log", "-1", "--format=%ct");
  const n = Number(epoch);
  return epoch && Number.isFinite(n) ? new Date(n * 1000) : new Date();
}

export async function compile(argv: string[], env: Record<string, string>): Promise<string[]> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        version: { type: "string" },
        target: { type: "string", multiple: true, default: [] },
        out: { type: "string", default: join(repo, "dist") },
      },
    });
  } catch (e) {
    throw new CompileError((e as Error).message, "see the usage at the top of scripts/compile.ts");
  }
  const denortBin = env.DENORT_BIN || undefined;
  const targets = resolveTargets(parsed.values.target, denortBin);
  const version = await resolveVersion(parsed.values.version);
  const dist = resolve(parsed.values.out);
  await Deno.mkdir(dist, { recursive: true });
  const mtime = await sourceDate(env);
  console.error(`compile: locald ${version} with deno ${Deno.version.deno}`);

  const check = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--frozen-lockfile", join(repo, "main.ts")],
    cwd: repo,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!check.success) throw new CompileError("deno check main.ts failed (see above)");

  const archives: string[] = [];
  const stage = await Deno.makeTempDir({ prefix: "locald-compile-" });
  try {
    const entry = await stageSources(version, stage);
    for (const t of targets) {
      console.error(`compile: ${t.triple}`);
      const bin = await compileTarget(t, entry, dist, denortBin);
      archives.push(await packageTarget(t, bin, dist, mtime));
    }
  } finally {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
  }
  const sums = await writeSha256Sums(dist, archives);
  for (const a of archives) console.error(`compile: wrote ${a}`);
  console.error(`compile: wrote ${sums}`);
  return archives;
}

if (import.meta.main) {
  try {
    await compile(Deno.args, Deno.env.toObject());
  } catch (e) {
    if (!(e instanceof CompileError)) throw e;
    console.error(`compile: ${e.message}`);
    if (e.hint) console.error(`hint: ${e.hint}`);
    Deno.exit(1);
  }
}
