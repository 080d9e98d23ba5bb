/**
 * The fault suite: `locald builder pull` from the loopback registry and `locald setup` from the
 * lifecycle mirror, each through a fault-injecting proxy (tests/support/faults.ts) that stalls
 * before the headers and in the middle of a body, drops and truncates bodies, answers 503 and
 * trickles. Every case must end on its own (LOCALD_NET_TIMEOUT bounds each wait), either done
 * or with one line naming the server, a hint and exit code 5; never an internal error. A link
 * that keeps dropping but keeps making progress finishes. The figures are printed at the end
 * (and recorded in the README's reliability section).
 */
import assert from "node:assert/strict";
import { runLocald, type RunResult, testEnv } from "./support/locald.ts";
import { type Fault, type FaultProxy, startFaultProxy } from "./support/faults.ts";
import { startMirror } from "./support/mirror.ts";
import { startRegistry } from "./support/registry.ts";
import { cachedLifecycle, pushBuilder } from "./support/builder_image.ts";
import { lifecycleMirrorDir } from "./support/tools.ts";
import { hostPlatform } from "../src/oci/manifest.ts";

interface Case {
  name: string;
  faults: Fault[];
  /** "ok": the command succeeds despite the faults; "fails": exit 5 with this in stderr. */
  expect: "ok" | RegExp;
  /** The fault must have struck more often than this (to show the retry budget reset). */
  struckMoreThan?: number;
}

const figures = { tried: 0, handled: 0, internal: 0 };

/** Run one case: fresh LOCALD_HOME, a hang guard, and the checks every failure must pass. */
async function tryCase(
  c: Case,
  proxy: FaultProxy,
  run: (env: Record<string, string>, signal: AbortSignal) => Promise<RunResult>,
  hint: RegExp,
) {
  const t = await testEnv({ LOCALD_NET_TIMEOUT: "1" });
  try {
    proxy.set(c.faults);
    proxy.log.length = 0;
    figures.tried++;
    // A hang guard, not a timing: without timeouts a stalled server hangs locald for good.
    const guard = AbortSignal.timeout(120_000);
    const r = await run(t.env, guard);
    assert.ok(!guard.aborted, `${c.name}: hung until killed`);
    if (/internal error/.test(r.stderr)) figures.internal++;
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, `${c.name}: ${r.stderr}`);
    if (c.expect === "ok") {
      assert.equal(r.code, 0, `${c.name}: ${r.stderr}`);
    } else {
      assert.equal(r.code, 5, `${c.name}: ${r.stderr}`);
      assert.match(r.stderr, c.expect, c.name);
      assert.match(r.stderr, hint, c.name);
      // One line, then the hint.
      assert.match(r.stderr, /^locald: [^\n]+\nhint: [^\n]+\n$/m, c.name);
    }
    if (c.struckMoreThan !== undefined) {
      const struck = proxy.log.filter((l) => l.fault).length;
      assert.ok(struck > c.struckMoreThan, `${c.name}: the fault struck ${struck} times`);
    }
    figures.handled++;
  } finally {
    proxy.set([]);
    await t.cleanup();
  }
}

function cases(match: string, host: () => string): Case[] {
  const stalled = () =>
    new RegExp(`${host().replace(/[.]/g, "\\.")}.*(sent no answer|stopped sending)`);
  return [
    {
      name: "stall before headers, once",
      faults: [{ kind: "stall-headers", match, times: 1 }],
      expect: "ok",
    },
    {
      name: "stall before headers, always",
      faults: [{ kind: "stall-headers", match }],
      expect: stalled(),
    },
    {
      name: "stall mid-body, once",
      faults: [{ kind: "stall-body", match, times: 1, after: 64 * 1024 }],
      expect: "ok",
    },
    {
      name: "stall mid-body, always",
      faults: [{ kind: "stall-body", match, after: 64 * 1024 }],
      expect: stalled(),
    },
    {
      name: "drop mid-body, twice",
      faults: [{ kind: "drop", match, times: 2, after: 4096 }],
      expect: "ok",
    },
    // Every answer dropped after 1 MiB: more tries than the retry budget, each with progress.
    {
      name: "drop every answer after 1 MiB",
      faults: [{ kind: "drop", match, after: 1024 * 1024, perAnswer: true }],
      struckMoreThan: 5,
      expect: "ok",
    },
    {
      name: "truncated body, once",
      faults: [{ kind: "truncate", match, times: 1, after: 1000 }],
      expect: "ok",
    },
    { name: "503, twice", faults: [{ kind: "5xx", match, times: 2 }], expect: "ok" },
    { name: "503, always", faults: [{ kind: "5xx", match }], expect: /503/ },
    { name: "slow body", faults: [{ kind: "slow", match, delayMs: 5 }], expect: "ok" },
  ];
}

Deno.test("fault suite: builder pull through a faulty link to the registry", async (t) => {
  const reg = await startRegistry();
  const proxy = startFaultProxy(`http://${reg.host}`);
  try {
    const lifecycle = await cachedLifecycle();
    assert.ok(lifecycle, "the test lifecycle (a large layer) is in the builder");
    const arch = hostPlatform().architecture;
    await pushBuilder(reg, "test/builder", "1", { architecture: arch, lifecycle });
    const ref = `${proxy.host}/test/builder:1-${arch}`;
    for (const c of cases("/blobs/", () => proxy.host)) {
      await t.step(c.name, () =>
        tryCase(
          c,
          proxy,
          (env, signal) => runLocald(["builder", "pull", ref], { env, signal }),
          c.name.startsWith("503") ? /hint: / : /hint: .*--pull-policy never/,
        ));
    }
    // A stalled manifest request is named too.
    await t.step("stall on the manifest", () =>
      tryCase(
        {
          name: "manifest stall",
          faults: [{ kind: "stall-headers", match: "/manifests/" }],
          expect: /stalled/,
        },
        proxy,
        (env, signal) => runLocald(["builder", "pull", ref], { env, signal }),
        /hint: .*--pull-policy never/,
      ));
  } finally {
    await proxy.stop();
    await reg.stop();
  }
});

Deno.test("fault suite: lifecycle download through a faulty link to the mirror", async (t) => {
  const mirror = await startMirror(lifecycleMirrorDir());
  const proxy = startFaultProxy(mirror.url);
  try {
    for (const c of cases(".tgz", () => proxy.host)) {
      await t.step(c.name, () =>
        tryCase(
          c,
          proxy,
          (env, signal) =>
            runLocald(["setup"], { env: { ...env, LOCALD_LIFECYCLE_MIRROR: proxy.url }, signal }),
          c.expect === "ok" || c.name.startsWith("503") ? /hint: / : /hint: .*LOCALD_LIFECYCLE_DIR/,
        ));
    }
  } finally {
    await proxy.stop();
    await mirror.close();
  }
  console.log(
    `fault suite: ${figures.tried} cases tried, ${figures.handled} handled, ` +
      `${figures.internal} internal errors`,
  );
});
