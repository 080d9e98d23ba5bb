/** downloadVerified against a real HTTP server on 127.0.0.1 (tests/support/mirror.ts). */
import assert from "node:assert/strict";
import { join } from "node:path";
import { LocaldError } from "../errors.ts";
import { startMirror } from "../../tests/support/mirror.ts";
import { downloadVerified, sha256Hex } from "./download.ts";

const SIZE = 300_000;
const DATA = new Uint8Array(SIZE).map((_, i) => (i * 7919) % 251);
const SHA = sha256Hex(DATA);

async function setup(
  fn: (ctx: {
    url: string;
    dest: string;
    part: string;
    mirror: Awaited<ReturnType<typeof startMirror>>;
  }) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "locald-dl-" });
  await Deno.mkdir(join(dir, "srv"));
  await Deno.writeFile(join(dir, "srv", "file.bin"), DATA);
  const mirror = await startMirror(join(dir, "srv"));
  const dest = join(dir, "dl", "file.bin");
  try {
    await fn({ url: `${mirror.url}/file.bin`, dest, part: `${dest}.part`, mirror });
  } finally {
    await mirror.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const req = (url: string, dest: string, extra = {}) => ({
  url,
  dest,
  sha256: SHA,
  label: "file",
  hint: "set THE_MIRROR",
  ...extra,
});

async function assertDownloaded(dest: string, part: string) {
  assert.deepEqual(await Deno.readFile(dest), DATA);
  await assert.rejects(Deno.stat(part), Deno.errors.NotFound, "no .part file is left");
}

async function writePart(part: string, data: Uint8Array) {
  await Deno.mkdir(join(part, ".."), { recursive: true });
  await Deno.writeFile(part, data);
}

Deno.test("downloadVerified fetches, verifies and renames into place; a second call fetches nothing", async () => {
  await setup(async ({ url, dest, part, mirror }) => {
    assert.equal(await downloadVerified(req(url, dest)), dest);
    await assertDownloaded(dest, part);
    assert.equal(mirror.requests.length, 1);
    await downloadVerified(req(url, dest));
    assert.equal(mirror.requests.length, 1, "a verified file is reused");
  });
});

Deno.test("downloadVerified resumes a partial file with a Range request", async () => {
  await setup(async ({ url, dest, part, mirror }) => {
    await writePart(part, DATA.subarray(0, 100_000));
    await downloadVerified(req(url, dest));
    await assertDownloaded(dest, part);
    assert.deepEqual(mirror.requests.map((r) => [r.range, r.status, r.bytes]), [
      ["bytes=100000-", 206, SIZE - 100_000],
    ]);
  });
});

Deno.test("downloadVerified copes with a server that ignores Range", async () => {
  await setup(async ({ url, dest, part, mirror }) => {
    mirror.setFault("/file.bin", { ignoreRange: true });
    await writePart(part, DATA.subarray(0, 100_000));
    await downloadVerified(req(url, dest));
    await assertDownloaded(dest, part);
    assert.equal(mirror.requests[0].status, 200);
  });
});

Deno.test("downloadVerified starts over when the partial file is longer than the file (416)", async () => {
  await setup(async ({ url, dest, part, mirror }) => {
    await writePart(part, new Uint8Array(SIZE + 10));
    await downloadVerified(req(url, dest));
    await assertDownloaded(dest, part);
    assert.deepEqual(mirror.requests.map((r) => r.status), [416, 200]);
  });
});

Deno.test("downloadVerified uses a complete partial file without downloading again", async () => {
  await setup(async ({ url, dest, part, mirror }) => {
    await writePart(part, DATA);
    await downloadVerified(req(url, dest));
    await assertDownloaded(dest, part);
    assert.equal(mirror.requests.length, 0);
  });
});

Deno.test("downloadVerified discards a stale partial file with other bytes and downloads afresh", async () => {
  await setup(async ({ url, dest, part, mirror }) => {
    await writePart(part, new Uint8Array(50_000).fill(1));
    await downloadVerified(req(url, dest));
    await assertDownloaded(dest, part);
    assert.deepEqual(mirror.requests.map((r) => r.range ?? "whole"), ["bytes=50000-", "whole"]);
  });
});

Deno.test("downloadVerified refuses bytes that do not match: exit code 5, nothing left behind", async () => {
  await setup(async ({ url, dest, part, mirror }) => {
    mirror.setFault("/file.bin", { corrupt: true });
    await assert.rejects(downloadVerified(req(url, dest)), (e: unknown) => {
      assert.ok(e instanceof LocaldError);
      assert.equal(e.exitCode, 5);
      assert.match(
        e.message,
        new RegExp(`checksum mismatch for file\\.bin: expected sha256 ${SHA}`),
      );
      return true;
    });
    await assert.rejects(Deno.stat(dest), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(part), Deno.errors.NotFound);
  });
});

Deno.test("downloadVerified retries dropped connections and 5xx answers", async () => {
  await setup(async ({ url, dest, part, mirror }) => {
    mirror.setFault("/file.bin", { cutAfter: 70_000, times: 2 });
    await downloadVerified(req(url, dest));
    await assertDownloaded(dest, part);
    assert.deepEqual(mirror.requests.map((r) => r.range ?? "whole"), [
      "whole",
      "bytes=70000-",
      "bytes=140000-",
    ]);
  });
  await setup(async ({ url, dest, part, mirror }) => {
    mirror.setFault("/file.bin", { status: 503, times: 1 });
    await downloadVerified(req(url, dest));
    await assertDownloaded(dest, part);
  });
});

Deno.test("downloadVerified gives up after its attempts with the URL, the reason and the hint", async () => {
  await setup(async ({ url, dest, mirror }) => {
    mirror.setFault("/file.bin", { status: 500 });
    await assert.rejects(downloadVerified(req(url, dest, { attempts: 2 })), (e: unknown) => {
      assert.ok(e instanceof LocaldError);
      assert.equal(e.exitCode, 5);
      assert.equal(e.message, `cannot download ${url}: HTTP 500`);
      assert.equal(e.hint, "set THE_MIRROR");
      return true;
    });
    assert.equal(mirror.requests.length, 2);
  });
});

Deno.test("downloadVerified does not retry a 404", async () => {
  await setup(async ({ url, dest, mirror }) => {
    mirror.setFault("/file.bin", { notFound: true });
    await assert.rejects(downloadVerified(req(url, dest)), /HTTP 404/);
    assert.equal(mirror.requests.length, 1);
  });
});
