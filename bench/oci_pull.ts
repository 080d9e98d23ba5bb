/**
 * Benchmark: pull and extract a generated builder (>= 300 MB of layers) from a loopback
 * docker-registry with `locald builder pull`, against `skopeo copy docker://... oci:...` plus
 * `umoci raw unpack`, in the same run. Also: a warm pull against the cold one, and the peak
 * memory (max RSS) for builders whose layers differ in size.
 *
 *   deno run -A bench/oci_pull.ts [--runs N] [--out bench/results/oci_pull.md]
 *                                 [--baseline OTHER/main.ts [--baseline-label TEXT]]
 *
 * --baseline: another checkout's main.ts (say, main before a change) whose warm pull takes
 * turns with this one's and with skopeo's, and whose cold pull of each builder of the memory
 * table runs next to this one's, for a before/after from the same run. main.ts runs with the
 * V8 flags the released binary carries (scripts/release/project.ts); the baseline without.
 */
import { join } from "node:path";
import { startRegistry } from "../tests/support/registry.ts";
import { type BuiltLayer, type Entry, layer, pushImage } from "../tests/support/images.ts";
import { type Measure, measure } from "./lib/measure.ts";
import { median } from "./lib/stats.ts";
import { v8FlagsArg } from "../scripts/release/project.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const args = Deno.args;
const runs = Number(args[args.indexOf("--runs") + 1] || 3) || 3;
const outFile = args.includes("--out")
  ? args[args.indexOf("--out") + 1]
  : new URL("./results/oci_pull.md", import.meta.url).pathname;

const baseline = args.includes("--baseline") ? args[args.indexOf("--baseline") + 1] : undefined;
const baselineLabel = args.includes("--baseline-label")
  ? args[args.indexOf("--baseline-label") + 1]
  : `baseline (${baseline})`;

const MiB = 1024 * 1024;

/** `locald builder pull` from this checkout, with the release binary's V8 flags. */
const pull = (ref: string, ...v8: string[]) => [
  Deno.execPath(),
  "run",
  v8FlagsArg(...v8),
  "-A",
  MAIN,
  "builder",
  "pull",
  ref,
];

/** Bytes that compress a little, like binaries do (random with runs of repeats). */
function payload(size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) {
    crypto.getRandomValues(b.subarray(i, Math.min(size, i + 65536)));
  }
  for (let i = seed % 97; i < size; i += 1024) b.fill(0, i, Math.min(size, i + 128));
  return b;
}

/** A builder layer under /cnb/buildpacks: `big` files of `bigSize` plus `small` small files. */
async function bpLayer(
  n: number,
  big: number,
  bigSize: number,
  small: number,
): Promise<BuiltLayer> {
  const dir = `cnb/buildpacks/bench_bp${n}/1.0.${n}`;
  const entries: Entry[] = [
    { name: `cnb/`, type: "directory" },
    { name: `cnb/buildpacks/`, type: "directory" },
    { name: `cnb/buildpacks/bench_bp${n}/`, type: "directory" },
    { name: `${dir}/`, type: "directory" },
    {
      name: `${dir}/buildpack.toml`,
      content: `api = "0.10"\n[buildpack]\nid = "bench/bp${n}"\nversion = "1.0.${n}"\n`,
    },
    { name: `${dir}/bin/`, type: "directory" },
    { name: `${dir}/lib/`, type: "directory" },
  ];
  for (let i = 0; i < big; i++) {
    entries.push({
      name: `${dir}/bin/tool${i}`,
      content: payload(bigSize, n * 1000 + i),
      mode: 0o755,
    });
  }
  for (let i = 0; i < small; i++) {
    entries.push({
      name: `${dir}/lib/f${i}.rb`,
      content: `# file ${i}\n`.repeat(200) + payload(2048, i),
    });
  }
  return await layer(entries, "gzip");
}

async function baseLayer(size: number): Promise<BuiltLayer> {
  const entries: Entry[] = [{ name: "usr/", type: "directory" }, {
    name: "usr/lib/",
    type: "directory",
  }];
  const n = Math.floor(size / (1 * MiB));
  for (let i = 0; i < n; i++) {
    entries.push({ name: `usr/lib/lib${i}.so`, content: payload(MiB, i) });
  }
  return await layer(entries, "gzip");
}

function builderConfigLayer() {
  return layer([
    { name: "cnb/", type: "directory" },
    { name: "cnb/order.toml", content: '[[order]]\n[[order.group]]\nid = "bench/bp0"\n' },
    { name: "cnb/run.toml", content: '[[images]]\nimage = "example.org/run:1"\n' },
  ]);
}

