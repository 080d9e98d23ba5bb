/**
 * `locald exec -- true` on a small built app against the least a Deno program can do to run a
 * command in that environment (bench/lib/spawn_launcher.ts: spawn the launcher with its three
 * variables), paired in the same run; optionally also another checkout's main.ts (the code
 * before a change) on the same app and state.
 *
 * The app (tests/fixtures/apps/everything) has profile.d scripts, so `locald exec` hands the
 * launcher a bash script that its bash runs after sourcing them. Two floors: the launcher
 * given that same script (`--script`: what the launcher must do for this app, the floor the
 * goal is measured against), and `launcher -- true` (no bash at all).
 *
 * The commands take turns: ROUNDS hyperfine runs of a few runs each, one command after the
 * other, so that a load that comes and goes on a shared machine falls on all of them alike.
 *
 *   deno run -A bench/exec_startup.ts [--runs N] [--before /path/to/other/checkout]
 *
 * Needs hyperfine and the test tools (scripts/test-tools.sh). Writes
 * bench/results/exec_startup.md.
 */
import { join } from "node:path";
import { median } from "./lib/stats.ts";
import { checkoutName } from "./lib/checkout.ts";
import { v8FlagsArg } from "../scripts/release/project.ts";
import { argValue } from "./lib/args.ts";

/** The release binary's V8 flags: locald and the Deno floors it is measured against run with them. */
const V8 = v8FlagsArg();

const REPO = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const CACHE = Deno.env.get("LOCALD_TEST_CACHE") || "/var/cache/locald-test";
const DENO = Deno.execPath();
const RUNS = Number(argValue("--runs") ?? 40);
const before = argValue("--before");

interface Hf {
  command: string;
  times: number[];
  user: number;
  system: number;
}

const root = await Deno.makeTempDir({ prefix: "locald-bench-exec-" });
const env: Record<string, string> = {
  PATH: Deno.env.get("PATH")!,
  HOME: Deno.env.get("HOME")!,
  LOCALD_HOME: join(root, "home"),
  LOCALD_LIFECYCLE_DIR: join(CACHE, "lifecycle"),
  NO_COLOR: "1",
  DENO_NO_UPDATE_CHECK: "1",
};
if (Deno.env.get("DENO_DIR")) env.DENO_DIR = Deno.env.get("DENO_DIR")!;
const dec = new TextDecoder();

