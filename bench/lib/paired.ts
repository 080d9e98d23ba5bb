/**
 * Paired runs: every command runs once per round, the rounds one after another, so the
 * machine's load (it is shared) meets all of them alike; each round starts with a different
 * command. One hyperfine call per round (`--runs 1` after one warm-up run of each) gives each
 * run's wall time and the CPU time of the process and its children.
 */
import { median } from "./stats.ts";

export interface Paired {
  /** Median wall seconds over the rounds. */
  median: number;
  /** Median user + system CPU seconds. */
  cpu: number;
  /** Wall seconds, one per round. */
  times: number[];
  /** User + system CPU seconds, one per round. */
  cpus: number[];
}

export async function paired(
  cmds: Record<string, string>,
  rounds: number,
  env: Record<string, string>,
  json: string,
): Promise<Record<string, Paired>> {
  const labels = Object.keys(cmds);
  const wall = new Map(labels.map((l) => [l, [] as number[]]));
  const cpu = new Map(labels.map((l) => [l, [] as number[]]));
  for (let r = 0; r < rounds; r++) {
    const order = labels.map((_, i) => labels[(i + r) % labels.length]);
    const args = ["--export-json", json, "--style", "none", "-N", "--warmup", "1", "--runs", "1"];
    for (const l of order) args.push("-n", l, cmds[l]);
    const p = await new Deno.Command("hyperfine", { args, env, clearEnv: true }).output();
    if (!p.success) throw new Error(`hyperfine failed: ${new TextDecoder().decode(p.stderr)}`);
    const res = JSON.parse(await Deno.readTextFile(json)).results as {
      command: string;
      times: number[];
      user: number;
      system: number;
    }[];
    for (const x of res) {
      wall.get(x.command)!.push(x.times[0]);
      cpu.get(x.command)!.push(x.user + x.system);
    }
  }
  return Object.fromEntries(labels.map((l) => [l, {
    median: median(wall.get(l)!),
    cpu: median(cpu.get(l)!),
    times: wall.get(l)!,
    cpus: cpu.get(l)!,
  }]));
}
