/**
 * A warm `locald builder pull` (the builder pulled before): one manifest request through a
 * registry that wants a bearer token, nothing fetched when the digest is the one recorded, the
 * fetching and extracting modules not loaded; and the damage rules: a file added, removed or
 * renamed in the extracted /cnb is repaired by any pull, one edited in place by `--verify`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startRegistry } from "./support/registry.ts";
import { startProxy } from "./support/proxy.ts";
import { layer, pushImage } from "./support/images.ts";
import { runLocald, testEnv, withModuleLog } from "./support/locald.ts";

async function builderLayers(version: string) {
  const dir = "cnb/buildpacks/warm_bp/1.0.0";
  return [
    await layer([
      { name: "cnb/", type: "directory" },
      { name: "cnb/buildpacks/", type: "directory" },
      { name: "cnb/buildpacks/warm_bp/", type: "directory" },
      { name: `${dir}/`, type: "directory" },
      {
        name: `${dir}/buildpack.toml`,
        content: 'api = "0.10"\n[buildpack]\nid = "warm/bp"\nversion = "1.0.0"\n',
      },
      { name: `${dir}/bin/`, type: "directory" },
      { name: `${dir}/bin/build`, content: `#!/bin/sh\necho ${version}\n`, mode: 0o755 },
      { name: `${dir}/bin/detect`, content: "#!/bin/sh\n", mode: 0o755 },
    ]),
    await layer([
      { name: "cnb/", type: "directory" },
      { name: "cnb/order.toml", content: '[[order]]\n[[order.group]]\nid = "warm/bp"\n' },
      { name: "cnb/run.toml", content: '[[images]]\nimage = "example.org/run:1"\n' },
    ]),
  ];
}

Deno.test("a warm builder pull asks for the manifest once and fetches nothing", async (t) => {
  const reg = await startRegistry();
  const proxy = startProxy(reg.host);
  proxy.bearer = { user: "u", password: "p", anonymous: true };
  const t0 = await testEnv();
  const env = t0.env;
  const ref = `${proxy.host}/warm/builder:1`;
  const pull = (...more: string[]) => runLocald(["builder", "pull", ref, ...more], { env });
  try {
    const layersA = await builderLayers("a");
    const first = await pushImage(reg, "warm/builder", "1", { layers: layersA });
    const cold = await pull("--json");
    assert.equal(cold.code, 0, cold.stderr);
    const { cnbDir, digest } = JSON.parse(cold.stdout);
    assert.equal(digest, first.digest);
    const build = join(cnbDir, "buildpacks/warm_bp/1.0.0/bin/build");
    const builderJson = join(cnbDir, "..", "builder.json");

    await t.step("one HEAD for the manifest (auth as always), no blob, no GET", async () => {
      proxy.log.length = 0;
      const r = await withModuleLog(["builder", "pull", ref], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`${digest} \\(linux/[a-z0-9]+\\) ready at `));
      const calls = proxy.log.filter((l) => l.path !== "/token");
      assert.deepEqual(
        calls.map((l) => `${l.method} ${l.path} ${l.status}`),
        ["HEAD /v2/warm/builder/manifests/1 401", "HEAD /v2/warm/builder/manifests/1 200"],
      );
      assert.equal(proxy.log.filter((l) => l.path === "/token").length, 1);
      // Nothing that fetches or extracts is loaded: no builder.ts, tar, TOML, node:crypto,
      // node:path, nor node:timers (the global timers' first use).
      const loaded = r.loaded;
      assert.ok(loaded.some((m) => m.endsWith("/src/oci/warm_pull.ts")), loaded.join("\n"));
      for (const heavy of ["/src/oci/builder.ts", "/src/oci/apply.ts", "smol-toml", "tar-stream"]) {
        assert.ok(!loaded.some((m) => m.includes(heavy)), `${heavy} loaded`);
      }
      for (const node of ["node:crypto", "node:path", "node:timers", "node:zlib"]) {
        assert.ok(!loaded.includes(node), `${node} loaded`);
      }
    });

    await t.step("a moved tag is pulled again", async () => {
      const second = await pushImage(reg, "warm/builder", "1", {
        layers: await builderLayers("b"),
      });
      proxy.log.length = 0;
      const r = await pull("--json");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).digest, second.digest);
      assert.ok(proxy.log.some((l) => l.method === "GET" && l.path.includes("/blobs/")));
      assert.match(
        await Deno.readTextFile(
          join(JSON.parse(r.stdout).cnbDir, "buildpacks/warm_bp/1.0.0/bin/build"),
        ),
        /echo b/,
      );
      // Back to the first image, pulled before: no blob downloaded, the old tree reused.
      await pushImage(reg, "warm/builder", "1", { layers: layersA });
      proxy.log.length = 0;
      const back = await pull("--json");
      assert.equal(JSON.parse(back.stdout).digest, digest);
      assert.ok(!proxy.log.some((l) => l.path.includes("/blobs/")));
    });

    await t.step("a removed file is extracted again by a plain pull", async () => {
      const order = join(cnbDir, "order.toml");
      const want = await Deno.readTextFile(order);
      await Deno.remove(order);
      const r = await pull();
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /was changed or damaged; extracting it again/);
      assert.equal(await Deno.readTextFile(order), want);
      const again = await pull();
      assert.doesNotMatch(again.stderr, /damaged/);
    });

    await t.step("a file edited in place: left by a plain pull, repaired by --verify", async () => {
      const want = await Deno.readTextFile(build);
      await Deno.writeTextFile(build, "#!/bin/sh\nexit 1\n");
      const plain = await pull();
      assert.equal(plain.code, 0, plain.stderr);
      assert.doesNotMatch(plain.stderr, /damaged/);
      assert.equal(await Deno.readTextFile(build), "#!/bin/sh\nexit 1\n");
      const verified = await pull("--verify");
      assert.equal(verified.code, 0, verified.stderr);
      assert.match(verified.stderr, /was changed or damaged; extracting it again/);
      assert.equal(await Deno.readTextFile(build), want);
      const intact = await pull("--verify");
      assert.doesNotMatch(intact.stderr, /damaged/);
      const bad = await pull("--verify", "--pull-policy", "if-not-present");
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--verify .* needs --pull-policy always\nUsage:/);
    });

    await t.step("a builder extracted by an older locald gets its stamps", async () => {
      const info = JSON.parse(await Deno.readTextFile(builderJson));
      delete info.dirStamps;
      await Deno.writeTextFile(builderJson, JSON.stringify(info));
      proxy.log.length = 0;
      const r = await pull();
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /damaged/);
      const gets = () => proxy.log.filter((l) => l.method === "GET" && l.path !== "/token");
      assert.ok(gets().length, "the full path ran");
      assert.ok(JSON.parse(await Deno.readTextFile(builderJson)).dirStamps[""]);
      proxy.log.length = 0;
      assert.equal((await pull()).code, 0);
      assert.deepEqual(gets(), [], "warm again");
    });
  } finally {
    await proxy.stop();
    await reg.stop();
    await t0.cleanup();
  }
});
