/**
 * The copy a new generation makes of each cached layer (src/util/fs.ts copyTree) against
 * `cp -a` of the same tree: a build-cache-like tree (256 directories of 7 files, sizes drawn
 * from an exponential distribution around 80 KiB, about 140 MB in all, like the Go app's build
 * cache), copied in paired rounds (one hyperfine run per round, every command once, the order
 * reversed every other round). Before each run the destination is removed and `sync` writes
 * back what the last run left dirty, so every copy starts from the same state of the disk.
 *
 *   deno run -A bench/copy_tree.ts [--rounds R] [--before /path/to/other/checkout]
 *
 * --before: that checkout's copyTree in the same rounds. Writes bench/results/copy_tree.md.
 */
import { join } from "node:path";
import { median } from "./lib/stats.ts";
import { checkoutName } from "./lib/checkout.ts";
import { argValue } from "./lib/args.ts";

const REPO = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const DENO = Deno.execPath();
const ROUNDS = Number(argValue("--rounds") ?? 6);
const BEFORE = argValue("--before");
const dec = new TextDecoder();

/** A deterministic pseudo-random sequence (the same tree every run). */
function random(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function makeCache(dir: string): Promise<{ files: number; bytes: number }> {
  const next = random(1);
  let files = 0, bytes = 0;
  const chunk = new Uint8Array(1 << 20).map((_, i) => (i * 2654435761) >>> 24);
  for (let d = 0; d < 256; d++) {
    const sub = join(dir, d.toString(16).padStart(2, "0"));
    await Deno.mkdir(sub, { recursive: true });
    for (let i = 0; i < 7; i++) {
      const size = Math.min(chunk.length, Math.floor(-Math.log(1 - next()) * 80_000));
      await Deno.writeFile(
        join(sub, `${i}${d.toString(16).padStart(4, "0")}-d`),
        chunk.slice(0, size),
      );
      files++;
      bytes += size;
    }
  }
  return { files, bytes };
}

const root = await Deno.makeTempDir({ prefix: "locald-bench-copy-" });
try {
  const src = join(root, "src"), dst = join(root, "dst");
  const made = await makeCache(src);
  const script = (repo: string) => {
    const f = join(root, `copy-${repo === REPO ? "this" : "before"}.ts`);
    return Deno.writeTextFile(
      f,
      `import { copyTree } from "${repo}/src/util/fs.ts";\n` +
        `await copyTree(Deno.args[0], Deno.args[1], "copy");\n`,
    ).then(() => `${DENO} run -A --quiet ${f} ${src} ${dst}`);
  };
  const cmds: Record<string, string> = {
    this: await script(REPO),
    "cp -a": `cp -a ${src} ${dst}`,
  };
  if (BEFORE) cmds.before = await script(BEFORE);
  const labels = Object.keys(cmds);
  const rounds: Record<string, { median: number; user: number; system: number }>[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const json = join(root, `hf-${r}.json`);
    const order = r % 2 ? [...labels].reverse() : labels;
    const args = ["--export-json", json, "--style", "none", "-N", "--runs", "3"];
    args.push("--prepare", `sh -c 'rm -rf ${dst}; sync'`);
    for (const l of order) args.push("-n", l, cmds[l]);
    const p = await new Deno.Command("hyperfine", { args }).output();
    if (!p.success) throw new Error(`hyperfine: ${dec.decode(p.stderr)}`);
    const res = JSON.parse(await Deno.readTextFile(json)).results as {
      command: string;
      median: number;
      user: number;
      system: number;
    }[];
    rounds.push(Object.fromEntries(res.map((x) => [x.command, x])));
  }
  const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
  const col = (l: string) => median(rounds.map((r) => r[l].median));
  const cpu = (l: string) => median(rounds.map((r) => r[l].user + r[l].system));
  const ratio = (a: string, b: string) => median(rounds.map((r) => r[a].median / r[b].median));
  const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  const names: Record<string, string> = {
    this: "copyTree (this checkout)",
    "cp -a": "`cp -a`",
    before: `copyTree (${BEFORE ? await checkoutName(BEFORE) : ""})`,
  };
  const text = [
    "# Copying a cached layer: copyTree against cp -a",
    "",
    `Recorded ${
      new Date().toISOString()
    } with \`deno run -A bench/copy_tree.ts\` (${ROUNDS} rounds ` +
    `of 3 runs of each command, the order reversed every other round; load average ${load}), ` +
    `${navigator.hardwareConcurrency} cores, deno ${Deno.version.deno}, on the file system of ` +
    `${root} (this machine: ext4). The tree: ${made.files} files in 256 directories, ` +
    `${(made.bytes / 2 ** 20).toFixed(0)} MiB (a build cache like the Go app's). Before each run ` +
    "the copy is removed and `sync` writes back what the run before left dirty; the copy itself " +
    "is timed, not its writeback. Each command includes starting its program (Deno's start-up " +
    "for copyTree).",
    "",
    "| command | wall (median of round medians) | CPU (user+sys) | over `cp -a`, per round |",
    "| --- | --- | --- | --- |",
    ...labels.map((l) =>
      `| ${names[l]} | ${ms(col(l))} | ${ms(cpu(l))} | ${ratio(l, "cp -a").toFixed(2)} |`
    ),
    "",
  ].join("\n");
  await Deno.writeTextFile(join(REPO, "bench/results/copy_tree.md"), text);
  console.log(text);
} finally {
  await Deno.remove(root, { recursive: true }).catch(() => {});
}
