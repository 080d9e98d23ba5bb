/**
 * The stack-mode test images (issue 16), made from real Debian trixie userlands that
 * scripts/test-tools.sh builds with mmdebstrap (${LOCALD_TEST_CACHE}/stack/):
 *
 *   builder   the build userland (minbase + lua5.4 + m4, a `cnb` user 1000) + /cnb with the real
 *             lifecycle (lifecycle, launcher, phase links), the stack fixture buildpack,
 *             order.toml and run.toml naming the run image; builder labels; CNB_* in the Env
 *   run image the run userland (minbase + liblua5.4-0 + busybox, the same `cnb` user)
 *
 * This host (Debian 12) has neither m4 nor liblua5.4-0, and its glibc (2.36) is older than
 * trixie's: the fixture's lua5.4 fails to load here and runs in the run image.
 */
import { join } from "node:path";
import { type BuiltLayer, type Entry, layer, pushImage, type PushTarget } from "./images.ts";
import { lifecycleDir, testCache } from "./tools.ts";

export const STACK_BUILDPACK_ID = "locald-fixtures/stack";
export const STACK_BUILDPACK_VERSION = "1.0.0";
export const STACK_ID = "io.locald.tests.trixie";
/** The program the fixture installs, the library it needs that only the stack has, the tool. */
export const STACK_PROGRAM = "lua5.4";
export const STACK_LIBRARY = "liblua5.4.so.0";
export const STACK_BUILD_TOOL = "m4";
/** The app the fixture buildpack detects (a main.lua.m4). */
export const STACK_APP = new URL("../fixtures/apps/stack", import.meta.url).pathname;
const BUILDPACK_DIR = new URL("../fixtures/buildpacks/stack", import.meta.url).pathname;

export const STACK_ENV = [
  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  "CNB_USER_ID=1000",
  "CNB_GROUP_ID=1000",
  `CNB_STACK_ID=${STACK_ID}`,
];

const BASE_LABELS = {
  "io.buildpacks.stack.id": STACK_ID,
  "io.buildpacks.base.distro.name": "debian",
  "io.buildpacks.base.distro.version": "13",
};

interface UserlandJson {
  digest: string;
  diffId: string;
  size: number;
}

const userlands = new Map<string, Promise<BuiltLayer>>();

/** A userland from the test cache as a layer (the gzip'd tar as stored: nothing recompressed). */
export function userlandLayer(kind: "build" | "run"): Promise<BuiltLayer> {
  let p = userlands.get(kind);
  if (!p) {
    p = (async () => {
      const dir = join(testCache(), "stack");
      let meta: UserlandJson;
      try {
        meta = JSON.parse(await Deno.readTextFile(join(dir, `${kind}.json`)));
      } catch {
        throw new Error(
          `the stack ${kind} userland is missing (${dir}): run \`bash scripts/test-tools.sh\``,
        );
      }
      const blob = await Deno.readFile(join(dir, `${kind}.tar.gz`));
      if (blob.length !== meta.size) throw new Error(`${dir}/${kind}.tar.gz: size mismatch`);
      return {
        blob,
        digest: meta.digest,
        diffId: meta.diffId,
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      };
    })();
    userlands.set(kind, p);
  }
  return p;
}

async function treeEntries(dir: string, prefix: string): Promise<Entry[]> {
  const out: Entry[] = [{ name: `${prefix}/`, type: "directory" }];
  const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
  for (const name of names) {
    const path = join(dir, name);
    const st = await Deno.lstat(path);
    if (st.isSymlink) {
      out.push({ name: `${prefix}/${name}`, type: "symlink", linkname: await Deno.readLink(path) });
    } else if (st.isDirectory) out.push(...await treeEntries(path, `${prefix}/${name}`));
    else {
      out.push({
        name: `${prefix}/${name}`,
        content: await Deno.readFile(path),
        mode: st.mode! & 0o777,
      });
    }
  }
  return out;
}

let lifecycleLayer: Promise<BuiltLayer> | undefined;

/** /cnb/lifecycle as the release tree has it: lifecycle, launcher and the phase links. */
function cnbLifecycle(): Promise<BuiltLayer> {
  lifecycleLayer ??= (async () => {
    const root = lifecycleDir();
    return await layer([
      { name: "cnb/", type: "directory" },
      ...await treeEntries(join(root, "lifecycle"), "cnb/lifecycle"),
      { name: "cnb/lifecycle.toml", content: await Deno.readFile(join(root, "lifecycle.toml")) },
    ]);
  })();
  return lifecycleLayer;
}

export interface StackImages {
  builder: string;
  runImage: string;
}

/**
 * Push the stack builder and run image to the test registry; returns their references
 * (`<host>/<repo>/builder:trixie`, `<host>/<repo>/run:trixie`).
 */
export async function pushStackImages(
  t: PushTarget,
  opts: { repo?: string; tag?: string } = {},
): Promise<StackImages> {
  const repo = opts.repo ?? "stack";
  const tag = opts.tag ?? "trixie";
  const runImage = `${t.host}/${repo}/run:${tag}`;
  const builder = `${t.host}/${repo}/builder:${tag}`;
  const [build, run, lifecycle] = await Promise.all([
    userlandLayer("build"),
    userlandLayer("run"),
    cnbLifecycle(),
  ]);
  await pushImage(t, `${repo}/run`, tag, {
    layers: [run],
    env: STACK_ENV,
    user: "1000:1000",
    labels: BASE_LABELS,
  });
  const bpDir = `cnb/buildpacks/locald-fixtures_stack/${STACK_BUILDPACK_VERSION}`;
  const buildpack = await layer([
    { name: "cnb/", type: "directory" },
    { name: "cnb/buildpacks/", type: "directory" },
    { name: "cnb/buildpacks/locald-fixtures_stack/", type: "directory" },
    ...await treeEntries(BUILDPACK_DIR, bpDir),
  ]);
  const config = await layer([
    { name: "cnb/", type: "directory" },
    {
      name: "cnb/order.toml",
      content: `[[order]]\n[[order.group]]\nid = "${STACK_BUILDPACK_ID}"\n` +
        `version = "${STACK_BUILDPACK_VERSION}"\n`,
    },
    { name: "cnb/run.toml", content: `[[images]]\nimage = "${runImage}"\nmirrors = []\n` },
  ]);
  const apis = {
    buildpack: { deprecated: [], supported: ["0.7", "0.10", "0.12"] },
    platform: { deprecated: [], supported: ["0.7", "0.12", "0.13"] },
  };
  await pushImage(t, `${repo}/builder`, tag, {
    layers: [build, lifecycle, buildpack, config],
    env: STACK_ENV,
    user: "1000:1000",
    labels: {
      ...BASE_LABELS,
      "io.buildpacks.builder.metadata": JSON.stringify({
        description: "locald's stack-mode test builder (Debian trixie)",
        buildpacks: [{ id: STACK_BUILDPACK_ID, version: STACK_BUILDPACK_VERSION }],
        lifecycle: { version: "0.21.17", apis },
        stack: { runImage: { image: runImage, mirrors: [] } },
        createdBy: { name: "locald tests" },
      }),
      "io.buildpacks.buildpack.layers": JSON.stringify({
        [STACK_BUILDPACK_ID]: {
          [STACK_BUILDPACK_VERSION]: { api: "0.10", layerDiffID: buildpack.diffId },
        },
      }),
      "io.buildpacks.lifecycle.apis": JSON.stringify(apis),
    },
  });
  return { builder, runImage };
}
