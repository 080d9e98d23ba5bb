/**
 * Core benchmarks (issue: Linux native platform), each a ratio against the real alternative
 * measured in the same run with hyperfine:
 *
 *  1. `locald build` against the same lifecycle phases run by a plain shell script with the
 *     same directories and environment, warm cache; for a small fixture (fixed overheads show)
 *     and for a Go app whose buildpack compiles it (a realistic warm rebuild).
 *  2. `locald exec -- true` and `locald env` against `launcher -- true` and an empty Deno program.
 *  3. A second build with no change against the first (cold) build.
 *
 * Run: deno run -A bench/core.ts [--baseline DIR] [--rounds N] (needs hyperfine and the test
 * tools: scripts/test-tools.sh). --baseline measures another checkout's build --force in the
 * same rounds; --rounds sets how many paired rounds the build section runs (default 15).
 * Writes bench/results/core.md (and the raw hyperfine JSON next to it).
 */
import { join } from "node:path";
import { checkoutName } from "./lib/checkout.ts";
import { type Paired, paired } from "./lib/paired.ts";
import { median } from "./lib/stats.ts";
import { argValue } from "./lib/args.ts";
import { v8FlagsArg } from "../scripts/release/project.ts";

/** The release binary's V8 flags: locald and the Deno floors it is measured against run with them. */
const V8 = v8FlagsArg();

const REPO = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const CACHE = Deno.env.get("LOCALD_TEST_CACHE") || "/var/cache/locald-test";
const LIFECYCLE = join(CACHE, "lifecycle");
const OUT = join(REPO, "bench", "results");
const DENO = Deno.execPath();

const root = await Deno.makeTempDir({ prefix: "locald-bench-" });
const env: Record<string, string> = {
  PATH: Deno.env.get("PATH")!,
  HOME: Deno.env.get("HOME")!,
  LOCALD_HOME: join(root, "home"),
  LOCALD_LIFECYCLE_DIR: LIFECYCLE,
  NO_COLOR: "1",
  DENO_NO_UPDATE_CHECK: "1",
};
if (Deno.env.get("DENO_DIR")) env.DENO_DIR = Deno.env.get("DENO_DIR")!;

const sq = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
const locald = `${DENO} run -A --quiet ${V8} ${REPO}/main.ts`;
const BASELINE = argValue("--baseline");
const ROUNDS = Number(argValue("--rounds") ?? 15);
/** Another checkout's locald (--baseline DIR), measured in the same rounds. */
const baseline = BASELINE &&
  `${DENO} run -A --quiet ${V8} --config ${BASELINE}/deno.json ${BASELINE}/main.ts`;

async function run(cmd: string[], extraEnv: Record<string, string> = {}) {
  const o = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    env: { ...env, ...extraEnv },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!o.success) {
    throw new Error(`${cmd.join(" ")} failed:\n${new TextDecoder().decode(o.stderr)}`);
  }
  return new TextDecoder().decode(o.stdout);
}

interface Hf {
  command: string;
  median: number;
  mean: number;
  stddev: number;
  min: number;
  max: number;
}

