/**
 * Tool provisioning end to end: `locald setup` fetches the real CNB lifecycle release (built by
 * scripts/test-tools.sh from the lifecycle's Go module and packed by its own packager) from a
 * mirror on 127.0.0.1, verifies it, and installs it under $LOCALD_HOME, through the faults a
 * real network produces.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Mirror, startMirror } from "./support/mirror.ts";
import { runLocald, spawnLocald, type TestEnv, testEnv } from "./support/locald.ts";
import {
  LIFECYCLE_VERSION,
  lifecycleAsset,
  lifecycleChecksumsFile,
  lifecycleDir,
  lifecycleMirrorDir,
} from "./support/tools.ts";

const ASSET = lifecycleAsset();
const ASSET_PATH = `/${ASSET}`;
const SUMS_PATH = `/${lifecycleChecksumsFile()}`;
const HOST = `linux-${Deno.build.arch}`;

function installDir(t: TestEnv) {
  return join(t.localdHome, "tools", "lifecycle", `${LIFECYCLE_VERSION}-${HOST}`);
}

async function exists(p: string) {
  try {
    await Deno.lstat(p);
    return true;
  } catch {
    return false;
  }
}

async function listDir(p: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(p)) names.push(e.name);
  } catch { /* missing */ }
  return names.sort();
}

/** Nothing installed, and no temporary install directory left beside where it would go. */
async function assertNothingInstalled(t: TestEnv) {
  assert.equal(await exists(installDir(t)), false, "the lifecycle must not be installed");
  const leftovers = (await listDir(join(t.localdHome, "tools", "lifecycle")))
    .filter((n) => n.startsWith(".install-"));
  assert.deepEqual(leftovers, [], "no half-unpacked directory may be left behind");
}

/** The installed lifecycle is the real one and runs. */
async function assertInstalledWorks(t: TestEnv) {
  const dir = installDir(t);
  for (const phase of ["analyzer", "detector", "restorer", "builder", "exporter"]) {
    const p = join(dir, "lifecycle", phase);
    assert.ok((await Deno.lstat(p)).isSymlink, `${phase} must stay a symlink`);
    assert.equal(await Deno.readLink(p), "lifecycle");
  }
  assert.ok((await Deno.stat(join(dir, "lifecycle", "launcher"))).mode! & 0o100);
  const { stdout, stderr } = await new Deno.Command(join(dir, "lifecycle", "lifecycle"), {
    args: ["-version"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.match(text, new RegExp(LIFECYCLE_VERSION.replaceAll(".", "\\.")));
}

async function withMirror(fn: (m: Mirror, t: TestEnv) => Promise<void>) {
  const m = await startMirror(lifecycleMirrorDir());
  const t = await testEnv({ LOCALD_LIFECYCLE_MIRROR: m.url });
  try {
    await fn(m, t);
  } finally {
    await m.close();
    await t.cleanup();
  }
}

const setup = (t: TestEnv, ...args: string[]) => runLocald(["setup", ...args], { env: t.env });

Deno.test("setup installs the real lifecycle from the mirror, verified against its checksums file", async () => {
  await withMirror(async (m, t) => {
    const r = await setup(t, "--json");
    assert.equal(r.code, 0, r.stderr);
    // No pin yet: locald must say what it verified against.
    assert.match(r.stderr, /no pinned checksum/);
    assert.ok(r.stderr.includes(`${m.url}${SUMS_PATH}`), r.stderr);
    const j = r.json as { lifecycle: { version: string; path: string; source: string } };
    assert.equal(j.lifecycle.version, LIFECYCLE_VERSION);
    assert.equal(j.lifecycle.path, installDir(t));
    await assertInstalledWorks(t);
    // The download is not kept once installed.
    assert.deepEqual(await listDir(join(t.localdHome, "downloads")), []);

    // A second run uses what is installed: no download at all.
    const before = m.requests.length;
    const again = await setup(t);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /lifecycle 0\.21\.17 ready/);
    assert.equal(m.requests.length, before, "the second run must not touch the network");
  });
});

Deno.test("a tarball that does not match the checksums file is refused, and nothing is installed", async () => {
  await withMirror(async (m, t) => {
    m.setFault(ASSET_PATH, { corrupt: true });
    const r = await setup(t);
    assert.equal(r.code, 5, r.stderr);
    const lines = r.stderr.trim().split("\n").filter((l) => l.startsWith("locald:"));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /checksum mismatch for lifecycle-v0\.21\.17\+linux/);
    assert.match(r.stderr, /^hint: nothing was installed/m);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    await assertNothingInstalled(t);
    assert.deepEqual(await listDir(join(t.localdHome, "downloads")), []);

    // Mirror fixed: the next run installs.
    m.setFault(ASSET_PATH, undefined);
    const ok = await setup(t);
    assert.equal(ok.code, 0, ok.stderr);
    await assertInstalledWorks(t);
  });
});

Deno.test("a checksums file with another digest for the tarball makes setup refuse it", async () => {
  await withMirror(async (m, t) => {
    const forged = (await Deno.readTextFile(join(lifecycleMirrorDir(), lifecycleChecksumsFile())))
      .replace(/[0-9a-f]{64}/g, "0".repeat(64));
    m.setFault(SUMS_PATH, { body: forged });
    const r = await setup(t);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /checksum mismatch.*expected sha256 0{64}/);
    await assertNothingInstalled(t);
  });
});

