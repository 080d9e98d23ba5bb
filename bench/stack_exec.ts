/**
 * `locald exec -- true` of a stack build (in the run image, under bwrap) against the same app's
 * host build, paired: R rounds of one hyperfine run each with both commands, the order
 * alternating between rounds, so load changes hit both alike; the figure is the median over
 * rounds of the per-round difference. Also `bwrap ... true` over the same root, to show what
 * bwrap itself costs.
 *
 *   deno run -A bench/stack_exec.ts [--rounds R] [--runs N] [--before /path/to/other/checkout]
 *
 * --before: the same two execs by another checkout's main.ts (the code before a change), on
 * the same projects and state, in the same rounds.
 *
 * The roots are the Debian trixie test images' (tests/support/stack_images.ts, pushed to a
 * loopback registry and extracted by src/oci/rootfs.ts), the record is turned into a stack
 * build's as the stack build writes it: the launcher (the builder's copy of the test lifecycle),
 * the layers and the app are the same as the host build's. Needs hyperfine and the test tools
 * (scripts/test-tools.sh). Writes the `## exec` section of bench/results/stack.md (other
 * sections are kept).
 */
import { join } from "node:path";
import { benchEnv } from "./lib/env.ts";
import { makeStackRecord, recordPath } from "../tests/support/stack_record.ts";
import { pushStackImages } from "../tests/support/stack_images.ts";
import { startRegistry } from "../tests/support/registry.ts";
import { ensureRootfs } from "../src/oci/rootfs.ts";
import { localdDirs } from "../src/config/paths.ts";
import { openDevSession } from "../src/devenv/session.ts";
import { commandIn, inUserland } from "../src/devenv/launch.ts";
import { median } from "./lib/stats.ts";
import { checkoutName } from "./lib/checkout.ts";
import { v8FlagsArg } from "../scripts/release/project.ts";
import { argValue } from "./lib/args.ts";

/** The release binary's V8 flags: locald and the Deno floors it is measured against run with them. */
const V8 = v8FlagsArg();

const REPO = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const DENO = Deno.execPath();
const ROUNDS = Number(argValue("--rounds") ?? 6);
const RUNS = Number(argValue("--runs") ?? 15);
const BEFORE = argValue("--before");
const dec = new TextDecoder();

interface Hf {
  command: string;
  median: number;
  user: number;
  system: number;
}

async function build(app: string, home: string, env: Record<string, string>) {
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
    env: { ...env, LOCALD_HOME: home },
    clearEnv: true,
  }).output();
  if (!b.success) throw new Error(`build failed: ${dec.decode(b.stderr)}`);
}

const root = await Deno.makeTempDir({ prefix: "locald-bench-stack-" });
// Laid out as users have it: HOME outside /tmp (under /home where this user may write there),
// the projects in it and locald's home in it. A project under a shared /tmp would be shown
// by the /tmp bind itself (one bind fewer than a user has).
const userHome = await Deno.makeTempDir({ dir: "/home", prefix: "locald-bench-" })
  .catch(() => join(root, "home"));
