/**
 * Stack-mode dev commands without a stack build: a root filesystem made from this host's own
 * programs (bash, coreutils, their libraries, the real loader) but with its own os-release, a
 * builder root holding the real lifecycle at /cnb/lifecycle, and a host build's record turned
 * into a stack build's record (the `userland`/`stack` fields the stack build writes). The
 * commands then run the real launcher under the real bwrap in that root.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { lifecycleDir } from "./tools.ts";

export const RUN_OS_RELEASE = 'PRETTY_NAME="Locald Test Run Image 99"\nID=locald-test\n' +
  'VERSION_ID="99"\n';

// busybox (static, from busybox-static) serves HTTP for the network tests.
const PROGRAMS = [
  "bash",
  "env",
  "cat",
  "id",
  "ls",
  "sh",
  "dash",
  "true",
  "sleep",
  "printf",
  "busybox",
];

async function lines(cmd: string[], check = true): Promise<string> {
  const o = await new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "piped", stderr: "null" })
    .output();
  assert.ok(o.success || !check, cmd.join(" "));
  return new TextDecoder().decode(o.stdout);
}

/**
 * A merged-/usr root at `dir` with `programs` (from this host) and their libraries, an
 * os-release, and passwd/group naming only root. `shells: false` leaves every shell out.
 */
export async function makeRunRoot(
  dir: string,
  o: { programs?: string[]; shells?: boolean } = {},
): Promise<string> {
  const progs = (o.programs ?? PROGRAMS).filter((p) =>
    o.shells !== false || !["bash", "sh", "dash"].includes(p)
  );
  const lib = join(dir, "usr/lib/x86_64-linux-gnu");
  for (const d of ["usr/bin", "usr/lib/x86_64-linux-gnu", "usr/lib64", "etc", "root", "var"]) {
    await Deno.mkdir(join(dir, d), { recursive: true });
  }
  for (const [l, t] of [["bin", "usr/bin"], ["lib", "usr/lib"], ["lib64", "usr/lib64"]]) {
    await Deno.symlink(t, join(dir, l));
  }
  const libs = new Set<string>();
  for (const p of progs) {
    const from = (await lines(["which", p])).trim();
    await Deno.copyFile(await Deno.realPath(from), join(dir, "usr/bin", p));
    for (
      const m of (await lines(["ldd", from], false)).matchAll(/(\/lib[^\s]*|\/usr\/lib[^\s]*)/g)
    ) {
      libs.add(m[1]);
    }
  }
  for (const l of libs) await Deno.copyFile(await Deno.realPath(l), join(lib, l.split("/").pop()!));
  // The image's own absolute link, as Debian ships it.
  await Deno.symlink(
    "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
    join(dir, "usr/lib64/ld-linux-x86-64.so.2"),
  );
  await Deno.writeTextFile(join(dir, "etc/os-release"), RUN_OS_RELEASE);
  await Deno.writeTextFile(join(dir, "etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n");
  await Deno.writeTextFile(join(dir, "etc/group"), "root:x:0:\n");
  return dir;
}

/** A builder root: the real lifecycle at /cnb/lifecycle. */
export async function makeBuilderRoot(dir: string): Promise<string> {
  await Deno.mkdir(join(dir, "cnb"), { recursive: true });
  const o = await new Deno.Command("cp", {
    args: ["-a", join(lifecycleDir(), "lifecycle"), join(dir, "cnb", "lifecycle")],
  }).output();
  assert.ok(o.success);
  return dir;
}

/** The build record of the project built in LOCALD_HOME `localdHome` (the only one). */
export async function recordPath(localdHome: string): Promise<string> {
  for await (const e of Deno.readDir(join(localdHome, "projects"))) {
    const p = join(localdHome, "projects", e.name, "build.json");
    try {
      await Deno.stat(p);
      return p;
    } catch { /* another */ }
  }
  throw new Error(`no build record under ${localdHome}`);
}

/** Turn the host build's record into a stack build's, as the stack build writes it. */
export async function makeStackRecord(
  record: string,
  o: { runRoot: string; builderRoot: string; runRef?: string },
): Promise<void> {
  const rec = JSON.parse(await Deno.readTextFile(record));
  rec.userland = "stack";
  rec.runImage = o.runRef ?? "registry.test/run:test";
  rec.stack = {
    builder: {
      ref: "registry.test/builder:test",
      digest: "sha256:" + "b".repeat(64),
      root: o.builderRoot,
    },
    runImage: { ref: rec.runImage, digest: "sha256:" + "a".repeat(64), root: o.runRoot },
    uid: 1000,
    gid: 1000,
  };
  await Deno.writeTextFile(record, JSON.stringify(rec, null, 2));
}

/**
 * Programs this host cannot load, made from its own: /usr/bin/true asking for a glibc version
 * no glibc has, and naming a loader that is not there; bwrap naming a library that is not
 * there. Each fails to load here exactly as a program built for a newer stack does.
 */
export async function foreignPrograms(dir: string): Promise<Record<string, string>> {
  const patch = async (from: string, name: string, a: string, b: string) => {
    const bytes = await Deno.readFile(from);
    const text = new TextDecoder("latin1").decode(bytes);
    const at = text.indexOf(a);
    assert.ok(at > 0 && a.length === b.length, `${a} in ${from}`);
    bytes.set(new TextEncoder().encode(b), at);
    const p = join(dir, name);
    await Deno.writeFile(p, bytes, { mode: 0o755 });
    return p;
  };
  return {
    newglibc: await patch("/usr/bin/true", "newglibc", "GLIBC_2.34\0", "GLIBC_2.99\0"),
    noloader: await patch(
      "/usr/bin/true",
      "noloader",
      "/lib64/ld-linux-x86-64.so.2",
      "/lib64/ld-linux-x86-64.so.9",
    ),
    needslib: await patch("/usr/bin/bwrap", "needslib", "libselinux.so.1", "libselinuz.so.1"),
  };
}
