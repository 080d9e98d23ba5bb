/**
 * Scale series (issue 15): what locald costs as the source tree grows, each figure a ratio
 * against a floor measured in the same run on the same tree. Trees from bench/lib/tree.ts at
 * 1k, 10k and 100k files, "flat" and node_modules-like, with and without .gitignore files, each
 * inside a copy of the everything fixture app built with the everything buildpack.
 *
 *  1. no-op `locald build` against `find -printf '%p %s %m %T@\n' | sha256sum` of the tree
 *     (the same metadata, walked and hashed by C programs); also the no-op build of the 2-file
 *     fixture app, so the tree-dependent part shows on its own (the "marginal" ratio), and
 *     the least a Deno program does to read the same metadata (bench/lib/min_walk.ts);
 *  2. exec, env, shell -c, run on the tree against the same command on the 2-file app;
 *  3. a one-file-change rebuild: locald's own share (wall time minus the lifecycle phases it
 *     reports in --json) against its no-op build;
 *  4. the fingerprint walk's peak memory (max RSS of a program that only walks) against the
 *     same program walking nothing.
 * And once: `locald exec -- true` on the 2-file app against a Deno program that only spawns
 * the launcher (bench/lib/spawn_launcher.ts).
 *
 * Run: deno run -A bench/scale.ts [--sizes 1000,10000,100000] [--runs N]
 * Needs hyperfine and the test tools (scripts/test-tools.sh). Writes bench/results/scale.md.
 *
 * `--only change` runs part 3 alone (bench/results/scale-rebuild.md), against the no-op build
 * that follows each rebuild (it settles the record, see src/cnb/build.ts) and the one after it;
 * `--only env` runs part 2 alone (bench/results/scale-env.md), `--only noop` part 1 alone
 * (bench/results/scale-noop.md); with any of them, `--baseline DIR`
 * measures another checkout's locald the same way in the same rounds.
 */
import { join } from "node:path";
import { benchEnv } from "./lib/env.ts";
import { makeTree, type Shape } from "./lib/tree.ts";
import { median } from "./lib/stats.ts";
import { paired } from "./lib/paired.ts";
import { v8FlagsArg } from "../scripts/release/project.ts";
import { checkoutName } from "./lib/checkout.ts";
import { argValue } from "./lib/args.ts";

/** The release binary's V8 flags: locald and the Deno floors it is measured against run with them. */
const V8 = v8FlagsArg();

const REPO = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const OUT = join(REPO, "bench", "results");
const DENO = Deno.execPath();
const SIZES = (argValue("--sizes") ?? "1000,10000,100000").split(",").map(Number);
const RUNS = Number(argValue("--runs") ?? 10);
const SHAPES: Shape[] = ["flat", "node"];
const ONLY = argValue("--only");
const BASELINE = argValue("--baseline");

const root = await Deno.makeTempDir({ prefix: "locald-bench-scale-" });
const env = await benchEnv(root);
const home = env.LOCALD_HOME;
const locald = `${DENO} run -A --quiet ${V8} ${REPO}/main.ts`;
const BP = join(REPO, "tests/fixtures/buildpacks/everything");
const APP = join(REPO, "tests/fixtures/apps/everything");
const dec = new TextDecoder();

interface Hf {
  command: string;
  median: number;
  /** Means of user and system CPU time (the machine's load moves these less than wall time). */
  user: number;
  system: number;
}
const cpu = (h: Hf) => h.user + h.system;

async function hyperfine(cmds: Record<string, string>, runs = RUNS): Promise<Record<string, Hf>> {
  const json = join(root, "hf.json");
  const args = ["--export-json", json, "--style", "none", "-N", "--warmup", "1"];
  args.push("--runs", String(runs));
  for (const [label, cmd] of Object.entries(cmds)) args.push("-n", label, cmd);
  const p = await new Deno.Command("hyperfine", { args, env, clearEnv: true }).output();
  if (!p.success) throw new Error(`hyperfine failed: ${dec.decode(p.stderr)}`);
  const res = JSON.parse(await Deno.readTextFile(json)).results as Hf[];
  return Object.fromEntries(res.map((r) => [r.command, r]));
}

