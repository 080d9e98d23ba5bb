/**
 * The whole native end-to-end path (build with the real lifecycle, then exec, env, run and
 * shell -c) carried through the Lima and WSL backends, against the recording stand-ins in
 * tests/standins/, and compared with the same commands run natively.
 *
 * The stand-in `limactl shell` rebuilds the remote command exactly as Lima v2.2.0's shell.go
 * does (two rounds of shell quoting, `cd WORKDIR`, a login `$SHELL -l -c`) and runs it on this
 * machine; as root it runs it as uid 1000 in a user namespace, because Lima's guest user is
 * never root. The stand-in `wsl.exe` runs `--exec ARGV` here with only the WSLENV variables
 * and WSL's own. So these tests prove that the plan, the lifecycle, the launcher and every
 * argument and variable survive the wrapping, that locald's host-side file work around the
 * phases is right for a guest, and that the lifecycle installs for the guest's architecture.
 *
 * What they cannot prove: that a VM boots or a distribution starts; that ssh and virtiofs (or
 * Windows' command line, WSLENV and \\wsl.localhost) carry bytes, ownership and modes the same
 * way; that Ubuntu's login shell behaves like this machine's bash. On WSL the Windows view of
 * a distro path (\\wsl.localhost\<distro>\...) is the path itself here, so the UNC file work and
 * the copy of buildpacks through it are exercised only as plain Linux file work.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runLocald, type RunResult, testEnv } from "./support/locald.ts";
import { startMirror } from "./support/mirror.ts";
import { lifecycleAsset, lifecycleDir, lifecycleMirrorDir } from "./support/tools.ts";

const REPO = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const STANDINS = join(REPO, "tests", "standins");
const FIXTURES = join(REPO, "tests", "fixtures");
const FIXTURE_BP = join(FIXTURES, "buildpacks", "everything");
const FIXTURE_APP = join(FIXTURES, "apps", "everything");

/** The commands both backends run after the build, with what to compare. */
const HOSTILE = ["a b", "$HOME", "*", "it's", 'say "hi"', "line1\nline2", "`id`", ";", ""];

async function copyApp(into: string): Promise<string> {
  const dest = join(into, "app dir");
  const p = await new Deno.Command("cp", { args: ["-r", FIXTURE_APP, dest] }).output();
  assert.equal(p.code, 0);
  return dest;
}

interface Session {
  root: string;
  /** The project's state directory, once built. */
  state?: string;
  app: string;
  env: Record<string, string>;
  run(args: string[], extra?: Record<string, string>): Promise<RunResult>;
  cleanup(): Promise<void>;
}

async function session(extra: Record<string, string>): Promise<Session> {
  const t = await testEnv(extra);
  const app = await copyApp(t.root);
  return {
    root: t.root,
    app,
    env: t.env,
    run: (args, more = {}) => runLocald(args, { env: { ...t.env, ...more } }),
    cleanup: t.cleanup,
  };
}

/** Output with this session's state directory and root replaced, so two sessions compare. */
function norm(s: Session, text: string): string {
  return text.replaceAll(s.state ?? "<none>", "<STATE>").replaceAll(s.root, "<ROOT>");
}

interface Outcome {
  exec: string;
  execCode: number;
  env: Record<string, string | null>;
  web: string;
  worker: string;
  shell: string;
}

/** exec, env, run and shell -c after a build; outputs normalized. */
async function afterBuild(s: Session): Promise<Outcome> {
  const e = await s.run(["exec", "-C", s.app, "--", "fixture-tool", ...HOSTILE]);
  assert.equal(e.code, 0, e.stderr);
  const code = await s.run(["exec", "-C", s.app, "--", "sh", "-c", "exit 42"]);
  const env = await s.run(["env", "-C", s.app, "--format", "json"], {
    FIXTURE_OVERRIDE: "host",
    FIXTURE_LIST: "/host",
  });
  assert.equal(env.code, 0, env.stderr);
  const web = await s.run(["run", "-C", s.app, "--", "extra", "x y"]);
  assert.equal(web.code, 0, web.stderr);
  const worker = await s.run(["run", "-C", s.app, "worker", "x", "y z"]);
  assert.equal(worker.code, 0, worker.stderr);
  const sh = await s.run(
    ["shell", "-C", s.app, "-c", "fixture-tool from-$LOCALD_SHELL; echo $FIXTURE_PROFILE"],
    { SHELL: "/bin/bash" },
  );
  assert.equal(sh.code, 0, sh.stderr);
  return {
    exec: norm(s, e.stdout),
    execCode: code.code,
    env: JSON.parse(norm(s, env.stdout)),
    web: norm(s, web.stdout),
    worker: norm(s, worker.stdout),
    shell: norm(s, sh.stdout),
  };
}