const timed = measure;

/**
 * Wall and CPU time to the microsecond (/usr/bin/time rounds to 10 ms, the size of a warm
 * pull's difference): bash reads its clock around the command and reports its children's CPU
 * time (`times`). Max RSS as /usr/bin/time gives it.
 */
async function precise(cmd: string[], env: Record<string, string>): Promise<Measure> {
  const script = 't0=$EPOCHREALTIME; "$@"; s=$?; t1=$EPOCHREALTIME; times >&2; ' +
    'echo "wall $t0 $t1" >&2; exit $s';
  const res = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "%M", "bash", "-c", script, "_", ...cmd],
    env,
    stdout: "null",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(res.stderr).trim().split("\n");
  if (!res.success) throw new Error(`${cmd.join(" ")} failed:\n${err.join("\n")}`);
  const kb = Number(err.at(-1));
  const [t0, t1] = err.at(-2)!.split(" ").slice(1).map(Number);
  const secs = (t: string) => {
    const m = t.match(/^(\d+)m([\d.]+)s$/)!;
    return Number(m[1]) * 60 + Number(m[2]);
  };
  const [user, sys] = err.at(-3)!.split(" ").map(secs);
  return { seconds: t1 - t0, maxRssMiB: kb / 1024, cpu: user + sys, anonMiB: 0, fileMiB: 0 };
}

