/**
 * `locald exec -- true` on a small built app against the least a Deno program can do to run a
 * command in that environment (bench/lib/spawn_launcher.ts: spawn the launcher with its three
 * variables), paired in one hyperfine run; optionally also another checkout's main.ts (the
 * code before a change) on the same app and state.
 *
 *   deno run -A bench/exec_startup.ts [--runs N] [--before /path/to/other/checkout]
 *
 * Needs hyperfine and the test tools (scripts/test-tools.sh). Writes
 * bench/results/exec_startup.md.
 */
import { join } from "node:path";

const REPO = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const CACHE = Deno.env.get("LOCALD_TEST_CACHE") || "/var/cache/locald-test";
const DENO = Deno.execPath();
const arg = (name: string) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
};
const RUNS = Number(arg("--runs") ?? 40);
const before = arg("--before");

interface Hf {
  command: string;
  median: number;
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
  const cmds: Record<string, string> = {
    "locald exec -- true": `${DENO} run -A --quiet ${REPO}/main.ts exec -C ${app} -- true`,
    "spawn_launcher.ts -- true": `${DENO} run -A --quiet ${REPO}/bench/lib/spawn_launcher.ts ` +
      `${rec!.lifecycle.launcher} ${rec!.layersDir} ${app} ${rec!.platformApi} -- true`,
  };
  if (before) {
    cmds["before: locald exec -- true"] =
      `${DENO} run -A --quiet ${before}/main.ts exec -C ${app} -- true`;
  }
  const json = join(root, "hf.json");
  const args = ["--export-json", json, "--style", "none", "-N", "--warmup", "3"];
  args.push("--runs", String(RUNS));
  for (const [label, cmd] of Object.entries(cmds)) args.push("-n", label, cmd);
  const p = await new Deno.Command("hyperfine", { args, env, clearEnv: true }).output();
  if (!p.success) throw new Error(`hyperfine failed: ${dec.decode(p.stderr)}`);
  const res = Object.fromEntries(
    (JSON.parse(await Deno.readTextFile(json)).results as Hf[]).map((r) => [r.command, r]),
  );
  const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;
  const cpu = (h: Hf) => h.user + h.system;
  const floor = res["spawn_launcher.ts -- true"];
  const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  const lines = [
    "# exec start-up against the least a Deno program can do",
    "",
    `Recorded ${new Date().toISOString()} with \`deno run -A bench/exec_startup.ts\` ` +
    `(${RUNS} runs each in one hyperfine run, one command after the other; medians; load average ${load}), ` +
    `${navigator.hardwareConcurrency} cores, deno ${Deno.version.deno}. ` +
    "The app is tests/fixtures/apps/everything built with its buildpack (profile scripts: " +
    "the launcher runs bash in both).",
    "",
    "| command | wall (median) | CPU (user+sys, mean) | wall over the floor | CPU over the floor |",
    "|---|---|---|---|---|",
    ...Object.values(res).map((h) =>
      `| ${h.command} | ${ms(h.median)} | ${ms(cpu(h))} | ${ms(h.median - floor.median)} | ${
        ms(cpu(h) - cpu(floor))
      } |`
    ),
    "",
    "Goal: exec at most 5 ms over spawn_launcher.ts.",
    before ? `"before" is main.ts of ${before} on the same app and state.` : "",
    "",
  ];
  await Deno.mkdir(join(REPO, "bench/results"), { recursive: true });
  await Deno.writeTextFile(join(REPO, "bench/results/exec_startup.md"), lines.join("\n"));
  console.log(lines.join("\n"));
} finally {
  await Deno.remove(root, { recursive: true }).catch(() => {});
}
