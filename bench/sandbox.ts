/**
 * What the sandbox costs, measured with hyperfine in one run on the same machine:
 *  1. a warm `locald build` of the fixture app, native against --sandbox (four phases, so
 *     four bwrap start-ups, plus the availability probe);
 *  2. `locald exec -- true` against `locald exec --sandbox -- true`.
 * Run: deno run -A bench/sandbox.ts (needs hyperfine and the test tools: scripts/test-tools.sh).
 * Writes bench/results/sandbox.md and the raw hyperfine JSON beside it.
 */
import { join } from "node:path";
import { benchEnv } from "./lib/env.ts";
import { v8FlagsArg } from "../scripts/release/project.ts";

/** The release binary's V8 flags: locald and the Deno floors it is measured against run with them. */
const V8 = v8FlagsArg();

const REPO = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const OUT = join(REPO, "bench", "results");
const root = await Deno.makeTempDir({ prefix: "locald-bench-sandbox-" });
const env = await benchEnv(root);
await Deno.mkdir(env.HOME);
const app = join(root, "app");
await new Deno.Command("cp", { args: ["-r", join(REPO, "tests/fixtures/apps/everything"), app] })
  .output();
const bp = join(REPO, "tests/fixtures/buildpacks/everything");
const locald = `${Deno.execPath()} run -A --quiet ${V8} ${REPO}/main.ts`;

interface Hf {
  command: string;
  median: number;
  stddev: number;
}

async function hyperfine(name: string, commands: Record<string, string>) {
  const json = join(OUT, `sandbox-${name}.json`);
  const args = ["--export-json", json, "--style", "basic", "-N", "--warmup", "2", "--runs", "15"];
  for (const [label, cmd] of Object.entries(commands)) args.push("-n", label, cmd);
  const p = await new Deno.Command("hyperfine", { args, env, clearEnv: true }).output();
  if (!p.success) {
    throw new Error(`hyperfine ${name} failed: ${new TextDecoder().decode(p.stderr)}`);
  }
  const res = JSON.parse(await Deno.readTextFile(json)).results as Hf[];
  return Object.fromEntries(res.map((r) => [r.command, r]));
}

try {
  // --force: a build with nothing changed would otherwise skip the lifecycle (fingerprint).
  const build = `${locald} build -C ${app} -b ${bp} --force`;
  const b = await hyperfine("build", { native: build, sandbox: `${build} --sandbox` });
  const exec = `${locald} exec -C ${app}`;
  const e = await hyperfine("exec", {
    native: `${exec} -- true`,
    sandbox: `${exec} --sandbox -- true`,
  });
  const ms = (r: Hf) => `${(r.median * 1000).toFixed(0)} ms ± ${(r.stddev * 1000).toFixed(0)}`;
  const ratio = (a: Hf, b: Hf) => (b.median / a.median).toFixed(2);
  const md = [
    "# Sandbox cost",
    "",
    `Measured ${new Date().toISOString().slice(0, 10)} on ${Deno.build.arch}, ` +
    `${navigator.hardwareConcurrency} cores, as uid ${Deno.uid()}; medians of 15 runs ` +
    "(hyperfine -N, 2 warm-ups). Fixture app and buildpack from tests/fixtures.",
    "",
    "| what | native | --sandbox | ratio |",
    "| --- | --- | --- | --- |",
    `| warm \`locald build\` (4 phases) | ${ms(b.native)} | ${ms(b.sandbox)} | ${
      ratio(b.native, b.sandbox)
    } |`,
    `| \`locald exec -- true\` | ${ms(e.native)} | ${ms(e.sandbox)} | ${
      ratio(e.native, e.sandbox)
    } |`,
    "",
  ].join("\n");
  await Deno.writeTextFile(join(OUT, "sandbox.md"), md);
  console.log(md);
} finally {
  await Deno.remove(root, { recursive: true });
}