async function run(argv: string[]): Promise<{ stdout: string; ms: number }> {
  const t = performance.now();
  const p = await new Deno.Command(argv[0], { args: argv.slice(1), env, clearEnv: true })
    .output();
  const ms = performance.now() - t;
  if (!p.success) throw new Error(`${argv.join(" ")}: ${dec.decode(p.stderr)}`);
  return { stdout: dec.decode(p.stdout), ms };
}

const build = (app: string, ...flags: string[]) =>
  run([...locald.split(" "), "build", "-C", app, "-b", BP, ...flags]);
const baselineLocald = BASELINE &&
  `${DENO} run -A --quiet ${V8} --config ${BASELINE}/deno.json ${BASELINE}/main.ts`;

interface Change {
  share: number;
  phases: number;
  /** The no-op build right after the rebuild, and the one after that. */
  settle: number;
  noop: number;
}

/**
 * One-file change against no-op, alternating; locald's share = wall - phases. Each variant
 * (this locald, and a baseline's on its own copy of the app) takes its turn in every round, so
 * the machine's load meets both alike.
 */
async function changeSeries(variants: { cli: string; app: string; changed: string }[], n: number) {
  const acc = variants.map(() => ({
    shares: [] as number[],
    phases: [] as number[],
    settles: [] as number[],
    noops: [] as number[],
  }));
  const b = (cli: string, app: string, ...flags: string[]) =>
    run([...cli.split(" "), "build", "-C", app, "-b", BP, ...flags]);
  for (const v of variants) await b(v.cli, v.app);
  for (let i = 0; i < n; i++) {
    for (const [k, v] of variants.entries()) {
      await Deno.writeTextFile(v.changed, `// change ${i}\n`, { append: true });
      const c = await b(v.cli, v.app, "--json");
      const d = JSON.parse(c.stdout).durationsMs as Record<string, number>;
      const p = Object.values(d).reduce((x, y) => x + y, 0);
      acc[k].shares.push(c.ms - p);
      acc[k].phases.push(p);
      acc[k].settles.push((await b(v.cli, v.app)).ms);
      acc[k].noops.push((await b(v.cli, v.app)).ms);
    }
  }
  return acc.map((a): Change => ({
    share: median(a.shares) / 1000,
    phases: median(a.phases) / 1000,
    settle: median(a.settles) / 1000,
    noop: median(a.noops) / 1000,
  }));
}

/** Max RSS in KiB of a command (GNU time). */
async function maxRss(argv: string[]): Promise<number> {
  const p = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "%M", ...argv],
    env,
    clearEnv: true,
    stdout: "null",
  }).output();
  const lines = dec.decode(p.stderr).trim().split("\n");
  return Number(lines.at(-1));
}

/** The median over paired rounds of one series' time over another's. */
const ratio = (a: number[], b: number[]) => median(a.map((x, i) => x / b[i]));
const ms = (s: number) => `${(s * 1000).toFixed(s < 0.1 ? 1 : 0)} ms`;
const r2 = (x: number) => x.toFixed(2);
const say = (s: string) => console.log(s);

async function copyApp(dest: string) {
  const p = await new Deno.Command("cp", { args: ["-r", APP, dest] }).output();
  if (!p.success) throw new Error(`cp ${APP}`);
}

interface NoopRow {
  tree: string;
  files: number;
  noop: number;
  small: number;
  floor: number;
  /** Deno's start-up: `deno run` of an empty program. */
  empty: number;
  /** The least a Deno program does to read the same metadata (bench/lib/min_walk.ts). */
  walk: number;
  /** Medians over the rounds of the no-op build's time over min_walk's (wall, CPU). */
  overWalk: number;
  cpuOverWalk: number;
  cpu: { noop: number; small: number; floor: number; walk: number };
  /** The baseline checkout's no-op builds (--baseline), in the same rounds. */
  base?: { noop: number; small: number };
}