const reg = await startRegistry();
try {
  const env = { ...await benchEnv(root), HOME: userHome };
  await Deno.mkdir(env.HOME, { recursive: true });
  // Two projects, each with its own LOCALD_HOME: the same app and buildpack, one turned into
  // a stack build over a run image root.
  const hostApp = join(userHome, "src", "host-app"), stackApp = join(userHome, "src", "stack-app");
  await Deno.mkdir(join(userHome, "src"), { recursive: true });
  const hostHome = join(userHome, ".local/share/locald-host");
  const stackHome = join(userHome, ".local/share/locald-stack");
  await build(hostApp, hostHome, env);
  await build(stackApp, stackHome, env);
  const images = await pushStackImages(reg);
  const dirs = localdDirs({ ...env, LOCALD_HOME: stackHome });
  const rootfs = (ref: string, what: string) =>
    ensureRootfs(ref, { env: { ...env, LOCALD_HOME: stackHome }, dirs, what });
  const run = await rootfs(images.runImage, "run image");
  const runRoot = run.dir;
  await makeStackRecord(await recordPath(stackHome), {
    runRoot,
    builderRoot: (await rootfs(images.builder, "builder")).dir,
    runRef: images.runImage,
  });
  // The bwrap the stack build's exec starts (its mounts, over the same root), running
  // /usr/bin/true instead of the launcher: what bwrap itself costs there.
  const stackEnv = { ...env, LOCALD_HOME: stackHome };
  const session = await openDevSession(stackApp, { env: stackEnv, dirs });
  const wrapped = session.b.host.wrap(
    await inUserland(
      {},
      session.d,
      await commandIn(session.d, ["true"], stackApp, stackEnv),
      "exec",
    ),
  );
  const q = (a: string) => `'${a.replaceAll("'", `'\\''`)}'`;
  const bwrapFull = [...wrapped.argv.slice(0, wrapped.argv.indexOf("--") + 1), "/usr/bin/true"]
    .map(q).join(" ");
  const exec = (app: string, home: string, repo = REPO) =>
    `env LOCALD_HOME=${home} ${DENO} run -A --quiet ${V8} ${repo}/main.ts exec -C ${app} -- true`;
  const cmds: Record<string, string> = {
    host: exec(hostApp, hostHome),
    stack: exec(stackApp, stackHome),
    "bwrap-full": bwrapFull,
    // Running the command directly: what bwrap-full costs over it is bwrap's own share.
    true: "/usr/bin/true",
    bwrap: `bwrap --unshare-all --share-net --die-with-parent --unshare-user --ro-bind ` +
      `${runRoot}/usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 ` +
      `/lib64 --proc /proc --dev /dev -- /bin/true`,
  };
  if (BEFORE) {
    cmds["before-host"] = exec(hostApp, hostHome, BEFORE);
    cmds["before-stack"] = exec(stackApp, stackHome, BEFORE);
  }
  const kinds = Object.keys(cmds).filter((k) => k !== "host" && k !== "stack");
  // The commands work before they are timed.
  for (const [k, c] of Object.entries(cmds)) {
    const o = await new Deno.Command("sh", { args: ["-c", c], env, clearEnv: true }).output();
    if (!o.success) throw new Error(`${k}: ${dec.decode(o.stderr)}`);
  }
  const rounds: Record<string, Hf>[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const json = join(root, `hf-${r}.json`);
    const order = r % 2 ? ["stack", "host", ...[...kinds].reverse()] : ["host", "stack", ...kinds];
    const args = ["--export-json", json, "--style", "none", "-N", "--warmup", "2"];
    args.push("--runs", String(RUNS));
    for (const k of order) args.push("-n", k, cmds[k]);
    const p = await new Deno.Command("hyperfine", { args, env, clearEnv: true }).output();
    if (!p.success) throw new Error(`hyperfine failed: ${dec.decode(p.stderr)}`);
    rounds.push(Object.fromEntries(
      (JSON.parse(await Deno.readTextFile(json)).results as Hf[]).map((h) => [h.command, h]),
    ));
  }
  const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;
  const cpu = (h: Hf) => h.user + h.system;
  const col = (k: string, f: (h: Hf) => number) => median(rounds.map((r) => f(r[k])));
  const diff = (f: (h: Hf) => number, stack = "stack", host = "host") =>
    median(rounds.map((r) => f(r[stack]) - f(r[host])));
  const wallDiff = diff((h) => h.median);
  const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  const section = [
    "## exec",
    "",
    `Recorded ${new Date().toISOString()} with \`deno run -A bench/stack_exec.ts\` ` +
    `(${ROUNDS} rounds of ${RUNS} runs of each command in one hyperfine run, the order ` +
    `alternating; load average ${load}), ${navigator.hardwareConcurrency} cores, deno ` +
    `${Deno.version.deno}. The app is tests/fixtures/apps/everything built with its buildpack; ` +
    "the stack build's roots are the Debian trixie test images' (tests/support/stack_images.ts). " +
    "The commands run once before they are timed, so the stack exec's bwrap line is remembered " +
    "(src/devenv/stack_dev.ts), as for every exec of a project after its first. " +
    `HOME is ${userHome.startsWith("/home/") ? "a directory under /home" : "under /tmp"}, ` +
    "with the projects and locald's home (LOCALD_HOME) inside it, as users have them.",
    "",
    "| command | wall (median of round medians) | CPU (user+sys, median of round means) |",
    "|---|---|---|",
    ...[
      ["host", "`locald exec -- true`, host build"],
      ["stack", "`locald exec -- true`, stack build (bwrap over the run image)"],
      ["bwrap-full", "the stack build's exec's bwrap (its mounts), running /usr/bin/true"],
      ["bwrap", "`bwrap ... /bin/true` over the same root, /usr only (bwrap alone)"],
      ["true", "/usr/bin/true, directly"],
      ...(BEFORE
        ? [
          ["before-host", "before: `locald exec -- true`, host build"],
          ["before-stack", "before: `locald exec -- true`, stack build"],
        ]
        : []),
    ].map(([k, label]) => `| ${label} | ${ms(col(k, (h) => h.median))} | ${ms(col(k, cpu))} |`),
    "",
    `Stack over host, paired per round (median of the differences): wall ${ms(wallDiff)}, ` +
    `CPU ${ms(diff(cpu))}. Per round (wall): ` +
    rounds.map((r) => ms(r.stack.median - r.host.median)).join(", ") + ".",
    "",
    "Of that, bwrap's own share (the stack exec's bwrap with all its mounts running /usr/bin/true, " +
    `over /usr/bin/true run directly, paired): ${
      ms(diff((h) => h.median, "bwrap-full", "true"))
    }. ` +
    "The rest is locald's own work for the stack (the remembered bwrap line, the roots checked) " +
    "and the run image's own launcher, loader and bash against the host's: " +
    `${ms(wallDiff - diff((h) => h.median, "bwrap-full", "true"))}.`,
    ...(BEFORE
      ? [
        "",
        `Before (main.ts of ${await checkoutName(BEFORE)}, same rounds): stack over host wall ` +
        `${ms(diff((h) => h.median, "before-stack", "before-host"))}, CPU ` +
        `${ms(diff(cpu, "before-stack", "before-host"))}; this checkout's host exec against ` +
        `before's: wall ${ms(diff((h) => h.median, "host", "before-host"))}, stack exec ` +
        `${ms(diff((h) => h.median, "stack", "before-stack"))}.`,
      ]
      : []),
    "",
    "CPU is what hyperfine's rusage sees. A stack build's dev command runs in the host's pid " +
    "namespace, so all of its CPU is counted (the launcher and bash included); code that made a " +
    "pid namespace for it (a `before` from then) is undercounted, since what runs below bwrap's " +
    "init there is not all accounted to locald's tree. The wall difference is the figure.",
    "",
    `Goal: at most +5 ms wall: ${wallDiff <= 0.005 ? "met" : "not met"} in this run.`,
    "",
  ].join("\n");
  const file = join(REPO, "bench/results/stack.md");
  let text = "";
  try {
    text = await Deno.readTextFile(file);
  } catch { /* a new file */ }
  if (!text) text = "# Stack mode\n\n";
  // Only this section is replaced; the others (the stack build's) are kept as they are.
  const start = text.indexOf("## exec\n");
  if (start < 0) text = text.replace(/\n*$/, "\n\n") + section;
  else {
    const next = text.indexOf("\n## ", start + 1);
    text = text.slice(0, start) + section + (next < 0 ? "" : text.slice(next + 1));
  }
  await Deno.writeTextFile(file, text);
  console.log(section);
} finally {
  await reg.stop();
  await Deno.remove(root, { recursive: true }).catch(() => {});
  await Deno.remove(userHome, { recursive: true }).catch(() => {});
}
