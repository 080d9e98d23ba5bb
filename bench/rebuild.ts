/**
 * Rebuild and export benchmarks (issue: images and fast rebuilds), with hyperfine, each a
 * ratio against a cold build measured in the same run, on a Go app whose buildpack compiles
 * it (Go's build cache in a cached layer):
 *
 *  1. a no-op rebuild (nothing changed: the lifecycle does not start) vs a cold build;
 *  2. a rebuild after a one-file change (cached layers re-used) vs a cold build;
 *  3. an image build with --export (analyzer to exporter, OCI layout) vs the same build
 *     without export, both warm, with a builder and run image in a loopback registry.
 *
 * Run: deno run -A bench/rebuild.ts. Writes bench/results/rebuild.md.
 */
import { join } from "node:path";
import { benchEnv } from "./lib/env.ts";
import { startRegistry } from "../tests/support/registry.ts";
import { pushImages } from "../tests/support/image_fixture.ts";
import { v8FlagsArg } from "../scripts/release/project.ts";

/** The release binary's V8 flags: locald and the Deno floors it is measured against run with them. */
const V8 = v8FlagsArg();

const REPO = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const OUT = join(REPO, "bench", "results");
const DENO = Deno.execPath();
const root = await Deno.makeTempDir({ prefix: "locald-bench-rebuild-" });
const env = await benchEnv(root);
const home = env.LOCALD_HOME;
const locald = `${DENO} run -A --quiet ${V8} ${REPO}/main.ts`;

interface Hf {
  command: string;
  median: number;
}

async function hyperfine(name: string, cmds: Record<string, string>, opts: string[]) {
  const json = join(OUT, `rebuild-${name}.json`);
  const args = ["--export-json", json, "--style", "basic", "-N", ...opts];
  for (const [label, cmd] of Object.entries(cmds)) args.push("-n", label, cmd);
  const p = await new Deno.Command("hyperfine", { args, env, clearEnv: true }).output();
  if (!p.success) throw new Error(`hyperfine ${name} failed`);
  const res = JSON.parse(await Deno.readTextFile(json)).results as Hf[];
  return Object.fromEntries(res.map((r) => [r.command, r]));
}

async function sh(cmd: string) {
  const p = await new Deno.Command("sh", { args: ["-c", cmd], env, clearEnv: true }).output();
  if (!p.success) throw new Error(`${cmd}: ${new TextDecoder().decode(p.stderr)}`);
}

const ms = (r: Hf) => `${(r.median * 1000).toFixed(0)} ms`;
const pct = (a: Hf, b: Hf) => `${((a.median / b.median) * 100).toFixed(1)}%`;

const reg = await startRegistry();
try {
  await Deno.mkdir(OUT, { recursive: true });
  const app = join(root, "goapp");
  await sh(`cp -r ${REPO}/bench/fixtures/go-app ${app}`);
  const bp = join(REPO, "bench/fixtures/go-buildpack");
  const build = `${locald} build -C ${app} -b ${bp}`;
  const cold = await hyperfine("cold", { "cold build": build }, [
    "--prepare",
    `rm -rf ${home}/projects`,
    "--runs",
    "3",
  ]);
  const noop = await hyperfine("noop", { "no-op rebuild": build }, [
    "--warmup",
    "1",
    "--runs",
    "10",
  ]);
  const change = await hyperfine("change", { "one-file change": build }, [
    "--prepare",
    `sh -c 'echo "// $(date +%s%N)" >> ${app}/main.go'`,
    "--runs",
    "5",
  ]);

  const builder = await pushImages(reg, { dir: bp, id: "locald-bench/go-app", version: "1.0.0" });
  const withBuilder = `${locald} build -C ${app} -B ${builder} --trust-builder --force`;
  const exportCmd = `${locald} build -C ${app} -B ${builder} --export --layout-dir ${root}/image`;
  const exp = await hyperfine("export", {
    "build (builder, warm)": withBuilder,
    "build --export (warm)": exportCmd,
  }, ["--warmup", "1", "--runs", "5"]);

  const c = cold["cold build"];
  const n = noop["no-op rebuild"];
  const o = change["one-file change"];
  const b = exp["build (builder, warm)"];
  const e = exp["build --export (warm)"];
  const md = `# Rebuild and export benchmarks

Recorded ${
    new Date().toISOString()
  } on ${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency}
cores, as ${Deno.uid() === 0 ? "root" : "an ordinary user"}, with \`deno run -A bench/rebuild.ts\`
(hyperfine medians). The project is a small Go web program whose buildpack compiles it with Go's
build cache in a cached layer, so a cold build compiles the standard library and a warm one
re-checks every input.

| build | median | vs cold |
| --- | --- | --- |
| cold (no state at all) | ${ms(c)} | 100% |
| no-op rebuild (target <= 2%) | ${ms(n)} | ${pct(n, c)} |
| rebuild after a one-file change | ${ms(o)} | ${pct(o, c)} |

A no-op rebuild compares the fingerprint of everything the build depends on (sources minus
ignored files, buildpacks, build env, platform API, lifecycle, target, builder, isolation) with
the last build's and does not start the lifecycle.

## Export against build

Both warm, with a builder and its run image from a loopback registry. The export runs every
phase in a mount namespace (/workspace, /layers) plus the exporter writing an OCI layout.

| build | median | ratio |
| --- | --- | --- |
| build with the builder | ${ms(b)} | 1.00 |
| build --export (OCI layout) | ${ms(e)} | ${(e.median / b.median).toFixed(2)} |
`;
  await Deno.writeTextFile(join(OUT, "rebuild.md"), md);
  console.log(md);
} finally {
  await reg.stop();
  await Deno.remove(root, { recursive: true }).catch(() => {});
}
