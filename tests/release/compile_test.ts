/**
 * scripts/compile.ts (`deno task compile`). Real denort cannot be fetched on these machines,
 * so: the unreachable-runtime error is tested for real (HTTPS_PROXY points at a closed
 * loopback port so the test behaves the same where dl.deno.land is reachable), and the whole
 * pipeline (stage and stamp, compile, archive, SHA256SUMS) runs with the full `deno` binary
 * standing in for denort through DENORT_BIN. What that cannot prove: that the binary it
 * produces runs as locald (a full deno in denort's place does not); tests/release/bundle_test.ts
 * covers the program side by running a bundle of the same module graph outside the repo.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { zipBytes } from "../../scripts/release/archive.ts";
import { V8_FLAGS } from "../../scripts/release/project.ts";
import { missingCommandModules } from "./graph.ts";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const versionFile = join(repo, "src", "version.ts");
const dec = new TextDecoder();

async function run(cmd: string, args: string[], env: Record<string, string> = {}, cwd = repo) {
  const o = await new Deno.Command(cmd, { args, env, cwd, stdin: "null" }).output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

function compile(args: string[], env: Record<string, string> = {}) {
  return run(Deno.execPath(), ["run", "-A", join(repo, "scripts", "compile.ts"), ...args], env);
}

const hostTarget = `${Deno.build.os}-${Deno.build.arch}`;
// compile.ts refuses a graph with missing command modules (the binary would fail on them).
const missing = missingCommandModules().map((m) => m.path);
const skip = missing.length ? ` (skipped: command modules missing: ${missing.join(", ")})` : "";

Deno.test({
  name: `compile: an unreachable runtime download is one clear line and leaves nothing${skip}`,
  ignore: missing.length > 0,
  fn: async () => {
    const before = await Deno.readTextFile(versionFile);
    const out = await Deno.makeTempDir({ prefix: "locald-dist-" });
    try {
      // Port 9 (discard) on loopback: nothing listens, so the proxy connection is refused.
      const r = await compile(["--target", "aarch64-apple-darwin", "--out", out], {
        HTTPS_PROXY: "http://127.0.0.1:9",
        https_proxy: "http://127.0.0.1:9",
      });
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.trim().split("\n");
      const error = lines.find((l) => l.startsWith("compile: cannot get"));
      assert.ok(error, r.stderr);
      assert.match(
        error,
        /^compile: cannot get the Deno runtime \(denort [\d.]+\) for aarch64-apple-darwin: .*denort-aarch64-apple-darwin/,
      );
      assert.match(lines.at(-1)!, /^hint: .*DENORT_BIN.*--target aarch64-apple-darwin/);
      assert.ok(!r.stderr.includes("Stack backtrace"), "deno's backtrace leaked through");
      assert.deepEqual([...Deno.readDirSync(out)], [], "a failed compile left files behind");
      assert.equal(await Deno.readTextFile(versionFile), before, "src/version.ts was modified");
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test("compile: DENORT_BIN needs exactly one target; unknown targets are named", async () => {
  const all = await compile(["--out", "/nonexistent-never-created"], { DENORT_BIN: "/bin/true" });
  assert.equal(all.code, 1);
  assert.match(all.stderr, /^compile: DENORT_BIN is set \(\/bin\/true\) but 5 targets/m);
  assert.match(all.stderr, /^hint: .*exactly one --target/m);
  const bad = await compile(["--target", "sparc-solaris"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^compile: unknown target "sparc-solaris"/m);
});

Deno.test({
  name: `compile: a DENORT_BIN that is not the target's runtime is named${skip}`,
  ignore: missing.length > 0,
  fn: async () => {
    const out = await Deno.makeTempDir({ prefix: "locald-dist-" });
    try {
      const wrong = await compile(["--target", "x86_64-pc-windows-msvc", "--out", out], {
        DENORT_BIN: Deno.execPath(),
      });
      assert.equal(wrong.code, 1);
      assert.match(
        wrong.stderr,
        /^compile: DENORT_BIN=.* is not a usable runtime for x86_64-pc-win/m,
      );
      assert.deepEqual([...Deno.readDirSync(out)], []);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test("compile: a registry entry without its module stops the build", {
  ignore: missing.length === 0,
}, async () => {
  // Only meaningful while a command module is missing (this branch before other work lands).
  const r = await compile(["--target", "linux-x86_64", "--out", "/nonexistent-never-created"]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^compile: main\.ts imports modules that cannot be loaded: src\/cli\/commands\//m,
  );
});

Deno.test({
  name:
    `compile: stamps the version, archives the binary, writes SHA256SUMS, leaves the tree${skip}`,
  ignore: missing.length > 0 || Deno.build.os === "windows",
  fn: async () => {
    const before = await Deno.readTextFile(versionFile);
    const out = await Deno.makeTempDir({ prefix: "locald-dist-" });
    try {
      const r = await compile(
        ["--version", "v9.8.7-test.1", "--target", hostTarget, "--out", out],
        {
          DENORT_BIN: Deno.execPath(),
        },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /compile: locald 9\.8\.7-test\.1 with deno/);
      assert.equal(await Deno.readTextFile(versionFile), before, "src/version.ts was modified");

      const bin = join(out, `locald-${hostTarget}`);
      const archive = `locald-${hostTarget}.tar.gz`;
      assert.deepEqual(
        [...Deno.readDirSync(out)].map((e) => e.name).sort(),
        ["SHA256SUMS", `locald-${hostTarget}`, archive].sort(),
      );
      // The stamped version is inside the compiled program.
      const bytes = await Deno.readFile(bin);
      const text = dec.decode(bytes);
      assert.ok(text.includes('VERSION = "9.8.7-test.1"'), "version not embedded");
      // Every command is embedded, though `deno run` loads each only when it runs (deno.json's
      // lazy-dynamic-imports, which compile would otherwise apply to what it embeds).
      for (const [mod, line] of [["build", "build: start prepare"], ["exec", "no command given"]]) {
        assert.ok(text.includes(line), `the ${mod} command is not embedded`);
      }
      // The binary runs with the V8 flags the benchmarks measured (deno compile --v8-flags
      // stores them in the binary's metadata, which denort applies at start-up).
      const meta = text.match(/"v8_flags":(\[[^\]]*\])/)?.[1];
      assert.ok(meta, "no V8 flags in the binary's metadata");
      const flags: string[] = JSON.parse(meta);
      for (const f of V8_FLAGS) assert.ok(flags.includes(f), `${f} not in ${meta}`);

      // SHA256SUMS is in sha256sum's own format and verifies with the real tool.
      const sums = await Deno.readTextFile(join(out, "SHA256SUMS"));
      assert.match(sums, new RegExp(`^[0-9a-f]{64}  ${archive.replace(/\./g, "\\.")}\n$`));
      const check = await run("sha256sum", ["-c", "SHA256SUMS"], {}, out);
      assert.equal(check.code, 0, check.stdout + check.stderr);

      // The archive holds one executable named `locald`, byte-identical to the binary.
      const list = await run("tar", ["tvzf", archive], {}, out);
      assert.match(list.stdout.trim(), /^-rwxr-xr-x root\/root\s+\d+ .* locald$/);
      const x = join(out, "x");
      await Deno.mkdir(x);
      assert.equal((await run("tar", ["xzf", join(out, archive), "-C", x])).code, 0);
      assert.deepEqual(await Deno.readFile(join(x, "locald")), bytes);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test("compile: the Windows zip holds an executable locald.exe that unzip accepts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "locald-zip-" });
  try {
    const data = new Uint8Array(200_000).map((_, i) => (i * 7) % 251);
    const zip = join(dir, "locald-windows-x86_64.zip");
    await Deno.writeFile(zip, zipBytes("locald.exe", data, new Date("2026-01-02T03:04:06Z")));
    const test = await run("unzip", ["-t", zip]);
    assert.equal(test.code, 0, test.stdout);
    assert.match(test.stdout, /testing: locald\.exe\s+OK/);
    const info = await run("unzip", ["-Z", zip]);
    assert.match(info.stdout, /-rwxr-xr-x .* locald\.exe/);
    assert.equal((await run("unzip", ["-q", zip, "-d", join(dir, "x")])).code, 0);
    assert.deepEqual(await Deno.readFile(join(dir, "x", "locald.exe")), data);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