interface Row extends NoopRow {
  env: Record<string, EnvCell>;
  share: number;
  phases: number;
  changeNoop: number;
  rss: number;
}

/** One environment command on the tree against the 2-file app, paired per round. */
interface EnvCell {
  tree: number;
  small: number;
  /** Medians over the rounds of the tree's run over the 2-file app's (wall, CPU). */
  ratio: number;
  cpuRatio: number;
  /** The baseline checkout's, in the same rounds. */
  base?: { tree: number; small: number; ratio: number };
}

const ENV_HOW = "Each cell: the command on the tree / on the 2-file app (medians of the rounds), " +
  "then the median of the rounds' ratios, wall (CPU time). Paired rounds: every command runs " +
  "once a round after one warm-up run, each round starting with another command. Goal <= 1.25.";

const ENV_FORMS: Record<string, (a: string) => string> = {
  "exec -- true": (a) => `exec -C ${a} -- true`,
  "env": (a) => `env -C ${a}`,
  "shell -c true": (a) => `shell -C ${a} -c true`,
  "run web": (a) => `run -C ${a} web`,
};

/**
 * The environment commands on the tree and on the 2-file app, in paired rounds (every command
 * once a round, each round starting with another one): the ratio is the median of the rounds'
 * ratios, so a load change meets both sides of it alike. With a baseline, its commands on its
 * own copies of both apps take their turns in the same rounds.
 */
async function envSeries(
  app: string,
  rounds: number,
  base?: { cli: string; app: string; small: string },
): Promise<Record<string, EnvCell>> {
  const cmds: Record<string, string> = {};
  for (const [k, f] of Object.entries(ENV_FORMS)) {
    cmds[`${k} (tree)`] = `${locald} ${f(app)}`;
    cmds[`${k} (small)`] = `${locald} ${f(small)}`;
    if (base) {
      cmds[`${k} (base tree)`] = `${base.cli} ${f(base.app)}`;
      cmds[`${k} (base small)`] = `${base.cli} ${f(base.small)}`;
    }
  }
  const p = await paired(cmds, rounds, env, join(root, "paired-env.json"));
  const res: Record<string, EnvCell> = {};
  for (const k of Object.keys(ENV_FORMS)) {
    const t = p[`${k} (tree)`], sm = p[`${k} (small)`];
    const bt = p[`${k} (base tree)`], bs = p[`${k} (base small)`];
    res[k] = {
      tree: t.median,
      small: sm.median,
      ratio: ratio(t.times, sm.times),
      cpuRatio: ratio(t.cpus, sm.cpus),
      base: bt && { tree: bt.median, small: bs.median, ratio: ratio(bt.times, bs.times) },
    };
    say(
      `${k}: ${ms(t.median)} vs ${ms(sm.median)} on the 2-file app: ${r2(res[k].ratio)}x ` +
        `(CPU ${r2(res[k].cpuRatio)}x)` +
        (bt ? `; baseline ${r2(res[k].base!.ratio)}x` : ""),
    );
  }
  return res;
}

const rows: Row[] = [];
const noopRows: NoopRow[] = [];
const envRows: { files: number; tree: string; env: Record<string, EnvCell> }[] = [];
const changeRows: { files: number; tree: string; ours: Change; base?: Change }[] = [];
const LOAD = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
const small = join(root, "small");
await copyApp(small);
await build(small);
const EMPTY = join(root, "empty.ts");
await Deno.writeTextFile(EMPTY, "");
const baseSmall = join(root, "base-small");
if (baselineLocald && ONLY !== "change") {
  await copyApp(baseSmall);
  await run([...baselineLocald.split(" "), "build", "-C", baseSmall, "-b", BP]);
}
const baseRss = median(
  await Promise.all(
    [1, 2, 3].map(() => maxRss([DENO, "run", "-A", `${REPO}/bench/lib/walk.ts`, "--none"])),
  ),
);

