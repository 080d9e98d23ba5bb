/**
 * The everything fixture (tests/fixtures/apps/everything built with the everything buildpack)
 * in a fresh environment with the unpacked test lifecycle: the starting point of most tests.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO, runLocald, testEnv } from "./locald.ts";
import { lifecycleDir } from "./tools.ts";

export const FIXTURE_BP = join(REPO, "tests/fixtures/buildpacks/everything");
export const FIXTURE_APP = join(REPO, "tests/fixtures/apps/everything");

/** Copy `src` to `<into>/<name>`; returns the copy. */
export async function copyApp(src: string, into: string, name = "app"): Promise<string> {
  const dest = join(into, name);
  const p = await new Deno.Command("cp", { args: ["-r", src, dest] }).output();
  assert.equal(p.code, 0);
  return dest;
}

/** A fresh environment and a copy of the fixture app; `build(...flags)` builds it. */
export async function fixture(extra: Record<string, string> = {}) {
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir(), ...extra });
  const app = await copyApp(FIXTURE_APP, t.root);
  const build = (...args: string[]) =>
    runLocald(["build", "-C", app, "-b", FIXTURE_BP, ...args], { env: t.env });
  return { ...t, app, build };
}

/** The same, built once. */
export async function builtFixture(extra: Record<string, string> = {}) {
  const f = await fixture(extra);
  const b = await f.build();
  assert.equal(b.code, 0, b.stderr);
  return f;
}
