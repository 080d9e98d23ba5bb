/**
 * `locald build -B` end to end: a builder image the test builds (the real lifecycle in
 * /cnb/lifecycle, the CNB project's own simple-layers buildpack and the example Procfile
 * buildpack under /cnb/buildpacks, an order, a run.toml naming a run image) and a run image,
 * both pushed to a loopback registry; then the real lifecycle builds with them and
 * `locald exec`/`run` use the result.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { layer, pushImage } from "./support/images.ts";
import { dirs, entriesOf } from "./support/tree.ts";
import { runLocald, testEnv, withModuleLog } from "./support/locald.ts";
import { startRegistry } from "./support/registry.ts";
import { buildpack, lifecycleDir } from "./support/tools.ts";
import { hostPlatform } from "../src/oci/manifest.ts";

const REPO = new URL("../", import.meta.url).pathname;

Deno.test("build -B with a builder and run image from a registry, then exec and run", async () => {
  const reg = await startRegistry();
  const t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
  try {
    const target = { host: reg.host };
    const arch = hostPlatform().architecture;
    // The run image: a config that says what the detector's target is, and a base layer.
    const base = await layer([
      ...dirs("etc"),
      { name: "etc/os-release", content: 'ID=ubuntu\nVERSION_ID="24.04"\n' },
    ]);
    await pushImage(target, "test/run", "24", {
      layers: [base],
      architecture: arch,
      labels: {
        "io.buildpacks.base.distro.name": "ubuntu",
        "io.buildpacks.base.distro.version": "24.04",
      },
    });
    const cnb = await layer([
      ...dirs(
        "cnb",
        "cnb/buildpacks",
        "cnb/buildpacks/simple_layers",
        "cnb/buildpacks/examples_procfile",
      ),
      ...await entriesOf(
        buildpack("simple-layers-buildpack"),
        "cnb/buildpacks/simple_layers/simple-layers-version",
      ),
      ...await entriesOf(
        join(REPO, "examples/buildpacks/procfile"),
        "cnb/buildpacks/examples_procfile/0.1.0",
      ),
      {
        name: "cnb/order.toml",
        content: '[[order]]\n[[order.group]]\nid = "examples/procfile"\nversion = "0.1.0"\n' +
          '[[order.group]]\nid = "simple/layers"\nversion = "simple-layers-version"\n' +
          '[[order]]\n[[order.group]]\nid = "simple/layers"\nversion = "simple-layers-version"\n',
      },
      { name: "cnb/run.toml", content: `[[images]]\nimage = "${reg.host}/test/run:24"\n` },
      ...dirs("cnb/build-config", "cnb/build-config/env"),
      { name: "cnb/build-config/env/FROM_BUILDER.default", content: "builder-config" },
    ]);
    const lifecycle = await layer(
      await entriesOf(join(lifecycleDir(), "lifecycle"), "cnb/lifecycle"),
    );
    await pushImage(target, "test/builder", "1", {
      layers: [base, cnb, lifecycle],
      architecture: arch,
      env: ["CNB_USER_ID=1002", "CNB_GROUP_ID=1000", "CNB_STACK_ID=locald.test.stack"],
      labels: {
        "io.buildpacks.builder.metadata": JSON.stringify({
          description: "locald test builder",
          buildpacks: [
            { id: "simple/layers", version: "simple-layers-version" },
            { id: "examples/procfile", version: "0.1.0" },
          ],
          lifecycle: { version: "0.21.17" },
        }),
      },
    });
    const builderRef = `${reg.host}/test/builder:1`;

    // An app with a Procfile: the first order group (procfile + simple-layers) passes.
    const app = join(t.root, "app");
    await Deno.mkdir(app);
    await Deno.writeTextFile(join(app, "Procfile"), "web: echo serving\ngreet: echo hi there\n");
    const b = await runLocald(["build", "-C", app, "-B", builderRef, "--json"], { env: t.env });
    assert.equal(b.code, 0, b.stderr);
    // deno-lint-ignore no-explicit-any
    const summary = b.json as any;
    assert.deepEqual(
      summary.buildpacks.map((x: { id: string }) => x.id),
      ["examples/procfile", "simple/layers"],
    );
    assert.match(b.stderr, /making cached launch layer/);
    // The analyzer read the run image from the layout: the target is the run image's distro.
    const state = summary.stateDir as string;
    const analyzed = await Deno.readTextFile(join(state, "layers", "analyzed.toml"));
    assert.match(analyzed, /name = "ubuntu"\n\s*version = "24.04"/);

    const e = await runLocald(["exec", "-C", app, "--", "cat", "cached-deps/cached-dep"], {
      env: t.env,
    });
    assert.equal(e.code, 0, e.stderr);
    assert.equal(e.stdout.trim(), "Cached Dep Contents");
    const run = await runLocald(["run", "-C", app, "greet"], { env: t.env });
    assert.equal(run.stdout.trim(), "hi there");

    // The builder image's own CNB_* settings reach the phases; the ids stay locald's.
    const plan = await runLocald(["build", "-C", app, "-B", builderRef, "--dry-run", "--json"], {
      env: t.env,
    });
    // deno-lint-ignore no-explicit-any
    const detector = (plan.json as any).plan.steps[1].env;
    assert.equal(detector.CNB_STACK_ID, "locald.test.stack");
    assert.notEqual(detector.CNB_USER_ID, "1002");
    assert.match(detector.CNB_BUILD_CONFIG_DIR, /\/cnb\/build-config$/);

    // project.toml names the builder; -b picks one of its buildpacks by id.
    await Deno.writeTextFile(
      join(app, "project.toml"),
      `[io.buildpacks]\nbuilder = "${builderRef}"\n`,
    );
    const byId = await runLocald(["build", "-C", app, "-b", "simple/layers", "--json"], {
      env: t.env,
    });
    assert.equal(byId.code, 0, byId.stderr);
    // deno-lint-ignore no-explicit-any
    assert.deepEqual((byId.json as any).buildpacks.map((x: { id: string }) => x.id), [
      "simple/layers",
    ]);
    // ID@VERSION with no -B: looked up in project.toml's builder, which is named; a version the
    // builder lacks is an error that lists what it has (never an image pull).
    const byVersion = await runLocald(
      ["build", "-C", app, "-b", "simple/layers@simple-layers-version", "--force", "--json"],
      { env: t.env },
    );
    assert.equal(byVersion.code, 0, byVersion.stderr);
    assert.match(
      byVersion.stderr,
      new RegExp(
        `looking up simple/layers@simple-layers-version in the builder ${builderRef} ` +
          "\\(project\\.toml's; -B REF picks another\\)",
      ),
    );
    const noVersion = await runLocald(["build", "-C", app, "-b", "simple/layers@9.9.9"], {
      env: t.env,
    });
    assert.equal(noVersion.code, 3, noVersion.stderr);
    assert.match(
      noVersion.stderr,
      /builder .* has simple\/layers simple-layers-version, not 9\.9\.9\nhint: pick one/,
    );
    assert.doesNotMatch(noVersion.stderr, /invalid image reference/);

    // With the registry gone, the pulled builder is used as is (if-not-present) ...
    await reg.stop();
    const offline = await runLocald(["build", "-C", app, "--force"], { env: t.env });
    assert.equal(offline.code, 0, offline.stderr);
    // A cached builder loads nothing that pulls or extracts: no registry client, tar, zlib or
    // crypto; nor Deno's node:path or node:timers (each loads dozens of Deno's node modules).
    // A no-op build loads no more of Deno's own modules than `exec` does.
    const heavy = [
      "/src/oci/builder.ts",
      "/src/oci/apply.ts",
      "/src/oci/registry.ts",
      "/src/archive/",
      "tar-stream",
      "node:zlib",
      "node:crypto",
      "node:path",
      "node:timers",
      "ext:deno_node/",
    ];
    const noHeavy = (loaded: string[], what: string) => {
      for (const h of heavy) {
        assert.ok(!loaded.some((m) => m.includes(h)), `${what} loaded ${h}:\n${loaded.join("\n")}`);
      }
    };
    const forced = await withModuleLog(["build", "-C", app, "--force"], t.env);
    assert.equal(forced.code, 0, forced.stderr);
    assert.ok(forced.loaded.some((m) => m.endsWith("/src/oci/builder_cache.ts")));
    noHeavy(forced.loaded, "build --force");
    const noop = await withModuleLog(["build", "-C", app], t.env);
    assert.equal(noop.code, 0, noop.stderr);
    assert.match(noop.stderr, /is up to date/);
    noHeavy(noop.loaded, "a no-op build");
    const exec = await withModuleLog(["exec", "-C", app, "--", "true"], t.env);
    assert.equal(exec.code, 0, exec.stderr);
    const denoOwn = (l: string[]) => l.filter((m) => !m.startsWith("file:"));
    assert.deepEqual(
      denoOwn(noop.loaded).filter((m) => !denoOwn(exec.loaded).includes(m)),
      [],
      "Deno modules a no-op build loads beyond exec's",
    );
    // ... and "always" says the registry cannot be reached, in one line with a hint.
    const always = await runLocald(["build", "-C", app, "--force", "--pull-policy", "always"], {
      env: t.env,
    });
    assert.equal(always.code, 5);
    assert.match(always.stderr, /\nlocald: cannot reach registry [^\n]*\nhint: /);
    const unknown = await runLocald(["build", "-C", app, "-b", "no/such"], { env: t.env });
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /has no buildpack no\/such/);
  } finally {
    await reg.stop().catch(() => {});
    await t.cleanup();
  }
});