try {
  for (const files of SIZES) {
    for (const shape of SHAPES) {
      for (const gitignore of [false, true]) {
        const name = `${shape}${gitignore ? "+gitignore" : ""}`;
        const app = join(root, `app-${files}-${name}`);
        await copyApp(app);
        await makeTree(join(app, "tree"), files, shape, gitignore);
        say(`== ${files} files, ${name}`);
        if (ONLY === "change") {
          const rel = shape === "flat" ? "tree/src/m0000/f0.ts" : "tree/src/app1.js";
          const n = Math.max(3, Math.min(5, RUNS));
          const variants = [{ cli: locald, app, changed: join(app, rel) }];
          const other = join(root, `base-${files}-${name}`);
          if (baselineLocald) {
            await new Deno.Command("cp", { args: ["-a", app, other] }).output();
            variants.push({ cli: baselineLocald, app: other, changed: join(other, rel) });
          }
          const [ours, base] = await changeSeries(variants, n);
          if (baselineLocald) await Deno.remove(other, { recursive: true });
          for (const [who, c] of [["this", ours], ["baseline", base]] as const) {
            if (!c) continue;
            say(
              `${who}: share ${ms(c.share)} (phases ${ms(c.phases)}), settling no-op ` +
                `${ms(c.settle)}, no-op ${ms(c.noop)}: ${r2(c.share / c.noop)}x`,
            );
          }
          changeRows.push({ files, tree: name, ours, base });
          await Deno.remove(app, { recursive: true });
          continue;
        }
        await build(app);
        if (ONLY === "env") {
          const other = join(root, `base-${files}-${name}`);
          if (baselineLocald) {
            await new Deno.Command("cp", { args: ["-a", app, other] }).output();
            await run([...baselineLocald.split(" "), "build", "-C", other, "-b", BP]);
          }
          const res = await envSeries(
            app,
            RUNS,
            baselineLocald ? { cli: baselineLocald, app: other, small: baseSmall } : undefined,
          );
          envRows.push({ files, tree: name, env: res });
          if (baselineLocald) await Deno.remove(other, { recursive: true });
          await Deno.remove(app, { recursive: true });
          continue;
        }
        const floorCmd = `sh -c "find ${app} -printf '%p %s %m %T@\\n' | sha256sum"`;
        const runs = files >= 100000 ? Math.max(3, Math.floor(RUNS / 2)) : RUNS;
        // Paired rounds: the no-op builds, the floor and Deno's empty start-up take turns.
        const baseApp = join(root, `base-${files}-${name}`);
        if (baselineLocald) {
          await new Deno.Command("cp", { args: ["-a", app, baseApp] }).output();
          await run([...baselineLocald.split(" "), "build", "-C", baseApp, "-b", BP]);
        }
        const n = await paired(
          {
            noop: `${locald} build -C ${app} -b ${BP}`,
            small: `${locald} build -C ${small} -b ${BP}`,
            floor: floorCmd,
            empty: `${DENO} run --quiet ${V8} ${EMPTY}`,
            walk: `${DENO} run -A --quiet ${V8} ${REPO}/bench/lib/min_walk.ts ${app}`,
            ...(baselineLocald
              ? {
                baseNoop: `${baselineLocald} build -C ${baseApp} -b ${BP}`,
                baseSmall: `${baselineLocald} build -C ${baseSmall} -b ${BP}`,
              }
              : {}),
          },
          runs,
          env,
          join(root, "paired.json"),
        );
        if (baselineLocald) await Deno.remove(baseApp, { recursive: true });
        const noop = n.noop.median, floor = n.floor.median, smallNoop = n.small.median;
        say(
          `no-op build ${ms(noop)} vs find+sha256sum ${ms(floor)}: ${r2(noop / floor)}x ` +
            `(tree-dependent part ${ms(noop - smallNoop)}: ${r2((noop - smallNoop) / floor)}x; ` +
            `CPU ${r2(n.noop.cpu / n.floor.cpu)}x, tree part ` +
            `${r2((n.noop.cpu - n.small.cpu) / n.floor.cpu)}x); Deno's empty start-up ` +
            `${ms(n.empty.median)}` +
            (n.baseNoop
              ? `; baseline ${ms(n.baseNoop.median)} (2-file ${ms(n.baseSmall.median)})`
              : ""),
        );
        const noopRow: NoopRow = {
          tree: name,
          files,
          noop,
          small: smallNoop,
          floor,
          empty: n.empty.median,
          walk: n.walk.median,
          overWalk: ratio(n.noop.times, n.walk.times),
          cpuOverWalk: ratio(n.noop.cpus, n.walk.cpus),
          cpu: { noop: n.noop.cpu, small: n.small.cpu, floor: n.floor.cpu, walk: n.walk.cpu },
          base: n.baseNoop && { noop: n.baseNoop.median, small: n.baseSmall.median },
        };
        say(
          `least a Deno program does (min_walk.ts) ${ms(n.walk.median)}: ` +
            `${r2(n.walk.median / floor)}x the floor; the no-op build ${r2(noopRow.overWalk)}x it`,
        );
        if (ONLY === "noop") {
          noopRows.push(noopRow);
          await Deno.remove(app, { recursive: true });
          continue;
        }
        // The environment commands, on the tree and on the 2-file app, paired.
        const envRes = await envSeries(app, runs);
        // One-file change against no-op, alternating, locald's share = wall - phases.
        const changed = join(app, "tree", shape === "flat" ? "src/m0000/f0.ts" : "src/app1.js");
        const shares: number[] = [], phases: number[] = [], noops: number[] = [];
        for (let i = 0; i < Math.max(3, Math.min(5, runs)); i++) {
          await Deno.writeTextFile(changed, `// change ${i}\n`, { append: true });
          const c = await build(app, "--json");
          const d = JSON.parse(c.stdout).durationsMs as Record<string, number>;
          const p = Object.values(d).reduce((a, b) => a + b, 0);
          shares.push(c.ms - p);
          phases.push(p);
          noops.push((await build(app)).ms);
        }
        const share = median(shares) / 1000, changeNoop = median(noops) / 1000;
        say(
          `one-file change: locald's share ${ms(share)} (phases ${ms(median(phases) / 1000)}) ` +
            `vs its no-op build ${ms(changeNoop)}: ${r2(share / changeNoop)}x`,
        );
        const rss = median(
          await Promise.all(
            [1, 2, 3].map(() => maxRss([DENO, "run", "-A", `${REPO}/bench/lib/walk.ts`, app])),
          ),
        );
        say(`walk peak RSS ${(rss / 1024).toFixed(0)} MiB (base ${(baseRss / 1024).toFixed(0)})`);
        rows.push({
          ...noopRow,
          env: envRes,
          share,
          phases: median(phases) / 1000,
          changeNoop,
          rss,
        });
        await Deno.remove(app, { recursive: true });
      }
    }
  }

  if (ONLY === "change") {
    await Deno.writeTextFile(join(OUT, "scale-rebuild.md"), changeReport());
    say(`wrote ${join(OUT, "scale-rebuild.md")}`);
  } else if (ONLY === "noop") {
    const base = BASELINE ? await checkoutName(BASELINE) : undefined;
    await Deno.writeTextFile(join(OUT, "scale-noop.md"), noopReport(noopRows, base));
    say(`wrote ${join(OUT, "scale-noop.md")}`);
  } else if (ONLY === "env") {
    const base = BASELINE ? await checkoutName(BASELINE) : undefined;
    await Deno.writeTextFile(join(OUT, "scale-env.md"), envReport(base));
    say(`wrote ${join(OUT, "scale-env.md")}`);
  } else {
    // exec on the 2-file app against a Deno program that only spawns the launcher.
    const rec = JSON.parse(
      await Deno.readTextFile(join(home, "projects", await stateName(small), "build.json")),
    );
    const spawnOnly = `${DENO} run -A --quiet ${V8} ${REPO}/bench/lib/spawn_launcher.ts ` +
      `${rec.lifecycle.launcher} ${rec.layersDir} ${small} ${rec.platformApi} -- true`;
    const x = await hyperfine({
      exec: `${locald} exec -C ${small} -- true`,
      spawn: spawnOnly,
    }, RUNS * 3);
    say(
      `exec -- true ${ms(x.exec.median)} vs spawning the launcher from Deno ${
        ms(x.spawn.median)
      }: ` +
        `+${((x.exec.median - x.spawn.median) * 1000).toFixed(1)} ms ` +
        `(CPU +${((cpu(x.exec) - cpu(x.spawn)) * 1000).toFixed(1)} ms)`,
    );
    await Deno.writeTextFile(join(OUT, "scale.md"), report(rows, x.exec, x.spawn));
    say(`wrote ${join(OUT, "scale.md")}`);
  }
} finally {
  await Deno.remove(root, { recursive: true }).catch(() => {});
}

