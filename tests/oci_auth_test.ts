/**
 * Registry authentication: htpasswd basic auth on a real docker-registry, credentials from
 * Docker's config.json (auths, credHelpers, credsStore through a docker-credential-* program),
 * the bearer-token challenge (a token service in front of the real registry), and 401s that
 * say where credentials are looked up, without ever printing them.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startRegistry } from "./support/registry.ts";
import { layer, pushImage } from "./support/images.ts";
import { startProxy } from "./support/proxy.ts";
import { resolveImage } from "../src/oci/image.ts";
import { LocaldError } from "../src/errors.ts";
import { envAndDirs } from "../src/config/paths.ts";

const USER = "locald";
const PASSWORD = "s3cret-Pa55";

async function setup() {
  const home = await Deno.makeTempDir({ prefix: "locald-auth-test-" });
  const docker = join(home, "docker");
  await Deno.mkdir(docker);
  const bin = join(home, "bin");
  await Deno.mkdir(bin);
  // A real credential helper program speaking Docker's helper protocol.
  await Deno.writeTextFile(
    join(bin, "docker-credential-loctest"),
    `#!/bin/sh\nread server\necho "$server" >> "${home}/helper.log"\n` +
      `printf '{"ServerURL":"%s","Username":"${USER}","Secret":"${PASSWORD}"}' "$server"\n`,
    { mode: 0o755 },
  );
  const env: Record<string, string> = {
    LOCALD_HOME: join(home, "locald"),
    HOME: home,
    DOCKER_CONFIG: docker,
    PATH: `${bin}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
  };
  const writeConfig = (doc: unknown) =>
    Deno.writeTextFile(join(docker, "config.json"), JSON.stringify(doc));
  return { home, env, writeConfig };
}

async function expect401(p: Promise<unknown>, re: RegExp) {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof LocaldError);
    assert.match(e.message, re);
    assert.match(e.message, /\(401\)/);
    assert.match(e.hint!, /DOCKER_CONFIG.*config\.json/);
    assert.equal(e.exitCode, 3);
    assert.ok(!`${e.message} ${e.hint}`.includes(PASSWORD), "the password is never printed");
    return;
  }
  assert.fail("expected a 401");
}

Deno.test("basic auth (htpasswd) with credentials from Docker's config.json", async (t) => {
  const reg = await startRegistry({ auth: { user: USER, password: PASSWORD } });
  const { home, env, writeConfig } = await setup();
  try {
    await pushImage(reg, "private/app", "1", {
      layers: [await layer([{ name: "x", content: "x" }])],
    });
    const ref = `${reg.host}/private/app:1`;
    await t.step("no config.json: 401 says where credentials are found", async () => {
      await expect401(resolveImage(ref, envAndDirs(env)), /no credentials were found/);
    });
    await t.step("wrong password in auths: refused, and the source is named", async () => {
      await writeConfig({ auths: { [reg.host]: { auth: btoa(`${USER}:wrong`) } } });
      await expect401(
        resolveImage(ref, envAndDirs(env)),
        new RegExp(`credentials from ${env.DOCKER_CONFIG}/config.json were refused`),
      );
    });
    await t.step("auths entry (as docker login writes it)", async () => {
      await writeConfig({
        auths: { [`http://${reg.host}`]: { auth: btoa(`${USER}:${PASSWORD}`) } },
      });
      const img = await resolveImage(ref, envAndDirs(env));
      assert.equal(img.config.os, "linux");
    });
    await t.step("credHelpers runs docker-credential-<name> for this registry", async () => {
      await writeConfig({ credHelpers: { [reg.host]: "loctest" } });
      await resolveImage(ref, envAndDirs({ ...env, LOCALD_HOME: join(home, "h2") }));
      assert.match(await Deno.readTextFile(join(home, "helper.log")), new RegExp(reg.host));
    });
    await t.step("credsStore is the fallback for every registry", async () => {
      await writeConfig({ credsStore: "loctest" });
      await resolveImage(ref, envAndDirs({ ...env, LOCALD_HOME: join(home, "h3") }));
    });
    await t.step("a missing helper program is named", async () => {
      await writeConfig({ credsStore: "absent" });
      await assert.rejects(
        resolveImage(ref, envAndDirs({ ...env, LOCALD_HOME: join(home, "h4") })),
        (e) =>
          e instanceof LocaldError && /docker-credential-absent is not installed/.test(e.message),
      );
    });
  } finally {
    await reg.stop();
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

Deno.test("bearer-token challenge: anonymous and with credentials", async () => {
  const reg = await startRegistry();
  const { home, env, writeConfig } = await setup();
  const proxy = startProxy(reg.host);
  try {
    await pushImage(reg, "library/busybox", "latest", {
      layers: [await layer([{ name: "bin/sh", content: "sh" }])],
    });
    proxy.bearer = { user: USER, password: PASSWORD, anonymous: true };
    // A Docker-style short name on a registry given by host.
    const img = await resolveImage(`${proxy.host}/library/busybox`, envAndDirs(env));
    assert.equal(img.config.os, "linux");
    assert.match(proxy.tokenRequests[0], /service=test-registry/);
    assert.match(proxy.tokenRequests[0], /scope=repository%3Alibrary%2Fbusybox%3Apull/);

    proxy.bearer = { user: USER, password: PASSWORD, anonymous: false };
    await expect401(
      resolveImage(
        `${proxy.host}/library/busybox`,
        envAndDirs({ ...env, LOCALD_HOME: join(home, "b2") }),
      ),
      /no credentials were found/,
    );
    await writeConfig({ auths: { [proxy.host]: { username: USER, password: PASSWORD } } });
    await resolveImage(
      `${proxy.host}/library/busybox`,
      envAndDirs({ ...env, LOCALD_HOME: join(home, "b3") }),
    );
  } finally {
    await proxy.stop();
    await reg.stop();
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});
