/**
 * `locald devcontainer` against the real devcontainers CLI (read-configuration; it cannot
 * start a container here: no Docker engine), after a real image build.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runLocald, testEnv } from "./support/locald.ts";
import { startRegistry } from "./support/registry.ts";
import { appDir, pushImages } from "./support/image_fixture.ts";
import { devcontainersCli, lifecycleDir } from "./support/tools.ts";

async function readConfiguration(workspace: string) {
  const o = await new Deno.Command(devcontainersCli(), {
    args: ["read-configuration", "--workspace-folder", workspace, "--docker-path", "/bin/true"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(o.stdout);
  assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
  return JSON.parse(text.slice(text.indexOf("{"))).configuration;
}

Deno.test("devcontainer: accepted by the devcontainers CLI, idempotent, keeps user edits", async () => {
  const reg = await startRegistry();
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const builder = await pushImages(reg);
    const app = await appDir(t.root);
    const before = await runLocald(["devcontainer", "-C", app], { env: t.env });
    assert.equal(before.code, 4);
    assert.match(before.stderr, /has no image build yet\nhint: run `locald build --export` first/);

    const b = await runLocald(["build", "-C", app, "-B", builder, "--export"], { env: t.env });
    assert.equal(b.code, 0, b.stderr);
    const g = await runLocald(["devcontainer", "-C", app, "--json"], { env: t.env });
    assert.equal(g.code, 0, g.stderr);
    // deno-lint-ignore no-explicit-any
    assert.equal((g.json as any).status, "created");

    const cfg = await readConfiguration(app);
    assert.equal(cfg.image, `${reg.host}/test/run:1`);
    assert.equal(cfg.workspaceFolder, "/workspace");
    assert.match(cfg.workspaceMount, /target=\/workspace/);
    assert.ok(
      cfg.mounts.some((m: { target: string; source: string }) =>
        m.target === "/layers" && m.source.endsWith("/image/layers")
      ),
      JSON.stringify(cfg.mounts),
    );
    assert.equal(cfg.containerEnv.CNB_LAYERS_DIR, "/layers");
    // The image build's execution environment, for the launcher inside the container.
    assert.equal(cfg.containerEnv.CNB_EXEC_ENV, "production");
    assert.equal(
      cfg.remoteEnv.PATH,
      "/layers/locald-fixtures_image-app/tool/bin:${containerEnv:PATH}",
    );

    // Again: nothing changes.
    const file = join(app, ".devcontainer", "devcontainer.json");
    const first = await Deno.readTextFile(file);
    const again = await runLocald(["devcontainer", "-C", app, "--json"], { env: t.env });
    // deno-lint-ignore no-explicit-any
    assert.equal((again.json as any).status, "unchanged");
    assert.equal(await Deno.readTextFile(file), first);

    // A user edit is kept, and locald says what it would change.
    const edited = JSON.parse(first);
    edited.name = "my own name";
    edited.forwardPorts = [3000];
    await Deno.writeTextFile(file, JSON.stringify(edited, null, 2));
    const kept = await runLocald(["devcontainer", "-C", app], { env: t.env });
    assert.equal(kept.code, 0);
    assert.match(
      kept.stderr,
      /was edited since locald wrote it; left as it is\. Would change: forwardPorts, name/,
    );
    assert.equal(JSON.parse(await Deno.readTextFile(file)).name, "my own name");
    const forced = await runLocald(["devcontainer", "-C", app, "--force"], { env: t.env });
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(await Deno.readTextFile(file), first);
  } finally {
    await reg.stop();
    await t.cleanup();
  }
});