/** The state directory's name under $LOCALD_HOME/projects for `dir` (as locald names it). */
async function stateName(dir: string): Promise<string> {
  for await (const e of Deno.readDir(join(home, "projects"))) {
    try {
      const p = await Deno.readTextFile(join(home, "projects", e.name, "project-dir"));
      if (p.trim() === dir) return e.name;
    } catch { /* not a project */ }
  }
  throw new Error(`no state for ${dir}`);
}

function changeReport(): string {
  const c = (x: Change) =>
    `${ms(x.share)} | ${ms(x.phases)} | ${ms(x.settle)} | ${ms(x.noop)} | ${r2(x.share / x.noop)}`;
  return [
    "# One-file-change rebuild: locald's own share against its no-op build",
    "",
    `Recorded ${new Date().toISOString()} on linux/${Deno.build.arch}, ` +
    `${navigator.hardwareConcurrency} cores, with \`deno run -A bench/scale.ts --only change` +
    `${BASELINE ? " --baseline <main>" : ""}\` (medians of ${Math.max(3, Math.min(5, RUNS))} ` +
    "rebuilds, each after a one-file change). Share = wall time of `build --json` minus the " +
    "phases' durations it reports. After each rebuild: the no-op build that settles the record " +
    "(src/cnb/build.ts: it walks the tree once, as every no-op does, and rewrites build.json), " +
    "then a plain no-op build; the ratio is against the plain one. Load average when the series " +
    `started: ${LOAD}.`,
    "",
    `| files | tree | share | phases | settling no-op | no-op | ratio (goal <= 2) |${
      BASELINE ? " baseline share | baseline no-op | baseline ratio |" : ""
    }`,
    `| --- | --- | --- | --- | --- | --- | --- |${BASELINE ? " --- | --- | --- |" : ""}`,
    ...changeRows.map((r) =>
      `| ${r.files} | ${r.tree} | ${c(r.ours)} |${
        r.base
          ? ` ${ms(r.base.share)} | ${ms(r.base.noop)} | ${r2(r.base.share / r.base.noop)} |`
          : ""
      }`
    ),
    "",
  ].join("\n");
}

