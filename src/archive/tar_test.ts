import assert from "node:assert/strict";
import { join } from "node:path";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { LocaldError } from "../errors.ts";
import { makeTar } from "../../tests/support/images.ts";
import { type ByteSource, MAX_META, type TarEntry, TarReader } from "./tar.ts";
import { inflateSource } from "./inflate.ts";

/** A source over bytes in memory that hands out at most `step` bytes a read. */
function bytesSource(data: Uint8Array, step = 1 << 20): ByteSource {
  let off = 0;
  return {
    read(into) {
      if (off >= data.length) return Promise.resolve(null);
      const n = Math.min(step, into.length, data.length - off);
      into.set(data.subarray(off, off + n));
      off += n;
      return Promise.resolve(n);
    },
  };
}

interface Read extends TarEntry {
  content: string;
}

async function readAll(src: ByteSource, bufferSize?: number): Promise<Read[]> {
  const r = new TarReader(src, { label: "test.tar", bufferSize });
  const out: Read[] = [];
  for (let e; (e = await r.next()) !== null;) {
    const parts: Uint8Array[] = [];
    for (let c; (c = await r.body()) !== null;) parts.push(c.slice());
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    assert.equal(all.length, e.size, `${e.name}: body length`);
    out.push({ ...e, content: new TextDecoder().decode(all) });
  }
  return out;
}

async function rejects(p: Promise<unknown>, re: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof LocaldError, `expected a LocaldError, got ${e}`);
    assert.match(e.message, re);
    assert.equal(e.exitCode, 5);
    assert.ok(e.hint);
    return true;
  });
}

const LONG_DIR = "d".repeat(90) + "/" + "é".repeat(40) + "/" + "x".repeat(120);
const LONG_TARGET = "../".repeat(10) + "t".repeat(150);
const BIG = "0123456789abcdef".repeat(70_000 / 16 + 1).slice(0, 70_000);

/** A tree like real layers have: long names, unicode, links, empty files, a body over 64 KiB. */
async function makeTree(root: string, long: boolean) {
  const base = long ? join(root, LONG_DIR) : join(root, "usr", "lib");
  await Deno.mkdir(base, { recursive: true });
  await Deno.writeTextFile(join(base, "big.bin"), BIG);
  await Deno.writeTextFile(join(base, "empty"), "");
  await Deno.writeTextFile(join(base, "exactly512"), "z".repeat(512));
  await Deno.writeTextFile(join(root, "späce name.txt"), "unicode and spaces\n");
  await Deno.chmod(join(root, "späce name.txt"), 0o4755);
  await Deno.link(join(base, "big.bin"), join(root, "hard"));
  await Deno.symlink(long ? LONG_TARGET : "usr/lib/big.bin", join(root, "sym"));
  await Deno.writeTextFile(join(root, ".wh.gone"), "");
}

