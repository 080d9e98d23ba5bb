/**
 * `locald vm start|status|stop|shell|rm` end to end through main.ts, against the recording
 * stand-ins on PATH (tests/standins/). They check the commands locald sends and what the user
 * sees. They cannot prove that a VM boots or that a WSL distribution exists: the stand-ins
 * only keep state in files.
 */
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { runProcess } from "./support/proc.ts";

const ROOT = resolve(import.meta.dirname!, "..");
const STANDINS = join(ROOT, "tests", "standins");

const DENO_DIR = Deno.env.get("DENO_DIR") ??
  JSON.parse(
    new TextDecoder().decode(
      (await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output()).stdout,
    ),
  ).denoDir;

/** The test's own environment for deno itself (cache, certificates), none of locald's. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (/^(LOCALD_|LIMA_|WSL)/.test(k) || k === "HOME") continue;
    env[k] = v;
  }
  return env;
}

async function locald(args: string[], env: Record<string, string>, stdin?: string) {
  return await runProcess([Deno.execPath(), "run", "-A", join(ROOT, "main.ts"), ...args], {
    env: {
      ...baseEnv(),
      DENO_DIR,
      PATH: `${STANDINS}:${Deno.env.get("PATH")}`,
      NO_COLOR: "1",
      ...env,
    },
    cwd: env.HOME,
    stdin,
  });
}

/** The last call of one limactl subcommand. */
async function lastCall(home: string, sub: string): Promise<string[] | undefined> {
  return (await limaCalls(home)).findLast((argv) => argv[0] === sub);
}

async function limaCalls(home: string): Promise<string[][]> {
  const text = await Deno.readTextFile(join(home, "standin-calls.jsonl")).catch(() => "");
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l).argv);
}