/** The environment commands' table: one row per tree, one cell per command. */
function envTable(list: { files: number; tree: string; env: Record<string, EnvCell> }[]) {
  const names = Object.keys(ENV_FORMS);
  return [
    `| files | tree | ${names.join(" | ")} |`,
    `| --- | --- |${names.map(() => " --- |").join("")}`,
    ...list.map((r) =>
      `| ${r.files} | ${r.tree} | ` +
      names.map((k) => {
        const v = r.env[k];
        return `${ms(v.tree)} / ${ms(v.small)}: ${r2(v.ratio)} (${r2(v.cpuRatio)})` +
          (v.base ? `; before ${r2(v.base.ratio)}` : "");
      }).join(" | ") + " |"
    ),
  ];
}

function envReport(base?: string): string {
  return [
    "# Environment commands on large trees against the 2-file app",
    "",
    `Recorded ${new Date().toISOString()} on linux/${Deno.build.arch}, ` +
    `${navigator.hardwareConcurrency} cores, with \`deno run -A bench/scale.ts --only env` +
    `${BASELINE ? " --baseline DIR" : ""}\` (${RUNS} rounds). Trees from bench/lib/tree.ts ` +
    "inside the 2-file fixture app, built with its buildpack. " + ENV_HOW +
    (BASELINE
      ? ` \`before\`: the ratio of ${base} (the checkout in --baseline), on its own copies of ` +
        "both apps, in the same rounds."
      : "") +
    ` Load average when the series started: ${LOAD}.`,
    "",
    ...envTable(envRows),
    "",
  ].join("\n");
}

