import assert from "node:assert/strict";
import { chooseDistro, decodeWslOutput, parseWslList, windowsToWsl, wslToWindows } from "./wsl.ts";
import { wslSandboxError } from "./wsl_backend.ts";

const utf16 = (s: string) => {
  const b = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    b[2 * i] = s.charCodeAt(i) & 0xff;
    b[2 * i + 1] = s.charCodeAt(i) >> 8;
  }
  return b;
};

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

Deno.test("wslSandboxError: a distribution without bwrap is told how to install it", () => {
  const none = wslSandboxError(
    "Debian",
    { bwrap: "", works: false, system: [] },
    "locald exec in the run image (registry.test/run:test)",
  );
  assert.equal(
    none.message,
    "cannot run locald exec in the run image (registry.test/run:test) under bwrap: the WSL " +
      "distribution Debian has no bwrap (bubblewrap)",
  );
  assert.match(none.hint!, /apt-get install -y bubblewrap.*`locald build --host`/);
  assert.equal(none.exitCode, 8);
  const denied = wslSandboxError(
    "Ubuntu",
    {
      bwrap: "/usr/bin/bwrap",
      works: false,
      error: "setting up uid map: Permission denied",
      system: [],
    },
    "x",
  );
  assert.equal(
    denied.message,
    "cannot run x under bwrap: bwrap in the WSL distribution Ubuntu cannot create a sandbox: " +
      "setting up uid map: Permission denied",
  );
  assert.match(denied.hint!, /wsl -d Ubuntu bwrap --ro-bind \/ \/ true/);
});
