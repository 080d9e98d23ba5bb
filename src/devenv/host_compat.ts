/**
 * A host build whose programs this host cannot load: after a command failed, say so in one
 * line with the way out (`locald build --stack`) instead of leaving the user with a loader error
 * from deep inside a tool (`GLIBC_2.38' not found`, `No such file or directory` for a loader
 * that is not there). Loaded only once a command has failed; nothing on the way to a command.
 *
 * What is judged (src/hosts/compat.ts): the program the command named, found as the launcher
 * finds it (the layers' bin directories, then PATH); when that one loads, the other programs of
 * the launch layers' bin directories (a script that runs one of them); and, when the build
 * record knows the stack's run image and it is extracted, that image's C library.
 */
import { ExitCode, LocaldError } from "../errors.ts";
import { join } from "../util/path.ts";
import type { DevEnv } from "./dev_env.ts";
import { programVerdict, stackVerdict, type SystemFacts } from "../hosts/compat.ts";
import { programNeeds, systemFacts } from "../hosts/compat_facts.ts";

/** Programs looked at in the layers' bin directories at most (a failure's cost stays small). */
const MAX_PROGRAMS = 256;

/** Where this host's loader looks for libraries by default (Debian's and others' layouts). */
const SYSTEM_LIB_DIRS = [
  "/lib/x86_64-linux-gnu",
  "/usr/lib/x86_64-linux-gnu",
  "/lib/aarch64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
  "/lib64",
  "/usr/lib64",
  "/lib",
  "/usr/lib",
  "/usr/local/lib",
];

/** The directories /etc/ld.so.conf.d adds (one level; `include` lines are not followed). */
function ldSoConfDirs(): string[] {
  const out: string[] = [];
  try {
    for (const e of Deno.readDirSync("/etc/ld.so.conf.d")) {
      if (!e.name.endsWith(".conf")) continue;
      const text = Deno.readTextFileSync(`/etc/ld.so.conf.d/${e.name}`);
      for (const l of text.split("\n")) if (l.trim().startsWith("/")) out.push(l.trim());
    }
  } catch { /* none */ }
  return out;
}

function isFile(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

/** The launch layers' bin directories, in the build's order. */
function layerBins(layersDir: string): string[] {
  const out: string[] = [];
  const dirs = (p: string) => {
    try {
      return [...Deno.readDirSync(p)].filter((e) => e.isDirectory).map((e) => e.name).sort();
    } catch {
      return [];
    }
  };
  for (const bp of dirs(layersDir)) {
    for (const layer of dirs(join(layersDir, bp))) {
      const bin = join(layersDir, bp, layer, "bin");
      try {
        if (Deno.statSync(bin).isDirectory) out.push(bin);
      } catch { /* none */ }
    }
  }
  return out;
}

/** `name` as the launcher's PATH finds it: the layers' bins first, then the user's PATH. */
async function findProgram(
  name: string,
  bins: string[],
  path: string | undefined,
  cwd: string,
): Promise<string | undefined> {
  if (name.includes("/")) return name.startsWith("/") ? name : join(cwd, name);
  for (const dir of [...bins, ...(path ?? "").split(":").filter(Boolean)]) {
    const p = join(dir, name);
    try {
      if ((await Deno.stat(p)).isFile) return p;
    } catch { /* not here */ }
  }
  return undefined;
}

/**
 * The one-line error for a failed command whose programs this host cannot load, or undefined
 * (the failure is the command's own). `code`: the command's exit code, kept.
 */
export async function hostCannotRun(
  d: DevEnv,
  program: string | undefined,
  env: Record<string, string>,
  cwd: string,
  code: number,
  host?: SystemFacts,
): Promise<LocaldError | undefined> {
  host ??= await systemFacts("/");
  const bins = layerBins(d.rec.layersDir);
  // Where the loader finds libraries: the layers' lib/ (on LD_LIBRARY_PATH), then the system's.
  const libDirs = [
    ...bins.map((b) => b.replace(/\/bin$/, "/lib")),
    ...(env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean),
    ...SYSTEM_LIB_DIRS,
    ...ldSoConfDirs(),
  ];
  const reasons: string[] = [];
  const first = program ? await findProgram(program, bins, env.PATH, cwd) : undefined;
  // "bad": the host cannot load it; "ok": it loads (the failure is its own); else not ELF.
  const judge = (p: string): "bad" | "ok" | undefined => {
    const needs = programNeeds(p);
    if (!needs) return undefined;
    const v = programVerdict(host!, needs);
    const name = p.slice(p.lastIndexOf("/") + 1);
    if (!v.ok) {
      reasons.push(`${name}: ${v.reasons[0]}`);
      return "bad";
    }
    const lost = needs.needed.find((lib) => !libDirs.some((dir) => isFile(join(dir, lib))));
    if (lost === undefined) return "ok";
    reasons.push(`${name}: it needs ${lost}, which this host does not have`);
    return "bad";
  };
  // A program that loads failed on its own; a script (or a name not found) may run one that
  // does not: the layers' programs are looked at.
  if (!first || judge(first) === undefined) {
    let n = 0;
    outer: for (const bin of bins) {
      for (const e of [...Deno.readDirSync(bin)].sort((a, b) => a.name < b.name ? -1 : 1)) {
        if (++n > MAX_PROGRAMS) break outer;
        if ((e.isFile || e.isSymlink) && judge(join(bin, e.name)) === "bad") break outer;
      }
    }
  }
  const run = d.rec.stack?.runImage;
  if (!reasons.length && run) {
    try {
      const v = stackVerdict(host, await systemFacts(run.root));
      if (!v.ok) reasons.push(v.reasons[0]);
    } catch { /* not extracted: nothing to say */ }
  }
  if (!reasons.length) return undefined;
  const from = d.rec.runImage ? ` (the stack of ${d.rec.runImage})` : "";
  return new LocaldError(
    `this host cannot run the programs the build installed${from}: ${reasons[0]}`,
    {
      hint: d.rec.runImage
        ? `build in the stack's images instead: \`locald build --stack${
          d.projectDir === Deno.cwd() ? "" : ` -C ${d.projectDir}`
        }\` (exec, run and shell then run in the run image)`
        : "the buildpacks installed programs built for another system; build with a builder " +
          "and `--stack` to run them in its images",
      exitCode: code || ExitCode.failure,
    },
  );
}
