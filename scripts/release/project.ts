/**
 * Where locald is published. The one place that names the GitHub project: the release
 * scripts import it, and install.sh / install.ps1 (which must run without locald or Deno)
 * carry the same URL, checked against this file by tests/release/installers_test.ts.
 */
export const GITHUB_REPO = "locald-dev/locald";
export const PROJECT_URL = `https://github.com/${GITHUB_REPO}`;
/** Release assets: `${RELEASES_URL}/download/v1.2.3/locald-linux-x86_64.tar.gz`. */
export const RELEASES_URL = `${PROJECT_URL}/releases`;
/** Homebrew tap (brew install locald-dev/tap/locald) and Scoop bucket repositories. */
export const HOMEBREW_TAP = "locald-dev/homebrew-tap";
export const SCOOP_BUCKET = "locald-dev/scoop-bucket";
/** One line for package managers (Homebrew's audit wants no leading article). */
export const DESCRIPTION = "Development environments from Cloud Native Buildpacks, without Docker";

/**
 * V8 flags the released binary runs with (`deno compile --v8-flags`), and the benchmarks' `deno
 * run` of main.ts with them (bench/oci_pull.ts), so what is measured is what ships:
 * - a young generation of at most 1 MiB per semi-space (V8's default grows it to 8 MiB before
 *   collecting): locald's garbage is short-lived chunk and promise objects;
 * - optimizing compilation on the main thread: TurboFan's background jobs allocate their zones
 *   in malloc arenas of their own, which stay resident (3-4 MiB in a builder pull).
 * Measured in bench/results/oci_pull.md ("Peak memory against layer size").
 */
export const V8_FLAGS = ["--max-semi-space-size=1", "--no-concurrent-recompilation"];

/** V8_FLAGS as one `deno run`/`deno compile` argument; `extra` is appended (benchmarks). */
export function v8FlagsArg(...extra: string[]): string {
  return `--v8-flags=${[...V8_FLAGS, ...extra].join(",")}`;
}

/** Compile targets and the names their release assets get. */
export interface Target {
  /** Rust target triple, as `deno compile --target` takes it. */
  triple: string;
  os: "linux" | "darwin" | "windows";
  arch: "x86_64" | "aarch64";
}

export const TARGETS: Target[] = [
  { triple: "x86_64-unknown-linux-gnu", os: "linux", arch: "x86_64" },
  { triple: "aarch64-unknown-linux-gnu", os: "linux", arch: "aarch64" },
  { triple: "x86_64-apple-darwin", os: "darwin", arch: "x86_64" },
  { triple: "aarch64-apple-darwin", os: "darwin", arch: "aarch64" },
  { triple: "x86_64-pc-windows-msvc", os: "windows", arch: "x86_64" },
];

/** `locald-linux-x86_64` (the binary in dist/, `.exe` on Windows). */
export function binaryName(t: Target): string {
  return `locald-${t.os}-${t.arch}${t.os === "windows" ? ".exe" : ""}`;
}

/** `locald-linux-x86_64.tar.gz`, or `.zip` for Windows. */
export function archiveName(t: Pick<Target, "os" | "arch">): string {
  return `locald-${t.os}-${t.arch}${t.os === "windows" ? ".zip" : ".tar.gz"}`;
}

/** `v1.2.3` style tag for a version. */
export function tagOf(version: string): string {
  return `v${version}`;
}

export function downloadUrl(version: string, asset: string): string {
  return `${RELEASES_URL}/download/${tagOf(version)}/${asset}`;
}

/** A release version: semver without the leading v (1.2.3, 1.2.3-rc.1, 1.2.3+build). */
export const VERSION_RE = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
