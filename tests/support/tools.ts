/**
 * Paths into the test tool cache that scripts/test-tools.sh fills
 * (${LOCALD_TEST_CACHE:-/var/cache/locald-test}). Each getter throws a clear error telling to
 * run that script when its part is missing, instead of letting a test fail obscurely.
 */
import { join } from "node:path";

export const LIFECYCLE_VERSION = "0.21.17";

export function testCache(): string {
  return Deno.env.get("LOCALD_TEST_CACHE") || "/var/cache/locald-test";
}

function need(path: string, what: string): string {
  try {
    Deno.statSync(path);
  } catch {
    throw new Error(
      `${what} is missing (${path}): run \`bash scripts/test-tools.sh\` first ` +
        `(or \`bash scripts/test.sh\`, which runs it)`,
    );
  }
  return path;
}

/** Directory holding the lifecycle release files, laid out like the upstream release. */
export function lifecycleMirrorDir(): string {
  const dir = join(testCache(), "mirror", "lifecycle");
  need(join(dir, lifecycleChecksumsFile()), "the lifecycle release mirror");
  return dir;
}

export function lifecycleChecksumsFile(): string {
  return `lifecycle-v${LIFECYCLE_VERSION}-checksums.txt`;
}

/** The release tarball's file name for this host (or a given arch). */
export function lifecycleAsset(arch: string = Deno.build.arch): string {
  const a = arch === "aarch64" ? "arm64" : "x86-64";
  return `lifecycle-v${LIFECYCLE_VERSION}+linux.${a}.tgz`;
}

/** An unpacked lifecycle release for the host (lifecycle.toml, lifecycle/...). */
export function lifecycleDir(): string {
  const dir = join(testCache(), "lifecycle");
  need(join(dir, "lifecycle", "launcher"), "the unpacked lifecycle");
  return dir;
}

/** The CNB project's own test buildpacks (from the pack module). */
export function buildpacksDir(): string {
  const dir = join(testCache(), "buildpacks");
  need(join(dir, "simple-layers-buildpack", "buildpack.toml"), "the test buildpacks");
  return dir;
}

export function buildpack(name: string): string {
  return need(join(buildpacksDir(), name), `the test buildpack ${name}`);
}

/** limactl v2.2.0 (refuses to run as root: run it as another uid). share/lima is beside bin/. */
export function limactl(): string {
  return need(join(testCache(), "bin", "limactl"), "limactl");
}

export function limaTemplatesDir(): string {
  return need(join(testCache(), "share", "lima", "templates"), "Lima's templates");
}

/** The devcontainers CLI (npm @devcontainers/cli), installed by scripts/test-tools.sh. */
export function devcontainersCli(): string {
  return need(
    join(testCache(), "devcontainers", "node_modules", ".bin", "devcontainer"),
    "the devcontainers CLI",
  );
}