async function hyperfine(name: string, commands: Record<string, string>, opts: string[] = []) {
  const json = join(OUT, `core-${name}.json`);
  const args = ["--export-json", json, "--style", "basic", "-N", ...opts];
  for (const [label, cmd] of Object.entries(commands)) args.push("-n", label, cmd);
  const p = await new Deno.Command("hyperfine", {
    args,
    env,
    clearEnv: true,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!p.success) throw new Error(`hyperfine ${name} failed`);
  const res = JSON.parse(await Deno.readTextFile(json)).results as Hf[];
  return Object.fromEntries(res.map((r) => [r.command, r]));
}

async function copy(src: string, dest: string) {
  await run(["cp", "-r", src, dest]);
}

/** A shell script that runs exactly the phases of locald's plan, with the same environment. */
async function plainScript(app: string, bp: string, path: string) {
  const { plan } = JSON.parse(
    await run([
      DENO,
      "run",
      "-A",
      "--quiet",
      `${REPO}/main.ts`,
      "build",
      "-C",
      app,
      "-b",
      bp,
      "--dry-run",
      "--json",
    ]),
    // deno-lint-ignore no-explicit-any
  ) as any;
  const lines = ["#!/bin/sh", "set -e"];
  for (const s of plan.steps) {
    const wrap = Deno.uid() === 0 ? "unshare --user --map-user=1000 --map-group=1000 -- " : "";
    const vars = Object.entries(s.env as Record<string, string>).map(([k, v]) => `${k}=${sq(v)}`)
      .join(" ");
    lines.push(`cd ${sq(s.cwd)} && env -i ${vars} ${wrap}${s.argv.map(sq).join(" ")} >/dev/null`);
  }
  await Deno.writeTextFile(path, lines.join("\n") + "\n", { mode: 0o755 });
}

/** This build's time minus the other's, median over the rounds both ran in. */
const pairedDiff = (other: Paired, ours: Paired) => {
  const m = median(ours.times.map((t, i) => t - other.times[i]));
  return `${m >= 0 ? "+" : ""}${(m * 1000).toFixed(1)} ms`;
};
const cpuMs = (r: Paired) => `${(r.cpu * 1000).toFixed(1)} ms`;
const ratio = (a: Hf | Paired, b: Hf | Paired) => (a.median / b.median).toFixed(2);
const ms = (r: Hf | Paired) => `${(r.median * 1000).toFixed(1)} ms`;

const LOAD = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
try {
  await Deno.mkdir(OUT, { recursive: true });
  const small = join(root, "small");
  const goApp = join(root, "goapp");
  await copy(join(REPO, "tests/fixtures/apps/everything"), small);
  await copy(join(REPO, "bench/fixtures/go-app"), goApp);
  const smallBp = join(REPO, "tests/fixtures/buildpacks/everything");
  const goBp = join(REPO, "bench/fixtures/go-buildpack");

  // Warm both projects once (the Go one compiles the standard library the first time).
  await run([...locald.split(" "), "build", "-C", small, "-b", smallBp]);
  await run([...locald.split(" "), "build", "-C", goApp, "-b", goBp]);
  await plainScript(small, smallBp, join(root, "plain-small.sh"));
  await plainScript(goApp, goBp, join(root, "plain-go.sh"));

  // Paired rounds: locald, the script (and the baseline's locald) take turns.
  await Deno.writeTextFile(join(root, "empty.ts"), "");
  const baseSmall = join(root, "base-small"), baseGo = join(root, "base-goapp");
  if (baseline) {
    await copy(join(REPO, "tests/fixtures/apps/everything"), baseSmall);
    await run([...baseline.split(" "), "build", "-C", baseSmall, "-b", smallBp]);
    await copy(join(REPO, "bench/fixtures/go-app"), baseGo);
    await run([...baseline.split(" "), "build", "-C", baseGo, "-b", goBp]);
  }
  // Two series of paired rounds: the Go app's builds write about 90 MB each, whose writeback
  // would land on whichever small-fixture command followed them in a shared round.
  const build = {
    ...await paired(
      {
        "locald build (small fixture)": `${locald} build -C ${small} -b ${smallBp} --force`,
        "plain phases (small fixture)": `${join(root, "plain-small.sh")}`,
        "deno spawning the plain phases (small fixture)":
          `${DENO} run -A --quiet ${V8} ${REPO}/bench/lib/spawn_wait.ts ${
            join(root, "plain-small.sh")
          }`,
        "deno run empty.ts": `${DENO} run --quiet ${V8} ${join(root, "empty.ts")}`,
        ...(baseline
          ? {
            "baseline build (small fixture)":
              `${baseline} build -C ${baseSmall} -b ${smallBp} --force`,
          }
          : {}),
      },
      ROUNDS,
      env,
      join(root, "round.json"),
    ),
    ...await paired(
      {
        "locald build (Go app)": `${locald} build -C ${goApp} -b ${goBp} --force`,
        "plain phases (Go app)": `${join(root, "plain-go.sh")}`,
        ...(baseline
          ? { "baseline build (Go app)": `${baseline} build -C ${baseGo} -b ${goBp} --force` }
          : {}),
      },
      ROUNDS,
      env,
      join(root, "round.json"),
    ),
  };
  await Deno.writeTextFile(join(OUT, "core-build.json"), JSON.stringify(build, null, 2) + "\n");

  // The environment commands.
  const rec = JSON.parse(
    await Deno.readTextFile(
      join(
        root,
        "home/projects",
        [...Deno.readDirSync(join(root, "home/projects"))].find((e) => e.name.startsWith("small"))!
          .name,
        "build.json",
      ),
    ),
  ) as { platformApi: string; layersDir: string; lifecycle: { launcher: string } };
  await Deno.writeTextFile(join(root, "empty.ts"), "");
  const launcherEnv =
    `CNB_PLATFORM_API=${rec.platformApi} CNB_LAYERS_DIR=${rec.layersDir} CNB_APP_DIR=${small}`;
  await Deno.writeTextFile(
    join(root, "launcher.sh"),
    `#!/bin/sh\nexec env ${launcherEnv} ${rec.lifecycle.launcher} -- true\n`,
    { mode: 0o755 },
  );
  const envCmds = await hyperfine("env", {
    "locald exec -- true": `${locald} exec -C ${small} -- true`,
    "locald env": `${locald} env -C ${small}`,
    "launcher -- true": `env ${launcherEnv} ${rec.lifecycle.launcher} -- true`,
    "deno run empty.ts": `${DENO} run --quiet ${V8} ${join(root, "empty.ts")}`,
  }, ["--warmup", "3", "--runs", "30"]);

  // Second build with no change against the first (cold: no state at all).
  const state = join(root, "home", "projects");
  const rebuild = await hyperfine("rebuild", {
    "first build (cold)": `${locald} build -C ${small} -b ${smallBp}`,
  }, ["--prepare", `rm -rf ${state}`, "--runs", "10"]);
  const warm = await hyperfine("rebuild-warm", {
    "second build (no change)": `${locald} build -C ${small} -b ${smallBp}`,
  }, ["--warmup", "1", "--runs", "10"]);

  const b = build;
  const e = envCmds;
  const cold = rebuild["first build (cold)"];
  const second = warm["second build (no change)"];
  const now = new Date().toISOString();
  const md = `# Core benchmarks

Recorded ${now} on ${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} cores,
as ${Deno.uid() === 0 ? "root (phases in a user namespace)" : "an ordinary user"}, with
\`deno run bench/core.ts\` (hyperfine, medians). Each ratio compares against the real
alternative measured in the same run.

## 1. locald build vs the same phases from a plain shell script (warm cache)

The script runs the analyzer, detector, restorer and builder with exactly the environment and
directories of locald's plan (taken from \`locald build --dry-run --json\`). \`build --force\`;
${ROUNDS} paired rounds (each command once per round after a warm-up run, each round starting with
another command), medians; the small fixture's commands and the Go app's in two series of their
own (the writeback of a Go app build would land on the next command of a shared round). Load
average when the series started: ${LOAD}.${
    baseline
      ? ` The baseline's build against this one, median of the rounds' differences: small fixture ${
        pairedDiff(build["baseline build (small fixture)"], build["locald build (small fixture)"])
      }, Go app ${pairedDiff(build["baseline build (Go app)"], build["locald build (Go app)"])}.`
      : ""
  }

| project | locald build | plain phases | ratio (target <= 1.05; issue 15: <= 1.3) |
| --- | --- | --- | --- |
| small fixture | ${ms(b["locald build (small fixture)"])} | ${
    ms(b["plain phases (small fixture)"])
  } | ${ratio(b["locald build (small fixture)"], b["plain phases (small fixture)"])} |
| Go app (compiles) | ${ms(b["locald build (Go app)"])} | ${ms(b["plain phases (Go app)"])} | ${
    ratio(b["locald build (Go app)"], b["plain phases (Go app)"])
  } |
${
    baseline
      ? `| small fixture, baseline (${await checkoutName(BASELINE)}) | ${
        ms(b["baseline build (small fixture)"])
      } | ${ms(b["plain phases (small fixture)"])} | ${
        ratio(b["baseline build (small fixture)"], b["plain phases (small fixture)"])
      } |\n| Go app, baseline (${await checkoutName(BASELINE)}) | ${
        ms(b["baseline build (Go app)"])
      } | ${ms(b["plain phases (Go app)"])} | ${
        ratio(b["baseline build (Go app)"], b["plain phases (Go app)"])
      } |\n`
      : ""
  }
Deno's start-up (\`deno run\` of an empty program) in the same rounds: ${
    ms(b["deno run empty.ts"])
  }; CPU time (user + system, medians) of the small fixture's build ${
    cpuMs(b["locald build (small fixture)"])
  } against ${cpuMs(b["plain phases (small fixture)"])} for the script.

The least a Deno program can do to run those phases (bench/lib/spawn_wait.ts: start, spawn the
script, wait) took ${ms(b["deno spawning the plain phases (small fixture)"])} in the same rounds: ${
    ratio(b["deno spawning the plain phases (small fixture)"], b["plain phases (small fixture)"])
  }x the script before any of locald's own work; locald's build is ${
    ratio(b["locald build (small fixture)"], b["deno spawning the plain phases (small fixture)"])
  }x that.

locald's fixed cost per build (Deno start-up, loading the build command, resolving buildpacks,
the plan, preparing the state directory, the fingerprint, the build record) is the difference:
${
    ((b["locald build (small fixture)"].median - b["plain phases (small fixture)"].median) * 1000)
      .toFixed(0)
  } ms and ${
    ((b["locald build (Go app)"].median - b["plain phases (Go app)"].median) * 1000).toFixed(0)
  } ms here. The 1.05 target is met by builds whose phases
take longer than about ${
    ((b["locald build (Go app)"].median - b["plain phases (Go app)"].median) / 0.05).toFixed(1)
  } s (20 times that cost); these fixtures' phases take
${(b["plain phases (small fixture)"].median * 1000).toFixed(0)} and ${
    (b["plain phases (Go app)"].median * 1000).toFixed(0)
  } ms, so the fixed cost dominates. Where it goes: \`LOCALD_TRACE=1 locald build\`.

## 2. The environment commands

| command | median | vs launcher -- true | vs empty deno program |
| --- | --- | --- | --- |
| locald exec -- true | ${ms(e["locald exec -- true"])} | ${
    ratio(e["locald exec -- true"], e["launcher -- true"])
  } | ${ratio(e["locald exec -- true"], e["deno run empty.ts"])} |
| locald env | ${ms(e["locald env"])} | ${ratio(e["locald env"], e["launcher -- true"])} | ${
    ratio(e["locald env"], e["deno run empty.ts"])
  } |
| launcher -- true | ${ms(e["launcher -- true"])} | 1.00 | |
| deno run empty.ts | ${ms(e["deno run empty.ts"])} | | 1.00 |

locald's own work on the exec path is roughly exec - (empty deno + launcher):
${
    ((e["locald exec -- true"].median - e["deno run empty.ts"].median -
      e["launcher -- true"].median) * 1000).toFixed(1)
  } ms.

## 3. Second build with no change vs the first

| build | median | ratio |
| --- | --- | --- |
| first (cold, no state) | ${ms(cold)} | 1.00 |
| second (no change) | ${ms(second)} | ${ratio(second, cold)} |
`;
  await Deno.writeTextFile(join(OUT, "core.md"), md);
  console.log(md);
} finally {
  await Deno.remove(root, { recursive: true }).catch(() => {});
}
