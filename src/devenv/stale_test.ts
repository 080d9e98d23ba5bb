import assert from "node:assert/strict";
import { join } from "node:path";
import type { Output } from "../output.ts";
import { treeDigest } from "../util/tree_digest.ts";
import type { BuildRecord } from "../cnb/record.ts";
import { checkStale, HEAD_START, withStaleCheck } from "./stale.ts";
import type { DevEnv } from "./launch.ts";

/** A project of `files` files with a build record taken now, and the warnings said. */
async function project(files: number) {
  const dir = await Deno.makeTempDir({ prefix: "locald-stale-" });
  for (let i = 0; i < files; i++) {
    if (i % 100 === 0) await Deno.mkdir(join(dir, `d${i / 100}`));
    await Deno.writeTextFile(join(dir, `d${Math.floor(i / 100)}`, `f${i}`), "x");
  }
  await Deno.writeTextFile(join(dir, ".gitignore"), "*.tmp\n");
  const sources = { gitignore: true, exclude: [] };
  const rec = {
    builtAt: "2026-12-01T00:00:00.000Z",
    sources: { digest: await treeDigest(dir, sources), ...sources },
  } as unknown as BuildRecord;
  const warnings: string[] = [];
  const out = { warn: (l: string) => warnings.push(l) } as unknown as Output;
  const d = { projectDir: dir, rec } as DevEnv;
  return { dir, d, out, warnings, cleanup: () => Deno.remove(dir, { recursive: true }) };
}

Deno.test("a small project's stale line comes before the command starts; ignored files do not count", async () => {
  const p = await project(20);
  try {
    let ran = false;
    await withStaleCheck(p.d, p.out, () => Promise.resolve(ran = true));
    assert.equal(ran, true);
    assert.deepEqual(p.warnings, []);
    await Deno.writeTextFile(join(p.dir, "scratch.tmp"), "ignored");
    await withStaleCheck(p.d, p.out, () => Promise.resolve());
    assert.deepEqual(p.warnings, []);
    await Deno.writeTextFile(join(p.dir, "d0", "f3"), "changed");
    let warnedFirst = false;
    await withStaleCheck(p.d, p.out, () => Promise.resolve(warnedFirst = p.warnings.length === 1));
    assert.equal(warnedFirst, true);
    assert.match(p.warnings[0], /changed since its environment was built .*run `locald build`/);
  } finally {
    await p.cleanup();
  }
});

Deno.test("a large project's check does not hold the command back, warns while it runs, stops with it", async () => {
  const p = await project(HEAD_START * 4);
  try {
    const last = `d${Math.floor((HEAD_START * 4 - 1) / 100)}`;
    await Deno.writeTextFile(join(p.dir, last, "new"), "a file added late in the walk");
    // The command starts after the head start, long before the walk is done...
    const check = checkStale(p.d, p.out);
    let done: boolean | undefined | "pending" = "pending";
    check.done.then((v) => (done = v));
    await check.headStart;
    assert.equal(done, "pending");
    // ...which waits for the command to have started, then finishes beside it and warns.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(done, "pending");
    check.started();
    assert.equal(await check.done, true);
    assert.equal(p.warnings.length, 1);
    // A command that ends first ends the check: nothing said, nothing left running.
    const quick = checkStale(p.d, p.out);
    await quick.headStart;
    quick.started();
    quick.stop();
    assert.equal(await quick.done, undefined);
    assert.equal(p.warnings.length, 1);
  } finally {
    await p.cleanup();
  }
});

Deno.test("no stale line for an unchanged large project", async () => {
  const p = await project(HEAD_START * 2);
  try {
    const check = checkStale(p.d, p.out);
    await check.headStart;
    check.started();
    assert.equal(await check.done, false);
    assert.deepEqual(p.warnings, []);
  } finally {
    await p.cleanup();
  }
});

Deno.test("an interactive shell's hold lets a large project's check finish before the prompt", async () => {
  const p = await project(HEAD_START * 4);
  try {
    await Deno.writeTextFile(join(p.dir, "d0", "f1"), "changed");
    let warnedFirst = false;
    await withStaleCheck(
      p.d,
      p.out,
      () => Promise.resolve(warnedFirst = p.warnings.length === 1),
      60_000,
    );
    assert.equal(warnedFirst, true);
    // Without the hold, the command starts first.
    p.warnings.length = 0;
    let before = -1;
    await withStaleCheck(p.d, p.out, () => Promise.resolve(before = p.warnings.length));
    assert.equal(before, 0);
  } finally {
    await p.cleanup();
  }
});