async function main() {
  const load = () => Deno.loadavg().map((l) => l.toFixed(1)).join(" ");
  const loadStart = load();
  const reg = await startRegistry();
  const work = await Deno.makeTempDir({ prefix: "locald-bench-oci-" });
  const baseEnv: Record<string, string> = {
    ...Deno.env.toObject(),
    DENO_DIR: Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME") ?? "/root", ".cache/deno"),
    NO_COLOR: "1",
  };
  try {
    console.error("generating builders...");
    // A: 1 base layer (outside /cnb) + 6 buildpack layers: ~330 MB of layers.
    const layersA = [await baseLayer(60 * MiB)];
    for (let n = 0; n < 6; n++) layersA.push(await bpLayer(n, 24, 2 * MiB, 400));
    layersA.push(await builderConfigLayer());
    const sizeA = layersA.reduce((s, l) => s + l.blob.length, 0);
    await pushImage(reg, "bench/builder", "a", { layers: layersA });
    // B: the same total in fewer, bigger layers and bigger files (memory must not follow).
    const layersB = [
      await baseLayer(60 * MiB),
      await bpLayer(0, 45, 6 * MiB, 100),
      await builderConfigLayer(),
    ];
    const sizeB = layersB.reduce((s, l) => s + l.blob.length, 0);
    await pushImage(reg, "bench/builder", "b", { layers: layersB });
    // C: a small builder, for the memory comparison.
    const layersC = [
      await baseLayer(8 * MiB),
      await bpLayer(0, 4, 2 * MiB, 100),
      await builderConfigLayer(),
    ];
    const sizeC = layersC.reduce((s, l) => s + l.blob.length, 0);
    await pushImage(reg, "bench/builder", "c", { layers: layersC });

    // D: one 300 MiB layer of 10 MiB files, pulled with V8's heap capped at 32 MiB.
    const big: Entry[] = [{ name: "cnb/", type: "directory" }, {
      name: "cnb/order.toml",
      content: "",
    }];
    for (let i = 0; i < 30; i++) big.push({ name: `cnb/blob${i}`, content: payload(10 * MiB, i) });
    const layersD = [await layer(big, "gzip")];
    const sizeD = layersD[0].blob.length;
    await pushImage(reg, "bench/builder", "d", { layers: layersD });

    const rows: string[] = [];
    const cold: Measure[] = [];
    const warm: Measure[] = [];
    const skopeo: Measure[] = [];
    const umoci: Measure[] = [];
    const refA = `${reg.host}/bench/builder:a`;
    for (let r = 0; r < runs; r++) {
      const home = join(work, `home-${r}`);
      const env = { ...baseEnv, LOCALD_HOME: home };
      cold.push(await timed(pull(refA), env));
      warm.push(await timed(pull(refA), env));
      const oci = join(work, `oci-${r}`);
      skopeo.push(
        await timed([
          "skopeo",
          "copy",
          "--quiet",
          "--src-tls-verify=false",
          `docker://${refA}`,
          `oci:${oci}:a`,
        ], baseEnv),
      );
      umoci.push(
        await timed(
          ["umoci", "raw", "unpack", "--image", `${oci}:a`, join(work, `rootfs-${r}`)],
          baseEnv,
        ),
      );
      await Deno.remove(home, { recursive: true });
      await Deno.remove(oci, { recursive: true });
      await Deno.remove(join(work, `rootfs-${r}`), { recursive: true });
      console.error(
        `run ${r + 1}/${runs}: locald ${cold[r].seconds}s, skopeo+umoci ${
          skopeo[r].seconds + umoci[r].seconds
        }s`,
      );
    }
    // Peak memory per builder, each locald pull paired with skopeo copy and umoci unpack of
    // the same image (the floor: the larger of the two tools' peaks).
    const mem: ["a" | "b" | "c" | "d", number, Measure, Measure, Measure, Measure?][] = [];
    for (
      const [tag, size] of [["c", sizeC], ["a", sizeA], ["b", sizeB], ["d", sizeD]] as const
    ) {
      const env = { ...baseEnv, LOCALD_HOME: join(work, `mem-${tag}`) };
      const ref = `${reg.host}/bench/builder:${tag}`;
      const ours = await timed(pull(ref), env);
      let before: Measure | undefined;
      if (baseline) {
        const benv = { ...baseEnv, LOCALD_HOME: join(work, `mem-base-${tag}`) };
        before = await timed(
          [Deno.execPath(), "run", "-A", baseline, "builder", "pull", ref],
          benv,
        );
        await Deno.remove(benv.LOCALD_HOME, { recursive: true });
      }
      const oci = join(work, `mem-oci-${tag}`);
      const sk = await timed(
        ["skopeo", "copy", "--quiet", "--src-tls-verify=false", `docker://${ref}`, `oci:${oci}:x`],
        baseEnv,
      );
      const um = await timed(
        ["umoci", "raw", "unpack", "--image", `${oci}:x`, join(work, `mem-rootfs-${tag}`)],
        baseEnv,
      );
      mem.push([tag, size, ours, sk, um, before]);
      for (const d of [env.LOCALD_HOME, oci, join(work, `mem-rootfs-${tag}`)]) {
        await Deno.remove(d, { recursive: true });
      }
    }
    // Warm pulls, paired with a warm `skopeo copy` of the same image into a layout that holds
    // it already (it fetches the manifest, finds every blob, writes nothing new).
    const warmHome = { ...baseEnv, LOCALD_HOME: join(work, "warm") };
    const warmOci = join(work, "warm-oci");
    const skopeoWarm = [
      "skopeo",
      "copy",
      "--quiet",
      "--src-tls-verify=false",
      `docker://${refA}`,
      `oci:${warmOci}:a`,
    ];
    const pullA = pull(refA);
    await timed(pullA, warmHome);
    await timed(skopeoWarm, baseEnv);
    const pullBase = baseline &&
      [Deno.execPath(), "run", "-A", baseline, "builder", "pull", refA];
    if (pullBase) await timed(pullBase, warmHome);
    const warmPairs: [Measure, Measure, Measure?][] = [];
    for (let i = 0; i < 7 * runs; i++) {
      warmPairs.push([
        await precise(pullA, warmHome),
        await precise(skopeoWarm, baseEnv),
        pullBase ? await precise(pullBase, warmHome) : undefined,
      ]);
    }
    const wm = (k: 0 | 1 | 2, f: (m: Measure) => number) => median(warmPairs.map((p) => f(p[k]!)));
    const idle = join(work, "idle.ts");
    await Deno.writeTextFile(idle, "");
    const idleDeno = await precise([Deno.execPath(), "run", idle], baseEnv);
    // The same, alive long enough for its memory to be sampled.
    await Deno.writeTextFile(idle, "await new Promise((r) => setTimeout(r, 300));\n");
    const idleMem = await timed([Deno.execPath(), "run", idle], baseEnv);
    // The Node compatibility layer that node:zlib (gzip, zstd) and node:crypto (SHA-256) start.
    const nodeMods = join(work, "node.ts");
    await Deno.writeTextFile(
      nodeMods,
      'import "node:zlib";\nimport "node:crypto";\nawait new Promise((r) => setTimeout(r, 300));\n',
    );
    const nodeMem = await timed([Deno.execPath(), "run", v8FlagsArg(), nodeMods], baseEnv);
    const idleFlags = await timed([Deno.execPath(), "run", v8FlagsArg(), idle], baseEnv);
    const capped = await timed(
      pull(`${reg.host}/bench/builder:d`, "--max-old-space-size=32"),
      { ...baseEnv, LOCALD_HOME: join(work, "mem-d") },
    );
    const c = median(cold.map((m) => m.seconds));
    const w = median(warm.map((m) => m.seconds));
    const theirs = median(skopeo.map((m, i) => m.seconds + umoci[i].seconds));
    const mb = (n: number) => `${(n / MiB).toFixed(0)} MiB`;
    rows.push(
      `# locald builder pull vs skopeo copy + umoci raw unpack`,
      "",
      `Generated ${
        new Date().toISOString().slice(0, 10)
      } by \`deno run -A bench/oci_pull.ts --runs ${runs}\` ` +
        `on ${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} cores (shared: load average ${loadStart} at the start, ${load()} at the end), deno ${Deno.version.deno}.`,
      `Registry: Debian docker-registry on 127.0.0.1 (plain HTTP). Medians of ${runs} runs; wall time and`,
      "max RSS from /usr/bin/time. locald's times include Deno start-up and the CLI.",
      "",
      `Builder A: ${layersA.length} gzip layers, ${mb(sizeA)} compressed (a ${
        mb(layersA[0].blob.length)
      } base layer`,
      `outside /cnb, six buildpack layers of 24 x 2 MiB files and 400 small files each, order/run.toml).`,
      "locald downloads and verifies every layer, decompresses all of them and writes /cnb only;",
      "umoci writes the whole root filesystem (the base layer too): skopeo+umoci do a little more writing.",
      "",
      "| step | median s | per run (s) | max RSS MiB (median) |",
      "|---|---|---|---|",
      `| locald builder pull, cold (empty LOCALD_HOME) | ${c.toFixed(2)} | ${
        cold.map((m) => m.seconds.toFixed(2)).join(", ")
      } | ${median(cold.map((m) => m.maxRssMiB)).toFixed(0)} |`,
      `| locald builder pull, warm (same image again) | ${w.toFixed(2)} | ${
        warm.map((m) => m.seconds.toFixed(2)).join(", ")
      } | ${median(warm.map((m) => m.maxRssMiB)).toFixed(0)} |`,
      `| skopeo copy docker:// oci: | ${median(skopeo.map((m) => m.seconds)).toFixed(2)} | ${
        skopeo.map((m) => m.seconds.toFixed(2)).join(", ")
      } | ${median(skopeo.map((m) => m.maxRssMiB)).toFixed(0)} |`,
      `| umoci raw unpack | ${median(umoci.map((m) => m.seconds)).toFixed(2)} | ${
        umoci.map((m) => m.seconds.toFixed(2)).join(", ")
      } | ${median(umoci.map((m) => m.maxRssMiB)).toFixed(0)} |`,
      `| skopeo + umoci | ${theirs.toFixed(2)} | ${
        skopeo.map((m, i) => (m.seconds + umoci[i].seconds).toFixed(2)).join(", ")
      } | |`,
      "",
      `**Ratio locald cold / (skopeo + umoci): ${(c / theirs).toFixed(2)}** (target <= 1.0).`,
      `**Warm / cold: ${
        ((w / c) * 100).toFixed(1)
      } %** (target <= 5 %). A warm pull fetches the manifest, finds`,
      "the digest unchanged and the extracted builder in place, and downloads no blob.",
      "",
      `Warm pull against a warm \`skopeo copy\` of the same image (${warmPairs.length} paired runs, medians;`,
      "wall and CPU time to the microsecond: bash's clock around the command and its `times`):",
      "",
      "| step | wall ms | CPU ms (user+sys) | max RSS MiB |",
      "|---|---|---|---|",
      ...([
        ["locald builder pull, warm", 0],
        ["skopeo copy, warm", 1],
        ...(pullBase ? [[`${baselineLabel}, warm`, 2] as const] : []),
      ] as const).map(([name, k]) =>
        `| ${name} | ${(wm(k, (m) => m.seconds) * 1000).toFixed(1)} | ${
          (wm(k, (m) => m.cpu) * 1000).toFixed(1)
        } | ${wm(k, (m) => m.maxRssMiB).toFixed(0)} |`
      ),
      "",
      `**Warm pull / warm skopeo copy: ${
        (wm(0, (m) => m.seconds) / wm(1, (m) => m.seconds)).toFixed(2)
      } wall, ${(wm(0, (m) => m.cpu) / wm(1, (m) => m.cpu)).toFixed(2)} CPU** (target <= 1.5)${
        pullBase
          ? `; the baseline's: ${
            (wm(2, (m) => m.seconds) / wm(1, (m) => m.seconds)).toFixed(2)
          } wall, ${(wm(2, (m) => m.cpu) / wm(1, (m) => m.cpu)).toFixed(2)} CPU`
          : ""
      }. An empty \`deno run\` took ${(idleDeno.seconds * 1000).toFixed(1)} ms and ${
        idleDeno.maxRssMiB.toFixed(0)
      } MiB in this run.`,
      "",
      "Peak memory against layer size (cold pulls; floor: the larger peak of `skopeo copy` and",
      "`umoci raw unpack` of the same image, run right after). Max RSS is from the kernel; anonymous",
      "memory (what the process allocated, without the pages of its own program code) is the peak of",
      "RssAnon sampled every 2 ms (bench/lib/measure.ts). An idle `deno run` has " +
        `${idleMem.fileMiB.toFixed(0)} MiB of code pages and ${
          idleMem.anonMiB.toFixed(0)
        } MiB anonymous in this run; ` +
        "locald's pull touches more of the Deno binary (fetch, TLS, node:zlib): its code pages are " +
        `${Math.min(...mem.map((m) => m[2].fileMiB)).toFixed(0)}-${
          Math.max(...mem.map((m) => m[2].fileMiB)).toFixed(0)
        } MiB against ${
          Math.min(...mem.map((m) => Math.max(m[3].fileMiB, m[4].fileMiB))).toFixed(0)
        }-${
          Math.max(...mem.map((m) => Math.max(m[3].fileMiB, m[4].fileMiB))).toFixed(0)
        } MiB for the Go tools. Of locald's anonymous memory, ${
          (nodeMem.anonMiB - idleFlags.anonMiB).toFixed(1)
        } MiB (and ${
          (nodeMem.fileMiB - idleFlags.fileMiB).toFixed(1)
        } MiB of code pages) is the Node compatibility layer that importing node:zlib and node:crypto starts (an idle \`deno run\` with and without them, this run).`,
      "",
      "| builder | layers | compressed | largest layer | largest file | locald max RSS MiB | floor MiB | ratio | locald anon MiB | floor anon MiB | anon ratio |" +
        (baseline ? ` ${baselineLabel}: max RSS / anon MiB |` : ""),
      "|---|---|---|---|---|---|---|---|---|---|---|" + (baseline ? "---|" : ""),
      ...mem.map(([tag, size, m, sk, um, before]) => {
        const ls = { a: layersA, b: layersB, c: layersC, d: layersD }[tag];
        const largest = Math.max(...ls.map((l) => l.blob.length));
        const file = { a: "2 MiB", b: "6 MiB", c: "2 MiB", d: "10 MiB" }[tag];
        const floor = Math.max(sk.maxRssMiB, um.maxRssMiB);
        const anon = Math.max(sk.anonMiB, um.anonMiB);
        return `| ${tag} | ${ls.length} | ${mb(size)} | ${mb(largest)} | ${file} | ${
          m.maxRssMiB.toFixed(0)
        } | ${floor.toFixed(0)} | ${(m.maxRssMiB / floor).toFixed(1)}x | ${
          m.anonMiB.toFixed(0)
        } | ${anon.toFixed(0)} | ${(m.anonMiB / anon).toFixed(1)}x |` +
          (before ? ` ${before.maxRssMiB.toFixed(0)} / ${before.anonMiB.toFixed(0)} |` : "");
      }),
      `| d (V8 heap capped at 32 MiB) | 1 | ${mb(sizeD)} | ${mb(sizeD)} | 10 MiB | ${
        capped.maxRssMiB.toFixed(0)
      } | | | ${capped.anonMiB.toFixed(0)} | | |${baseline ? " |" : ""}`,
      "",
      "Builder d succeeds with `--v8-flags=--max-old-space-size=32`: the JavaScript heap stays bounded",
      "whatever the layer or file size. Layers are read from disk into one reused buffer, inflated",
      "(gzip, zstd) straight into the tar reader's one buffer through the zlib handle, and each file's",
      "bytes are written from that buffer (src/archive/tar.ts, src/archive/inflate.ts): nothing is",
      "allocated per chunk or per entry. Downloads stream to disk through one reused buffer while",
      "hashing, written synchronously (an async write would take a thread of Deno's blocking pool,",
      "and a malloc arena with it, per concurrent download). main.ts runs with the release binary's",
      `V8 flags (${v8FlagsArg()}, scripts/release/project.ts)${
        baseline ? `; ${baselineLabel} without` : ""
      }.`,
      "",
    );
    await Deno.mkdir(join(outFile, ".."), { recursive: true });
    await Deno.writeTextFile(outFile, rows.join("\n"));
    console.log(rows.join("\n"));
  } finally {
    await reg.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

await main();