Deno.test("a checksums file that does not list the tarball is a clear error", async () => {
  await withMirror(async (m, t) => {
    m.setFault(SUMS_PATH, { body: `${"a".repeat(64)}  some-other-file.tgz\n` });
    const r = await setup(t);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /lists no checksum for lifecycle-v0\.21\.17\+linux/);
    assert.match(r.stderr, /LOCALD_LIFECYCLE_MIRROR/);
    await assertNothingInstalled(t);
  });
});

Deno.test("a connection that drops mid-download is resumed with a Range request", async () => {
  await withMirror(async (m, t) => {
    m.setFault(ASSET_PATH, { cutAfter: 1_000_000, times: 1 });
    const r = await setup(t);
    assert.equal(r.code, 0, r.stderr);
    await assertInstalledWorks(t);
    const gets = m.requestsFor(ASSET_PATH);
    assert.equal(gets.length, 2, JSON.stringify(gets));
    assert.equal(gets[0].bytes, 1_000_000);
    assert.equal(gets[1].range, "bytes=1000000-");
    assert.equal(gets[1].status, 206);
  });
});

Deno.test("a download that keeps dropping fails cleanly, and the next run resumes it", async () => {
  await withMirror(async (m, t) => {
    m.setFault(ASSET_PATH, { cutAfter: 0 });
    const r = await setup(t);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /^locald: cannot download .*lifecycle-v0\.21\.17/m);
    assert.match(r.stderr, /LOCALD_LIFECYCLE_MIRROR/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    await assertNothingInstalled(t);

    m.setFault(ASSET_PATH, { cutAfter: 3_000_000, times: 1 });
    const r2 = await setup(t);
    assert.equal(r2.code, 0, r2.stderr);
    await assertInstalledWorks(t);
  });
});

Deno.test("HTTP 500 answers are retried until the mirror serves the file", async () => {
  await withMirror(async (m, t) => {
    m.setFault(ASSET_PATH, { status: 500, times: 2 });
    const r = await setup(t);
    assert.equal(r.code, 0, r.stderr);
    await assertInstalledWorks(t);
    assert.deepEqual(m.requestsFor(ASSET_PATH).map((x) => x.status), [500, 500, 200]);
  });
});

Deno.test("a missing release file is reported at once with the URL and the mirror variable", async () => {
  await withMirror(async (m, t) => {
    m.setFault(ASSET_PATH, { notFound: true });
    const r = await setup(t);
    assert.equal(r.code, 5, r.stderr);
    assert.ok(r.stderr.includes(`cannot download ${m.url}${ASSET_PATH}: HTTP 404`), r.stderr);
    assert.match(r.stderr, /LOCALD_LIFECYCLE_MIRROR/);
    assert.equal(m.requestsFor(ASSET_PATH).length, 1, "a 404 is not retried");
    await assertNothingInstalled(t);
  });
});

Deno.test("an unreachable mirror: the error names LOCALD_LIFECYCLE_MIRROR", async () => {
  // A port that was just free: nothing listens there.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const t = await testEnv({ LOCALD_LIFECYCLE_MIRROR: `http://127.0.0.1:${port}` });
  try {
    const r = await setup(t);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /^locald: cannot download http:\/\/127\.0\.0\.1:\d+\//m);
    assert.match(r.stderr, /^hint: .*LOCALD_LIFECYCLE_MIRROR/m);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    await assertNothingInstalled(t);
  } finally {
    await t.cleanup();
  }
});

