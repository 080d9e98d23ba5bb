/**
 * A benchmark's command line: `--runs N` (default 3) and `--out FILE` (default
 * bench/results/NAME).
 */
export function benchArgs(results: string, args = Deno.args): { runs: number; outFile: string } {
  const runs = Number(args[args.indexOf("--runs") + 1] || 3) || 3;
  const outFile = args.includes("--out")
    ? args[args.indexOf("--out") + 1]
    : new URL(`../results/${results}`, import.meta.url).pathname;
  return { runs, outFile };
}

/** The value after `name` on a benchmark's command line (`--rounds 6`), if it is there. */
export function argValue(name: string, args = Deno.args): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

export const f2 = (n: number) => n.toFixed(2);
export const f0 = (n: number) => n.toFixed(0);

/** Write a benchmark's results file (and show it). */
export async function writeResults(outFile: string, text: string) {
  await Deno.mkdir(new URL(".", `file://${outFile}`).pathname, { recursive: true });
  await Deno.writeTextFile(outFile, text);
  console.log(text);
}
