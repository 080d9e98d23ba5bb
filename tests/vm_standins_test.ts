/**
 * The Lima and WSL hosts and `locald vm`, against recording stand-ins for limactl and wsl.exe
 * (tests/standins/). The stand-ins run the wrapped command on this machine, so these tests
 * prove that argv, environment, working directory and exit codes survive the wrapping and
 * the quoting of `limactl shell` (as reimplemented from Lima v2.2.0's shell.go) and WSLENV (as
 * documented). They cannot prove that a VM or a WSL distribution boots, nor that ssh or
 * Windows' command-line handling carry the bytes the same way.
 */
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { LIMA_INSTANCE, limaHost } from "../src/hosts/lima.ts";
import { wslHost } from "../src/hosts/wsl.ts";
import type { HostCommand, Step } from "../src/hosts/types.ts";
import { runProcess } from "./support/proc.ts";

const ROOT = resolve(import.meta.dirname!, "..");
const STANDINS = join(ROOT, "tests", "standins");
const LIMACTL = join(STANDINS, "limactl");
const WSL = join(STANDINS, "wsl.exe");
const RECORDER = join(ROOT, "tests", "fixtures", "record-step.pl");
const PATH = Deno.env.get("PATH") ?? "/usr/bin:/bin";

const HOSTILE_ARGV = [
  "",
  " ",
  "a b",
  "it's",
  '"double"',
  "$HOME",
  "${PATH}",
  "`id`",
  "$(id)",
  "*",
  "?",
  "[ab]",
  "~",
  "~root",
  "line1\nline2",
  "\ttab",
  "back\\slash",
  "--",
  "-c",
  "K=V",
  "=",
  ";",
  "&& exit 9",
  "|",
  ">out",
  "#",
  "!",
  "%",
  "ümlaut ✓",
  "cr\r",
  "'",
  "''",
];

/** Reads record-step.pl's output. */
function parseRecord(text: string): { argv: string[]; env: Record<string, string>; cwd: string } {
  const f = text.split("\0");
  let i = 0;
  const take = (label: string) => {
    assert.equal(f[i++], label, `recorder output: ${JSON.stringify(text.slice(0, 200))}`);
    const n = Number(f[i++]);
    const items = f.slice(i, i + n);
    i += n;
    return items;
  };
  const argv = take("argv");
  const env = Object.fromEntries(
    take("env").map((kv) => {
      const eq = kv.indexOf("=");
      return [kv.slice(0, eq), kv.slice(eq + 1)];
    }),
  );
  assert.equal(f[i++], "cwd");
  return { argv, env, cwd: f[i] };
}

function hostileEnv(dir: string): Record<string, string> {
  return {
    HOME: dir,
    PATH: "/usr/bin:/bin",
    SPACES: "a b  c",
    QUOTES: `'"'`,
    DOLLAR: "$HOME and ${PATH}",
    NEWLINES: "line1\nline2\n",
    EMPTY: "",
    GLOB: "*",
    EQUALS: "a=b=c",
    lower_case: "x",
    BACKTICK: "`id`",
    UNICODE: "ümlaut ✓",
    CR: "x\r",
  };
}

async function tempDir(): Promise<string> {
  // A working directory whose name needs quoting too.
  const base = await Deno.makeTempDir({ prefix: "locald-vm-" });
  return base;
}

async function spawn(cmd: HostCommand, stdin?: string) {
  return await runProcess(cmd.argv, { env: cmd.env, cwd: cmd.cwd, stdin });
}

function step(dir: string, cwd: string, argv: string[]): Step {
  return {
    name: "detector",
    argv,
    env: hostileEnv(dir),
    cwd,
    dropRoot: false,
    mounts: [],
  };
}

async function runningLimaHome(dir: string): Promise<string> {
  const home = join(dir, "lima");
  await Deno.mkdir(join(home, LIMA_INSTANCE), { recursive: true });
  await Deno.writeTextFile(join(home, LIMA_INSTANCE, "lima.yaml"), "vmType: vz\narch: aarch64\n");
  await Deno.writeTextFile(join(home, LIMA_INSTANCE, "standin-status"), "Running");
  return home;
}