try {
  const app = join(root, "small");
  await new Deno.Command("cp", { args: ["-r", join(REPO, "tests/fixtures/apps/everything"), app] })
    .output();
  const b = await new Deno.Command(DENO, {
    args: [
      "run",
      "-A",
      join(REPO, "main.ts"),
      "build",
      "-C",
      app,
      "-b",
      join(REPO, "tests/fixtures/buildpacks/everything"),
    ],
    env,
    clearEnv: true,
  }).output();
  if (!b.success) throw new Error(`build failed: ${dec.decode(b.stderr)}`);
  let rec: { lifecycle: { launcher: string }; layersDir: string; platformApi: string } | undefined;
  for await (const e of Deno.readDir(join(root, "home/projects"))) {
    rec = JSON.parse(await Deno.readTextFile(join(root, "home/projects", e.name, "build.json")));
  }
  const floorArgs = `${rec!.lifecycle.launcher} ${rec!.layersDir} ${app} ${
    rec!.platformApi
  } -- true`;
  const cmds: Record<string, string> = {
    "locald exec -- true": `${DENO} run -A --quiet ${V8} ${REPO}/main.ts exec -C ${app} -- true`,
    "spawn_launcher.ts --script":
      `${DENO} run -A --quiet ${V8} ${REPO}/bench/lib/spawn_launcher.ts ` +
      `--script ${floorArgs}`,
    "spawn_launcher.ts -- true":
      `${DENO} run -A --quiet ${V8} ${REPO}/bench/lib/spawn_launcher.ts ` +
      floorArgs,
  };
  // The floor does what locald's launcher does for this app: profile.d sourced.
  for (const c of [cmds["locald exec -- true"], cmds["spawn_launcher.ts --script"]]) {
    const [bin, ...a] = c.replace(/ -- true$/, " -- printenv FIXTURE_PROFILE").split(" ");
    const o = await new Deno.Command(bin, { args: a, env, clearEnv: true }).output();
    const got = dec.decode(o.stdout).trim();
    if (got !== "from-profile-d") throw new Error(`${c}: profile.d not sourced (${got})`);
  }
  if (before) {
    cmds["before: locald exec -- true"] =
      `${DENO} run -A --quiet ${V8} ${before}/main.ts exec -C ${app} -- true`;
  }
  const json = join(root, "hf.json");
  const per = 5;
  const rounds = Math.max(1, Math.round(RUNS / per));
  const times: Record<string, number[]> = {};
  const cpus: Record<string, number[]> = {};
  // Each round's median wall per command: the paired figure is the median over rounds of the
  // difference within a round (a load that comes and goes falls on both sides of it).
  const roundWalls: Record<string, number>[] = [];
  for (let r = 0; r < rounds; r++) {
    const args = ["--export-json", json, "--style", "none", "-N", "--warmup", "1"];
    args.push("--runs", String(per));
    // Alternate the order too: no command is always the one after the warm-up of another.
    const order = Object.entries(cmds);
    for (const [label, cmd] of r % 2 ? order.reverse() : order) args.push("-n", label, cmd);
    const p = await new Deno.Command("hyperfine", { args, env, clearEnv: true }).output();
    if (!p.success) throw new Error(`hyperfine failed: ${dec.decode(p.stderr)}`);
    const round: Record<string, number> = {};
    roundWalls.push(round);
    for (const h of JSON.parse(await Deno.readTextFile(json)).results as Hf[]) {
      round[h.command] = median(h.times);
      (times[h.command] ??= []).push(...h.times);
      (cpus[h.command] ??= []).push(h.user + h.system);
    }
  }
  const res: Record<string, { wall: number; cpu: number }> = Object.fromEntries(
    Object.keys(cmds).map((k) => [k, {
      wall: median(times[k]),
      cpu: cpus[k].reduce((a, b) => a + b, 0) / cpus[k].length,
    }]),
  );
  const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;
  const script = res["spawn_launcher.ts --script"];
  const direct = res["spawn_launcher.ts -- true"];
  const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  const lines = [
    "# exec start-up against the least a Deno program can do",
    "",
    `Recorded ${new Date().toISOString()} with \`deno run -A bench/exec_startup.ts\` ` +
    `(${rounds * per} runs each, in ${rounds} rounds of ${per} taking turns; wall: median, ` +
    `CPU: user+sys, mean; load average at the end ${load}), ` +
    `${navigator.hardwareConcurrency} cores, deno ${Deno.version.deno}. ` +
    "The app is tests/fixtures/apps/everything built with its buildpack: it has profile.d " +
    "scripts, so `locald exec` gives the launcher a bash script that its bash runs after " +
    "sourcing them. `--script`: the launcher given that script by a Deno program that does " +
    "nothing else (the floor); `-- true`: the launcher execing `true` directly, no bash.",
    "",
    "| command | wall | CPU | wall over the floor | CPU over the floor | " +
    "wall over `-- true` | CPU over `-- true` |",
    "|---|---|---|---|---|---|---|",
    ...Object.entries(res).map(([k, h]) =>
      `| ${k} | ${ms(h.wall)} | ${ms(h.cpu)} | ${ms(h.wall - script.wall)} | ${
        ms(h.cpu - script.cpu)
      } | ${ms(h.wall - direct.wall)} | ${ms(h.cpu - direct.cpu)} |`
    ),
    "",
    "Paired per round (median over rounds of the difference of the round's medians), wall over " +
    "the floor: " + Object.keys(cmds).filter((k) =>
      k !== "spawn_launcher.ts --script"
    ).map((k) =>
      `${k}: ${ms(median(roundWalls.map((r) => r[k] - r["spawn_launcher.ts --script"])))}`
    ).join("; ") + ".",
    "",
    "Goal: exec at most 5 ms over the floor.",
    before ? `"before" is main.ts of ${await checkoutName(before)} on the same app and state.` : "",
    "",
  ];
  await Deno.mkdir(join(REPO, "bench/results"), { recursive: true });
  await Deno.writeTextFile(join(REPO, "bench/results/exec_startup.md"), lines.join("\n"));
  console.log(lines.join("\n"));
} finally {
  await Deno.remove(root, { recursive: true }).catch(() => {});
}