async function gnuTar(root: string, format: string): Promise<Uint8Array> {
  const out = await new Deno.Command("tar", {
    args: [`--format=${format}`, "--sort=name", "-cf", "-", "-C", root, "."],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return out.stdout;
}

async function withTree<T>(long: boolean, fn: (root: string) => Promise<T>): Promise<T> {
  const root = await Deno.makeTempDir({ prefix: "locald-tar-" });
  try {
    await makeTree(root, long);
    return await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

function check(entries: Read[], long: boolean, format: string) {
  const by = new Map(entries.map((e) => [e.name.replace(/^\.\//, "").replace(/\/$/, ""), e]));
  const dir = long ? LONG_DIR : "usr/lib";
  assert.ok(by.has(`${dir}/big.bin`), `${format}: ${dir}/big.bin missing in ${[...by.keys()]}`);
  assert.equal(by.get(`${dir}/empty`)?.size, 0);
  assert.equal(by.get(`${dir}/exactly512`)?.content, "z".repeat(512));
  assert.equal(by.get(dir)?.type, "directory", `${format}: ${dir}`);
  const sp = by.get("späce name.txt")!;
  assert.equal(sp.content, "unicode and spaces\n");
  assert.equal(sp.mode, 0o4755);
  // GNU tar stores the second name of a hard link as a link to the first one it archived.
  const hard = by.get("hard")!;
  const first = by.get(`${dir}/big.bin`)!;
  const [linked, file] = hard.type === "link" ? [hard, first] : [first, hard];
  assert.equal(linked.type, "link", `${format}: one of the two names is a hard link`);
  assert.equal(linked.size, 0);
  assert.equal(file.type, "file");
  assert.equal(file.content, BIG);
  const sym = by.get("sym")!;
  assert.equal(sym.type, "symlink");
  assert.equal(sym.linkname, long ? LONG_TARGET : "usr/lib/big.bin");
  assert.equal(by.get(".wh.gone")?.type, "file");
}

Deno.test("TarReader reads GNU tar's gnu, pax, ustar and v7 archives, through any buffer size", async () => {
  for (const [format, long] of [["gnu", true], ["pax", true], ["ustar", false], ["v7", false]]) {
    await withTree(long as boolean, async (root) => {
      const data = await gnuTar(root, format as string);
      for (const [step, bufferSize] of [[1 << 20, undefined], [7, 512], [1000, 1536]]) {
        check(await readAll(bytesSource(data, step), bufferSize), long as boolean, `${format}`);
      }
    });
  }
});

Deno.test("TarReader reads the layers tests/support/images.ts writes: whiteouts, links, devices", async () => {
  const long = "p/".repeat(60) + "deep-file"; // over 100 bytes: tar-stream writes a prefix or PAX
  const longer = "q".repeat(300); // no prefix split possible: a PAX header
  const data = await makeTar([
    { name: "etc/", type: "directory" },
    { name: "etc/.wh..wh..opq" },
    { name: "etc/.wh.old.conf" },
    { name: "etc/new.conf", content: "x=1\n", mode: 0o600 },
    { name: "etc/hard", type: "link", linkname: "etc/new.conf" },
    { name: "etc/sym", type: "symlink", linkname: "/etc/new.conf" },
    { name: "dev/null", type: "character-device" },
    { name: "fifo", type: "fifo" },
    { name: long, content: "deep" },
    { name: longer, content: "longer" },
    { name: "empty", content: "" },
  ]);
  const got = await readAll(bytesSource(data, 333), 512);
  assert.deepEqual(
    got.map((e) => [e.name, e.type, e.linkname, e.content]),
    [
      ["etc/", "directory", "", ""],
      ["etc/.wh..wh..opq", "file", "", ""],
      ["etc/.wh.old.conf", "file", "", ""],
      ["etc/new.conf", "file", "", "x=1\n"],
      ["etc/hard", "link", "etc/new.conf", ""],
      ["etc/sym", "symlink", "/etc/new.conf", ""],
      ["dev/null", "other", "", ""],
      ["fifo", "other", "", ""],
      [long, "file", "", "deep"],
      [longer, "file", "", "longer"],
      ["empty", "file", "", ""],
    ],
  );
  assert.equal(got[3].mode, 0o600);
  assert.equal(got[6].typeflag, "3");
});

/** A raw 512-byte header (ustar), checksum filled in. */
function header(
  name: string,
  flag: string,
  size: number | Uint8Array,
  extra: { linkname?: string } = {},
): Uint8Array {
  const h = new Uint8Array(512);
  const put = (off: number, s: string) => h.set(new TextEncoder().encode(s), off);
  put(0, name);
  put(100, "0000644\0");
  put(108, "0000000\0");
  put(116, "0000000\0");
  if (typeof size === "number") put(124, size.toString(8).padStart(11, "0") + "\0");
  else h.set(size, 124);
  put(136, "00000000000\0");
  put(156, flag);
  if (extra.linkname) put(157, extra.linkname);
  put(257, "ustar\0" + "00");
  writeChecksum(h);
  return h;
}

function writeChecksum(h: Uint8Array) {
  h.fill(0x20, 148, 156);
  const sum = h.reduce((a, b) => a + b, 0);
  h.set(new TextEncoder().encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
}

function body(s: string | Uint8Array): Uint8Array {
  const b = typeof s === "string" ? new TextEncoder().encode(s) : s;
  const out = new Uint8Array(Math.ceil(b.length / 512) * 512);
  out.set(b);
  return out;
}

function pax(records: Record<string, string>): Uint8Array {
  let text = "";
  for (const [k, v] of Object.entries(records)) {
    const rec = ` ${k}=${v}\n`;
    const bytes = new TextEncoder().encode(rec).length;
    let len = bytes + 1;
    while (String(len).length + bytes !== len) len++;
    text += `${len}${rec}`;
  }
  return new TextEncoder().encode(text);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const END = new Uint8Array(1024);

Deno.test("TarReader: PAX path, linkpath and size override the header; base-256 sizes; GNU long names", async () => {
  const records = pax({ path: "über/" + "n".repeat(200), size: "5", mtime: "1.5" });
  const b256 = new Uint8Array(12);
  b256[0] = 0x80;
  b256[11] = 6;
  const longName = new TextEncoder().encode("g".repeat(150) + "\0");
  const data = concat(
    header("PaxHeaders/x", "x", records.length),
    body(records),
    header("short-name", "0", 0), // the PAX size (5) wins over 0
    body("hello"),
    header("PaxHeaders/y", "x", pax({ linkpath: "l".repeat(180) }).length),
    body(pax({ linkpath: "l".repeat(180) })),
    header("link", "2", 0, { linkname: "ignored" }),
    header("b256", "0", b256),
    body("binary"),
    header("././@LongLink", "L", longName.length),
    body(longName),
    header("truncated-name", "0", 3),
    body("gnu"),
    header("global", "g", pax({ path: "not-applied" }).length),
    body(pax({ path: "not-applied" })),
    header("after-global", "0", 2),
    body("ok"),
    // A symlink whose size field claims a body: it has none (as Go's reader has it).
    header("sym-with-size", "2", 0, { linkname: "t" }),
    header("plain", "0", 1),
    body("p"),
    END,
  );
  // The size field of the symlink above is 0; set it to 512 and fix the checksum.
  const at = data.length - END.length - 3 * 512;
  assert.equal(new TextDecoder().decode(data.subarray(at, at + 13)), "sym-with-size");
  data.set(new TextEncoder().encode("00000001000\0"), at + 124);
  writeChecksum(data.subarray(at, at + 512));
  const got = await readAll(bytesSource(data, 100), 512);
  assert.deepEqual(got.map((e) => [e.name, e.type, e.size, e.content]), [
    ["über/" + "n".repeat(200), "file", 5, "hello"],
    ["link", "symlink", 0, ""],
    ["b256", "file", 6, "binary"],
    ["g".repeat(150), "file", 3, "gnu"],
    ["after-global", "file", 2, "ok"],
    ["sym-with-size", "symlink", 0, ""],
    ["plain", "file", 1, "p"],
  ]);
  assert.equal(got[1].linkname, "l".repeat(180));
});

Deno.test("TarReader: truncated, corrupt and hostile input is a LocaldError, never a hang", async () => {
  const data = concat(header("a", "0", 2000), body("a".repeat(2000)), END);
  // Cut inside the body, inside a header, and right after a PAX header.
  await rejects(readAll(bytesSource(data.subarray(0, 1200), 13)), /ends early, inside entry "a"/);
  await rejects(readAll(bytesSource(data.subarray(0, 300))), /ends early, inside a header/);
  const p = pax({ path: "x" });
  await rejects(
    readAll(bytesSource(concat(header("P", "x", p.length), body(p)))),
    /ends early/,
  );
  // A damaged header.
  const bad = data.slice();
  bad[10] = 0x41;
  await rejects(readAll(bytesSource(bad)), /not a tar archive \(bad header checksum at byte 0\)/);
  await rejects(
    readAll(bytesSource(new TextEncoder().encode("x".repeat(5000)))),
    /bad header checksum/,
  );
  // A PAX header claiming a huge body is refused before anything is allocated.
  await rejects(
    readAll(bytesSource(concat(header("P", "x", MAX_META + 1), END))),
    /a PAX header of \d+ bytes .*at most/,
  );
  // Malformed PAX records and a negative base-256 size.
  await rejects(
    readAll(bytesSource(concat(header("P", "x", 9), body("99 path=x"), header("f", "0", 0)))),
    /malformed PAX header/,
  );
  const neg = new Uint8Array(12).fill(0xff);
  await rejects(readAll(bytesSource(concat(header("n", "0", neg), END))), /negative size/);
  // An empty input and one that ends cleanly between entries are empty or complete archives.
  assert.deepEqual(await readAll(bytesSource(new Uint8Array())), []);
  const noEnd = await readAll(bytesSource(data.subarray(0, 512 + 2048)));
  assert.equal(noEnd[0].content, "a".repeat(2000));
});

Deno.test("inflateSource: gzip (multi-member), zstd, the streaming fallback; damage is a LocaldError", async () => {
  const tarData = concat(
    header("one", "0", 70_000),
    body("1".repeat(70_000)),
    header("two", "0", 3),
    body("two"),
    END,
  );
  const half = Math.floor(tarData.length / 2);
  const gz = concat(gzipSync(tarData.subarray(0, half)), gzipSync(tarData.subarray(half)));
  const zst = new Uint8Array(zstdCompressSync(tarData));
  for (const streaming of [false, true]) {
    for (const [codec, blob] of [["gzip", gz], ["zstd", zst]] as const) {
      const src = inflateSource(bytesSource(blob, 4096), codec, { streaming, bufferSize: 1000 });
      // Deno has the zlib handle: without `streaming` the reused-buffer path is the one tested.
      assert.equal(src.streaming, streaming);
      const got = await readAll(src, 4096);
      src.close();
      assert.deepEqual(got.map((e) => [e.name, e.size]), [["one", 70_000], ["two", 3]]);
      assert.equal(got[0].content, "1".repeat(70_000));
    }
    // Garbage, and a gzip stream cut short.
    const garbage = inflateSource(
      bytesSource(new TextEncoder().encode("not gzip at all")),
      "gzip",
      {
        streaming,
        label: "layer 1",
      },
    );
    await rejects(readAll(garbage), /cannot unpack layer 1: /);
    garbage.close();
    // No end-of-archive blocks, so the reader asks for more and the decompressor hits the cut.
    const full = gzipSync(tarData.subarray(0, tarData.length - END.length));
    const cut = inflateSource(bytesSource(full.subarray(0, full.length - 4)), "gzip", {
      streaming,
    });
    await rejects(readAll(cut), /cannot unpack archive: /);
    cut.close();
  }
});
