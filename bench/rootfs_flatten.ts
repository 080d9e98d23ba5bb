/**
 * Benchmark (issue 16, WSL): extracting a stack image's root filesystem as WSL does it (every
 * layer's headers read, then ONE flattened tar stream of the final tree into GNU tar:
 * src/oci/flatten.ts) against the layer applier (src/oci/apply.ts, how roots are written
 * natively and on Lima) and against GNU tar extracting each layer in turn (the floor: no
 * whiteouts, no checks), paired in every run, on the same verified layer files of the test
 * stack's images (tests/support/stack_images.ts). The wsl.exe hop and the distribution's disk
 * are not part of it: this is the cost of the method here.
 *
 *   deno run -A bench/rootfs_flatten.ts [--runs N] [--out bench/results/rootfs_flatten.md]
 */
import { join } from "node:path";
import { startRegistry } from "../tests/support/registry.ts";
import { pushStackImages } from "../tests/support/stack_images.ts";
import { fetchLayers, resolveImage, verifiedLayers } from "../src/oci/image.ts";
import { localdDirs } from "../src/config/paths.ts";
import { type Measure, measure } from "./lib/measure.ts";
import { median } from "./lib/stats.ts";
import { benchArgs, f0, f2, writeResults } from "./lib/args.ts";

const { runs, outFile } = benchArgs("rootfs_flatten.md");
const ONCE = new URL("./lib/extract_once.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

async function main() {
  const reg = await startRegistry();
  const work = await Deno.makeTempDir({ prefix: "locald-bench-flatten-" });
  const env: Record<string, string> = { ...Deno.env.toObject(), NO_COLOR: "1" };
  const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  try {
    const { builder, runImage } = await pushStackImages(reg);
    const pullEnv = { ...env, LOCALD_HOME: join(work, "home") };
    const opts = { env: pullEnv, dirs: localdDirs(pullEnv) };
    const rows: string[] = [];
    for (const [what, ref] of [["builder", builder], ["run image", runImage]]) {
      const img = await resolveImage(ref, opts);
      const layers = await verifiedLayers(img, await fetchLayers(img, opts));
      const specs = layers.map((l) => `${l.path}:${l.compression}`);
      const m: Record<"flatten" | "apply" | "tar", Measure[]> = { flatten: [], apply: [], tar: [] };
      const run = async (kind: keyof typeof m, dest: string) => {
        const cmd = kind === "tar"
          ? [
            "sh",
            "-c",
            'd=$1; shift; mkdir -p "$d"; for l; do tar -xzf "$l" -C "$d" || exit 1; done',
            "sh",
            dest,
            ...layers.map((l) => l.path),
          ]
          : [Deno.execPath(), "run", "-A", "--config", CONFIG, ONCE, kind, dest, ...specs];
        m[kind].push(await measure(cmd, env));
        await Deno.remove(dest, { recursive: true });
      };
      for (let r = 0; r < runs; r++) {
        const order: (keyof typeof m)[] = r % 2
          ? ["tar", "apply", "flatten"]
          : ["flatten", "apply", "tar"];
        for (const k of order) await run(k, join(work, `${k}-${r}`));
        console.error(
          `${what} run ${r + 1}/${runs}: ` +
            order.map((k) => `${k} ${m[k].at(-1)!.seconds}s`).join(", "),
        );
      }
      const s = (k: keyof typeof m) => median(m[k].map((x) => x.seconds));
      const anon = (k: keyof typeof m) => median(m[k].map((x) => x.anonMiB));
      const rss = (k: keyof typeof m) => median(m[k].map((x) => x.maxRssMiB));
      rows.push(
        `| ${what} | ${f2(s("flatten"))} | ${f2(s("apply"))} | ${f2(s("tar"))} | ` +
          `**${f2(s("flatten") / s("apply"))}** | ${f2(s("flatten") / s("tar"))} | ` +
          `${f0(rss("flatten"))} / ${f0(anon("flatten"))} | ${f0(rss("apply"))} / ${
            f0(anon("apply"))
          } |`,
      );
    }
    const text = [
      "# A stack root as WSL extracts it: the flattened stream into GNU tar",
      "",
      `Generated ${
        new Date().toISOString()
      } by \`deno run -A bench/rootfs_flatten.ts --runs ${runs}\` ` +
      `on ${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} cores, deno ` +
      `${Deno.version.deno}; load average at the start: ${load}.`,
      "",
      "Each run extracts the image's verified layer files (already pulled) three ways, as its own",
      "process: `flatten` (bench/lib/extract_once.ts: every layer read twice, headers then bodies,",
      "one tar stream piped into `tar -x -p -m --no-same-owner`, as WSL's distribution runs it),",
      "`apply` (the layer applier, as natively and on Lima) and `tar` (GNU tar on each layer in",
      "turn: the floor, with no whiteouts and no checks). Who goes first alternates. Medians;",
      "memory: max RSS / peak anonymous MiB of the Deno process (tar's own is small).",
      "",
      "| image | flatten s | apply s | tar s | flatten / apply | flatten / tar | flatten MiB | apply MiB |",
      "|---|---|---|---|---|---|---|---|",
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
