import assert from "node:assert/strict";
import { chooseExecEnv, negotiatePlatformApi } from "./platform_api.ts";
import { declaredPlatformApis } from "../oci/builder_cache.ts";

const LIFECYCLE = ["0.7", "0.8", "0.9", "0.10", "0.11", "0.12", "0.13", "0.14", "0.15"];

Deno.test("a builder's declared platform APIs cap the build's; --platform-api overrides", () => {
  assert.equal(negotiatePlatformApi(LIFECYCLE), "0.15");
  // pack's label lists every version its lifecycle supports; the newest is the cap.
  assert.equal(negotiatePlatformApi(LIFECYCLE, undefined, ["0.7", "0.13", "0.14"]), "0.14");
  assert.equal(negotiatePlatformApi(LIFECYCLE, undefined, ["0.3", "0.13"]), "0.13");
  // Newer than locald's: no cap. Older than all locald implements: the oldest locald has.
  assert.equal(negotiatePlatformApi(LIFECYCLE, undefined, ["0.16"]), "0.15");
  assert.equal(negotiatePlatformApi(LIFECYCLE, undefined, ["0.9", "0.10"]), "0.12");
  assert.equal(negotiatePlatformApi(LIFECYCLE, "0.15", ["0.14"]), "0.15");
  assert.equal(negotiatePlatformApi(LIFECYCLE, undefined, []), "0.15");
});

Deno.test("declared platform APIs come from the io.buildpacks.lifecycle.apis shape", () => {
  assert.deepEqual(
    declaredPlatformApis({ platform: { deprecated: ["0.6"], supported: ["0.7", "0.14"] } }),
    ["0.7", "0.14", "0.6"],
  );
  assert.equal(declaredPlatformApis({ buildpack: { supported: ["0.10"] } }), undefined);
  assert.equal(declaredPlatformApis(undefined), undefined);
});

Deno.test("execution environment: development builds, images, flags, project.toml, old APIs", () => {
  const dev = { image: false, platformApi: "0.15" };
  assert.deepEqual(chooseExecEnv(dev), { execEnv: "development" });
  assert.deepEqual(chooseExecEnv({ ...dev, image: true }), { execEnv: "production" });
  assert.deepEqual(chooseExecEnv({ ...dev, project: "test" }), { execEnv: "test" });
  // project.toml names the development builds' environment; images keep production.
  assert.deepEqual(chooseExecEnv({ ...dev, image: true, project: "test" }), {
    execEnv: "production",
  });
  assert.deepEqual(chooseExecEnv({ ...dev, flag: "test", project: "x" }), { execEnv: "test" });
  assert.throws(() => chooseExecEnv({ ...dev, flag: "a b" }), /not an execution environment/);
  const old = { image: false, platformApi: "0.14" };
  assert.throws(() => chooseExecEnv({ ...old, flag: "test" }), /needs platform API 0.15/);
  const dropped = chooseExecEnv(old);
  assert.equal(dropped.execEnv, undefined);
  assert.match(dropped.note!, /platform API 0.14 has no execution environments/);
  assert.deepEqual(chooseExecEnv({ ...old, image: true }), {});
});
