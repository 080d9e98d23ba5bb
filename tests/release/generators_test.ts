/**
 * The Homebrew formula and Scoop manifest generators, from a test SHA256SUMS. The formula is
 * checked by Debian's ruby: `ruby -c` parses it, and a small stand-in for Homebrew's Formula
 * DSL evaluates it once per OS and CPU to see which URL and sha256 each platform gets. What
 * this cannot prove: that `brew audit` and `scoop` themselves accept the files (neither runs
 * here).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { renderFormula } from "../../scripts/release/homebrew.ts";
import { renderManifest } from "../../scripts/release/scoop.ts";
import { RELEASES_URL } from "../../scripts/release/project.ts";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const dec = new TextDecoder();

const hex = (n: number) => n.toString(16).repeat(64).slice(0, 64);
const SUMS = [
  `${hex(1)}  locald-darwin-aarch64.tar.gz`,
  `${hex(2)}  locald-darwin-x86_64.tar.gz`,
  `${hex(3)}  locald-linux-aarch64.tar.gz`,
  `${hex(4)}  locald-linux-x86_64.tar.gz`,
  `${hex(5)} *locald-windows-x86_64.zip`,
].join("\n") + "\n";

async function run(cmd: string, args: string[]) {
  const o = await new Deno.Command(cmd, { args, cwd: repo, stdin: "null" }).output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

// Just enough of Homebrew's Formula DSL to evaluate the class body for one platform.
const DSL = `
$os, $arch = ARGV[1], ARGV[2]
class Formula
  class << self
    attr_reader :urls, :shas
    def desc(*); end
    def homepage(*); end
    def test(*); end
    def version(v = nil); @version = v if v; @version; end
    def on_macos; yield if $os == "darwin"; end
    def on_linux; yield if $os == "linux"; end
    def on_arm; yield if $arch == "aarch64"; end
    def on_intel; yield if $arch == "x86_64"; end
    def url(u); (@urls ||= []) << u; end
    def sha256(s); (@shas ||= []) << s; end
  end
end
load ARGV[0]
puts [Locald.version, Locald.urls.join(","), Locald.shas.join(",")].join(" ")
`;

Deno.test("homebrew: the formula parses and gives each platform its own binary", async () => {
  const dir = await Deno.makeTempDir({ prefix: "locald-brew-" });
  try {
    const formula = join(dir, "locald.rb");
    await Deno.writeTextFile(formula, renderFormula("1.2.3", SUMS));
    const syntax = await run("ruby", ["-c", formula]);
    assert.equal(syntax.code, 0, syntax.stderr);
    assert.match(syntax.stdout, /Syntax OK/);

    const dsl = join(dir, "dsl.rb");
    await Deno.writeTextFile(dsl, DSL);
    const expect: [string, string, number][] = [
      ["darwin", "aarch64", 1],
      ["darwin", "x86_64", 2],
      ["linux", "aarch64", 3],
      ["linux", "x86_64", 4],
    ];
    for (const [os, arch, n] of expect) {
      const r = await run("ruby", [dsl, formula, os, arch]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stdout.trim(),
        `1.2.3 ${RELEASES_URL}/download/v1.2.3/locald-${os}-${arch}.tar.gz ${hex(n)}`,
        `${os}/${arch}`,
      );
    }
    const text = await Deno.readTextFile(formula);
    assert.match(text, /bin\.install "locald"/);
    assert.match(text, /generate_completions_from_executable\(bin\/"locald", "completions"\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scoop: the manifest is JSON with the Windows zip's URL, hash and autoupdate", () => {
  const m = JSON.parse(renderManifest("1.2.3", SUMS));
  assert.equal(m.version, "1.2.3");
  assert.deepEqual(m.architecture, {
    "64bit": { url: `${RELEASES_URL}/download/v1.2.3/locald-windows-x86_64.zip`, hash: hex(5) },
  });
  assert.equal(m.bin, "locald.exe");
  assert.ok(m.checkver.github.endsWith("/locald-dev/locald"));
  // Scoop's autoupdate substitutes $version: it must give back this release's URL.
  assert.equal(
    m.autoupdate.architecture["64bit"].url.replace("$version", "1.2.3"),
    m.architecture["64bit"].url,
  );
  assert.equal(m.autoupdate.hash.url, "$baseurl/SHA256SUMS");
});

Deno.test("generators: the command line reads a SHA256SUMS file and refuses gaps", async () => {
  const dir = await Deno.makeTempDir({ prefix: "locald-gen-" });
  try {
    const sums = join(dir, "SHA256SUMS");
    await Deno.writeTextFile(sums, SUMS);
    const out = join(dir, "locald.json");
    const ok = await run(Deno.execPath(), [
      "run",
      "-A",
      "scripts/release/scoop.ts",
      "--version",
      "v1.2.3",
      "--sums",
      sums,
      "--out",
      out,
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(await Deno.readTextFile(out)).architecture["64bit"].hash, hex(5));

    await Deno.writeTextFile(sums, SUMS.split("\n").slice(0, 2).join("\n"));
    const gap = await run(Deno.execPath(), [
      "run",
      "-A",
      "scripts/release/homebrew.ts",
      "--version",
      "1.2.3",
      "--sums",
      sums,
    ]);
    assert.equal(gap.code, 1);
    assert.equal(gap.stdout, "", "no partial formula on stdout");
    assert.match(
      gap.stderr.trim(),
      /^homebrew: SHA256SUMS has no entry for locald-linux-x86_64\.tar\.gz, locald-linux-aarch64/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
