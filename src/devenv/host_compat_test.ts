import assert from "node:assert/strict";
import { join } from "node:path";
import { hostCannotRun } from "./host_compat.ts";
import type { DevEnv } from "./launch.ts";
import { pathsUnder } from "../config/paths.ts";
import type { BuildRecord } from "../cnb/record.ts";
import { foreignPrograms } from "../../tests/support/stack_record.ts";

function devEnv(root: string, runImage?: string): DevEnv {
  const paths = pathsUnder(join(root, "state"));
  const rec = {
    recordVersion: 1,
    projectDir: join(root, "app"),
    layersDir: join(root, "layers"),
    ...(runImage ? { runImage } : {}),
  } as unknown as BuildRecord;
  return { projectDir: rec.projectDir, paths, rec };
}

Deno.test("hostCannotRun names the program, what it needs and the way out", async () => {
  const root = await Deno.makeTempDir({ prefix: "locald-compat-" });
  try {
    const bin = join(root, "layers", "example_bp", "tool", "bin");
    await Deno.mkdir(bin, { recursive: true });
    await foreignPrograms(bin);
    // Each program really fails to load here (the loader's own errors).
    for (const [name, code] of [["newglibc", 1], ["noloader", 127], ["needslib", 127]] as const) {
      const o = await new Deno.Command("bash", { args: ["-c", join(bin, name)], stderr: "piped" })
        .output();
      assert.equal(o.code, code, name);
    }
    const d = devEnv(root, "registry.test/run:trixie");
    const env = { PATH: "/usr/bin:/bin" };
    const e1 = await hostCannotRun(d, "newglibc", env, root, 1);
    assert.ok(e1);
    assert.equal(
      e1.message,
      "this host cannot run the programs the build installed (the stack of " +
        "registry.test/run:trixie): newglibc: it needs glibc 2.99, this host has " +
        (await (await import("../hosts/compat_facts.ts")).systemFacts("/")).glibc,
    );
    assert.match(e1.hint!, /`locald build --stack -C .*`/);
    assert.equal(e1.exitCode, 1, "the command's exit code is kept");
    const e2 = await hostCannotRun(d, "noloader", env, root, 127);
    assert.match(e2!.message, /noloader: this host has no \/lib64\/ld-linux-x86-64\.so\.9/);
    const e3 = await hostCannotRun(d, join(bin, "needslib"), env, root, 127);
    assert.match(
      e3!.message,
      /needslib: it needs libselinuz\.so\.1, which this host does not have/,
    );
    // A program that loads failed on its own: nothing to add.
    assert.equal(await hostCannotRun(d, "false", env, root, 1), undefined);
    // A script (not ELF): the layers' programs are looked at.
    const script = join(root, "run.sh");
    await Deno.writeTextFile(script, "#!/bin/sh\nexec newglibc\n", { mode: 0o755 });
    assert.match((await hostCannotRun(d, script, env, root, 1))!.message, /: needslib: /);
    // Without a builder there is no stack to build in: another hint.
    const bare = await hostCannotRun(devEnv(root), "newglibc", env, root, 1);
    assert.match(bare!.hint!, /built for another system/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("hostCannotRun says nothing when every program of the layers loads", async () => {
  const root = await Deno.makeTempDir({ prefix: "locald-compat-" });
  try {
    const bin = join(root, "layers", "example_bp", "tool", "bin");
    await Deno.mkdir(bin, { recursive: true });
    await Deno.copyFile("/usr/bin/true", join(bin, "fine"));
    const d = devEnv(root, "registry.test/run:bookworm");
    assert.equal(
      await hostCannotRun(d, "missing-tool", { PATH: "/usr/bin" }, root, 127),
      undefined,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
