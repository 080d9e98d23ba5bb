/**
 * scripts/update-pins.ts fed with local checksum files (the lifecycle's in its upstream
 * path-then-digest form, Lima's in sha256sum form). Always with --out to a temporary file:
 * src/tools/pins.ts is never rewritten by tests.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO } from "./support/locald.ts";
import { lifecycleChecksumsFile, lifecycleMirrorDir } from "./support/tools.ts";
import { parseChecksums } from "../src/tools/checksums.ts";
import type { ToolPin } from "../src/tools/pins.ts";

const LIMA_FILES = [
  "lima-2.2.0-Darwin-arm64.tar.gz",
  "lima-2.2.0-Darwin-x86_64.tar.gz",
  "lima-2.2.0-Linux-x86_64.tar.gz",
  "lima-2.2.0-Linux-aarch64.tar.gz",
];
const digest = (i: number) => i.toString(16).padStart(2, "0").repeat(32);

async function updatePins(args: string[]) {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", join(REPO, "scripts", "update-pins.ts"), ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}

async function withTemp(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "locald-pins-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("update-pins fills every pin from local checksum files", async () => {
  await withTemp(async (dir) => {
    const lifecycleSums = join(lifecycleMirrorDir(), lifecycleChecksumsFile());
    const limaSums = join(dir, "SHA256SUMS");
    await Deno.writeTextFile(limaSums, LIMA_FILES.map((f, i) => `${digest(i)}  ${f}\n`).join(""));
    const out = join(dir, "pins.ts");
    const before = await Deno.readTextFile(join(REPO, "src", "tools", "pins.ts"));

    const r = await updatePins([
      "--require-all",
      "--lifecycle-checksums",
      lifecycleSums,
      "--lima-checksums",
      limaSums,
      "--out",
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /wrote .*pins\.ts/);

    const pins = await import(`file://${out}`) as { LIFECYCLE: ToolPin; LIMA: ToolPin };
    const expected = parseChecksums(await Deno.readTextFile(lifecycleSums));
    assert.equal(
      pins.LIFECYCLE.assets["linux-x86_64"].sha256,
      expected.get("lifecycle-v0.21.17+linux.x86-64.tgz"),
    );
    assert.equal(
      pins.LIFECYCLE.assets["linux-aarch64"].sha256,
      expected.get("lifecycle-v0.21.17+linux.arm64.tgz"),
    );
    assert.match(pins.LIFECYCLE.assets["linux-x86_64"].sha256!, /^[0-9a-f]{64}$/);
    assert.deepEqual(
      Object.values(pins.LIMA.assets).map((a) => [a.file, a.sha256]),
      [
        [LIMA_FILES[0], digest(0)],
        [LIMA_FILES[1], digest(1)],
        [LIMA_FILES[2], digest(2)],
        [LIMA_FILES[3], digest(3)],
      ],
    );
    // The generated file is formatted and type-checks like the committed one.
    const check = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", out],
      stderr: "piped",
    }).output();
    assert.equal(check.code, 0, new TextDecoder().decode(check.stderr));
    assert.equal(await Deno.readTextFile(join(REPO, "src", "tools", "pins.ts")), before);
  });
});

Deno.test("update-pins --require-all refuses a missing pin and writes nothing", async () => {
  await withTemp(async (dir) => {
    const limaSums = join(dir, "SHA256SUMS");
    // The Linux aarch64 asset is not listed.
    await Deno.writeTextFile(
      limaSums,
      LIMA_FILES.slice(0, 3).map((f, i) => `${digest(i)}  ${f}\n`).join(""),
    );
    const out = join(dir, "pins.ts");
    const args = [
      "--lifecycle-checksums",
      join(lifecycleMirrorDir(), lifecycleChecksumsFile()),
      "--lima-checksums",
      limaSums,
      "--out",
      out,
    ];
    const strict = await updatePins(["--require-all", ...args]);
    assert.notEqual(strict.code, 0);
    assert.match(
      strict.stderr,
      /no checksum for:\s+lima linux-aarch64 \(lima-2\.2\.0-Linux-aarch64\.tar\.gz\)/,
    );
    assert.match(strict.stderr, /refusing to continue/);
    await assert.rejects(Deno.stat(out), Deno.errors.NotFound, "nothing written");

    // Without --require-all the missing pin stays null (locald then verifies at first use).
    const lenient = await updatePins(args);
    assert.equal(lenient.code, 0, lenient.stderr);
    const pins = await import(`file://${out}`) as { LIMA: ToolPin };
    assert.equal(pins.LIMA.assets["linux-aarch64"].sha256, null);
    assert.equal(pins.LIMA.assets["linux-x86_64"].sha256, digest(2));
  });
});

Deno.test("update-pins with an unreadable checksums file reports it and, with --require-all, fails", async () => {
  await withTemp(async (dir) => {
    const out = join(dir, "pins.ts");
    const r = await updatePins([
      "--require-all",
      "--lifecycle-checksums",
      join(dir, "missing.txt"),
      "--lima-checksums",
      join(dir, "missing-too.txt"),
      "--out",
      out,
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /lifecycle: cannot read .*missing\.txt/);
    await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
  });
});
