/**
 * What a build was told to build with (-B, -b, --run-image), remembered per project so that a
 * bare `locald build` builds the same way again, and written into project.toml on request
 * (`--save`). The memory applies while project.toml is as it was: once it changes, it decides.
 */
import { join, relative } from "../util/path.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import { isDir, readTextIfExists, writeFileAtomic } from "../util/fs.ts";
import { sha256HexSync } from "../util/sha256.ts";
import { parseToml, toToml } from "../config/toml.ts";
import { localBuildpackPath } from "./buildpacks.ts";
import { isBuildpackId, localBuilderPath } from "./sources.ts";

export interface BuildChoice {
  builder?: string;
  /** As given, except local directories, which are absolute. */
  buildpacks: string[];
  runImage?: string;
  /** project.toml's digest when the choice was made (null: there was none). */
  projectToml: string | null;
}

const FILE = "build-options.json";

export function isEmpty(c: Pick<BuildChoice, "builder" | "buildpacks" | "runImage">): boolean {
  return !c.builder && !c.buildpacks.length && !c.runImage;
}

/** The choice as command-line flags, for messages. */
export function describeChoice(c: Pick<BuildChoice, "builder" | "buildpacks" | "runImage">) {
  return [
    ...(c.builder ? [`-B ${c.builder}`] : []),
    ...c.buildpacks.map((b) => `-b ${b}`),
    ...(c.runImage ? [`--run-image ${c.runImage}`] : []),
  ].join(" ");
}

export async function projectTomlDigest(projectDir: string): Promise<string | null> {
  const text = await readTextIfExists(join(projectDir, "project.toml")).catch(() => undefined);
  return text === undefined ? null : sha256HexSync(text);
}

export async function readChoice(stateDir: string): Promise<BuildChoice | undefined> {
  try {
    const c = JSON.parse(await Deno.readTextFile(join(stateDir, FILE)));
    return Array.isArray(c?.buildpacks) ? c as BuildChoice : undefined;
  } catch {
    return undefined;
  }
}

export async function writeChoice(stateDir: string, c: BuildChoice) {
  await writeFileAtomic(join(stateDir, FILE), JSON.stringify(c, null, 2) + "\n");
}

/** -B with a builder.toml path made absolute (a relative one is relative to `cwd`). */
export function absoluteBuilder(ref: string | undefined, cwd: string): string | undefined {
  return ref === undefined ? undefined : localBuilderPath(ref, cwd) ?? ref;
}

/** -b values with local directories made absolute (relative ones are relative to `cwd`). */
export async function absoluteBuildpacks(refs: string[], cwd: string): Promise<string[]> {
  const out: string[] = [];
  for (const ref of refs) {
    const local = localBuildpackPath(ref, cwd);
    out.push(local && !isBuildpackId(ref) && (await isDir(local)) ? local : ref);
  }
  return out;
}

/**
 * `--save`: the choice as project.toml's `[io.buildpacks]` builder and group. A missing file is
 * created; one that names no builder or buildpacks yet gets them (the rest of it is kept as
 * written, and the result is checked by parsing it); one that already names others is left
 * alone (exit 3, with the lines to put in it). Returns false when it already says exactly this.
 */
export async function saveChoice(
  projectDir: string,
  c: Pick<BuildChoice, "builder" | "buildpacks">,
  check = false,
): Promise<boolean> {
  const file = join(projectDir, "project.toml");
  const group = c.buildpacks.map((b) => {
    if (b.startsWith("/")) {
      const rel = relative(projectDir, b);
      return { uri: rel.startsWith("..") ? b : `./${rel}` };
    }
    if (!isBuildpackId(b)) return { uri: b };
    const [id, version] = b.split("@");
    return version ? { id, version } : { id };
  });
  // A builder.toml inside the project is saved relative to it, as project.toml reads it.
  const builderRel = c.builder?.startsWith("/") && relative(projectDir, c.builder);
  const builder = builderRel && !builderRel.startsWith("..") ? `./${builderRel}` : c.builder;
  const table = {
    ...(builder ? { builder } : {}),
    ...(group.length ? { group } : {}),
  };
  const snippet = toToml({ io: { buildpacks: table } }).replace(/^\[io\]\n+/, "");
  const text = await readTextIfExists(file);
  let body: string | undefined = `[_]\nschema-version = "0.2"\n\n${snippet}`;
  if (text !== undefined) {
    body = undefined;
    // deno-lint-ignore no-explicit-any
    const doc = parseToml(text, file) as any;
    const io = doc.io?.buildpacks;
    const same = io && !doc.build && io.builder === table.builder &&
      JSON.stringify(io.group ?? []) === JSON.stringify(group);
    if (same) return false;
    const sep = text.endsWith("\n") || !text ? "" : "\n";
    if (!io && !doc.build) body = `${text}${sep}\n${snippet}`;
    else if (io && !io.builder && !io.group && !doc.build) {
      // An [io.buildpacks] table without them (exclude, build.env): the builder goes under
      // its header, the group after everything; the rest stays as written.
      const lines = (text + sep).split("\n");
      const at = lines.findIndex((l) => /^\s*\[\s*io\.buildpacks\s*\]\s*(#.*)?$/.test(l));
      if (at !== -1) {
        if (table.builder) lines.splice(at + 1, 0, `builder = ${JSON.stringify(table.builder)}`);
        const groups = group.length ? toToml({ io: { buildpacks: { group } } }) : "";
        body = lines.join("\n") + (groups ? `\n${groups.replace(/^\[io\]\n+/, "")}` : "");
      }
    }
    // deno-lint-ignore no-explicit-any
    let saved: any;
    try {
      saved = body === undefined ? undefined : parseToml(body, file);
    } catch { /* not written then */ }
    const ok = saved !== undefined && saved.io?.buildpacks?.builder === table.builder &&
      JSON.stringify(saved.io?.buildpacks?.group ?? []) === JSON.stringify(group);
    if (!ok || body === undefined) {
      throw new LocaldError(`${file} already names how to build; locald does not rewrite it`, {
        details: ["to build this way, put these lines in it:", ...snippet.trim().split("\n")],
        hint: "edit project.toml yourself, or build with -B/-b without --save",
        exitCode: ExitCode.input,
      });
    }
  }
  if (check) return true;
  await writeFileAtomic(file, body!);
  return true;
}
