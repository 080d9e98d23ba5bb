/**
 * Pulling and extracting images from a real registry (Debian's docker-registry on loopback),
 * with images the tests build: multi-arch indexes, Docker schema 2, zstd, whiteouts, hostile
 * layers, and the failures a user meets (unknown image, 401, corrupt blob, no platform,
 * registry down).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { registryBlobPath, startRegistry, type TestRegistry } from "./support/registry.ts";
import { layer, pushImage, pushIndex } from "./support/images.ts";
import { startProxy } from "./support/proxy.ts";
import { extractImage, resolveImage } from "../src/oci/image.ts";
import { pullBuildpack, pullImageToLayout } from "../src/oci/builder.ts";
import { LocaldError } from "../src/errors.ts";
import { envAndDirs } from "../src/config/paths.ts";
import { hostPlatform } from "../src/oci/manifest.ts";

async function tmpEnv() {
  const home = await Deno.makeTempDir({ prefix: "locald-oci-test-" });
  const env: Record<string, string> = {
    LOCALD_HOME: join(home, "locald"),
    HOME: home,
    DOCKER_CONFIG: join(home, "docker"),
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
  };
  return { home, env };
}

async function tree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch {
    return out;
  }
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = prefix + e.name;
    if (e.isSymlink) out.push(`${rel} -> ${await Deno.readLink(join(dir, e.name))}`);
    else if (e.isDirectory) out.push(`${rel}/`, ...(await tree(join(dir, e.name), rel + "/")));
    else out.push(rel);
  }
  return out;
}

async function rejects(p: Promise<unknown>, re: RegExp, code?: number): Promise<LocaldError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof LocaldError, `expected a LocaldError, got ${e}`);
    assert.match(e.message, re);
    assert.ok(e.hint, "every error carries a hint");
    assert.ok(!e.message.includes("\n"), "one line");
    if (code !== undefined) assert.equal(e.exitCode, code);
    return e;
  }
  assert.fail(`expected a rejection matching ${re}`);
}

const other = hostPlatform().architecture === "amd64" ? "arm64" : "amd64";

Deno.test("pull images from a loopback registry", async (t) => {
  const reg: TestRegistry = await startRegistry();
  const { home, env } = await tmpEnv();
  const opts = envAndDirs(env);
  try {
    await t.step(
      "a multi-arch index resolves to this machine's platform or a chosen one",
      async () => {
        for (const format of ["oci", "docker"] as const) {
          const mine = await pushImage(reg, "multi", `${format}-host`, {
            layers: [await layer([{ name: "arch.txt", content: "host" }], "gzip", format)],
            architecture: hostPlatform().architecture,
            format,
          });
          const theirs = await pushImage(reg, "multi", `${format}-other`, {
            layers: [await layer([{ name: "arch.txt", content: other }], "gzip", format)],
            architecture: other,
            format,
          });
          await pushIndex(reg, "multi", format, [
            { ...theirs, os: "linux", architecture: other },
            { ...mine, os: "linux", architecture: hostPlatform().architecture },
          ], format);
          const dest = join(home, `multi-${format}`);
          const img = await extractImage(`${reg.host}/multi:${format}`, dest, opts);
          assert.equal(await Deno.readTextFile(join(dest, "arch.txt")), "host");
          assert.equal(img.digest, mine.digest);
          assert.ok(img.indexDigest);
          const dest2 = join(home, `multi-${format}-other`);
          await extractImage(`${reg.host}/multi:${format}`, dest2, {
            ...opts,
            platform: { os: "linux", architecture: other },
          });
          assert.equal(await Deno.readTextFile(join(dest2, "arch.txt")), other);
        }
        const e = await rejects(
          resolveImage(`${reg.host}/multi:oci`, {
            ...opts,
            platform: { os: "linux", architecture: "s390x" },
          }),
          /has no image for linux\/s390x/,
          8,
        );
        assert.match(e.hint!, new RegExp(`linux/${other}, linux/${hostPlatform().architecture}`));
      },
    );

    await t.step("Docker schema 2, OCI zstd and uncompressed layers unpack alike", async () => {
      const files = [
        { name: "app/", type: "directory" as const },
        { name: "app/hello.sh", content: "#!/bin/sh\necho hi\n", mode: 0o755 },
      ];
      await pushImage(reg, "fmt", "docker", {
        layers: [await layer(files, "gzip", "docker")],
        format: "docker",
      });
      await pushImage(reg, "fmt", "zstd", { layers: [await layer(files, "zstd")] });
      await pushImage(reg, "fmt", "plain", { layers: [await layer(files, "none")] });
      for (const tag of ["docker", "zstd", "plain"]) {
        const dest = join(home, `fmt-${tag}`);
        await extractImage(`${reg.host}/fmt:${tag}`, dest, opts);
        assert.equal(await Deno.readTextFile(join(dest, "app/hello.sh")), "#!/bin/sh\necho hi\n");
        assert.equal((await Deno.stat(join(dest, "app/hello.sh"))).mode! & 0o777, 0o755);
      }
    });

    await t.step(
      "whiteouts and opaque directories remove lower content and are never written",
      async () => {
        const l1 = await layer([
          { name: "etc/", type: "directory" },
          { name: "etc/keep", content: "keep" },
          { name: "etc/gone", content: "gone" },
          { name: "opq/", type: "directory" },
          { name: "opq/old1", content: "1" },
          { name: "opq/sub/", type: "directory" },
          { name: "opq/sub/old2", content: "2" },
          { name: "dir-gone/", type: "directory" },
          { name: "dir-gone/x", content: "x" },
        ]);
        const l2 = await layer([
          { name: "opq/new", content: "new" }, // written before the marker: must survive it
          { name: "opq/.wh..wh..opq", content: "" },
          { name: "etc/.wh.gone", content: "" },
          { name: ".wh.dir-gone", content: "" },
          { name: "opq/sub2/", type: "directory" },
          { name: "opq/sub2/f", content: "f" },
        ], "zstd");
        await pushImage(reg, "wh", "1", { layers: [l1, l2] });
        const dest = join(home, "wh");
        await extractImage(`${reg.host}/wh:1`, dest, opts);
        assert.deepEqual(await tree(dest), [
          "etc/",
          "etc/keep",
          "opq/",
          "opq/new",
          "opq/sub2/",
          "opq/sub2/f",
        ]);
      },
    );

    await t.step("hostile layers: refused, and nothing lands outside the target", async () => {
      const jail = join(home, "jail");
      const outside = join(jail, "outside");
      await Deno.mkdir(outside, { recursive: true });
      await Deno.writeTextFile(join(outside, "secret"), "secret");
      const cases: { name: string; layers: Parameters<typeof layer>[0][]; error: RegExp }[] = [
        {
          name: "dotdot",
          layers: [[{ name: "../outside/escape", content: "x" }]],
          error: /contains \.\./,
        },
        {
          name: "dotdot-deep",
          layers: [[{ name: "a/../../outside/escape", content: "x" }]],
          error: /contains \.\./,
        },
        {
          name: "absolute",
          layers: [[{ name: `${outside}/escape`, content: "x" }]],
          error: /absolute/,
        },
        {
          name: "symlink-escape",
          layers: [[
            { name: "link", type: "symlink", linkname: outside },
            { name: "link/escape", content: "x" },
          ]],
          error: /parent link is a symlink/,
        },
        {
          name: "relative-symlink-escape",
          layers: [[
            { name: "up", type: "symlink", linkname: "../outside" },
            { name: "up/escape", content: "x" },
          ]],
          error: /parent up is a symlink/,
        },
        {
          name: "symlinked-dir-across-layers",
          layers: [
            [{ name: "d", type: "symlink", linkname: outside }],
            [{ name: "d/escape", content: "x" }],
          ],
          error: /parent d is a symlink/,
        },
        {
          name: "hardlink-escape",
          layers: [[{ name: "hl", type: "link", linkname: "../outside/secret" }]],
          error: /contains \.\./,
        },
        {
          name: "hardlink-absolute",
          layers: [[{ name: "hl", type: "link", linkname: `${outside}/secret` }]],
          error: /absolute/,
        },
        {
          name: "hardlink-via-symlink",
          layers: [[
            { name: "s", type: "symlink", linkname: `${outside}/secret` },
            { name: "hl", type: "link", linkname: "s" },
          ]],
          error: /not a regular file/,
        },
        {
          name: "overwrite-through-symlink",
          layers: [[
            { name: "f", type: "symlink", linkname: `${outside}/secret` },
            { name: "f", content: "overwritten" },
          ]],
          error: /^$/, // allowed: the symlink is replaced, the target is untouched
        },
      ];
      for (const c of cases) {
        const layers = [];
        for (const entries of c.layers) layers.push(await layer(entries));
        await pushImage(reg, "hostile", c.name, { layers });
        const dest = join(jail, "target", c.name);
        const p = extractImage(`${reg.host}/hostile:${c.name}`, dest, opts);
        if (c.error.source === "^$") {
          await p;
          assert.equal(await Deno.readTextFile(join(dest, "f")), "overwritten");
          assert.ok(!(await Deno.lstat(join(dest, "f"))).isSymlink);
        } else {
          await rejects(p, c.error, 5);
          await assert.rejects(Deno.lstat(dest), Deno.errors.NotFound, `${c.name}: no target left`);
        }
        assert.deepEqual(await tree(outside), ["secret"], `${c.name} wrote outside`);
        assert.equal(await Deno.readTextFile(join(outside, "secret")), "secret");
        assert.deepEqual(
          (await tree(jail)).filter((p) => !p.startsWith("outside") && !p.startsWith("target")),
          [],
          `${c.name} left files beside the target`,
        );
      }
      // Device nodes and fifos are skipped; the rest of the layer is applied.
      await pushImage(reg, "hostile", "devices", {
        layers: [
          await layer([
            { name: "dev/", type: "directory" },
            { name: "dev/null2", type: "character-device" },
            { name: "dev/sda2", type: "block-device" },
            { name: "dev/pipe", type: "fifo" },
            { name: "dev/ok", content: "ok" },
          ]),
        ],
      });
      const dest = join(jail, "target", "devices");
      await extractImage(`${reg.host}/hostile:devices`, dest, opts);
      assert.deepEqual(await tree(dest), ["dev/", "dev/ok"]);
    });

    await t.step("errors: unknown image, unknown tag, registry down", async () => {
      await rejects(
        resolveImage(`${reg.host}/nope/nothing:1`, opts),
        /image not found: .*nope\/nothing:1/,
        3,
      );
      await rejects(
        resolveImage(`${reg.host}/fmt:no-such-tag`, opts),
        /image not found: .*fmt:no-such-tag was not found/,
        3,
      );
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (l.addr as Deno.NetAddr).port;
      l.close();
      const { RegistryClient } = await import("../src/oci/registry.ts");
      const client = new RegistryClient({ env, attempts: 2, backoffMs: 10 });
      await rejects(
        resolveImage(`127.0.0.1:${port}/x:1`, { ...opts, client }),
        new RegExp(`cannot reach registry 127.0.0.1:${port}`),
        5,
      );
    });

    await t.step("a corrupt blob is refused and nothing of it is kept", async () => {
      const l = await layer([{ name: "data", content: "A".repeat(5000) }], "none");
      await pushImage(reg, "corrupt", "1", { layers: [l] });
      const path = registryBlobPath(reg, l.digest);
      const bytes = await Deno.readFile(path);
      bytes[600] ^= 0xff;
      await Deno.writeFile(path, bytes);
      const dest = join(home, "corrupt");
      await rejects(
        extractImage(`${reg.host}/corrupt:1`, dest, opts),
        /digest mismatch for layer/,
        5,
      );
      await assert.rejects(Deno.lstat(dest), Deno.errors.NotFound);
      const hex = l.digest.slice(7);
      await assert.rejects(
        Deno.lstat(join(env.LOCALD_HOME, "oci/blobs/sha256", hex)),
        Deno.errors.NotFound,
      );
      await assert.rejects(
        Deno.lstat(join(env.LOCALD_HOME, "oci/tmp", `${hex}.part`)),
        Deno.errors.NotFound,
      );
    });

    await t.step("5xx and dropped connections are retried; a blob resumes with Range", async () => {
      const big = new Uint8Array(3 * 1024 * 1024);
      for (let i = 0; i < big.length; i += 4096) crypto.getRandomValues(big.subarray(i, i + 4096));
      const l = await layer([{ name: "big.bin", content: big }], "none");
      await pushImage(reg, "flaky", "1", { layers: [l] });
      const proxy = startProxy(reg.host);
      const { env: env2, home: home2 } = await tmpEnv();
      try {
        proxy.only = l.digest;
        proxy.fail503 = 1;
        proxy.dropBlobs = 1;
        proxy.dropAfter = 1024 * 1024;
        const dest = join(home2, "flaky");
        await extractImage(`${proxy.host}/flaky:1`, dest, envAndDirs(env2));
        assert.deepEqual(await Deno.readFile(join(dest, "big.bin")), big);
        const blobGets = proxy.log.filter((r) => r.path.endsWith(l.digest));
        assert.ok(proxy.log.some((r) => r.status === 503), "a 503 was answered and retried");
        assert.ok(
          blobGets.some((r) => r.range && /^bytes=[1-9]\d*-$/.test(r.range) && r.status === 206),
          `a ranged request resumed the blob: ${JSON.stringify(blobGets)}`,
        );
        // A second pull of the unchanged image downloads no blob at all.
        proxy.log.length = 0;
        await extractImage(`${proxy.host}/flaky:1`, join(home2, "again"), envAndDirs(env2));
        assert.deepEqual(proxy.log.filter((r) => r.path.includes("/blobs/")), []);
      } finally {
        await proxy.stop();
        await Deno.remove(home2, { recursive: true }).catch(() => {});
      }
    });

    await t.step(
      "an OCI layout at the analyzer's path: config and manifest, or the whole image",
      async () => {
        const l = await layer([{ name: "etc/os-release", content: "ID=ubuntu\n" }]);
        const pushed = await pushImage(reg, "run/image", "24", { layers: [l] });
        const root = join(home, "layout");
        const p = await pullImageToLayout(`${reg.host}/run/image:24`, root, envAndDirs(env));
        assert.equal(p, join(root, reg.host, "run/image", "24"));
        const index = JSON.parse(await Deno.readTextFile(join(p, "index.json")));
        assert.equal(index.manifests[0].digest, pushed.digest);
        assert.equal(index.manifests[0].annotations["org.opencontainers.image.ref.name"], "24");
        const blobs = (await tree(join(p, "blobs/sha256"))).length;
        assert.equal(blobs, 2, "manifest and config only");
        const full = await pullImageToLayout(`${reg.host}/run/image:24`, root, {
          ...envAndDirs(env),
          full: true,
        });
        assert.equal((await tree(join(full, "blobs/sha256"))).length, 3);
        // skopeo (an independent reader) accepts the layout.
        const link = join(home, "layout-link"); // skopeo's oci: syntax takes no ':' in the path
        await Deno.symlink(full, link);
        const res = await new Deno.Command("skopeo", {
          args: ["inspect", `oci:${link}:24`],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.ok(res.success, new TextDecoder().decode(res.stderr));
        const byDigest = await pullImageToLayout(
          `${reg.host}/run/image@${pushed.digest}`,
          root,
          envAndDirs(env),
        );
        assert.equal(byDigest, join(root, reg.host, "run/image", "sha256", pushed.digest.slice(7)));
      },
    );
    await t.step(
      "a buildpackage (-b docker://REF) yields <id>/<version> buildpack trees",
      async () => {
        const l1 = await layer([
          {
            name: "cnb/buildpacks/example_shell/0.0.1/buildpack.toml",
            content: 'api = "0.10"\n[buildpack]\nid = "example/shell"\nversion = "0.0.1"\n',
          },
          {
            name: "cnb/buildpacks/example_shell/0.0.1/bin/build",
            content: "#!/bin/sh\n",
            mode: 0o755,
          },
        ]);
        const l2 = await layer([
          {
            name: "cnb/buildpacks/example_meta/1.0.0/buildpack.toml",
            content:
              'api = "0.10"\n[buildpack]\nid = "example/meta"\nversion = "1.0.0"\n[[order]]\n[[order.group]]\nid = "example/shell"\nversion = "0.0.1"\n',
          },
          { name: "etc/unrelated", content: "not extracted" },
        ]);
        await pushImage(reg, "bp/meta", "1.0.0", {
          layers: [l1, l2],
          labels: {
            "io.buildpacks.buildpackage.metadata": JSON.stringify({
              id: "example/meta",
              version: "1.0.0",
            }),
          },
        });
        const bp = await pullBuildpack(`docker://${reg.host}/bp/meta:1.0.0`, envAndDirs(env));
        assert.equal(bp.id, "example/meta");
        assert.equal(bp.version, "1.0.0");
        assert.deepEqual(
          bp.buildpacks.map((b) => `${b.id}@${b.version}`).sort(),
          ["example/meta@1.0.0", "example/shell@0.0.1"],
        );
        assert.deepEqual(await tree(bp.buildpacksDir), [
          "example_meta/",
          "example_meta/1.0.0/",
          "example_meta/1.0.0/buildpack.toml",
          "example_shell/",
          "example_shell/0.0.1/",
          "example_shell/0.0.1/bin/",
          "example_shell/0.0.1/bin/build",
          "example_shell/0.0.1/buildpack.toml",
        ]);
        await assert.rejects(Deno.lstat(join(bp.buildpacksDir, "../../etc")), Deno.errors.NotFound);
      },
    );
  } finally {
    await reg.stop();
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});