/** The no-op build's tables: against find + sha256sum, and against the least a Deno program does. */
function noopSection(rows: NoopRow[]): string[] {
  return [
    "## No-op build against find + sha256sum of the same tree",
    "",
    `Paired rounds (${RUNS}; 100k trees half as many): in each round every command runs once ` +
    "after one warm-up run, the rounds one after another, each starting with another command; " +
    "medians. Floor: `find APP -printf '%p %s %m %T@\\n' | sha256sum` (the metadata the " +
    "fingerprint reads, walked and hashed by C programs; it walks ignored directories too). " +
    "`deno start` is `deno run` of an empty program: no Deno program, locald included, starts " +
    "faster. `tree part` is the no-op build minus the 2-file app's no-op build (Deno start-up " +
    "and the build command's fixed cost), i.e. what the tree itself costs." +
    (BASELINE
      ? " `baseline` is the same no-op build by the checkout in --baseline, in the same rounds."
      : ""),
    "",
    `Three times the floor is below Deno's start-up in ${
      rows.filter((r) => 3 * r.floor < r.empty).length
    } of ${rows.length} rows: there the 3x goal is out of reach for any program that starts ` +
    "Deno; the tree part against the floor is the figure that measures the walk.",
    "",
    "| files | tree | no-op build | 2-file app | floor | deno start | ratio (goal <= 3) " +
    "| tree part / floor | CPU ratio | CPU tree part / floor |" +
    (BASELINE ? " baseline no-op | baseline ratio | baseline tree part / floor |" : ""),
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |" +
    (BASELINE ? " --- | --- | --- |" : ""),
    ...rows.map((r) =>
      `| ${r.files} | ${r.tree} | ${ms(r.noop)} | ${ms(r.small)} | ${ms(r.floor)} | ` +
      `${ms(r.empty)} | ${r2(r.noop / r.floor)} | ${r2((r.noop - r.small) / r.floor)} | ` +
      `${r2(r.cpu.noop / r.cpu.floor)} | ${r2((r.cpu.noop - r.cpu.small) / r.cpu.floor)} |` +
      (r.base
        ? ` ${ms(r.base.noop)} | ${r2(r.base.noop / r.floor)} | ` +
          `${r2((r.base.noop - r.base.small) / r.floor)} |`
        : "")
    ),
    "",
    "### Against the least a Deno program does",
    "",
    "`min walk` is bench/lib/min_walk.ts in the same rounds: a Deno program that walks the tree " +
    "with `Deno.readDirSync`, lstats each file with `Deno.lstatSync` and hashes a line per entry " +
    "(no sorting, no `.gitignore`: it walks ignored directories too), started as locald is. " +
    "`min walk / floor` is what Deno itself costs for this walk; `no-op / min walk` (median of " +
    "the rounds' ratios) is what locald adds to it: the build command, its record, the sorted " +
    "and ignore-aware walk.",
    "",
    "| files | tree | min walk | min walk / floor | CPU | no-op / min walk | CPU |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map((r) =>
      `| ${r.files} | ${r.tree} | ${ms(r.walk)} | ${r2(r.walk / r.floor)} | ` +
      `${r2(r.cpu.walk / r.cpu.floor)} | ${r2(r.overWalk)} | ${r2(r.cpuOverWalk)} |`
    ),
    "",
  ];
}

