/**
 * A run image (busybox root filesystem) and a builder (the image-app fixture buildpack) pushed
 * to a test registry, for image builds and devcontainers.
 */
import { join } from "node:path";
import { layer, pushImage } from "./images.ts";
import type { TestRegistry } from "./registry.ts";
import { dirs, entriesOf } from "./tree.ts";
import { hostPlatform } from "../../src/oci/manifest.ts";
import { runProcess } from "./proc.ts";

const REPO = new URL("../../", import.meta.url).pathname;

export interface BuilderBuildpack {
  dir: string;
  id: string;
  version: string;
}

const IMAGE_APP: BuilderBuildpack = {
  dir: join(REPO, "tests/fixtures/buildpacks/image-app"),
  id: "locald-fixtures/image-app",
  version: "1.0.0",
};

/**
 * A run image (busybox) and a builder with one buildpack (default: image-app) in `reg`; with
 * `extensions`, the builder also carries image extensions (/cnb/extensions and an
 * `[[order-extensions]]` group in order.toml, as `pack builder create` writes them); `builder`
 * gives its tag and labels.
 */
export async function pushImages(
  reg: TestRegistry,
  bp: BuilderBuildpack = IMAGE_APP,
  extensions: BuilderBuildpack[] = [],
  builder: { tag?: string; labels?: Record<string, string> } = {},
) {
  const target = { host: reg.host, user: reg.user, password: reg.password };
  const arch = hostPlatform().architecture;
  const busybox = await Deno.readFile("/bin/busybox");
  const rootfs = await layer([
    ...dirs("bin", "etc", "tmp"),
    { name: "bin/busybox", content: busybox, mode: 0o755 },
    ...["sh", "echo", "cat", "ls"].map((n) => ({
      name: `bin/${n}`,
      type: "symlink" as const,
      linkname: "busybox",
    })),
    { name: "etc/os-release", content: 'ID=busybox\nVERSION_ID="1.35"\n' },
    {
      name: "etc/passwd",
      content: "root:x:0:0:root:/root:/bin/sh\ncnb:x:1000:1000::/home/cnb:/bin/sh\n",
    },
  ]);
  await pushImage(target, "test/run", "1", {
    layers: [rootfs],
    architecture: arch,
    env: ["PATH=/bin"],
    labels: {
      "io.buildpacks.base.distro.name": "busybox",
      "io.buildpacks.base.distro.version": "1.35",
    },
  });
  const escaped = bp.id.replaceAll("/", "_");
  const extensionEntries = [];
  let orderExtensions = "";
  if (extensions.length) {
    extensionEntries.push(...dirs("cnb/extensions"));
    orderExtensions = "[[order-extensions]]\n";
    for (const e of extensions) {
      const dir = `cnb/extensions/${e.id.replaceAll("/", "_")}`;
      extensionEntries.push(...dirs(dir), ...await entriesOf(e.dir, `${dir}/${e.version}`));
      orderExtensions += `[[order-extensions.group]]\nid = "${e.id}"\nversion = "${e.version}"\n`;
    }
  }
  const cnb = await layer([
    ...dirs("cnb", "cnb/buildpacks", `cnb/buildpacks/${escaped}`),
    ...await entriesOf(bp.dir, `cnb/buildpacks/${escaped}/${bp.version}`),
    ...extensionEntries,
    {
      name: "cnb/order.toml",
      content: `[[order]]\n[[order.group]]\nid = "${bp.id}"\nversion = "${bp.version}"\n` +
        orderExtensions,
    },
    { name: "cnb/run.toml", content: `[[images]]\nimage = "${reg.host}/test/run:1"\n` },
  ]);
  const tag = builder.tag ?? "1";
  await pushImage(target, "test/builder", tag, {
    layers: [cnb],
    architecture: arch,
    labels: builder.labels,
  });
  return `${reg.host}/test/builder:${tag}`;
}

export async function appDir(root: string) {
  const app = join(root, "app");
  await Deno.mkdir(app);
  await Deno.writeTextFile(join(app, "hello.txt"), "hello from the workspace");
  return app;
}

/**
 * Unpack an OCI layout with umoci and run its entrypoint the way a runtime would: the config's
 * argv, env and working directory, inside the unpacked root filesystem under bwrap.
 */
export async function unpackAndRun(layout: string, into: string) {
  const bundle = join(into, "bundle");
  const unpack = await runProcess(["umoci", "unpack", "--rootless", "--image", layout, bundle]);
  if (unpack.code !== 0) throw new Error(`umoci unpack: ${unpack.stderr}`);
  const rootfs = join(bundle, "rootfs");
  const cfg = JSON.parse(await Deno.readTextFile(join(bundle, "config.json")));
  const env = (cfg.process.env as string[]).flatMap((kv) => {
    const i = kv.indexOf("=");
    return ["--setenv", kv.slice(0, i), kv.slice(i + 1)];
  });
  const run = await runProcess([
    "bwrap",
    "--bind",
    rootfs,
    "/",
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--tmpfs",
    "/tmp",
    "--unshare-all",
    "--die-with-parent",
    "--clearenv",
    ...env,
    "--chdir",
    cfg.process.cwd,
    "--",
    ...cfg.process.args,
  ]);
  return { rootfs, run };
}
