import assert from "node:assert/strict";
import { join } from "node:path";
import { chooseBackend } from "./select.ts";
import {
  checkVzSupported,
  limaHome,
  longestSocketPath,
  parseLimaList,
  parseLogLine,
} from "./lima.ts";
import { chooseDistro, decodeWslOutput, parseWslList, windowsToWsl, wslToWindows } from "./wsl.ts";
import { LocaldError } from "../errors.ts";
import { GUEST_PROBE_SCRIPT, guestCommandEnv, parseGuestProbe, SANDBOX_MARKER } from "./guest.ts";
import { systemLayout } from "./sandbox.ts";
import { findOnPath } from "./sandbox_check.ts";
import { createBuildPlan } from "../cnb/plan.ts";
import type { ProjectPaths } from "../config/paths.ts";

const utf16 = (s: string) => {
  const b = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    b[2 * i] = s.charCodeAt(i) & 0xff;
    b[2 * i + 1] = s.charCodeAt(i) >> 8;
  }
  return b;
};

Deno.test("backend follows the OS; LOCALD_BACKEND overrides; a bad value exits 3", () => {
  assert.equal(chooseBackend({}, "linux").name, "native");
  assert.equal(chooseBackend({}, "darwin").name, "lima");
  assert.equal(chooseBackend({}, "windows").name, "wsl");
  assert.deepEqual(chooseBackend({ LOCALD_BACKEND: "lima" }, "linux"), {
    name: "lima",
    reason: "LOCALD_BACKEND",
  });
  assert.throws(
    () => chooseBackend({ LOCALD_BACKEND: "Lima" }, "darwin"),
    (e: unknown) => e instanceof LocaldError && e.exitCode === 3,
  );
});

Deno.test("LIMA_HOME stays under macOS's 104-byte socket limit", () => {
  assert.equal(limaHome({ HOME: "/Users/ann" }), "/Users/ann/.local/share/locald/lima");
  const longName = "/Users/" + "x".repeat(40);
  assert.equal(limaHome({ HOME: longName }), `${longName}/.locald/lima`);
  assert.ok(new TextEncoder().encode(longestSocketPath(`${longName}/.locald/lima`)).length < 104);
  assert.throws(
    () => limaHome({ HOME: "/Users/" + "y".repeat(100) }),
    (e: unknown) => e instanceof LocaldError && /LOCALD_LIMA_HOME/.test(e.hint ?? ""),
  );
  assert.throws(() => limaHome({ LOCALD_LIMA_HOME: "/" + "z".repeat(90) }), /would be \d+ bytes/);
});

Deno.test("vz needs macOS 13 (Darwin 22): older Macs get a clear error", () => {
  checkVzSupported("22.6.0");
  checkVzSupported("25.0.0");
  assert.throws(() => checkVzSupported("21.6.0"), /macOS 12 .*needs macOS 13 or newer/);
});

Deno.test("limactl list --json lines and logrus lines parse", () => {
  const list = parseLimaList(
    '{"name":"other","status":"Running","dir":"/x"}\n' +
      '{"name":"locald","status":"Broken","dir":"/h/locald","errors":["boom"],' +
      '"config":{"mounts":[{"location":"/Users/ann","writable":true}]}}\n',
  );
  assert.equal(list[1].status, "Broken");
  assert.deepEqual(list[1].mounts, ["/Users/ann"]);
  assert.deepEqual(
    parseLogLine('time="t" level=fatal msg="instance \\"locald\\" is stopped"'),
    { level: "fatal", msg: 'instance "locald" is stopped' },
  );
});

