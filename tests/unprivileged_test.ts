/**
 * The main path as an ordinary user. CI runs as root, so when the suite is root this test
 * drops to uid 1000 with setpriv and runs locald (bundled, so the user needs no access to
 * root's module cache) against a private LOCALD_HOME. As a non-root suite, core_test.ts
 * already is this test, and this file only checks the root-specific claims are not needed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { lifecycleDir } from "./support/tools.ts";
import { asUser, sh, UID } from "./support/unprivileged.ts";

const REPO = new URL("../", import.meta.url).pathname;

Deno.test({
  name: "as an unprivileged user: build, exec, env and the unreadable-directory error",
  ignore: Deno.uid() !== 0, // the whole suite already runs unprivileged then
  async fn() {
    const u = await asUser({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
    const root = u.root;
    try {
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
      await u.chownToUser();
      const locald = (...args: string[]) => u.locald(args);

      const whoami = await sh([
        "setpriv",
        `--reuid=${UID}`,
        `--regid=${UID}`,
        "--clear-groups",
        "id",
        "-u",
      ], u.env);
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

      // The same build inside the sandbox: same uid, files still the user's, HOME hidden.
      await Deno.writeTextFile(join(u.env.HOME, "private.txt"), "not for buildpacks");
      await u.chownToUser();
      const boxed = await locald(
        "build",
        "-C",
        join(root, "app"),
        "-b",
        join(root, "bp"),
        "--sandbox",
      );
      assert.equal(boxed.code, 0, boxed.stderr);
      assert.match(boxed.stderr, /sandbox: on \(--sandbox\)/);
      assert.match(boxed.stderr, new RegExp(`fixture: building in .* as uid ${UID}`));
      assert.equal((await Deno.stat(tool)).uid, UID, "sandboxed layers belong to the user too");
      const inside = await locald(
        "exec",
        "-C",
        join(root, "app"),
        "--sandbox",
        "--",
        "sh",
        "-c",
        'id -u; ls -A "$HOME"; fixture-tool boxed; echo made > made-inside',
      );
      assert.equal(inside.code, 0, inside.stderr);
      assert.match(
        inside.stdout,
        new RegExp(`^${UID}\nfixture-tool ran from .*\nargs: \\[boxed\\]`),
      );
      assert.doesNotMatch(inside.stdout, /private\.txt/);
      assert.equal((await Deno.stat(join(root, "app", "made-inside"))).uid, UID);

      const locked = await locald("build", "-C", join(root, "locked"));
      assert.equal(locked.code, 3);
      assert.match(locked.stderr, /project directory .*locked cannot be read\nhint: /);
    } finally {
      await u.cleanup();
    }
  },
});

Deno.test({
  name: "as root: phases run as an unprivileged uid in a user namespace, results stay root's",
  ignore: Deno.uid() !== 0,
  async fn() {
    const { runLocald } = await import("./support/locald.ts");
    const { fixture } = await import("./support/fixture.ts");
    const t = await fixture();
    try {
      const app = t.app;
      const b = await t.build("--json");
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