function noopReport(rows: NoopRow[], base?: string): string {
  return [
    "# No-op build against tree size",
    "",
    `Recorded ${new Date().toISOString()} on linux/${Deno.build.arch}, ` +
    `${navigator.hardwareConcurrency} cores, with \`deno run -A bench/scale.ts --only noop` +
    `${BASELINE ? " --baseline DIR" : ""}\`. Trees from bench/lib/tree.ts inside the 2-file ` +
    "fixture app, built with its buildpack" + (base ? `; the baseline is ${base}` : "") +
    `. Load average when the series started: ${LOAD}.`,
    "",
    ...noopSection(rows),
  ].join("\n");
}

function report(rows: Row[], execHf: Hf, spawnHf: Hf): string {
  const exec = execHf.median, spawn = spawnHf.median;
  const arch = Deno.build.arch;
  const lines = [
    "# Scale series: cost against tree size",
    "",
    `Recorded ${new Date().toISOString()} on linux/${arch}, ${navigator.hardwareConcurrency} ` +
    `cores, with \`deno run -A bench/scale.ts${BASELINE ? " --baseline DIR" : ""}\` ` +
    `(hyperfine medians, ${RUNS} runs; 100k trees half as many, except where paired). ` +
    "Trees from bench/lib/tree.ts inside the 2-file fixture app; every ratio " +
    "is against a floor measured in the same run. CPU ratios use user+system time, " +
    "which the machine's load (it is shared) moves less than wall time. Load average " +
    `when the series started: ${LOAD}.`,
    "",
    ...noopSection(rows),
    "## Environment commands on the tree against the 2-file app",
    "",
    ENV_HOW,
    "",
    ...envTable(rows),
    "",
    "## One-file-change rebuild: locald's own share against its no-op build",
    "",
    "Share = wall time of `build --json` minus the phases' durations it reports.",
    "",
    "| files | tree | share | phases | no-op build | ratio (goal <= 2) |",
    "| --- | --- | --- | --- | --- | --- |",
    ...rows.map((r) =>
      `| ${r.files} | ${r.tree} | ${ms(r.share)} | ${ms(r.phases)} | ${ms(r.changeNoop)} | ` +
      `${r2(r.share / r.changeNoop)} |`
    ),
    "",
    "## Fingerprint walk memory",
    "",
    `Max RSS of bench/lib/walk.ts (the walk alone, .gitignore honoured) against the same ` +
    `program walking nothing: ${(baseRss / 1024).toFixed(0)} MiB.`,
    "",
    "| files | tree | max RSS | above base | per file |",
    "| --- | --- | --- | --- | --- |",
    ...rows.map((r) =>
      `| ${r.files} | ${r.tree} | ${(r.rss / 1024).toFixed(0)} MiB | ` +
      `${((r.rss - baseRss) / 1024).toFixed(1)} MiB | ` +
      `${(((r.rss - baseRss) * 1024) / r.files).toFixed(0)} B |`
    ),
    "",
    "## exec start-up against the least a Deno program can do",
    "",
    `\`locald exec -- true\` on the 2-file app: ${ms(exec)}; a Deno program that only spawns ` +
    `the launcher with its three variables (bench/lib/spawn_launcher.ts): ${ms(spawn)}; ` +
    `difference ${((exec - spawn) * 1000).toFixed(1)} ms (goal <= 5 ms); CPU time ` +
    `${(cpu(execHf) * 1000).toFixed(1)} ms against ${(cpu(spawnHf) * 1000).toFixed(1)} ms.`,
    "",
  ];
  return lines.join("\n");
}