Deno.test("a guest's commands start from the user's variables minus this machine's own", () => {
  const env = guestCommandEnv(
    {
      PATH: "/opt/homebrew/bin:/usr/bin",
      HOME: "/Users/ann",
      TMPDIR: "/var/folders/x/T/",
      SHELL: "/bin/zsh",
      FOO: "1",
      LANG: "en_US.UTF-8",
      __CF_USER_TEXT_ENCODING: "0x1F5:0x0:0x0",
      SSH_AUTH_SOCK: "/private/tmp/x",
      "ProgramFiles(x86)": "C:\\Program Files (x86)",
      Path: "C:\\Windows",
      SystemRoot: "C:\\Windows",
    },
    { HOME: "/home/ann.linux", PATH: "/usr/bin:/bin", SHELL: "/bin/bash", USER: "ann" },
  );
  assert.deepEqual(env, {
    FOO: "1",
    LANG: "en_US.UTF-8",
    PATH: "/usr/bin:/bin",
    HOME: "/home/ann.linux",
    SHELL: "/bin/bash",
    USER: "ann",
  });
});

Deno.test("the guest probe's answer parses; garbage does not", () => {
  const p = parseGuestProbe(
    "501\n1000\naarch64\n/home/ann.linux\n/usr/bin:/bin\n/bin/bash\nann\n" +
      'PRETTY_NAME="Ubuntu 24.04 LTS"\nID=ubuntu\nVERSION_ID="24.04"\n',
  );
  assert.equal(p?.uid, 501);
  assert.equal(p?.gid, 1000);
  assert.equal(p?.machine, "aarch64");
  assert.deepEqual(p?.login, {
    HOME: "/home/ann.linux",
    PATH: "/usr/bin:/bin",
    SHELL: "/bin/bash",
    USER: "ann",
    LOGNAME: "ann",
  });
  assert.match(p!.osRelease, /^ID=ubuntu$/m);
  // An answer without the sandbox part (an older probe): the sandbox is unknown, not absent.
  assert.equal(p?.sandbox, undefined);
  assert.equal(parseGuestProbe("Welcome to Ubuntu\n"), undefined);
});

Deno.test("the guest probe says where the guest's bwrap is, whether it works, and its system layout", () => {
  const head = "501\n1000\naarch64\n/home/ann.linux\n/usr/bin:/bin\n/bin/bash\nann\nID=ubuntu\n\n";
  const p = parseGuestProbe(
    head + `${SANDBOX_MARKER}\n/usr/bin/bwrap\n0\n\n` +
      "p\t/usr\nl\t/bin\tusr/bin\t/usr/bin\nl\t/lib64\tusr/lib64\t/usr/lib64\np\t/etc/passwd\n" +
      "l\t/etc/localtime\t/usr/share/zoneinfo/Europe/Paris\t/usr/share/zoneinfo/Europe/Paris\n" +
      "l\t/etc/resolv.conf\t../run/systemd/resolve/stub-resolv.conf\t/run/systemd/resolve/stub-resolv.conf\n",
  );
  assert.equal(p?.osRelease, "ID=ubuntu\n");
  assert.deepEqual(p?.sandbox, {
    bwrap: "/usr/bin/bwrap",
    works: true,
    system: [
      { path: "/usr" },
      { path: "/bin", symlink: "usr/bin" },
      { path: "/lib64", symlink: "usr/lib64" },
      { path: "/etc/passwd" },
      { path: "/etc/localtime", symlink: "/usr/share/zoneinfo/Europe/Paris" },
      // Not into /usr: bound through to its target, like systemLayout() does here.
      { path: "/etc/resolv.conf" },
    ],
  });
  // AppArmor's refusal comes back as bwrap said it; no bwrap at all is an empty path.
  const blocked = parseGuestProbe(
    head + `${SANDBOX_MARKER}\n/usr/bin/bwrap\n1\nbwrap: setting up uid map: Permission denied\n`,
  );
  assert.equal(blocked?.sandbox?.works, false);
  assert.equal(blocked?.sandbox?.error, "setting up uid map: Permission denied");
  const none = parseGuestProbe(head + `${SANDBOX_MARKER}\n\n\n\np\t/usr\n`);
  assert.deepEqual(none?.sandbox, { bwrap: "", works: false, system: [{ path: "/usr" }] });
});