async function calls(
  file: string,
): Promise<{ argv: string[]; env: Record<string, string>; cwd: string }[]> {
  const text = await Deno.readTextFile(file).catch(() => "");
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

Deno.test("lima host (stand-in limactl, cannot prove a VM boots): hostile argv, env and cwd arrive exactly", async () => {
  const dir = await tempDir();
  try {
    const cwd = join(dir, "my project's $dir *");
    await Deno.mkdir(cwd);
    const home = await runningLimaHome(dir);
    const host = limaHost({
      limactl: LIMACTL,
      limaHome: home,
      hostEnv: { HOME: dir, PATH, SECRET_TOKEN: "must-not-pass", LOCALD_HOME: "/nope" },
    });
    const s = step(dir, cwd, ["/usr/bin/perl", RECORDER, ...HOSTILE_ARGV]);
    const cmd = host.wrap(s);
    assert.equal(cmd.argv[0], LIMACTL);
    assert.deepEqual(cmd.argv.slice(1, 6), [
      "shell",
      "--tty=false",
      "--workdir",
      cwd,
      LIMA_INSTANCE,
    ]);
    const r = await spawn(cmd);
    assert.equal(r.code, 0, r.stderr);
    const got = parseRecord(r.stdout);
    assert.deepEqual(got.argv, HOSTILE_ARGV);
    assert.deepEqual(got.env, s.env, "exactly the step's environment, nothing from the login");
    assert.equal(got.cwd, cwd);
    // limactl itself got the private LIMA_HOME and nothing of locald's secrets.
    const [call] = await calls(join(home, "standin-calls.jsonl"));
    assert.equal(call.env.LIMA_HOME, home);
    assert.equal(call.env.SECRET_TOKEN, undefined);
    assert.equal(call.env.LOCALD_HOME, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lima host (stand-in limactl, cannot prove a VM boots): exit codes, stdin and a program path with '='", async () => {
  const dir = await tempDir();
  try {
    const odd = join(dir, "odd=dir");
    await Deno.mkdir(odd);
    const prog = join(odd, "prog");
    await Deno.writeTextFile(prog, '#!/bin/sh\nread line\necho "got:$line:$1"\nexit 42\n', {
      mode: 0o755,
    });
    const home = await runningLimaHome(dir);
    const host = limaHost({ limactl: LIMACTL, limaHome: home, hostEnv: { HOME: dir, PATH } });
    const r = await spawn(host.wrap(step(dir, dir, [prog, "a b"])), "hello world\n");
    assert.equal(r.code, 42);
    assert.equal(r.stdout, "got:hello world:a b\n");
    // A missing working directory fails instead of running elsewhere.
    const missing = await spawn(host.wrap(step(dir, join(dir, "gone"), ["/bin/true"])));
    assert.notEqual(missing.code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("wsl host (stand-in wsl.exe, cannot prove Windows quoting or a distro): argv, env via WSLENV, cwd exact", async () => {
  const dir = await tempDir();
  try {
    const cwd = join(dir, "C drive 'project' $x");
    await Deno.mkdir(cwd);
    const state = join(dir, "wsl");
    await Deno.mkdir(state);
    const host = wslHost({
      wsl: WSL,
      distro: "Ubuntu-24.04",
      hostEnv: { PATH, Path: "C:\\Windows", SystemRoot: "C:\\Windows", LOCALD_STANDIN_WSL: state },
    });
    const s = step(dir, cwd, ["/usr/bin/perl", RECORDER, ...HOSTILE_ARGV]);
    const cmd = host.wrap(s);
    // Values travel in carriers listed in WSLENV, never on the command line.
    assert.ok(!cmd.argv.includes("line1\nline2\n"));
    assert.match(cmd.env.WSLENV, /^LOCALD_ENV_0(:LOCALD_ENV_\d+)*$/);
    const r = await spawn(cmd);
    assert.equal(r.code, 0, r.stderr);
    const got = parseRecord(r.stdout);
    assert.deepEqual(got.argv, HOSTILE_ARGV);
    assert.deepEqual(got.env, s.env, "no WSL_INTEROP, no Windows PATH, no carriers");
    assert.equal(got.cwd, cwd);
    const [call] = await calls(join(state, "calls.jsonl"));
    assert.deepEqual(call.argv.slice(0, 5), ["-d", "Ubuntu-24.04", "--cd", cwd, "--exec"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("wsl host (stand-in wsl.exe): exit codes pass through; root default user drops to uid 1000", async () => {
  const dir = await tempDir();
  try {
    const state = join(dir, "wsl");
    await Deno.mkdir(state);
    const host = wslHost({
      wsl: WSL,
      distro: "Ubuntu-24.04",
      hostEnv: { PATH, LOCALD_STANDIN_WSL: state },
      guestUid: 0,
    });
    const r = await spawn(
      host.wrap({ ...step(dir, dir, ["/bin/sh", "-c", "id -u; exit 7"]), dropRoot: true }),
    );
    assert.equal(r.code, 7, r.stderr);
    if (Deno.uid() === 0) assert.equal(r.stdout.trim(), "1000");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
