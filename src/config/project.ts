/**
 * project.toml, the CNB project descriptor, read the way pack reads it: schema 0.2
 * (`[_]`, `[io.buildpacks]`) and the legacy 0.1 layout (`[build]`).
 */
import { join } from "../util/path.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import { readTextIfExists } from "../util/fs.ts";
import { parseUserland, type UserlandSetting } from "./defaults.ts";
import { envValueProblem, isEnvName } from "../util/names.ts";
import { locate, parseToml, type TomlTable } from "./toml.ts";

export interface GroupEntry {
  id?: string;
  version?: string;
  uri?: string;
}

export interface ProjectDescriptor {
  /** Absolute path of project.toml, if there was one. */
  file?: string;
  builder?: string;
  group: GroupEntry[];
  /** `exec-env` (RFC 0134): the entry applies only in these execution environments. */
  env: { name: string; value: string; execEnv?: string[] }[];
  exclude: string[];
  include: string[];
  /**
   * `[dev.locald] exec-env`: the execution environment of development builds (locald's own
   * table; the descriptor spec has no key for it). Default: development.
   */
  devExecEnv?: string;
  /** `[dev.locald] userland`: where this project's builds run (src/cnb/userland.ts). */
  userland?: UserlandSetting;
}

/** An execution environment's name (production, test, development, or another word). */
export const EXEC_ENV = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Whether an `exec-env` list admits `env` (none, "all" or "*" admit every one). */
export function forExecEnv(list: string[] | undefined, env: string): boolean {
  return !list?.length || list.some((e) => e === env || e === "*" || e === "all");
}

const EMPTY: ProjectDescriptor = { group: [], env: [], exclude: [], include: [] };

export async function loadProject(dir: string, name = "project.toml"): Promise<ProjectDescriptor> {
  const file = join(dir, name);
  const text = await readTextIfExists(file).catch((e) => {
    throw new LocaldError(`cannot read ${file}: ${(e as Error).message}`, {
      hint: "check the file's permissions",
      exitCode: ExitCode.input,
    });
  });
  if (text === undefined) return { ...EMPTY };
  return parseProject(text, file);
}

export function parseProject(text: string, file: string): ProjectDescriptor {
  const doc = parseToml(text, file);
  const bad = (key: string, what: string): never => {
    throw new LocaldError(`${file}:${locate(text, key.split(".").pop()!)}: ${key} ${what}`, {
      hint: "see https://buildpacks.io/docs/reference/config/project-descriptor/",
      exitCode: ExitCode.input,
    });
  };
  const table = (v: unknown, key: string): TomlTable | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== "object" || v === null || Array.isArray(v)) bad(key, "must be a table");
    return v as TomlTable;
  };
  const str = (v: unknown, key: string): string | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== "string") bad(key, "must be a string");
    return v as string;
  };
  const arr = (v: unknown, key: string): unknown[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v)) bad(key, "must be an array");
    return v as unknown[];
  };
  const strings = (v: unknown, key: string) =>
    arr(v, key).map((s, i) => str(s, `${key}[${i}]`) as string);

  const io = table(table(doc.io, "io")?.buildpacks, "io.buildpacks");
  const mine = table(table(doc.dev, "dev")?.locald, "dev.locald");
  const legacy = table(doc.build, "build");
  const out: ProjectDescriptor = { file, group: [], env: [], exclude: [], include: [] };

  const src = io ?? legacy;
  const prefix = io ? "io.buildpacks" : "build";
  const devExecEnv = str(mine?.["exec-env"], "dev.locald.exec-env");
  if (devExecEnv !== undefined) {
    if (!EXEC_ENV.test(devExecEnv)) bad("dev.locald.exec-env", "must be a name like test");
    out.devExecEnv = devExecEnv;
  }
  const userland = mine?.userland;
  if (userland !== undefined) {
    const u = parseUserland(userland);
    if (!u) bad("dev.locald.userland", 'must be "auto", "stack" or "host"');
    out.userland = u;
  }
  if (!src) return out;
  out.builder = str(src.builder, `${prefix}.builder`);
  out.exclude = strings(src.exclude, `${prefix}.exclude`);
  out.include = strings(src.include, `${prefix}.include`);
  if (out.exclude.length && out.include.length) {
    bad(`${prefix}.include`, "cannot be used together with exclude");
  }
  const groupKey = io ? "group" : "buildpacks";
  arr(src[groupKey], `${prefix}.${groupKey}`).forEach((g, i) => {
    const k = `${prefix}.${groupKey}[${i}]`;
    const t = table(g, k)!;
    const e: GroupEntry = {
      id: str(t.id, `${k}.id`),
      version: str(t.version, `${k}.version`),
      uri: str(t.uri, `${k}.uri`),
    };
    if (!e.id && !e.uri) bad(k, "needs an id or a uri");
    out.group.push(e);
  });
  const envList = io ? table(src.build, `${prefix}.build`)?.env : src.env;
  arr(envList, `${prefix}.build.env`).forEach((g, i) => {
    const k = `${prefix}.build.env[${i}]`;
    const t = table(g, k)!;
    const name = str(t.name, `${k}.name`);
    if (!name) bad(k, "needs a name");
    // The name becomes a file under platform/env: the same rule as -e, whatever the source.
    if (!isEnvName(name!)) {
      bad(`${k}.name`, `${JSON.stringify(name)} is not a variable name (letters, digits, _)`);
    }
    const value = str(t.value, `${k}.value`) ?? "";
    const problem = envValueProblem(name!, value);
    if (problem) bad(`${k}.value`, problem);
    const only = t["exec-env"];
    const execEnv = typeof only === "string"
      ? [only]
      : only === undefined
      ? undefined
      : strings(only, `${k}.exec-env`);
    out.env.push({ name: name!, value, ...(execEnv ? { execEnv } : {}) });
  });
  return out;
}
