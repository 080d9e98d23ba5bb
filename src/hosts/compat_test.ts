import assert from "node:assert/strict";
import {
  compareVersions,
  describeSystem,
  elfNeeds,
  parseGlibcVersion,
  programVerdict,
  stackVerdict,
  type SystemFacts,
} from "./compat.ts";
import { programNeeds, systemFacts } from "./compat_facts.ts";
import { resolveIn } from "../util/fs.ts";

const glibc = (v: string, os: Record<string, string> = {}): SystemFacts => ({
  libc: "glibc",
  glibc: v,
  loaders: ["/lib64/ld-linux-x86-64.so.2"],
  osRelease: os,
});
const BOOKWORM = { ID: "debian", VERSION_ID: "12", PRETTY_NAME: "Debian GNU/Linux 12 (bookworm)" };
const TRIXIE = { ID: "debian", VERSION_ID: "13", PRETTY_NAME: "Debian GNU/Linux 13 (trixie)" };

Deno.test("compareVersions orders glibc versions numerically", () => {
  assert.equal(compareVersions("2.36", "2.41"), -1);
  assert.equal(compareVersions("2.10", "2.9"), 1);
  assert.equal(compareVersions("2.41", "2.41.0"), 0);
  assert.equal(compareVersions("2.41.1", "2.41"), 1);
});

Deno.test("stackVerdict: an older glibc, another libc family, a missing loader", () => {
  const old = stackVerdict(glibc("2.36", BOOKWORM), glibc("2.41", TRIXIE));
  assert.equal(old.ok, false);
  assert.deepEqual(old.reasons, ["this host has glibc 2.36, older than the stack's 2.41"]);
  assert.deepEqual(old.soft, [
    "this host is Debian GNU/Linux 12 (bookworm), the stack Debian GNU/Linux 13 (trixie)",
  ]);
  // A newer host runs an older stack's programs; a different distribution alone is soft.
  const newer = stackVerdict(glibc("2.41", TRIXIE), glibc("2.36", BOOKWORM));
  assert.equal(newer.ok, true);
  assert.equal(newer.soft.length, 1);
  assert.deepEqual(stackVerdict(glibc("2.36", BOOKWORM), glibc("2.36", BOOKWORM)), {
    ok: true,
    reasons: [],
    soft: [],
  });
  const alpine: SystemFacts = {
    libc: "musl",
    loaders: ["/lib/ld-musl-x86_64.so.1"],
    osRelease: { ID: "alpine", VERSION_ID: "3.20" },
  };
  assert.deepEqual(stackVerdict(alpine, glibc("2.36")).reasons, [
    "this host's C library is musl, the stack's is glibc",
  ]);
  const nixos: SystemFacts = { libc: "glibc", glibc: "2.40", loaders: [], osRelease: {} };
  assert.deepEqual(stackVerdict(nixos, glibc("2.36")).reasons, [
    "this host has no /lib64/ld-linux-x86-64.so.2 (the loader the stack's programs name)",
  ]);
  assert.equal(
    describeSystem(glibc("2.36", BOOKWORM)),
    "Debian GNU/Linux 12 (bookworm), glibc 2.36",
  );
});

Deno.test("programVerdict: the glibc a program needs, the loader it names", () => {
  const host = glibc("2.36");
  assert.deepEqual(
    programVerdict(host, { interp: "/lib64/ld-linux-x86-64.so.2", glibc: "2.38", needed: [] })
      .reasons,
    ["it needs glibc 2.38, this host has 2.36"],
  );
  assert.equal(
    programVerdict(host, { interp: "/lib64/ld-linux-x86-64.so.2", glibc: "2.34", needed: [] })
      .ok,
    true,
  );
  assert.deepEqual(
    programVerdict(host, { interp: "/lib/ld-musl-x86_64.so.1", needed: [] }).reasons,
    ["it is built for musl, this host's C library is glibc"],
  );
  assert.equal(programVerdict(host, { needed: [] }).ok, true, "a static program loads anywhere");
});

Deno.test("parseGlibcVersion reads the banner, else the newest GLIBC_ version defined", () => {
  assert.equal(
    parseGlibcVersion("x\0GNU C Library (Debian GLIBC 2.41-12) stable release version 2.41.\n"),
    "2.41",
  );
  assert.equal(parseGlibcVersion("GLIBC_2.2.5\0GLIBC_2.39\0GLIBC_2.4\0GLIBC_PRIVATE\0"), "2.39");
  assert.equal(parseGlibcVersion("nothing here"), undefined);
});

