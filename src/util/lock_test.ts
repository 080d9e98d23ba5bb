import assert from "node:assert/strict";
import { join } from "node:path";
import { acquireLock, tryLock } from "./lock.ts";

Deno.test("a lock whose file was removed while waiting is taken again on the new file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "state", "build.lock");
    const first = await acquireLock(path, "a build");
    let second: Awaited<ReturnType<typeof acquireLock>> | undefined;
    const waiting = acquireLock(path, "a build").then((l) => second = l);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(second, undefined, "the second waits");
    assert.equal(tryLock(path), undefined, "held: tryLock does not wait");
    // What `cache prune` does: remove the state, lock file included, while holding the lock.
    await Deno.remove(join(dir, "state"), { recursive: true });
    first.release();
    await waiting;
    // The waiter holds the lock at `path` now, so a third process cannot get in beside it.
    assert.equal(tryLock(path), undefined, "two holders of one lock");
    second!.release();
    const third = tryLock(path);
    assert.ok(third, "free once released");
    third.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("shared locks coexist; an exclusive tryLock fails while one is held", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "extract.lock");
    const a = await acquireLock(path, "x", undefined, { shared: true });
    const b = await acquireLock(path, "x", undefined, { shared: true });
    assert.equal(tryLock(path), undefined);
    a.release();
    b.release();
    const c = tryLock(path);
    assert.ok(c);
    c.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
