/**
 * Lima install from a loopback mirror serving a tarball in Lima's release layout (built here):
 * verified, unpacked with bin/ and share/lima/ side by side, limactl byte-identical; a bad
 * checksum installs nothing; a mirror cannot get past the embedded pin.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ensureLima, limaInstallDir } from "../src/tools/lima.ts";
import { LIMA, type ToolPin } from "../src/tools/pins.ts";
import { sha256File } from "../src/tools/download.ts";
import { LocaldError } from "../src/errors.ts";
import { envAndDirs, localdDirs } from "../src/config/paths.ts";

const LIMACTL_BYTES = "#!/bin/sh\necho 'limactl version 2.2.0 (test build)'\n";

async function releaseTarball(dir: string): Promise<{ file: string; sha256: string }> {
  const root = join(dir, "tree");
  await Deno.mkdir(join(root, "bin"), { recursive: true });
  await Deno.mkdir(join(root, "share", "lima", "templates"), { recursive: true });
  await Deno.writeTextFile(join(root, "bin", "limactl"), LIMACTL_BYTES, { mode: 0o755 });
  await Deno.writeTextFile(join(root, "share", "lima", "lima-guestagent.Linux-aarch64.gz"), "x");
  await Deno.writeTextFile(join(root, "share", "lima", "templates", "default.yaml"), "{}\n");
  const file = join(dir, "www", LIMA.assets["darwin-aarch64"].file);
  await Deno.mkdir(join(dir, "www"), { recursive: true });
  const r = await new Deno.Command("tar", {
    args: ["-czf", file, "-C", root, "bin", "share"],
  }).output();
  assert.equal(r.code, 0);
  return { file, sha256: await sha256File(file) };
}

async function withMirror(
  fn: (
    ctx: { dir: string; base: string; tarball: { file: string; sha256: string } },
  ) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "locald-lima-install-" });
  const tarball = await releaseTarball(dir);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const name = decodeURIComponent(new URL(req.url).pathname.split("/").pop() ?? "");
    try {
      return new Response(await Deno.readFile(join(dir, "www", name)));
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  try {
    await fn({ dir, base: `http://127.0.0.1:${server.addr.port}/lima`, tarball });
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

function pinWith(sha256: string | null): ToolPin {
  return {
    ...LIMA,
    assets: { "darwin-aarch64": { file: LIMA.assets["darwin-aarch64"].file, sha256 } },
  };
}

async function leftovers(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) out.push(e.name);
  } catch { /* dir absent */ }
  return out;
}

Deno.test("Lima installs from a mirror, verified against the pin, bin/ and share/lima/ kept together", async () => {
  await withMirror(async ({ dir, base, tarball }) => {
    const env = { LOCALD_HOME: join(dir, "home"), LOCALD_LIMA_MIRROR: base };
    const got = await ensureLima(envAndDirs(env), undefined, {
      pin: pinWith(tarball.sha256),
      asset: "darwin-aarch64",
    });
    assert.equal(got.root, limaInstallDir(localdDirs(env).tools, "2.2.0", "darwin-aarch64"));
    assert.equal(got.limactl, join(got.root, "bin", "limactl"));
    assert.equal(await Deno.readTextFile(got.limactl), LIMACTL_BYTES, "limactl is untouched");
    assert.ok(((await Deno.stat(got.limactl)).mode! & 0o111) !== 0, "limactl is executable");
    assert.ok((await Deno.stat(join(got.root, "share", "lima", "templates"))).isDirectory);
    // Installed once: a second call uses it without the network.
    const again = await ensureLima(
      envAndDirs({ ...env, LOCALD_LIMA_MIRROR: "http://127.0.0.1:9/" }),
      undefined,
      {
        pin: pinWith(tarball.sha256),
        asset: "darwin-aarch64",
      },
    );
    assert.equal(again.root, got.root);
  });
});

Deno.test("a bad checksum installs nothing and says so", async () => {
  await withMirror(async ({ dir, base }) => {
    const env = { LOCALD_HOME: join(dir, "home"), LOCALD_LIMA_MIRROR: base };
    await assert.rejects(
      ensureLima(envAndDirs(env), undefined, {
        pin: pinWith("0".repeat(64)),
        asset: "darwin-aarch64",
      }),
      (e: unknown) =>
        e instanceof LocaldError && e.exitCode === 5 && /checksum mismatch/.test(e.message) &&
        /nothing was installed/.test(e.hint ?? ""),
    );
    assert.deepEqual(await leftovers(join(dir, "home", "tools", "lima")), []);
    assert.deepEqual(
      (await leftovers(join(dir, "home", "downloads"))).filter((n) => !n.endsWith(".part")),
      [],
    );
  });
});

Deno.test("a mirror cannot get past the embedded pin (real LIMA pin, mirror's own tarball)", async () => {
  await withMirror(async ({ dir, base, tarball }) => {
    // The mirror even publishes a SHA256SUMS that vouches for its tarball: the pin still wins.
    await Deno.writeTextFile(
      join(dir, "www", "SHA256SUMS"),
      `${tarball.sha256}  ${LIMA.assets["darwin-aarch64"].file}\n`,
    );
    const env = { LOCALD_HOME: join(dir, "home"), LOCALD_LIMA_MIRROR: base };
    await assert.rejects(
      ensureLima(envAndDirs(env), undefined, { asset: "darwin-aarch64" }),
      (e: unknown) =>
        e instanceof LocaldError && e.message.includes(LIMA.assets["darwin-aarch64"].sha256!),
    );
    assert.deepEqual(await leftovers(join(dir, "home", "tools", "lima")), []);
  });
});

Deno.test("an unpinned asset is verified against the mirror's SHA256SUMS (sha256sum format)", async () => {
  await withMirror(async ({ dir, base, tarball }) => {
    const name = LIMA.assets["darwin-aarch64"].file;
    const env = { LOCALD_HOME: join(dir, "home"), LOCALD_LIMA_MIRROR: base };
    await Deno.writeTextFile(join(dir, "www", "SHA256SUMS"), `${"1".repeat(64)}  ${name}\n`);
    await assert.rejects(
      ensureLima(envAndDirs(env), undefined, { pin: pinWith(null), asset: "darwin-aarch64" }),
      /checksum mismatch/,
    );
    assert.deepEqual(await leftovers(join(dir, "home", "tools", "lima")), []);
    await Deno.writeTextFile(
      join(dir, "www", "SHA256SUMS"),
      `${"2".repeat(64)}  lima-2.2.0-Linux-x86_64.tar.gz\n${tarball.sha256} *${name}\n`,
    );
    const got = await ensureLima(envAndDirs(env), undefined, {
      pin: pinWith(null),
      asset: "darwin-aarch64",
    });
    assert.equal(await Deno.readTextFile(got.limactl), LIMACTL_BYTES);
  });
});
