import assert from "node:assert/strict";
import { ExitCode, LocaldError } from "../errors.ts";
import { chooseUserland, type UserlandRequest } from "./userland.ts";
import { builderIds, foldsCase } from "./stack_build.ts";

const builder = { ref: "registry.example/acme/builder:1" };
const base: UserlandRequest = { settings: "auto", builder, bwrap: { ok: true } };

function refused(r: UserlandRequest): LocaldError {
  try {
    chooseUserland(r);
  } catch (e) {
    assert.ok(e instanceof LocaldError, String(e));
    assert.ok(e.hint, "a refusal carries a hint");
    return e;
  }
  throw new Error(`expected a refusal, got ${JSON.stringify(chooseUserland(r))}`);
}

Deno.test("auto: stack whenever a builder image is used and bwrap works", () => {
  const c = chooseUserland(base);
  assert.equal(c.mode, "stack");
  assert.match(c.why, /^auto: builder registry\.example\/acme\/builder:1/);
  // A root filesystem that was looked at and holds a system keeps it.
  assert.equal(chooseUserland({ ...base, rootfs: { ok: true } }).mode, "stack");
});

Deno.test("auto: host without a builder, with a local builder, without bwrap, or no system", () => {
  const none = chooseUserland({ ...base, builder: undefined });
  assert.deepEqual(none.mode, "host");
  assert.match(none.why, /no builder/);
  const local = chooseUserland({ ...base, builder: { ref: "./builder.toml", local: true } });
  assert.equal(local.mode, "host");
  assert.match(local.why, /^auto: the local builder/);
  const noBwrap = chooseUserland({ ...base, bwrap: { ok: false, reason: "bwrap is missing" } });
  assert.equal(noBwrap.mode, "host");
  assert.match(noBwrap.why, /^auto: bwrap does not work .*bwrap is missing/);
  const noShell = chooseUserland({
    ...base,
    rootfs: { ok: false, why: "no /bin/sh in its image" },
  });
  assert.equal(noShell.mode, "host");
  assert.match(
    noShell.why,
    /^auto: not in the image of the builder .* \(no \/bin\/sh in its image\)/,
  );
});

Deno.test("flags win over project.toml, project.toml over the settings", () => {
  const all: UserlandRequest = {
    ...base,
    project: "stack",
    projectFile: "/p/project.toml",
    settings: "host",
    settingsFile: "/c/config.toml",
  };
  assert.deepEqual(chooseUserland({ ...all, flag: "host" }), { mode: "host", why: "--host" });
  assert.deepEqual(chooseUserland(all), {
    mode: "stack",
    why: 'userland = "stack" in /p/project.toml',
  });
  assert.deepEqual(chooseUserland({ ...all, project: "auto" }), {
    mode: "host",
    why: 'userland = "host" in /c/config.toml',
  });
  // A project's "auto" leaves it to the settings; settings' auto to the facts.
  assert.equal(chooseUserland({ ...all, project: "auto", settings: "auto" }).mode, "stack");
  assert.deepEqual(chooseUserland({ ...base, settings: "stack", settingsFile: "/c" }), {
    mode: "stack",
    why: 'userland = "stack" in /c',
  });
});

Deno.test("--stack without a builder is a usage error; settings saying stack stay on the host", () => {
  const e = refused({ ...base, flag: "stack", builder: undefined });
  assert.equal(e.exitCode, ExitCode.usage);
  assert.match(e.message, /--stack needs a builder/);
  assert.match(e.hint!, /-B BUILDER/);
  for (const r of [{ settings: "stack" as const }, { project: "stack" as const }]) {
    const c = chooseUserland({ ...base, ...r, builder: undefined });
    assert.equal(c.mode, "host");
  }
});

Deno.test("an explicit stack that cannot be had is refused with the fix, never a silent host", () => {
  const bw = refused({
    ...base,
    flag: "stack",
    bwrap: { ok: false, reason: "user namespaces are off", fix: "sysctl -w x=1" },
  });
  assert.equal(bw.exitCode, ExitCode.unsupported);
  assert.match(bw.message, /^--stack: cannot build in the builder's image: user namespaces/);
  assert.equal(bw.hint, "sysctl -w x=1");
  const shell = refused({ ...base, project: "stack", rootfs: { ok: false, why: "no /bin/sh" } });
  assert.match(shell.message, /project\.toml: the builder .* is not a system to build in/);
  assert.match(shell.hint!, /--host/);
  const local = refused({ ...base, settings: "stack", builder: { ref: "b.toml", local: true } });
  assert.match(local.message, /local builder b\.toml has no image/);
});

Deno.test("the builder's ids: CNB_USER_ID/CNB_GROUP_ID, 1000 when missing or not a number", () => {
  const src = (env: Record<string, string>) => ({
    ref: "b",
    digest: "sha256:0",
    root: "/",
    buildpacksDir: "/",
    orderPath: "/",
    imageEnv: env,
  });
  assert.deepEqual(builderIds(src({ CNB_USER_ID: "1002", CNB_GROUP_ID: "1000" })), {
    uid: 1002,
    gid: 1000,
  });
  assert.deepEqual(builderIds(src({ CNB_USER_ID: "x" })), { uid: 1000, gid: 1000 });
});

Deno.test("a state directory that folds case (macOS's default APFS): auto stays on the host, --stack says how to fix it", () => {
  const store = {
    ok: false,
    why: "/Users/ann/Library/locald/oci/rootfs folds names that differ only in case",
  };
  const auto = chooseUserland({ ...base, store });
  assert.equal(auto.mode, "host");
  assert.match(auto.why, /^auto: .* folds names that differ only in case; the host's userland$/);
  const e = refused({ ...base, flag: "stack", store });
  assert.equal(e.exitCode, ExitCode.unsupported);
  assert.match(e.hint!, /case-sensitive volume/);
  assert.equal(chooseUserland({ ...base, store: { ok: true } }).mode, "stack");
});

Deno.test("foldsCase: this Linux temp dir tells names apart by case, and the probe leaves nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "locald-case-" });
  try {
    assert.equal(foldsCase(`${dir}/made`), false);
    assert.deepEqual([...Deno.readDirSync(`${dir}/made`)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
