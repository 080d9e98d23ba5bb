/**
 * Benchmark (issue 16): first use of the stack builder's and run image's root filesystems
 * (src/oci/rootfs.ts ensureRootfs: download, verify, extract the whole tree) against
 * `skopeo copy docker://... oci:...` plus `umoci raw unpack` of the same image, paired in every
 * run, from a loopback registry: wall time, max RSS and peak anonymous memory
 * (bench/lib/measure.ts). The images are the test stack (tests/support/stack_images.ts: Debian
 * trixie userlands from scripts/test-tools.sh, the lifecycle and a buildpack in the builder).
 *
 *   deno run -A bench/rootfs.ts [--runs N] [--out bench/results/rootfs.md]
 */
import { join } from "node:path";
import { startRegistry } from "../tests/support/registry.ts";
import { pushStackImages } from "../tests/support/stack_images.ts";
import { type Measure, measure } from "./lib/measure.ts";
import { median } from "./lib/stats.ts";
import { benchArgs, f0, f2, writeResults } from "./lib/args.ts";

const { runs, outFile } = benchArgs("rootfs.md");
const ONCE = new URL("./lib/rootfs_once.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

interface Pair {
  ours: Measure;
  skopeo: Measure;
  umoci: Measure;
}

async function main() {
  const reg = await startRegistry();
  const work = await Deno.makeTempDir({ prefix: "locald-bench-rootfs-" });
  const env: Record<string, string> = { ...Deno.env.toObject(), NO_COLOR: "1" };
  const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  try {
    const { builder, runImage } = await pushStackImages(reg);
    const results: [string, string, Pair[]][] = [];
    for (const [what, ref] of [["builder", builder], ["run image", runImage]]) {
      const pairs: Pair[] = [];
      for (let r = 0; r < runs; r++) {
        const home = join(work, `home-${r}`);
        const oci = join(work, `oci-${r}`);
        const rootfs = join(work, `rootfs-${r}`);
        const oursRun = () =>
          measure(
            [Deno.execPath(), "run", "-A", "--config", CONFIG, ONCE, ref, what],
            { ...env, LOCALD_HOME: home },
          );
        const skopeoRun = () =>
          measure(
            [
              "skopeo",
              "copy",
              "--quiet",
              "--src-tls-verify=false",
              `docker://${ref}`,
              `oci:${oci}:x`,
            ],
            env,
          );
        const umociRun = () =>
          measure(["umoci", "raw", "unpack", "--image", `${oci}:x`, rootfs], env);
        // Who goes first alternates: the machine's load drifts within a round.
        let ours: Measure, skopeo: Measure, umoci: Measure;
        if (r % 2 === 0) {
          ours = await oursRun();
          skopeo = await skopeoRun();
          umoci = await umociRun();
        } else {
          skopeo = await skopeoRun();
          umoci = await umociRun();
          ours = await oursRun();
        }
        pairs.push({ ours, skopeo, umoci });
        for (const d of [home, oci, rootfs]) await Deno.remove(d, { recursive: true });
        console.error(
          `${what} run ${r + 1}/${runs}: locald ${ours.seconds}s ${f0(ours.maxRssMiB)} MiB, ` +
            `skopeo+umoci ${f2(skopeo.seconds + umoci.seconds)}s`,
        );
      }
      results.push([what, ref, pairs]);
    }
    const rows = results.map(([what, , p]) => {
      const ours = median(p.map((x) => x.ours.seconds));
      const theirs = median(p.map((x) => x.skopeo.seconds + x.umoci.seconds));
      const rss = median(p.map((x) => x.ours.maxRssMiB));
      const floorRss = median(p.map((x) => Math.max(x.skopeo.maxRssMiB, x.umoci.maxRssMiB)));
      const anon = median(p.map((x) => x.ours.anonMiB));
      const floorAnon = median(p.map((x) => Math.max(x.skopeo.anonMiB, x.umoci.anonMiB)));
      const cpu = median(p.map((x) => x.ours.cpu));
      const cpuTheirs = median(p.map((x) => x.skopeo.cpu + x.umoci.cpu));
      const perRun = (f: (x: Pair) => number) => p.map((x) => f2(f(x))).join(", ");
      return [
        what,
        f2(ours),
        perRun((x) => x.ours.seconds),
        f2(theirs),
        perRun((x) => x.skopeo.seconds + x.umoci.seconds),
        `**${f2(ours / theirs)}**`,
        `${f2(cpu)} / ${f2(cpuTheirs)} = ${f2(cpu / cpuTheirs)}`,
        f0(rss),
        f0(floorRss),
        f2(rss / floorRss),
        f0(anon),
        f0(floorAnon),
        f2(anon / floorAnon),
      ].reduce((line, cell) => `${line} ${cell} |`, "|");
    });
    const text = [
      "# First use of a stack image's root filesystem against skopeo + umoci",
      "",
      `Generated ${
        new Date().toISOString()
      } by \`deno run -A bench/rootfs.ts --runs ${runs}\` on ` +
      `${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} cores, deno ` +
      `${Deno.version.deno}; load average at the start: ${load}.`,
      "",
      "locald: `ensureRootfs` (src/oci/rootfs.ts) with an empty LOCALD_HOME, run as its own Deno",
      "program (bench/lib/rootfs_once.ts): it resolves the image, downloads and verifies its",
      "layers, applies them in a temporary directory, records and renames it into place. The",
      "floor: `skopeo copy docker://REF oci:DIR:x` and then `umoci raw unpack --image DIR:x ROOTFS`",
      "of the same image, in the same round. Both from a loopback registry",
      "(Debian docker-registry, plain HTTP). Images from tests/support/stack_images.ts: the",
      "builder is a Debian trixie build userland (minbase with lua5.4 and m4) plus the lifecycle,",
      "a buildpack and order.toml; the run image is a trixie run userland. umoci runs as root",
      "(device nodes, ownership and setuid bits as in the image); locald skips device nodes and",
      "drops setuid bits (src/oci/apply.ts).",
      "",
      "Medians of each column over the runs (who goes first alternates from run to run); CPU",
      "time is locald's user+system against skopeo's plus umoci's, which the machine's load moves",
      "less than wall time; max RSS from the kernel, anonymous memory (without",
      "the pages of the program's own code) sampled every 2 ms; memory floor: the larger of",
      "skopeo's and umoci's.",
      "",
      "| image | locald s | per run | skopeo + umoci s | per run | ratio (goal <= 1.0) | " +
      "CPU s (user+sys) | max RSS MiB | floor | ratio | anon MiB | floor | ratio |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
      ...rows,
      "",
    ].join("\n");
    await writeResults(outFile, text);
  } finally {
    await reg.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

await main();