Deno.test("the guest probe script, run here, finds what systemLayout() finds here", async () => {
  const r = await new Deno.Command("sh", {
    args: ["-c", GUEST_PROBE_SCRIPT],
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.equal(r.code, 0);
  const p = parseGuestProbe(new TextDecoder().decode(r.stdout));
  assert.deepEqual(p?.sandbox?.system, await systemLayout());
  const bwrap = await findOnPath("bwrap", Deno.env.get("PATH"));
  assert.equal(p?.sandbox?.bwrap, bwrap ?? "");
});

Deno.test("the guest probe, through a login shell whose .profile prints, still parses", async () => {
  const home = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      join(home, ".profile"),
      'echo "Hello from .profile"\necho 1000\nexport PROFILE_RAN=yes\n',
    );
    const r = await new Deno.Command("bash", {
      args: ["-l", "-c", GUEST_PROBE_SCRIPT],
      env: { HOME: home, PATH: "/usr/bin:/bin", SHELL: "/bin/bash", USER: "ann" },
      clearEnv: true,
      stdout: "piped",
      stderr: "null",
    }).output();
    assert.equal(r.code, 0);
    const text = new TextDecoder().decode(r.stdout);
    assert.match(text, /^Hello from \.profile\n1000\n/); // the profile really printed first
    const p = parseGuestProbe(text);
    assert.equal(p?.uid, Deno.uid());
    // The login's own values (its /etc/profile may set PATH), none of the greeting's lines.
    const { PATH, ...rest } = p!.login;
    assert.match(PATH, /(^|:)\/usr\/bin(:|$)/);
    assert.deepEqual(rest, { HOME: home, SHELL: "/bin/bash", USER: "ann", LOGNAME: "ann" });
    assert.match(p!.osRelease, /^ID=/m);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("the plan maps every path to the guest's view in one place (WSL: C:\\ -> /mnt/c)", () => {
  const d = "Ubuntu";
  const g = (p: string) => windowsToWsl(p, d)!;
  const state = "\\\\wsl.localhost\\Ubuntu\\home\\ann\\.local\\share\\locald\\projects\\app-1";
  const paths = Object.fromEntries(
    [
      "state",
      "layers",
      "platform",
      "cache",
      "buildpacks",
      "order",
      "analyzed",
      "group",
      "plan",
      "report",
      "processes",
      "lock",
      "buildRecord",
    ].map((k) => [k, `${state}\\${k}`]),
  ) as unknown as ProjectPaths;
  const lc = "\\\\wsl.localhost\\Ubuntu\\home\\ann\\.local\\share\\locald\\tools\\lc";
  const plan = createBuildPlan({
    projectDir: "C:\\Users\\ann\\app",
    paths,
    lifecycle: { root: lc, version: "0.21.17", phase: (p) => `${lc}\\lifecycle\\${p}` },
    platformApi: "0.15",
    ids: { uid: 1000, gid: 1000 },
    runImage: "locald.local/host:ubuntu-24.04-amd64",
    layoutDir: `${state}\\layout`,
    appImage: "locald.local/dev/app",
    buildpackDirs: ["C:\\bp"],
    hostEnv: { PATH: "/usr/bin:/bin" },
    logLevel: "info",
    color: false,
    guestPath: g,
  });
  assert.equal(plan.projectDir, "C:\\Users\\ann\\app", "headers keep the user's path");
  for (const s of plan.steps) {
    assert.equal(s.cwd, "/mnt/c/Users/ann/app");
    assert.match(s.argv[0], /^\/home\/ann\/\.local\/share\/locald\/tools\/lc\/lifecycle\/\w+$/);
    for (const [k, v] of Object.entries(s.env)) {
      assert.ok(!v.includes("\\"), `${s.name} ${k}=${v} has a Windows path`);
    }
    assert.equal(s.env.CNB_LAYERS_DIR, "/home/ann/.local/share/locald/projects/app-1/layers");
    assert.deepEqual(s.mounts.map((m) => m.path).slice(-1), ["/mnt/c/bp"]);
  }
});

Deno.test("wsl -l -v in UTF-16LE and UTF-8, default marked with *", () => {
  const text = "  NAME            STATE           VERSION\r\n" +
    "* Ubuntu-24.04    Running         2\r\n" +
    "  docker-desktop  Stopped         2\r\n" +
    "  Debian          Wird ausgeführt 2\r\n";
  for (const bytes of [utf16(text), new TextEncoder().encode(text)]) {
    const list = parseWslList(decodeWslOutput(bytes));
    assert.deepEqual(list.map((d) => [d.name, d.state, d.version, d.isDefault]), [
      ["Ubuntu-24.04", "Running", 2, true],
      ["docker-desktop", "Stopped", 2, false],
      ["Debian", "Wird ausgeführt", 2, false],
    ]);
  }
  const bom = new Uint8Array([0xff, 0xfe, ...utf16("* A Running 2\r\n")]);
  assert.equal(parseWslList(decodeWslOutput(bom))[0].name, "A");
});

Deno.test("distro choice: configured, else default, never docker-desktop, WSL 1 refused", () => {
  const d = (name: string, version = 2, isDefault = false) => ({
    name,
    state: "Stopped",
    version,
    isDefault,
  });
  assert.equal(
    chooseDistro([d("docker-desktop", 2, true), d("Debian"), d("Ubuntu")]).distro.name,
    "Ubuntu",
  );
  assert.equal(
    chooseDistro([d("Debian", 2, true), d("Ubuntu")]).reason,
    "the default WSL distribution",
  );
  assert.equal(chooseDistro([d("Debian")], "debian").reason, "LOCALD_WSL_DISTRO");
  assert.throws(() => chooseDistro([d("Old", 1)], "Old"), /WSL 1/);
  assert.throws(() => chooseDistro([d("docker-desktop")]), /no usable WSL 2 distribution/);
});

Deno.test("Windows paths translate like wslpath, and back for messages", () => {
  assert.equal(windowsToWsl("C:\\Users\\x\\my app", "Ubuntu"), "/mnt/c/Users/x/my app");
  assert.equal(windowsToWsl("d:/src", "Ubuntu"), "/mnt/d/src");
  assert.equal(windowsToWsl("C:\\", "Ubuntu"), "/mnt/c");
  assert.equal(windowsToWsl("\\\\?\\C:\\long\\path", "Ubuntu"), "/mnt/c/long/path");
  assert.equal(windowsToWsl("\\\\wsl.localhost\\Ubuntu\\home\\x", "Ubuntu"), "/home/x");
  assert.equal(windowsToWsl("\\\\wsl$\\Ubuntu\\home\\x\\", "ubuntu"), "/home/x");
  assert.equal(windowsToWsl("\\\\server\\share\\x", "Ubuntu"), undefined);
  assert.equal(windowsToWsl("relative\\x", "Ubuntu"), undefined);
  assert.equal(windowsToWsl("C:\\x", "Ubuntu", "/"), "/c/x");
  assert.equal(wslToWindows("/mnt/c/Users/x", "Ubuntu"), "C:\\Users\\x");
  assert.equal(
    wslToWindows("/home/x/.local", "Ubuntu"),
    "\\\\wsl.localhost\\Ubuntu\\home\\x\\.local",
  );
});

Deno.test("signals passed on: POSIX set; on Windows only Ctrl-C and Ctrl-Break (others throw there)", async () => {
  const { forwardedSignals } = await import("./spawn.ts");
  assert.deepEqual(forwardedSignals("linux"), ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"]);
  assert.deepEqual(forwardedSignals("windows"), ["SIGINT", "SIGBREAK"]);
});
