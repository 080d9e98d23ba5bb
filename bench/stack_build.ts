/**
 * A build in the stack's userland against the same build on the host (issue 16): report only,
 * no target. The same fixture app and buildpack (tests/fixtures everything, which needs only a
 * POSIX userland), the same builder (the Debian trixie stack test builder with the real
 * lifecycle, pushed to a loopback registry), `--stack` against `--host`:
 *
 *  1. warm: `locald build --force` in one LOCALD_HOME, the two modes alternating (paired runs,
 *     the order swapped every pair so drift and caches favour neither);
 *  2. first use: a fresh LOCALD_HOME each time, both pulling the builder from the loopback
 *     registry; the stack build also pulls the run image's layers and extracts both root
 *     filesystems, the host build installs no lifecycle (LOCALD_LIFECYCLE_DIR);
 *  3. what the root filesystems take on disk.
 *
 * Run: deno run -A bench/stack_build.ts [PAIRS] (needs the test tools: scripts/test-tools.sh).
 * Writes bench/results/stack.md.
 */
import { join } from "node:path";
import { benchEnv } from "./lib/env.ts";
import { startRegistry } from "../tests/support/registry.ts";
import { pushStackImages } from "../tests/support/stack_images.ts";
import { diskUse } from "../src/util/disk_use.ts";
import { median } from "./lib/stats.ts";
import { v8FlagsArg } from "../scripts/release/project.ts";

/** The release binary's V8 flags: locald and the Deno floors it is measured against run with them. */
const V8 = v8FlagsArg();

const REPO = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const OUT = join(REPO, "bench", "results", "stack.md");
const PAIRS = Number(Deno.args[0] ?? 10);
const COLD_PAIRS = Math.max(2, Math.round(PAIRS / 3));

const root = await Deno.makeTempDir({ prefix: "locald-bench-stack-" });
const env = await benchEnv(root);
await Deno.mkdir(env.HOME);
const app = join(root, "app");
await new Deno.Command("cp", { args: ["-r", join(REPO, "tests/fixtures/apps/everything"), app] })
  .output();
const bp = join(REPO, "tests/fixtures/buildpacks/everything");

async function locald(args: string[], extra: Record<string, string> = {}): Promise<number> {
  const t0 = performance.now();
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", V8, join(REPO, "main.ts"), ...args],
    env: { ...env, ...extra },
    clearEnv: true,
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  if (!o.success) {
    throw new Error(`locald ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
  }
  return ms;
}

const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`;

const reg = await startRegistry();
try {
  const { builder } = await pushStackImages(reg);
  const build = (mode: string, home?: string) =>
    locald(
      ["build", "-C", app, "-B", builder, "-b", bp, "--force", "--trust-builder", `--${mode}`],
      home ? { LOCALD_HOME: home } : {},
    );
  // Both modes once (pulls, extraction), then paired warm runs.
  await build("stack");
  await build("host");
  const warm: Record<string, number[]> = { stack: [], host: [] };
  for (let i = 0; i < PAIRS; i++) {
    const order = i % 2 ? ["host", "stack"] : ["stack", "host"];
    for (const m of order) warm[m].push(await build(m));
  }
  // First use: fresh homes that share nothing but what the registry serves.
  const cold: Record<string, number[]> = { stack: [], host: [] };
  let rootfsBytes = 0;
  let roots: { builder: number; run: number } | undefined;
  for (let i = 0; i < COLD_PAIRS; i++) {
    const order = i % 2 ? ["host", "stack"] : ["stack", "host"];
    for (const m of order) {
      const home = join(root, `cold-${i}-${m}`);
      cold[m].push(await build(m, home));
      if (m === "stack" && !roots) {
        const rec = await findRecord(home);
        roots = {
          builder: diskUse(rec.stack.builder.root),
          run: diskUse(rec.stack.runImage.root),
        };
        rootfsBytes = diskUse(join(home, "oci", "rootfs"));
      }
      await Deno.remove(home, { recursive: true });
    }
  }
  const ratios = warm.stack.map((s, i) => s / warm.host[i]);
  const mib = (n: number) => `${(n / 1048576).toFixed(0)} MiB`;
  const md = [
    "# Stack build against host build",
    "",
    `Measured ${new Date().toISOString().slice(0, 10)} on ${Deno.build.arch}, ` +
    `${navigator.hardwareConcurrency} cores, as uid ${Deno.uid()}, load average ` +
    `${Deno.loadavg().map((l) => l.toFixed(1)).join(" ")} at the end. Report only (no target).`,
    "",
    "The same app and buildpack (tests/fixtures everything), the same builder (the Debian trixie",
    "stack test builder with the real lifecycle, from a loopback registry), `locald build",
    "--force --trust-builder --stack` against `--host` (trusted, as the well-known builders",
    "are: the host build runs unsandboxed); wall time of the whole command.",
    "",
    "| what | --host | --stack | stack/host |",
    "| --- | --- | --- | --- |",
    `| warm build, ${PAIRS} pairs (median, range ms) | ${median(warm.host).toFixed(0)} ` +
    `(${range(warm.host)}) | ${median(warm.stack).toFixed(0)} (${range(warm.stack)}) | ` +
    `${median(ratios).toFixed(2)} (median of the pairs' ratios) |`,
    `| first use, fresh LOCALD_HOME, ${COLD_PAIRS} pairs (median ms) | ` +
    `${median(cold.host).toFixed(0)} | ${median(cold.stack).toFixed(0)} | ` +
    `${(median(cold.stack) / median(cold.host)).toFixed(2)} |`,
    "",
    `Root filesystems extracted on first use: builder ${mib(roots?.builder ?? 0)}, run image ` +
    `${mib(roots?.run ?? 0)} (${mib(rootfsBytes)} under oci/rootfs, allocated blocks). The first`,
    "stack build pulls both images' layers and extracts them (minbase trixie userlands here; a",
    "production builder is much larger); later stack builds reuse them. A warm stack build pays",
    "for bwrap and for laying out the image's root for each of the four phases.",
    "",
  ].join("\n");
  await Deno.writeTextFile(OUT, md);
  console.log(md);
} finally {
  await reg.stop();
  await Deno.remove(root, { recursive: true });
}

// deno-lint-ignore no-explicit-any
async function findRecord(home: string): Promise<any> {
  for await (const e of Deno.readDir(join(home, "projects"))) {
    try {
      return JSON.parse(await Deno.readTextFile(join(home, "projects", e.name, "build.json")));
    } catch { /* not this one */ }
  }
  throw new Error(`no build record under ${home}`);
}