async function readelf(args: string[]): Promise<string> {
  const o = await new Deno.Command("readelf", { args, stdout: "piped", stderr: "null" }).output();
  assert.ok(o.success);
  return new TextDecoder().decode(o.stdout);
}

Deno.test("elfNeeds reads what readelf reads from real programs", async () => {
  for (const prog of ["/usr/bin/bwrap", "/bin/ls", Deno.execPath()]) {
    const needs = programNeeds(prog);
    assert.ok(needs, prog);
    const headers = await readelf(["-lW", prog]);
    assert.equal(needs.interp, /\[Requesting program interpreter: ([^\]]+)\]/.exec(headers)?.[1]);
    const dynamic = await readelf(["-dW", prog]);
    assert.deepEqual(
      needs.needed,
      [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]),
    );
    const versions = await readelf(["-VW", prog]);
    const glibcs = [...versions.matchAll(/Name: GLIBC_(\d+\.\d+(?:\.\d+)?)/g)].map((m) => m[1])
      .sort(compareVersions);
    assert.equal(needs.glibc, glibcs.at(-1), prog);
  }
  assert.equal(elfNeeds(new TextEncoder().encode("#!/bin/sh\necho hi\n")), undefined);
  // A truncated program is not read past its end.
  const head = (await Deno.readFile("/bin/ls")).subarray(0, 200);
  const cut = elfNeeds(head);
  assert.ok(cut === undefined || cut.glibc === undefined);
});

Deno.test("systemFacts of this host and of a root filesystem with absolute symlinks", async () => {
  const host = await systemFacts("/");
  assert.equal(host.libc, "glibc");
  const banner = new TextDecoder("latin1").decode(
    await Deno.readFile(resolveIn("/", "/lib/x86_64-linux-gnu/libc.so.6") ?? "/x"),
  );
  assert.equal(host.glibc, /release version (\d+\.\d+)/.exec(banner)?.[1]);
  assert.ok(host.loaders.includes("/lib64/ld-linux-x86-64.so.2"));
  assert.ok(host.osRelease.ID);

  const root = await Deno.makeTempDir({ prefix: "locald-compat-" });
  try {
    // A merged-/usr image: lib -> usr/lib; lib64's loader an absolute link into the image.
    await Deno.mkdir(`${root}/usr/lib/x86_64-linux-gnu`, { recursive: true });
    await Deno.mkdir(`${root}/usr/lib64`, { recursive: true });
    await Deno.mkdir(`${root}/etc`);
    await Deno.symlink("usr/lib", `${root}/lib`);
    await Deno.symlink("usr/lib64", `${root}/lib64`);
    await Deno.writeTextFile(`${root}/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2`, "");
    await Deno.symlink(
      "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
      `${root}/usr/lib64/ld-linux-x86-64.so.2`,
    );
    await Deno.writeTextFile(`${root}/usr/lib/x86_64-linux-gnu/libc-2.31.so`, "");
    await Deno.symlink("libc-2.31.so", `${root}/usr/lib/x86_64-linux-gnu/libc.so.6`);
    await Deno.writeTextFile(`${root}/etc/os-release`, 'ID=ubuntu\nVERSION_ID="20.04"\n');
    const f = await systemFacts(root);
    assert.deepEqual(f, {
      libc: "glibc",
      glibc: "2.31",
      loaders: ["/lib64/ld-linux-x86-64.so.2"],
      osRelease: { ID: "ubuntu", VERSION_ID: "20.04" },
    });
    // An absolute link never leads out of the root: here it points at nothing inside.
    await Deno.remove(`${root}/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2`);
    assert.equal(resolveIn(root, "/lib64/ld-linux-x86-64.so.2"), undefined);
    assert.deepEqual((await systemFacts(root)).loaders, []);
    // A link loop ends.
    await Deno.symlink("loop", `${root}/loop`);
    assert.equal(resolveIn(root, "/loop/x"), undefined);
    assert.equal(resolveIn(root, "/../../etc/os-release"), `${root}/etc/os-release`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
