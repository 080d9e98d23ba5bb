/**
 * scripts/install.sh against a loopback HTTP server that serves a release directory built
 * here with the real packaging code (scripts/compile.ts packageTarget, SHA256SUMS writer).
 * The archives hold tests/standins/locald-release.sh instead of a compiled locald (none can be
 * compiled here), and tests/standins/uname lets a run pretend to be macOS, Windows or another
 * CPU. Every case runs under dash (Debian's sh) and bash. What this cannot prove: that the
 * script works on a real Mac (BSD userland) beyond the shasum fallback tested below.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { packageTarget } from "../../scripts/compile.ts";
import { writeSha256Sums } from "../../scripts/release/archive.ts";
import { GITHUB_REPO, TARGETS } from "../../scripts/release/project.ts";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const installSh = join(repo, "scripts", "install.sh");
const standins = join(repo, "tests", "standins");
const dec = new TextDecoder();
const SHELLS = ["dash", "bash"];

interface Fixture {
  root: string;
  server: Deno.HttpServer<Deno.NetAddr>;
  url: string;
  requests: string[];
}

async function buildRelease(root: string, version: string, tamper = false) {
  const dir = join(root, "download", `v${version}`);
  await Deno.mkdir(dir, { recursive: true });
  const template = await Deno.readTextFile(join(standins, "locald-release.sh"));
  const archives: string[] = [];
  for (const t of TARGETS) {
    const bin = join(root, `stand-in-${t.os}-${t.arch}`);
    await Deno.writeTextFile(
      bin,
      template.replaceAll("@VERSION@", version).replaceAll("@TARGET@", `${t.os}-${t.arch}`),
    );
    archives.push(await packageTarget(t, bin, dir, new Date("2026-01-01T00:00:00Z")));
    await Deno.remove(bin);
  }
  const sums = await writeSha256Sums(dir, archives);
  if (tamper) {
    // The archive on the server is not the one SHA256SUMS describes.
    const text = await Deno.readTextFile(sums);
    await Deno.writeTextFile(
      sums,
      text.replace(/^[0-9a-f]{64}( {2}locald-linux-x86_64)/m, `${"0".repeat(64)}$1`),
    );
  }
  return dir;
}

async function startFixture(): Promise<Fixture> {
  const root = await Deno.makeTempDir({ prefix: "locald-release-" });
  await buildRelease(root, "1.0.0");
  const latest = await buildRelease(root, "1.2.3");
  await buildRelease(root, "6.6.6", true);
  await Deno.mkdir(join(root, "latest"), { recursive: true });
  await Deno.symlink(latest, join(root, "latest", "download"));
  const requests: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const path = decodeURIComponent(new URL(req.url).pathname);
      requests.push(path);
      if (path.includes("..")) return new Response("no", { status: 400 });
      try {
        return new Response(await Deno.readFile(join(root, path)));
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  return { root, server, url: `http://127.0.0.1:${server.addr.port}`, requests };
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function install(
  fx: Fixture,
  shell: string,
  args: string[],
  env: Record<string, string>,
): Promise<RunResult> {
  const o = await new Deno.Command(shell, {
    args: [installSh, ...args],
    clearEnv: true,
    env: {
      PATH: `${standins}:${Deno.env.get("PATH")}`,
      LOCALD_DOWNLOAD_URL: fx.url,
      ...env,
    },
    stdin: "null",
  }).output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

async function runBinary(path: string): Promise<string> {
  const o = await new Deno.Command(path, { args: ["--version"] }).output();
  assert.ok(o.success);
  return dec.decode(o.stdout).trim();
}

const ls = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

let fx: Fixture;
let work: string;

Deno.test({
  name: "install.sh: setup (release directory and loopback server)",
  fn: async () => {
    fx = await startFixture();
    work = await Deno.makeTempDir({ prefix: "locald-install-" });
  },
});

for (const shell of SHELLS) {
  const home = () => join(work, shell, "home");
  const base = (extra: Record<string, string> = {}) => ({
    HOME: home(),
    SHELL: "/bin/bash",
    ...extra,
  });

  Deno.test(`install.sh [${shell}]: latest release into ~/.local/bin by default`, async () => {
    await Deno.mkdir(home(), { recursive: true });
    fx.requests.length = 0;
    const r = await install(fx, shell, [], base());
    assert.equal(r.code, 0, r.stderr);
    const dir = join(home(), ".local", "bin");
    assert.deepEqual(ls(dir), ["locald"], "only locald, no temporary file left");
    assert.equal((await Deno.stat(join(dir, "locald"))).mode! & 0o777, 0o755);
    assert.equal(await runBinary(join(dir, "locald")), "locald 1.2.3 (stand-in for linux-x86_64)");
    assert.match(r.stderr, /Installed locald 1\.2\.3 .* to .*\/\.local\/bin\/locald/);
    assert.deepEqual(fx.requests, [
      "/latest/download/locald-linux-x86_64.tar.gz",
      "/latest/download/SHA256SUMS",
    ]);
    // Not a terminal: no PATH hint, and no profile touched without --yes.
    assert.ok(!r.stderr.includes("not on your PATH"), r.stderr);
    assert.deepEqual(ls(home()), [".local"]);
  });

  Deno.test(`install.sh [${shell}]: a pinned version into LOCALD_INSTALL`, async () => {
    const dir = join(work, shell, "custom", "nested", "bin");
    fx.requests.length = 0;
    const r = await install(fx, shell, ["v1.0.0"], base({ LOCALD_INSTALL: dir }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await runBinary(join(dir, "locald")), "locald 1.0.0 (stand-in for linux-x86_64)");
    assert.ok(fx.requests.every((p) => p.startsWith("/download/v1.0.0/")), fx.requests.join());
  });

  Deno.test(`install.sh [${shell}]: re-install over an existing binary`, async () => {
    const dir = join(work, shell, "reinstall");
    assert.equal((await install(fx, shell, ["1.0.0"], base({ LOCALD_INSTALL: dir }))).code, 0);
    const before = await Deno.stat(join(dir, "locald"));
    const r = await install(fx, shell, [], base({ LOCALD_INSTALL: dir }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await runBinary(join(dir, "locald")), "locald 1.2.3 (stand-in for linux-x86_64)");
    assert.notEqual((await Deno.stat(join(dir, "locald"))).ino, before.ino, "replaced by rename");
    assert.deepEqual(ls(dir), ["locald"]);
  });

  Deno.test(`install.sh [${shell}]: a checksum mismatch installs nothing`, async () => {
    const dir = join(work, shell, "mismatch");
    const fresh = await install(fx, shell, ["6.6.6"], base({ LOCALD_INSTALL: dir }));
    assert.notEqual(fresh.code, 0);
    assert.match(
      fresh.stderr,
      /^locald-install: error: checksum mismatch for locald-linux-x86_64\.tar\.gz/m,
    );
    assert.match(fresh.stderr, /nothing was installed/);
    await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);

    // Over an existing install: the old binary stays, untouched.
    assert.equal((await install(fx, shell, ["1.0.0"], base({ LOCALD_INSTALL: dir }))).code, 0);
    const r = await install(fx, shell, ["6.6.6"], base({ LOCALD_INSTALL: dir }));
    assert.notEqual(r.code, 0);
    assert.equal(await runBinary(join(dir, "locald")), "locald 1.0.0 (stand-in for linux-x86_64)");
    assert.deepEqual(ls(dir), ["locald"]);
  });

  Deno.test(`install.sh [${shell}]: macOS on Apple silicon gets the darwin-aarch64 build`, async () => {
    const dir = join(work, shell, "mac");
    const r = await install(
      fx,
      shell,
      [],
      base({ LOCALD_INSTALL: dir, LOCALD_FAKE_UNAME_S: "Darwin", LOCALD_FAKE_UNAME_M: "arm64" }),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      await runBinary(join(dir, "locald")),
      "locald 1.2.3 (stand-in for darwin-aarch64)",
    );
    const arm = await install(
      fx,
      shell,
      [],
      base({ LOCALD_INSTALL: dir, LOCALD_FAKE_UNAME_M: "aarch64" }),
    );
    assert.equal(arm.code, 0, arm.stderr);
    assert.equal(await runBinary(join(dir, "locald")), "locald 1.2.3 (stand-in for linux-aarch64)");
  });

  Deno.test(`install.sh [${shell}]: unsupported systems get a clear message`, async () => {
    const dir = join(work, shell, "unsupported");
    fx.requests.length = 0;
    const bsd = await install(
      fx,
      shell,
      [],
      base({ LOCALD_INSTALL: dir, LOCALD_FAKE_UNAME_S: "FreeBSD" }),
    );
    assert.equal(bsd.code, 1);
    assert.match(bsd.stderr, /^locald-install: error: unsupported operating system: FreeBSD$/m);
    const riscv = await install(
      fx,
      shell,
      [],
      base({ LOCALD_INSTALL: dir, LOCALD_FAKE_UNAME_M: "riscv64" }),
    );
    assert.equal(riscv.code, 1);
    assert.match(
      riscv.stderr,
      /^locald-install: error: unsupported CPU architecture: riscv64 \(Linux\)$/m,
    );
    const win = await install(
      fx,
      shell,
      [],
      base({ LOCALD_INSTALL: dir, LOCALD_FAKE_UNAME_S: "MINGW64_NT-10.0-22631" }),
    );
    assert.equal(win.code, 1);
    assert.match(win.stderr, /does not install on Windows/);
    assert.match(win.stderr, /^hint: use Scoop .*scoop install locald.*install\.ps1 \| iex$/m);
    assert.deepEqual(fx.requests, [], "nothing is downloaded for an unsupported system");
    await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
  });

  Deno.test(`install.sh [${shell}]: bad arguments are usage errors`, async () => {
    const bad = await install(fx, shell, ["--frobnicate"], base());
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown option --frobnicate/);
    const notVersion = await install(fx, shell, ["latest-ish"], base());
    assert.equal(notVersion.code, 2);
    assert.match(notVersion.stderr, /"latest-ish" is not a version/);
    const missing = await install(fx, shell, ["9.9.9"], base({ LOCALD_INSTALL: join(work, "x") }));
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /cannot download .*\/download\/v9\.9\.9\/locald-linux-x86_64\.tar\.gz/,
    );
  });

  Deno.test(`install.sh [${shell}]: --yes adds the directory to PATH once`, async () => {
    const h = join(work, shell, "yes-home");
    await Deno.mkdir(h, { recursive: true });
    for (let i = 0; i < 2; i++) {
      const r = await install(fx, shell, ["--yes"], { HOME: h, SHELL: "/usr/bin/zsh" });
      assert.equal(r.code, 0, r.stderr);
    }
    const zshrc = await Deno.readTextFile(join(h, ".zshrc"));
    assert.equal(zshrc.match(/export PATH="[^"]*\/\.local\/bin:\$PATH"/g)?.length, 1, zshrc);
    // --no-modify-path wins over --yes.
    const h2 = join(work, shell, "nomod-home");
    await Deno.mkdir(h2, { recursive: true });
    const r = await install(fx, shell, ["--yes", "--no-modify-path"], {
      HOME: h2,
      SHELL: "/bin/bash",
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(ls(h2), [".local"]);
  });

  Deno.test(`install.sh [${shell}]: in a terminal it prompts, or hints with --no-modify-path`, async () => {
    // util-linux `script` gives the installer a real pseudo-terminal.
    const inTerminal = async (answer: string, args: string, h: string) => {
      await Deno.mkdir(h, { recursive: true });
      const cmd = `${shell} ${installSh} ${args}`;
      const child = new Deno.Command("script", {
        args: ["-qec", cmd, "/dev/null"],
        clearEnv: true,
        env: {
          PATH: `${standins}:${Deno.env.get("PATH")}`,
          LOCALD_DOWNLOAD_URL: fx.url,
          HOME: h,
          SHELL: "/bin/bash",
        },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(answer));
      await w.close();
      const o = await child.output();
      return { code: o.code, out: dec.decode(o.stdout) };
    };
    const hinted = await inTerminal("", "--no-modify-path", join(work, shell, "tty-hint"));
    assert.equal(hinted.code, 0, hinted.out);
    assert.match(hinted.out, /is not on your PATH\. To use locald, add this to .*\.bashrc/);
    assert.match(hinted.out, /export PATH=".*\/\.local\/bin:\$PATH"/);

    const h = join(work, shell, "tty-yes");
    const asked = await inTerminal("y\n", "", h);
    assert.equal(asked.code, 0, asked.out);
    assert.match(asked.out, /Add it in .*\.bashrc\? \[y\/N\]/);
    assert.match(await Deno.readTextFile(join(h, ".bashrc")), /# added by the locald installer/);
  });
}

Deno.test("install.sh: verifies with `shasum -a 256` where sha256sum is missing (macOS)", async () => {
  // A PATH holding only the tools the installer uses, with shasum but no sha256sum.
  const bin = join(work, "mac-tools");
  await Deno.mkdir(bin, { recursive: true });
  const tools = [
    "curl",
    "awk",
    "cut",
    "tar",
    "gzip",
    "mktemp",
    "rm",
    "mkdir",
    "cp",
    "chmod",
    "mv",
    "head",
    "basename",
    "dirname",
    "cat",
    "grep",
    "shasum",
    "perl",
  ];
  for (const t of tools) {
    const which = await new Deno.Command("sh", { args: ["-c", `command -v ${t}`] }).output();
    assert.ok(which.success, `${t} is needed for this test`);
    await Deno.symlink(dec.decode(which.stdout).trim(), join(bin, t));
  }
  await Deno.symlink(join(standins, "uname"), join(bin, "uname"));
  const dir = join(work, "shasum");
  for (const version of ["1.2.3", "6.6.6"]) {
    const o = await new Deno.Command("/bin/dash", {
      args: [installSh, version],
      clearEnv: true,
      env: { PATH: bin, LOCALD_DOWNLOAD_URL: fx.url, HOME: work, LOCALD_INSTALL: dir },
    }).output();
    if (version === "1.2.3") assert.equal(o.code, 0, dec.decode(o.stderr));
    else assert.match(dec.decode(o.stderr), /checksum mismatch/);
  }
  assert.equal(await runBinary(join(dir, "locald")), "locald 1.2.3 (stand-in for linux-x86_64)");
});

Deno.test("install.sh and install.ps1 name the project from scripts/release/project.ts", async () => {
  const sh = await Deno.readTextFile(installSh);
  const ps = await Deno.readTextFile(join(repo, "scripts", "install.ps1"));
  assert.equal(sh.match(/^LOCALD_REPO="([^"]+)"$/m)?.[1], GITHUB_REPO);
  assert.equal(ps.match(/^\$LocaldRepo = '([^']+)'$/m)?.[1], GITHUB_REPO);
});

Deno.test({
  name: "install.sh: teardown",
  fn: async () => {
    await fx.server.shutdown();
    await Deno.remove(fx.root, { recursive: true });
    await Deno.remove(work, { recursive: true });
  },
});
