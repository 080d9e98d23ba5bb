/**
 * The environment as data (`locald env`, `locald devcontainer`) when launch scripts talk: the
 * chatty fixture buildpack's profile.d script and exec.d program print to stdout, and the app's
 * `.profile` prints too, as real buildpacks and apps do. What they print must never end up in
 * the environment, and the devcontainer's environment must be computable when profile scripts
 * need bash and ordinary tools.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO, runLocald, testEnv } from "./support/locald.ts";
import { copyApp } from "./support/fixture.ts";
import { lifecycleDir } from "./support/tools.ts";
import { runProcess } from "./support/proc.ts";
import { startRegistry } from "./support/registry.ts";
import { appDir, pushImages } from "./support/image_fixture.ts";

const CHATTY_BP = join(REPO, "tests/fixtures/buildpacks/chatty");
const CHATTY_APP = join(REPO, "tests/fixtures/apps/chatty");

Deno.test("locald env: what profile.d, exec.d and .profile print stays out of the environment", async () => {
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const app = await copyApp(CHATTY_APP, t.root);
    const b = await runLocald(["build", "-C", app, "-b", CHATTY_BP], { env: t.env });
    assert.equal(b.code, 0, b.stderr);
    // The scripts really print where a process's output goes.
    const e = await runLocald(["exec", "-C", app, "--", "true"], { env: t.env });
    assert.match(e.stdout, /Hello from \.profile/);
    assert.match(e.stdout, /Hello from profile\.d/);
    assert.match(e.stdout, /exec\.d chatter on stdout/);

    const json = await runLocald(["env", "-C", app, "--format", "json"], { env: t.env });
    assert.equal(json.code, 0, json.stderr);
    const vars = json.json as Record<string, string | null>;
    assert.equal(vars.IS_SANDBOX, "yes");
    assert.equal(vars.GREETING, "hi from greeter");
    assert.equal(vars.CHATTY_EXECD, "from-exec-d");
    assert.match(vars.PATH!, /\/greeter\/bin:/);
    for (const k of Object.keys(vars)) assert.match(k, /^[A-Za-z_][A-Za-z0-9_]*$/, k);
    // Nothing the user had is taken away (a corrupted capture loses SHELL, HOME, ...).
    assert.deepEqual(Object.entries(vars).filter(([, v]) => v === null), []);

    for (const format of ["sh", "direnv"]) {
      const sh = await runLocald(["env", "-C", app, "--format", format], { env: t.env });
      assert.equal(sh.code, 0, sh.stderr);
      for (const line of sh.stdout.trim().split("\n")) {
        assert.match(line, /^(export [A-Za-z_][A-Za-z0-9_]*=|watch_file )/, `${format}: ${line}`);
      }
    }
    // And a shell that evaluates it gets the values.
    const r = await runProcess([
      "bash",
      "-c",
      `eval "$(${Deno.execPath()} run -A --quiet ${REPO}/main.ts env -C ${app})" && ` +
      'echo "$IS_SANDBOX|$GREETING|$CHATTY_EXECD" && command -v greet',
    ], { env: t.env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^yes\|hi from greeter\|from-exec-d\n.*\/greeter\/bin\/greet\n$/);
    // The capture leaves nothing behind in the project's state.
    const left = await runProcess(["find", t.localdHome, "-name", ".env-*"]);
    assert.equal(left.stdout, "");
  } finally {
    await t.cleanup();
  }
});

Deno.test("locald env with nothing to source keeps every variable it started with", async () => {
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const app = await appDir(t.root);
    const bp = join(REPO, "tests/fixtures/buildpacks/image-app");
    const b = await runLocald(["build", "-C", app, "-b", bp], { env: t.env });
    assert.equal(b.code, 0, b.stderr);
    // An exported shell function (environment modules export theirs): not a shell name.
    const env = { ...t.env, "BASH_FUNC_greet%%": "() {  echo hi\n}" };
    const json = await runLocald(["env", "-C", app, "--format", "json"], { env });
    assert.equal(json.code, 0, json.stderr);
    const vars = json.json as Record<string, string | null>;
    assert.match(vars.PATH!, /\/tool\/bin:/);
    assert.deepEqual(Object.entries(vars).filter(([, v]) => v === null), []);
  } finally {
    await t.cleanup();
  }
});

Deno.test("devcontainer: profile.d scripts that need bash and tools, output kept out", async () => {
  const reg = await startRegistry();
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const builder = await pushImages(reg, {
      dir: CHATTY_BP,
      id: "locald-fixtures/chatty",
      version: "1.0.0",
    });
    const app = await copyApp(CHATTY_APP, t.root);
    const b = await runLocald(["build", "-C", app, "-B", builder, "--export"], { env: t.env });
    assert.equal(b.code, 0, b.stderr);
    const g = await runLocald(["devcontainer", "-C", app], { env: t.env });
    assert.equal(g.code, 0, g.stderr);
    const doc = JSON.parse(
      await Deno.readTextFile(join(app, ".devcontainer", "devcontainer.json")),
    );
    const env = doc.remoteEnv as Record<string, string>;
    assert.equal(env.PATH, "/layers/locald-fixtures_chatty/greeter/bin:${containerEnv:PATH}");
    assert.equal(env.GREETER_HOME, "/layers/locald-fixtures_chatty/greeter");
    assert.equal(env.GREETING, "hi from greeter");
    assert.equal(env.IS_SANDBOX, "yes");
    assert.equal(env.CHATTY_EXECD, "from-exec-d");
    for (const k of Object.keys(env)) assert.match(k, /^[A-Za-z_][A-Za-z0-9_]*$/, k);
    assert.doesNotMatch(JSON.stringify(env), /Hello|chatter|__locald/);
  } finally {
    await reg.stop();
    await t.cleanup();
  }
});
