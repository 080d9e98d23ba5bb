import assert from "node:assert/strict";
import { join } from "node:path";
import { GUEST_PROBE_SCRIPT, guestCommandEnv, parseGuestProbe, SANDBOX_MARKER } from "./guest.ts";
import { systemLayout } from "./sandbox.ts";
import { findOnPath } from "./sandbox_check.ts";

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
  const bwrap = findOnPath("bwrap", Deno.env.get("PATH"));
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
