/**
 * Why exec, env, shell and run make their process with Deno.Command (src/util/run.ts) and not
 * with the dax runner (src/util/runner.ts), measured with hyperfine in one run:
 *  1. a Deno program that spawns `true` through util/run.ts, against the same through
 *     util/runner.ts (the price of importing dax);
 *  2. `locald exec -- true` on the built fixture app; with LOCALD_BENCH_BASE=DIR (another
 *     checkout, e.g. `git worktree add DIR main`), the same command from DIR, paired in the
 *     same hyperfine run (before/after a change).
 * Run: deno run -A bench/runner.ts (needs hyperfine and the test tools: scripts/test-tools.sh).
 * Writes bench/results/runner.md and the raw hyperfine JSON beside it.
 */
import { join } from "node:path";
import { benchEnv } from "./lib/env.ts";
import { v8FlagsArg } from "../scripts/release/project.ts";

/** The release binary's V8 flags: locald and the Deno floors it is measured against run with them. */
const V8 = v8FlagsArg();

const REPO = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const OUT = join(REPO, "bench", "results");
const BASE = Deno.env.get("LOCALD_BENCH_BASE");
const RUNS = 40;
const root = await Deno.makeTempDir({ prefix: "locald-bench-runner-" });
const env = await benchEnv(root);

async function sh(argv: string[]) {
  const p = await new Deno.Command(argv[0], { args: argv.slice(1), env, clearEnv: true })
    .output();
  if (!p.success) {
    throw new Error(`${argv.join(" ")} failed: ${new TextDecoder().decode(p.stderr)}`);
  }
}

interface Hf {
  command: string;
  median: number;
  stddev: number;
}

async function hyperfine(name: string, commands: Record<string, string>) {
  const json = join(OUT, `runner-${name}.json`);
  const args = ["hyperfine", "--export-json", json, "--style", "basic", "-N", "--warmup", "3"];
  args.push("--runs", String(RUNS));
  for (const [label, cmd] of Object.entries(commands)) args.push("-n", label, cmd);
  await sh(args);
  const res = JSON.parse(await Deno.readTextFile(json)).results as Hf[];
  return Object.fromEntries(res.map((r) => [r.command, r]));
}

try {
  await Deno.mkdir(env.HOME);
  const app = join(root, "app");
  await sh(["cp", "-r", join(REPO, "tests/fixtures/apps/everything"), app]);
  const bp = join(REPO, "tests/fixtures/buildpacks/everything");
  const deno = `${Deno.execPath()} run -A --quiet ${V8}`;
  const locald = [Deno.execPath(), "run", "-A", "--quiet", V8, `${REPO}/main.ts`];
  await sh([...locald, "build", "-C", app, "-b", bp]);
  const spawn = `${deno} ${REPO}/bench/lib/spawn_true.ts`;
  const s = await hyperfine("spawn", { run: `${spawn} run`, runner: `${spawn} runner` });
  const exec: Record<string, string> = { after: `${deno} ${REPO}/main.ts exec -C ${app} -- true` };
  if (BASE) exec.before = `${deno} ${BASE}/main.ts exec -C ${app} -- true`;
  const e = await hyperfine("exec", exec);
  const ms = (r: Hf) => `${(r.median * 1000).toFixed(0)} ms ± ${(r.stddev * 1000).toFixed(0)}`;
  const md = [
    "# Process runner start-up",
    "",
    `Measured ${new Date().toISOString().slice(0, 10)} on ${Deno.build.arch}, ` +
    `${navigator.hardwareConcurrency} cores, as uid ${Deno.uid()}; medians of ${RUNS} runs ` +
    "(hyperfine -N, 3 warm-ups). Fixture app and buildpack from tests/fixtures.",
    "",
    "| what | median | ratio |",
    "| --- | --- | --- |",
    `| spawn \`true\` via util/run.ts (Deno.Command) | ${ms(s.run)} | 1 |`,
    `| spawn \`true\` via util/runner.ts (dax) | ${ms(s.runner)} | ${
      (s.runner.median / s.run.median).toFixed(2)
    } |`,
    `| \`locald exec -- true\` (this checkout) | ${ms(e.after)} | |`,
    ...(e.before
      ? [
        `| \`locald exec -- true\` (base checkout) | ${ms(e.before)} | ${
          (e.after.median / e.before.median).toFixed(2)
        } (this/base) |`,
      ]
      : []),
    "",
  ].join("\n");
  await Deno.writeTextFile(join(OUT, "runner.md"), md);
  console.log(md);
} finally {
  await Deno.remove(root, { recursive: true });
}