let nativeOutcome: Promise<Outcome> | undefined;

/** The same fixture built and used natively, once, as the reference. */
function native(): Promise<Outcome> {
  nativeOutcome ??= (async () => {
    const s = await session({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
    try {
      const b = await s.run(["build", "-C", s.app, "-b", FIXTURE_BP, "--json"]);
      assert.equal(b.code, 0, b.stderr);
      s.state = (b.json as { stateDir: string }).stateDir;
      return await afterBuild(s);
    } finally {
      await s.cleanup();
    }
  })();
  return nativeOutcome;
}

/** The same results, whichever backend ran them. PATH and HOME are the guest's own. */
function assertSameAsNative(got: Outcome, want: Outcome) {
  assert.equal(got.exec, want.exec);
  assert.match(got.exec, /args: \[a b\] \[\$HOME\] \[\*\] \[it's\] \[say "hi"\] \[line1\nline2\]/);
  assert.equal(got.execCode, 42);
  assert.equal(got.web, want.web);
  assert.equal(got.worker, want.worker);
  assert.equal(got.shell, want.shell);
  const strip = (e: Record<string, string | null>) => {
    const { PATH, HOME: _h, ...rest } = e;
    return { rest, layerPath: String(PATH).split(":").filter((d) => d.includes("/layers/")) };
  };
  assert.deepEqual(strip(got.env), strip(want.env));
  assert.equal(got.env.FIXTURE_OVERRIDE, "layer-value");
  assert.equal(got.env.FIXTURE_LIST, "/fixture/prepended:/host", "the user's variable arrived");
}

function parseCalls(text: string): { argv: string[]; env: Record<string, string> }[] {
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

Deno.test("LOCALD_BACKEND=lima: build, exec, env, run and shell go through `limactl shell` and match the native run (stand-in limactl: cannot prove a VM boots)", async () => {
  const want = await native();
  const mirror = await startMirror(lifecycleMirrorDir());
  const s = await session({
    LOCALD_BACKEND: "lima",
    LOCALD_LIMACTL: join(STANDINS, "limactl"),
    LOCALD_LIFECYCLE_MIRROR: mirror.url,
    SECRET_TOKEN: "hunter2",
  });
  // The VM mounts the test's root (home and LOCALD_HOME are under it) and the fixtures.
  s.env.LOCALD_VM_MOUNTS = `${s.root}:${FIXTURES}`;
  const limaHome = join(s.env.LOCALD_HOME, "lima");
  try {
    const b = await s.run(["build", "-C", s.app, "-b", FIXTURE_BP, "--json"]);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stderr, /creating the locald VM/);
    for (const phase of ["ANALYZER", "DETECTOR", "RESTORER", "BUILDER"]) {
      assert.match(b.stderr, new RegExp(`===> ${phase}`));
    }
    // The buildpack ran as the VM's (never root) user.
    const uid = Deno.uid() === 0 ? 1000 : Deno.uid();
    assert.match(b.stderr, new RegExp(`fixture: building in ${s.app} as uid ${uid}\\n`));
    // deno-lint-ignore no-explicit-any
    const summary = b.json as any;
    s.state = summary.stateDir;
    assert.ok(summary.stateDir.startsWith(s.env.LOCALD_HOME), "state on the shared mount");
    // The lifecycle for the guest's architecture, from the mirror, unpacked where the VM sees it.
    assert.equal(mirror.requestsFor(`/${lifecycleAsset()}`).length, 1);
    const arch = Deno.build.arch === "aarch64" ? "aarch64" : "x86_64";
    const lc = join(s.env.LOCALD_HOME, "tools", "lifecycle", `0.21.17-linux-${arch}`);
    assert.equal((await Deno.lstat(join(lc, "lifecycle", "detector"))).isSymlink, true);

    // Every phase went through `limactl shell --workdir APP locald /usr/bin/env -i -- ...`.
    let calls = parseCalls(await Deno.readTextFile(join(limaHome, "standin-calls.jsonl")));
    const shells = calls.filter((c) => c.argv[0] === "shell");
    for (const phase of ["analyzer", "detector", "restorer", "builder"]) {
      const c = shells.find((c) => c.argv.includes(join(lc, "lifecycle", phase)));
      assert.ok(c, `${phase} ran through limactl shell`);
      assert.deepEqual(c.argv.slice(0, 9), [
        "shell",
        "--tty=false",
        "--workdir",
        s.app,
        "locald",
        "/usr/bin/env",
        "-i",
        "--",
        c.argv[8],
      ]);
      assert.ok(c.argv.includes(`CNB_USER_ID=${uid}`), "ids of the guest user");
      assert.ok(!c.argv.some((a) => a.includes("hunter2")), "no secret in a phase");
      assert.equal(c.env.SECRET_TOKEN, undefined, "no secret reaches limactl");
    }
    // The run image describes the guest: the probe ran through the VM's login shell.
    assert.ok(shells.some((c) => c.argv.includes("sh") && c.argv.join(" ").includes("uname -m")));

    const got = await afterBuild(s);
    assertSameAsNative(got, want);
    calls = parseCalls(await Deno.readTextFile(join(limaHome, "standin-calls.jsonl")));
    // exec (through the launcher's bash, as profile.d scripts exist) went through limactl shell,
    // its argv quoted once by locald for the launcher and carried intact by limactl.
    const execCall = calls.findLast((c) =>
      c.argv[0] === "shell" && c.argv.some((a) => a.includes("exec 'fixture-tool' 'a b'"))
    );
    assert.ok(execCall, "exec went through limactl shell");
    assert.deepEqual(execCall.argv.slice(0, 5), [
      "shell",
      "--tty=false",
      "--workdir",
      s.app,
      "locald",
    ]);
    assert.ok(execCall.argv.some((a) => a.includes("'line1\nline2'")), "a newline stays");
    // A second build through the VM re-uses the cached layer.
    const again = await s.run(["build", "-C", s.app, "-b", FIXTURE_BP, "--force"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /fixture: reusing cached layer/);
    assert.doesNotMatch(again.stderr, /creating the locald VM|starting the locald VM/);

    // doctor reports the backend and the VM's state.
    const doc = await s.run(["doctor", "--json"]);
    // deno-lint-ignore no-explicit-any
    const check = (doc.json as any).checks.find((c: { id: string }) => c.id === "backend");
    assert.equal(check.status, "ok", JSON.stringify(check));
    assert.equal(check.summary, "lima: the locald VM is Running");
    assert.deepEqual(check.data.mounts, [s.root, FIXTURES]);

    // A dry run now knows the VM (from the last probe) and does not touch it.
    const dry = await s.run(["build", "-C", s.app, "-b", FIXTURE_BP, "--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^# backend: lima \(LOCALD_BACKEND\)$/m);
    assert.match(dry.stdout, new RegExp(`CNB_USER_ID=${uid}\n`));

    // A stopped VM starts again for the next command, which then runs as before.
    assert.equal((await s.run(["vm", "stop"])).code, 0);
    const restarted = await s.run(["exec", "-C", s.app, "--", "fixture-tool", "again"]);
    assert.equal(restarted.code, 0, restarted.stderr);
    assert.match(restarted.stderr, /starting the locald VM/);
    assert.match(restarted.stdout, /args: \[again\]/);

    // A project the VM cannot see is a one-line error, before any phase runs.
    const outside = await Deno.makeTempDir({ prefix: "locald-unmounted-" });
    try {
      const before = calls.length;
      const r = await s.run(["build", "-C", outside, "-b", FIXTURE_BP]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /^locald: the locald VM cannot see the project .*locald-unmounted-/);
      assert.match(r.stderr, /hint: it mounts .*LOCALD_VM_MOUNTS/);
      const after = parseCalls(await Deno.readTextFile(join(limaHome, "standin-calls.jsonl")));
      assert.ok(!after.slice(before).some((c) => c.argv.includes(outside)));
    } finally {
      await Deno.remove(outside, { recursive: true });
    }
  } finally {
    await mirror.close();
    await s.cleanup();
  }
});

Deno.test("LOCALD_BACKEND=lima: dry-run before the VM was ever started says how to start it", async () => {
  const s = await session({
    LOCALD_BACKEND: "lima",
    LOCALD_LIMACTL: join(STANDINS, "limactl"),
    LOCALD_LIFECYCLE_DIR: lifecycleDir(),
  });
  try {
    const r = await s.run(["build", "-C", s.app, "-b", FIXTURE_BP, "--dry-run"]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /locald does not know the VM yet.*\nhint: run `locald vm start`/);
    // Nothing started: no limactl call at all.
    await assert.rejects(Deno.stat(join(s.env.LOCALD_HOME, "lima", "locald")));
  } finally {
    await s.cleanup();
  }
});

Deno.test("LOCALD_BACKEND=wsl: build, exec, env, run and shell go through `wsl.exe --exec` and match the native run (stand-in wsl.exe: no Windows, no distro)", async () => {
  const want = await native();
  const mirror = await startMirror(lifecycleMirrorDir());
  const s = await session({
    LOCALD_BACKEND: "wsl",
    LOCALD_WSL_EXE: join(STANDINS, "wsl.exe"),
    LOCALD_LIFECYCLE_MIRROR: mirror.url,
  });
  const wsl = join(s.root, "wsl");
  await Deno.mkdir(wsl);
  s.env.LOCALD_STANDIN_WSL = wsl;
  try {
    const b = await s.run(["build", "-C", s.app, "-b", FIXTURE_BP, "--json"]);
    assert.equal(b.code, 0, b.stderr);
    // deno-lint-ignore no-explicit-any
    const summary = b.json as any;
    s.state = summary.stateDir;
    // State in the distro user's home (the distro's own disk), not in LOCALD_HOME.
    const state = join(wsl, "home", ".local", "share", "locald");
    assert.ok(summary.stateDir.startsWith(join(state, "projects")), summary.stateDir);
    // The lifecycle was downloaded and verified here, then unpacked by tar inside the distro.
    assert.equal(mirror.requestsFor(`/${lifecycleAsset()}`).length, 1);
    const arch = Deno.build.arch === "aarch64" ? "aarch64" : "x86_64";
    const lc = join(state, "tools", "lifecycle", `0.21.17-linux-${arch}`);
    assert.equal((await Deno.lstat(join(lc, "lifecycle", "builder"))).isSymlink, true);
    const calls = parseCalls(await Deno.readTextFile(join(wsl, "calls.jsonl")));
    const unpack = calls.find((c) => c.argv.includes(lc) && c.argv.join(" ").includes("tar -xzf"));
    assert.ok(unpack, "tar ran inside the distro");
    // Buildpacks are copies (Windows cannot make links the distro follows); no process links.
    const bpDir = join(summary.stateDir, "buildpacks", "locald-fixtures_everything", "1.0.0");
    const st = await Deno.lstat(bpDir);
    assert.equal(st.isSymlink, false);
    assert.equal(st.isDirectory, true);
    await assert.rejects(Deno.lstat(join(summary.stateDir, "process", "web")));
    // Phases went through wsl.exe -d DISTRO --cd APP --exec, values only in WSLENV carriers.
    const builder = calls.find((c) => c.argv.includes(join(lc, "lifecycle", "builder")));
    assert.ok(builder, "the builder phase ran through wsl.exe");
    assert.deepEqual(builder.argv.slice(0, 5), ["-d", "Ubuntu-24.04", "--cd", s.app, "--exec"]);
    assert.match(builder.env.WSLENV, /^LOCALD_ENV_0(:LOCALD_ENV_\d+)*$/);

    const got = await afterBuild(s);
    assertSameAsNative(got, want);
    // A second build re-uses the cached layer, copied inside the distro (`cp -a`: Windows
    // cannot copy the links Linux follows); `layers` stays a plain directory there.
    const again = await s.run(["build", "-C", s.app, "-b", FIXTURE_BP, "--force"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /fixture: reusing cached layer/);
    const copies = parseCalls(await Deno.readTextFile(join(wsl, "calls.jsonl")))
      .filter((c) => c.argv.includes("cp") && c.argv.includes("-a"));
    assert.ok(copies.length > 0, "the cached layer was copied in the distro");
    assert.ok((await Deno.lstat(join(summary.stateDir, "layers"))).isDirectory);
    const doc = await s.run(["doctor", "--json"]);
    // deno-lint-ignore no-explicit-any
    const check = (doc.json as any).checks.find((c: { id: string }) => c.id === "backend");
    assert.equal(check.status, "ok");
    assert.match(check.summary, /^wsl: distribution Ubuntu-24.04 \(the default WSL distribution\)/);
  } finally {
    await mirror.close();
    await s.cleanup();
  }
});
