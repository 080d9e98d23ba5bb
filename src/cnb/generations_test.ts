import assert from "node:assert/strict";
import { pathsUnder } from "../config/paths.ts";
import type { Step } from "../hosts/types.ts";
import { generationMounts, namespaceStep } from "./generations.ts";

const paths = pathsUnder("/s");
/** A phase's mounts as the plan has them: the state directory whole. */
const planMounts = [
  { path: "/app", writable: true },
  { path: "/s", writable: false },
  { path: "/s/layers", writable: true },
  { path: "/s/cache", writable: true },
];

Deno.test("a build's mounts show the new generation at <state>/layers and the rest of the state entry by entry", () => {
  const mounts = generationMounts(
    planMounts,
    paths,
    ["layers", "generations", "cache", "order.toml", "build.json", "layers.tmp-1-ab"],
    "/s/generations/g2",
  );
  assert.deepEqual(mounts, [
    { path: "/app", writable: true },
    { path: "/s/layers", writable: true, source: "/s/generations/g2" },
    { path: "/s/cache", writable: true },
    { path: "/s/order.toml", writable: false },
    { path: "/s/build.json", writable: false },
  ]);
});

Deno.test("with the step's references, a build's mounts show only the state entries the step names", () => {
  const mounts = generationMounts(
    planMounts,
    paths,
    ["layers", "generations", "cache", "order.toml", "run.toml", "build.json", "build.lock"],
    "/s/generations/g2",
    ["/lc/detector", "/s/order.toml", "/s/run.toml.old", "/s/layers/group.toml", "/app"],
  );
  assert.deepEqual(mounts, [
    { path: "/app", writable: true },
    { path: "/s/layers", writable: true, source: "/s/generations/g2" },
    { path: "/s/cache", writable: true },
    { path: "/s/order.toml", writable: false },
  ]);
});

Deno.test("the namespace step: everything as it is but the state directory; root drops to uid 1000", () => {
  const step: Step = {
    name: "builder",
    argv: ["/lc/builder", "-x"],
    env: { A: "1" },
    cwd: "/app",
    dropRoot: true,
    mounts: [
      { path: "/app", writable: true },
      { path: "/s/layers", writable: true, source: "/s/generations/g2" },
      { path: "/s/order.toml", writable: false },
    ],
  };
  const asRoot = namespaceStep(step, "/usr/bin/bwrap", 0, "/s");
  assert.deepEqual(asRoot.argv, [
    "/usr/bin/bwrap",
    "--dev-bind",
    "/",
    "/",
    "--tmpfs",
    "/s",
    "--bind",
    "/s/generations/g2",
    "/s/layers",
    "--ro-bind",
    "/s/order.toml",
    "/s/order.toml",
    "--unshare-user",
    "--uid",
    "1000",
    "--gid",
    "1000",
    "--die-with-parent",
    "--chdir",
    "/app",
    "--",
    "/lc/builder",
    "-x",
  ]);
  assert.equal(asRoot.dropRoot, false);
  assert.equal(asRoot.cwd, "/app");
  const asUser = namespaceStep(step, "/usr/bin/bwrap", 1000, "/s");
  assert.ok(!asUser.argv.includes("--unshare-user"));
});
