/**
 * A small but real CNB builder image, built by the tests: a base layer outside /cnb, a shell
 * buildpack under /cnb/buildpacks, order.toml, run.toml, build-config/env, the builder labels,
 * CNB_* variables in the image config, and the real lifecycle when the test cache holds one
 * (${LOCALD_TEST_CACHE:-/var/cache/locald-test}/lifecycle, as a release tree: lifecycle/lifecycle).
 */
import { join } from "node:path";
import { type Entry, layer, pushImage, pushIndex, type PushTarget } from "./images.ts";

export const BUILDPACK_ID = "example/shell";
export const BUILDPACK_VERSION = "0.0.1";

/** The real lifecycle binary from the test cache, if present. */
export async function cachedLifecycle(): Promise<string | undefined> {
  const cache = Deno.env.get("LOCALD_TEST_CACHE") ?? "/var/cache/locald-test";
  for (
    const p of [
      join(cache, "lifecycle", "lifecycle", "lifecycle"),
      join(cache, "lifecycle", "lifecycle"),
    ]
  ) {
    try {
      if ((await Deno.stat(p)).isFile) return p;
    } catch { /* not there */ }
  }
  return undefined;
}

export async function pushBuilder(
  t: PushTarget,
  repo: string,
  tag: string,
  opts: { architecture: string; otherArchitecture?: string; lifecycle?: string },
) {
  const base = await layer([
    { name: "etc/", type: "directory" },
    { name: "etc/os-release", content: 'ID=ubuntu\nVERSION_ID="24.04"\n' },
    { name: "usr/bin/", type: "directory" },
    { name: "usr/bin/tool", content: "#!/bin/sh\n", mode: 0o755 },
  ]);
  const bp = `cnb/buildpacks/example_shell/${BUILDPACK_VERSION}`;
  const buildpack = await layer([
    { name: "cnb/", type: "directory" },
    { name: "cnb/buildpacks/", type: "directory" },
    { name: "cnb/buildpacks/example_shell/", type: "directory" },
    { name: `${bp}/`, type: "directory" },
    {
      name: `${bp}/buildpack.toml`,
      content:
        `api = "0.10"\n[buildpack]\nid = "${BUILDPACK_ID}"\nversion = "${BUILDPACK_VERSION}"\n` +
        `[[targets]]\nos = "linux"\n`,
    },
    { name: `${bp}/bin/`, type: "directory" },
    { name: `${bp}/bin/detect`, content: "#!/bin/sh\nexit 0\n", mode: 0o755 },
    {
      name: `${bp}/bin/build`,
      content: '#!/bin/sh\nset -e\nmkdir -p "$CNB_LAYERS_DIR/hello/bin"\n' +
        "printf '#!/bin/sh\\necho hello from the builder\\n' > \"$CNB_LAYERS_DIR/hello/bin/hello\"\n" +
        'chmod +x "$CNB_LAYERS_DIR/hello/bin/hello"\n' +
        'printf "[types]\\nlaunch = true\\n" > "$CNB_LAYERS_DIR/hello.toml"\n',
      mode: 0o755,
    },
  ], "zstd");
  const config = await layer([
    { name: "cnb/", type: "directory" },
    {
      name: "cnb/order.toml",
      content:
        `[[order]]\n[[order.group]]\nid = "${BUILDPACK_ID}"\nversion = "${BUILDPACK_VERSION}"\n`,
    },
    {
      name: "cnb/run.toml",
      content: '[[images]]\nimage = "example.org/run/image:24"\n' +
        'mirrors = ["mirror.example.org/run/image:24"]\n',
    },
    { name: "cnb/build-config/", type: "directory" },
    { name: "cnb/build-config/env/", type: "directory" },
    { name: "cnb/build-config/env/BP_FROM_BUILDER", content: "yes" },
    // A whiteout: the base's tool is removed (outside /cnb, so nothing to see there).
    { name: "usr/bin/.wh.tool", content: "" },
  ]);
  const layers = [base, buildpack, config];
  if (opts.lifecycle) {
    const bin = await Deno.readFile(opts.lifecycle);
    const entries: Entry[] = [
      { name: "cnb/lifecycle/", type: "directory" },
      { name: "cnb/lifecycle/lifecycle", content: bin, mode: 0o755 },
      { name: "cnb/lifecycle.toml", content: '[apis.platform]\nsupported = ["0.13"]\n' },
    ];
    for (const p of ["analyzer", "detector", "restorer", "builder", "exporter"]) {
      entries.push({ name: `cnb/lifecycle/${p}`, type: "symlink", linkname: "lifecycle" });
    }
    layers.push(await layer(entries));
  }
  const labels = {
    "io.buildpacks.builder.metadata": JSON.stringify({
      description: "A test builder",
      buildpacks: [{ id: BUILDPACK_ID, version: BUILDPACK_VERSION }],
      lifecycle: {
        version: "0.21.17",
        apis: {
          platform: { supported: ["0.7", "0.13"] },
          buildpack: { supported: ["0.7", "0.12"] },
        },
      },
      createdBy: { name: "locald tests" },
    }),
    "io.buildpacks.buildpack.layers": JSON.stringify({
      [BUILDPACK_ID]: { [BUILDPACK_VERSION]: { api: "0.10", layerDiffID: buildpack.diffId } },
    }),
  };
  const env = ["PATH=/usr/bin:/bin", "CNB_USER_ID=1002", "CNB_GROUP_ID=1000", "CNB_STACK_ID=test"];
  const mine = await pushImage(t, repo, `${tag}-${opts.architecture}`, {
    layers,
    labels,
    env,
    architecture: opts.architecture,
  });
  if (!opts.otherArchitecture) return { manifest: mine };
  const theirs = await pushImage(t, repo, `${tag}-${opts.otherArchitecture}`, {
    layers: [base],
    labels,
    env,
    architecture: opts.otherArchitecture,
  });
  const index = await pushIndex(t, repo, tag, [
    { ...theirs, os: "linux", architecture: opts.otherArchitecture },
    { ...mine, os: "linux", architecture: opts.architecture },
  ]);
  return { manifest: mine, index };
}