Deno.test("locald vm start/status/stop/shell/rm drive limactl (stand-in: cannot prove a VM boots)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "locald-vmcli-" });
  try {
    const env = {
      HOME: dir,
      LOCALD_HOME: join(dir, "h"),
      LOCALD_BACKEND: "lima",
      LOCALD_LIMACTL: join(STANDINS, "limactl"),
      SECRET_TOKEN: "hunter2",
    };
    const limaHome = join(dir, "h", "lima");

    let r = await locald(["vm", "status", "--json"], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).status, "NotCreated");

    r = await locald(["vm", "start", "--cpus", "2"], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Waiting for the essential requirement/, "Lima's progress is shown");
    assert.match(r.stderr, /the locald VM is running \(created in /);
    const yamlFile = join(limaHome, "_locald", "locald.yaml");
    assert.deepEqual(await lastCall(limaHome, "start"), [
      "start",
      "--tty=false",
      "--progress",
      "--name",
      "locald",
      yamlFile,
    ]);
    const yaml = await Deno.readTextFile(join(limaHome, "locald", "lima.yaml"));
    assert.match(yaml, /^cpus: 2$/m);
    assert.match(yaml, new RegExp(`location: ${JSON.stringify(dir).replace(/[/.]/g, "\\$&")}`));
    const call = JSON.parse(
      (await Deno.readTextFile(join(limaHome, "standin-calls.jsonl"))).split("\n")[0],
    );
    assert.equal(call.env.LIMA_HOME, limaHome, "a private LIMA_HOME");
    assert.equal(call.env.SECRET_TOKEN, undefined, "locald's environment does not leak to limactl");

    r = await locald(["vm", "status", "--json"], env);
    const st = JSON.parse(r.stdout);
    assert.equal(st.status, "Running");
    assert.equal(st.cpus, 2);
    assert.deepEqual(st.mounts, [dir]);
    assert.equal(st.log, join(limaHome, "locald", "ha.stderr.log"));

    r = await locald(["vm", "start"], env);
    assert.match(r.stderr, /already running/);

    // shell: interactive when a terminal is attached; here stdin is piped.
    const project = join(dir, "my app");
    await Deno.mkdir(project);
    r = await locald(["vm", "shell", "-C", project], env, "pwd; exit 3\n");
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout.trim(), project);
    assert.deepEqual(await lastCall(limaHome, "shell"), [
      "shell",
      "--tty=false",
      "--workdir",
      project,
      "locald",
    ]);

    r = await locald(["vm", "stop"], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /stopped/);
    r = await locald(["vm", "status"], env);
    assert.match(r.stderr, /locald VM: Stopped/);

    r = await locald(["vm", "start"], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await lastCall(limaHome, "start"), [
      "start",
      "--tty=false",
      "--progress",
      "locald",
    ]);

    r = await locald(["vm", "rm"], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await lastCall(limaHome, "delete"), [
      "delete",
      "--tty=false",
      "--force",
      "locald",
    ]);
    r = await locald(["vm", "status", "--json"], env);
    assert.equal(JSON.parse(r.stdout).status, "NotCreated");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a VM that fails to start is reported with its log file (stand-in: cannot prove a VM boots)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "locald-vmcli-" });
  try {
    const env = {
      HOME: dir,
      LOCALD_HOME: join(dir, "h"),
      LOCALD_BACKEND: "lima",
      LOCALD_LIMACTL: join(STANDINS, "limactl"),
    };
    const limaHome = join(dir, "h", "lima");
    await Deno.mkdir(limaHome, { recursive: true });
    await Deno.writeTextFile(join(limaHome, "standin-fail-start"), "");
    let r = await locald(["vm", "start"], env);
    assert.equal(r.code, 1);
    const log = join(limaHome, "locald", "ha.stderr.log");
    assert.match(r.stderr, /locald: the locald VM did not start: did not receive an event/);
    assert.ok(r.stderr.includes(`hint: read ${log}`), r.stderr);
    assert.ok(!/\n\s+at /.test(r.stderr), "no stack trace");

    r = await locald(["vm", "start"], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the locald VM is broken/);
    assert.ok(r.stderr.includes(log));
    r = await locald(["vm", "status"], env);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /locald VM: Broken/);
    assert.ok(r.stderr.includes(`log: ${log}`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LOCALD_BACKEND with a bad value is a one-line error, exit 3", async () => {
  const dir = await Deno.makeTempDir({ prefix: "locald-vmcli-" });
  try {
    const r = await locald(["vm", "status"], { HOME: dir, LOCALD_BACKEND: "docker" });
    assert.equal(r.code, 3);
    assert.equal(
      r.stderr,
      'locald: LOCALD_BACKEND must be native, lima or wsl (got "docker")\n' +
        "hint: unset LOCALD_BACKEND to let locald choose from the operating system\n",
    );
    const n = await locald(["vm", "status"], { HOME: dir, LOCALD_BACKEND: "native" });
    assert.equal(n.code, 0);
    assert.match(n.stderr, /no VM: on Linux/);
    const s = await locald(["vm", "start"], { HOME: dir, LOCALD_BACKEND: "native" });
    assert.equal(s.code, 8);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("locald vm on WSL: distro from wsl -l -v (UTF-16LE), status/start/stop/shell/rm (stand-in: no real WSL)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "locald-vmcli-" });
  try {
    const state = join(dir, "wsl");
    await Deno.mkdir(state);
    const env = {
      HOME: dir,
      LOCALD_BACKEND: "wsl",
      LOCALD_STANDIN_WSL: state,
      LOCALD_WSL_EXE: "wsl.exe",
    };
    let r = await locald(["vm", "status", "--json"], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      backend: "wsl",
      distro: "Ubuntu-24.04",
      reason: "the default WSL distribution",
      status: "Running",
      version: 2,
    });
    r = await locald(["vm", "stop"], env);
    assert.equal(r.code, 0, r.stderr);
    r = await locald(["vm", "status"], { ...env, WSL_UTF8: "1" });
    assert.match(
      r.stderr,
      /WSL distribution Ubuntu-24.04 \(the default WSL distribution\): Stopped/,
    );

    r = await locald(["vm", "status"], { ...env, LOCALD_WSL_DISTRO: "Legacy" });
    assert.equal(r.code, 8);
    assert.match(r.stderr, /runs WSL 1/);
    r = await locald(["vm", "status"], { ...env, LOCALD_WSL_DISTRO: "Nope" });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /installed: Ubuntu-24.04, docker-desktop, Legacy/);

    r = await locald(["vm", "start"], env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      r.stderr.includes(
        `\\\\wsl.localhost\\Ubuntu-24.04${join(state, "home").replaceAll("/", "\\")}`,
      ),
      r.stderr,
    );

    const project = join(dir, "app dir");
    await Deno.mkdir(project);
    r = await locald(["vm", "shell", "-C", project], env, "pwd; exit 4\n");
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stdout.trim(), project);

    const stateDir = join(state, "home", ".local", "share", "locald");
    await Deno.mkdir(stateDir, { recursive: true });
    r = await locald(["vm", "rm"], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /the distribution itself is yours and stays/);
    await assert.rejects(Deno.stat(stateDir));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