Deno.test("killing setup mid-download leaves nothing installed; the next run resumes and installs", async () => {
  await withMirror(async (m, t) => {
    m.setFault(ASSET_PATH, { stallAfter: 2_000_000, times: 1 });
    const child = spawnLocald(["setup"], { env: t.env });
    const part = join(t.localdHome, "downloads", `${ASSET}.part`);
    // Wait until the stalled transfer has written its bytes.
    const deadline = Date.now() + 60_000;
    while (true) {
      const size = await Deno.stat(part).then((s) => s.size).catch(() => 0);
      if (size >= 2_000_000) break;
      assert.ok(Date.now() < deadline, "the download never started");
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGKILL");
    const status = await child.output();
    assert.equal(status.success, false);
    await assertNothingInstalled(t);

    const r = await setup(t);
    assert.equal(r.code, 0, r.stderr);
    await assertInstalledWorks(t);
    const gets = m.requestsFor(ASSET_PATH);
    assert.equal(gets.at(-1)!.range, "bytes=2000000-", "the next run resumes the partial file");
  });
});

Deno.test("LOCALD_LIFECYCLE_DIR is used as it is, without any download", async () => {
  const dir = lifecycleDir();
  const t = await testEnv({
    LOCALD_LIFECYCLE_DIR: dir,
    // Would fail if anything were fetched.
    LOCALD_LIFECYCLE_MIRROR: "http://127.0.0.1:9",
  });
  try {
    const r = await setup(t, "--json");
    assert.equal(r.code, 0, r.stderr);
    const j = r.json as { lifecycle: { version: string; path: string; source: string } };
    assert.deepEqual(
      { version: j.lifecycle.version, path: j.lifecycle.path, source: j.lifecycle.source },
      { version: LIFECYCLE_VERSION, path: dir, source: "LOCALD_LIFECYCLE_DIR" },
    );
    assert.equal(await exists(join(t.localdHome, "tools")), false, "nothing copied or installed");
  } finally {
    await t.cleanup();
  }
});

Deno.test("LOCALD_LIFECYCLE_DIR pointing at the wrong directory is a clear error", async () => {
  const t = await testEnv();
  try {
    await Deno.mkdir(join(t.root, "not-a-lifecycle"));
    t.env.LOCALD_LIFECYCLE_DIR = join(t.root, "not-a-lifecycle");
    const r = await setup(t);
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /^locald: the lifecycle at .*not-a-lifecycle has no lifecycle\/lifecycle/m,
    );
    assert.match(r.stderr, /^hint: point LOCALD_LIFECYCLE_DIR at an unpacked lifecycle release/m);

    // The release tarball itself instead of its unpacked directory: same clear error.
    t.env.LOCALD_LIFECYCLE_DIR = join(lifecycleMirrorDir(), ASSET);
    const r2 = await setup(t);
    assert.equal(r2.code, 3, r2.stderr);
    assert.match(r2.stderr, /has no lifecycle\/lifecycle/);
  } finally {
    await t.cleanup();
  }
});

Deno.test("three setups at once download the lifecycle once and all succeed", async () => {
  await withMirror(async (m, t) => {
    // A slow answer, so the three are in flight together.
    m.setFault(ASSET_PATH, { delayMs: 1500 });
    const runs = await Promise.all([1, 2, 3].map(() => setup(t)));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    await assertInstalledWorks(t);
    assert.equal(m.requestsFor(ASSET_PATH).length, 1, "one download for all three");
  });
});

Deno.test("setup clears what an install killed while unpacking left behind", async () => {
  await withMirror(async (_m, t) => {
    const stale = join(
      t.localdHome,
      "tools",
      "lifecycle",
      `.install-${LIFECYCLE_VERSION}-${HOST}-k1ll3d`,
    );
    await Deno.mkdir(join(stale, "lifecycle"), { recursive: true });
    await Deno.writeTextFile(join(stale, "lifecycle", "lifecycle"), "half");
    const r = await setup(t);
    assert.equal(r.code, 0, r.stderr);
    await assertInstalledWorks(t);
    assert.equal(await exists(stale), false, "the half-unpacked tree is removed");
  });
});
