/**
 * `locald builder pull|inspect|ls|rm`, run as a user runs it (main.ts in a subprocess),
 * against a builder image the tests build and push to a real loopback registry.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startRegistry } from "./support/registry.ts";
import { BUILDPACK_ID, cachedLifecycle, pushBuilder } from "./support/builder_image.ts";
import { layer, pushImage } from "./support/images.ts";
import { hostPlatform } from "../src/oci/manifest.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function locald(env: Record<string, string>, ...args: string[]) {
  const res = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    // The test's HOME is private; Deno's module cache and CA settings are the caller's.
    env: {
      ...Deno.env.toObject(),
      DENO_DIR: Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME") ?? "/root", ".cache/deno"),
      ...env,
      NO_COLOR: "1",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: res.code,
    stdout: new TextDecoder().decode(res.stdout),
    stderr: new TextDecoder().decode(res.stderr),
  };
}

async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      out.push(e.name);
      if (e.isDirectory) {
        out.push(...(await listTree(join(dir, e.name))).map((n) => `${e.name}/${n}`));
      }
    }
  } catch { /* absent */ }
  return out.sort();
}

Deno.test("locald builder pull, inspect, ls, rm", async (t) => {
  const reg = await startRegistry();
  const home = await Deno.makeTempDir({ prefix: "locald-builder-cli-" });
  const env: Record<string, string> = {
    LOCALD_HOME: join(home, "locald"),
    HOME: home,
    DOCKER_CONFIG: join(home, "docker"),
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
  };
  const arch = hostPlatform().architecture;
  const lifecycle = await cachedLifecycle();
  let stopped = false;
  try {
    await pushBuilder(reg, "test/builder", "1", {
      architecture: arch,
      otherArchitecture: arch === "amd64" ? "arm64" : "amd64",
      lifecycle,
    });
    const ref = `${reg.host}/test/builder:1`;

    await t.step("two concurrent pulls agree and leave one extracted builder", async () => {
      const [a, b] = await Promise.all([
        locald(env, "builder", "pull", ref, "--json"),
        locald(env, "builder", "pull", ref, "--json"),
      ]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      const info = JSON.parse(a.stdout);
      assert.deepEqual(JSON.parse(b.stdout).digest, info.digest);
      assert.equal(info.ref, ref);
      assert.equal(info.platform, `linux/${arch}`);
      const cnb = info.cnbDir as string;
      const bp = join(cnb, "buildpacks/example_shell/0.0.1");
      assert.match(await Deno.readTextFile(join(bp, "buildpack.toml")), /example\/shell/);
      assert.equal((await Deno.stat(join(bp, "bin/build"))).mode! & 0o111, 0o111);
      assert.deepEqual(info.runImage, {
        image: "example.org/run/image:24",
        mirrors: ["mirror.example.org/run/image:24"],
      });
      assert.deepEqual(info.imageEnv, {
        CNB_USER_ID: "1002",
        CNB_GROUP_ID: "1000",
        CNB_STACK_ID: "test",
      });
      assert.deepEqual(info.buildConfigEnv, ["BP_FROM_BUILDER"]);
      assert.equal(info.lifecycle.bundled, lifecycle !== undefined);
      // Only /cnb is materialised: the base layer's files are not.
      const root = join(cnb, "..");
      assert.deepEqual((await listTree(root)).filter((p) => !p.startsWith("cnb")), [
        "builder.json",
      ]);
      const builders = await listTree(join(env.LOCALD_HOME, "oci/builders"));
      assert.equal(builders.filter((p) => !p.includes("/")).length, 1, builders.join(" "));
      assert.deepEqual(
        (await listTree(join(env.LOCALD_HOME, "oci/tmp"))).filter((p) => p.endsWith(".part")),
        [],
      );
    });

    await t.step("a second pull of the unchanged builder is a no-op", async () => {
      const blobs = join(env.LOCALD_HOME, "oci/blobs/sha256");
      const before = await Promise.all(
        (await listTree(blobs)).map((b) => Deno.stat(join(blobs, b))),
      );
      const r = await locald(env, "builder", "pull", ref);
      assert.equal(r.code, 0, r.stderr);
      const after = await Promise.all(
        (await listTree(blobs)).map((b) => Deno.stat(join(blobs, b))),
      );
      assert.deepEqual(after.map((s) => s.mtime), before.map((s) => s.mtime));
    });

    await t.step(
      "a layer damaged in the store is caught before it is extracted again",
      async () => {
        // A warm pull trusts what the store verified when it wrote it; extracting from a blob
        // this process did not download reads it again first.
        const pulled = await locald(env, "builder", "pull", ref, "--json");
        assert.equal(pulled.code, 0, pulled.stderr);
        const { digest } = JSON.parse(pulled.stdout);
        const blobs = join(env.LOCALD_HOME, "oci/blobs/sha256");
        const manifest = JSON.parse(await Deno.readTextFile(join(blobs, digest.slice(7))));
        const layerDigest: string = manifest.layers.at(-1).digest;
        const blob = join(blobs, layerDigest.slice(7));
        const bytes = await Deno.readFile(blob);
        bytes[bytes.length >> 1] ^= 0xff; // same size, other content
        await Deno.writeFile(blob, bytes);
        await Deno.remove(join(env.LOCALD_HOME, "oci/builders", digest.slice(7)), {
          recursive: true,
        });
        const r = await locald(env, "builder", "pull", ref);
        assert.equal(r.code, 5, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(
            `the stored layer ${manifest.layers.length} of .* is damaged: expected ${layerDigest}`,
          ),
        );
        assert.match(r.stderr, /\nhint: .*run the command again/);
        await assert.rejects(Deno.lstat(blob), Deno.errors.NotFound);
        await assert.rejects(
          Deno.lstat(join(env.LOCALD_HOME, "oci/builders", digest.slice(7))),
          Deno.errors.NotFound,
        );
        const again = await locald(env, "builder", "pull", ref);
        assert.equal(again.code, 0, again.stderr);
        const fresh = await Deno.readFile(blob);
        const hex = Array.from(
          new Uint8Array(await crypto.subtle.digest("SHA-256", fresh)),
          (b) => b.toString(16).padStart(2, "0"),
        ).join("");
        assert.equal(`sha256:${hex}`, layerDigest);
      },
    );

    await t.step("inspect works offline once pulled", async () => {
      await reg.stop();
      stopped = true;
      const r = await locald(env, "builder", "inspect", ref);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`Builder: +${ref.replace(/[.]/g, "\\.")}`));
      assert.match(r.stdout, /Description: A test builder/);
      assert.match(
        r.stdout,
        /Run image: +example\.org\/run\/image:24 \(mirrors: mirror\.example\.org/,
      );
      assert.match(r.stdout, /Lifecycle: +0\.21\.17/);
      assert.match(r.stdout, /Platform APIs: +0\.7, 0\.13/);
      assert.match(r.stdout, new RegExp(`Group #1:\\n +${BUILDPACK_ID}@0\\.0\\.1`));
      const ls = await locald(env, "builder", "ls");
      assert.equal(ls.code, 0);
      assert.match(ls.stdout, /^REFERENCE +PLATFORM +DIGEST +SIZE +PULLED/);
      assert.match(ls.stdout, new RegExp(`${reg.host}/test/builder:1 +linux/${arch}`));
      // When it was pulled, as people say it (--json keeps the ISO time).
      assert.match(ls.stdout, / (just now|\d+ seconds? ago|\d+ minutes? ago)\n/);
      const never = await locald(
        env,
        "builder",
        "pull",
        `${reg.host}/test/other:1`,
        "--pull-policy",
        "never",
      );
      assert.equal(never.code, 3);
      assert.match(never.stderr, /has not been pulled/);
    });

    await t.step("rm forgets the builder, its /cnb and its blobs", async () => {
      const r = await locald(env, "builder", "rm", ref);
      assert.equal(r.code, 0, r.stderr);
      const ls = await locald(env, "builder", "ls", "--json");
      assert.deepEqual(JSON.parse(ls.stdout), []);
      assert.deepEqual(await listTree(join(env.LOCALD_HOME, "oci/blobs/sha256")), []);
      assert.deepEqual(await listTree(join(env.LOCALD_HOME, "oci/builders")), []);
      const again = await locald(env, "builder", "rm", ref);
      assert.equal(again.code, 3);
      assert.match(again.stderr, /is not pulled/);
    });
  } finally {
    if (!stopped) await reg.stop();
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

Deno.test("locald builder: each failure is one line, a hint and an exit code", async () => {
  const reg = await startRegistry();
  const home = await Deno.makeTempDir({ prefix: "locald-builder-err-" });
  const env: Record<string, string> = {
    LOCALD_HOME: join(home, "locald"),
    HOME: home,
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
  };
  try {
    await pushImage(reg, "plain/app", "1", {
      layers: [await layer([{ name: "a", content: "a" }])],
    });
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const deadPort = (l.addr as Deno.NetAddr).port;
    l.close();
    const cases: [string[], number, RegExp, RegExp][] = [
      [["pull", `${reg.host}/nope:1`], 3, /image not found/, /check the spelling/],
      [["pull", `${reg.host}/plain/app:1`], 3, /is not a CNB builder/, /builder image/],
      [
        ["pull", `${reg.host}/plain/app:1`, "--platform", "linux/s390x"],
        8,
        /has no image for linux\/s390x/,
        /./,
      ],
      [["pull", `127.0.0.1:${deadPort}/x:1`], 5, /cannot reach registry/, /network/],
      [["pull", "Bad//Ref"], 3, /invalid image reference/, /REPOSITORY/],
      [["frobnicate"], 2, /unknown subcommand/, /./],
    ];
    for (const [args, code, msg, hint] of cases) {
      const r = await locald(env, "builder", ...args);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      const lines = r.stderr.trim().split("\n").filter((l) => /^(locald|hint)/.test(l));
      assert.match(lines[0], msg);
      if (code !== 2) {
        assert.equal(lines.length, 2, r.stderr);
        assert.match(lines[1], /^hint: /);
        assert.match(lines[1], hint);
      }
      assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, "no stack trace");
    }
    // Nothing half-pulled is left behind by those failures.
    const tmp = await listTree(join(env.LOCALD_HOME, "oci/builders"));
    assert.deepEqual(tmp, []);
  } finally {
    await reg.stop();
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});
