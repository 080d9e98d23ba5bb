/**
 * The main path as an ordinary user. CI runs as root, so when the suite is root this test
 * drops to uid 1000 with setpriv and runs locald (bundled, so the user needs no access to
 * root's module cache) against a private LOCALD_HOME. As a non-root suite, core_test.ts
 * already is this test, and this file only checks the root-specific claims are not needed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { lifecycleDir } from "./support/tools.ts";

const REPO = new URL("../", import.meta.url).pathname;
const UID = 1000;

async function sh(cmd: string[], env?: Record<string, string>) {
  const o = await new Deno.Command(cmd[0], { args: cmd.slice(1), env, clearEnv: !!env }).output();
  return {
    code: o.code,
    stdout: new TextDecoder().decode(o.stdout),
    stderr: new TextDecoder().decode(o.stderr),
  };
}

Deno.test({
  name: "as an unprivileged user: build, exec, env and the unreadable-directory error",
  ignore: Deno.uid() !== 0, // the whole suite already runs unprivileged then
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "locald-unpriv-" });
    try {
      await Deno.chmod(root, 0o755);
      // A deno the user can execute (root's own copy may sit in a private directory).
      const deno = join(root, "deno");
      try {
        await Deno.link(Deno.execPath(), deno);
      } catch {
        await Deno.copyFile(Deno.execPath(), deno);
      }
      await Deno.chmod(deno, 0o755);
      const bundle = join(root, "locald.js");
      const b = await sh([
        Deno.execPath(),
        "bundle",
        "-q",
        "--config",
        join(REPO, "deno.json"),
        join(REPO, "main.ts"),
        "-o",
        bundle,
      ]);
      assert.equal(b.code, 0, b.stderr);
      for (const d of ["home", "locald", "deno-dir"]) await Deno.mkdir(join(root, d));
      assert.equal(
        (await sh(["cp", "-r", join(REPO, "tests/fixtures/apps/everything"), join(root, "app")]))
          .code,
        0,
      );
      assert.equal(
        (await sh([
          "cp",
          "-r",
          join(REPO, "tests/fixtures/buildpacks/everything"),
          join(root, "bp"),
        ])).code,
        0,
      );
      await Deno.mkdir(join(root, "locked"), { mode: 0o000 });
      assert.equal((await sh(["chown", "-R", `${UID}:${UID}`, root])).code, 0);

      const env = {
        PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        HOME: join(root, "home"),
        LOCALD_HOME: join(root, "locald"),
        LOCALD_LIFECYCLE_DIR: lifecycleDir(),
        DENO_DIR: join(root, "deno-dir"),
        DENO_NO_UPDATE_CHECK: "1",
        NO_COLOR: "1",
      };
      const locald = (...args: string[]) =>
        sh([
          "setpriv",
          `--reuid=${UID}`,
          `--regid=${UID}`,
          "--clear-groups",
          "--",
          deno,
          "run",
          "-A",
          "--no-config",
          bundle,
          ...args,
        ], env);

      const whoami = await sh([
        "setpriv",
        `--reuid=${UID}`,
        `--regid=${UID}`,
        "--clear-groups",
        "id",
        "-u",
      ], env);
      assert.equal(whoami.stdout.trim(), String(UID));

      const build = await locald(
        "build",
        "-C",
        join(root, "app"),
        "-b",
        join(root, "bp"),
        "--json",
      );
      assert.equal(build.code, 0, build.stderr);
      assert.match(build.stderr, new RegExp(`fixture: building in .* as uid ${UID}`));
      // deno-lint-ignore no-explicit-any
      const state = (JSON.parse(build.stdout) as any).stateDir as string;
      const tool = join(
        state,
        "layers",
        "locald-fixtures_everything",
        "tools",
        "bin",
        "fixture-tool",
      );
      assert.equal((await Deno.stat(tool)).uid, UID, "layers belong to the user who built");

      const exec = await locald("exec", "-C", join(root, "app"), "--", "fixture-tool", "hi");
      assert.equal(exec.code, 0, exec.stderr);
      assert.match(exec.stdout, /args: \[hi\]/);
      const envOut = await locald("env", "-C", join(root, "app"), "--format", "json");
      assert.equal(JSON.parse(envOut.stdout).FIXTURE_PROFILE, "from-profile-d");

      const locked = await locald("build", "-C", join(root, "locked"));
      assert.equal(locked.code, 3);
      assert.match(locked.stderr, /project directory .*locked cannot be read\nhint: /);
    } finally {
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "as root: phases run as an unprivileged uid in a user namespace, results stay root's",
  ignore: Deno.uid() !== 0,
  async fn() {
    const { runLocald, testEnv } = await import("./support/locald.ts");
    const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
    try {
      const app = join(t.root, "app");
      await sh(["cp", "-r", join(REPO, "tests/fixtures/apps/everything"), app]);
      const b = await runLocald([
        "build",
        "-C",
        app,
        "-b",
        join(REPO, "tests/fixtures/buildpacks/everything"),
        "--json",
      ], {
        env: t.env,
      });
      assert.equal(b.code, 0, b.stderr);
      assert.match(b.stderr, /fixture: building in .* as uid 1000/); // detector/builder refuse root
      // deno-lint-ignore no-explicit-any
      const state = (b.json as any).stateDir as string;
      const st = await Deno.stat(
        join(state, "layers", "locald-fixtures_everything", "tools", "bin", "fixture-tool"),
      );
      assert.equal(st.uid, 0, "files the phases wrote are root's on disk");
      const e = await runLocald(["exec", "-C", app, "--", "sh", "-c", "id -u; fixture-tool"], {
        env: t.env,
      });
      assert.match(e.stdout, /^0\nfixture-tool ran from/); // the dev environment runs as root itself
    } finally {
      await t.cleanup();
    }
  },
});
