/**
 * Lima: the pinned release, installed once under $LOCALD_HOME/tools/lima, with bin/limactl
 * and share/lima/ (guest agents, templates) kept side by side as the release lays them out.
 * The binary is never touched after extraction: on macOS it is ad-hoc signed.
 *
 * Verification: the sha256 embedded in this binary (pins.ts) decides. LOCALD_LIMA_MIRROR only
 * changes where the bytes come from, so a mirror cannot swap the release. Only an asset
 * without a pin falls back to the release's SHA256SUMS (and says so). Tests inject their own
 * ToolPin object in code, which no environment variable can do.
 */
import { join } from "node:path";
import type { Output } from "../output.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import type { EnvAndDirs } from "../config/paths.ts";
import { LIMA, type ToolPin } from "./pins.ts";

export interface LimaInstall {
  root: string;
  limactl: string;
  version: string;
  /** "pinned release", "LOCALD_LIMACTL". */
  source: string;
}

export interface EnsureLimaOptions {
  /** Defaults to the embedded LIMA pin. */
  pin?: ToolPin;
  /** Key into pin.assets; defaults to this machine's (e.g. "darwin-aarch64"). */
  asset?: string;
}

export function limaAsset(os = Deno.build.os, arch = Deno.build.arch): string {
  return `${os}-${arch}`;
}

/** Where a Lima release is installed under locald's tools directory. */
export function limaInstallDir(tools: string, version: string, asset: string) {
  return join(tools, "lima", `${version}-${asset}`);
}

/** The release layout locald relies on: bin/limactl next to share/lima/. */
export async function validateLimaLayout(root: string): Promise<void> {
  const need: [string, "file" | "dir"][] = [["bin/limactl", "file"], ["share/lima", "dir"]];
  for (const [rel, kind] of need) {
    let info: Deno.FileInfo | undefined;
    try {
      info = await Deno.stat(join(root, rel));
    } catch { /* missing */ }
    const ok = info &&
      (kind === "file" ? info.isFile && ((info.mode ?? 0o111) & 0o111) : info.isDirectory);
    if (!ok) {
      throw new LocaldError(`the Lima release has no ${rel}${kind === "file" ? " program" : "/"}`, {
        hint: "check that LOCALD_LIMA_MIRROR serves the official Lima release files",
        exitCode: ExitCode.download,
      });
    }
  }
}

/** The installed limactl, without downloading. */
export async function findLima(
  ed: EnvAndDirs,
  opts: EnsureLimaOptions = {},
): Promise<LimaInstall | undefined> {
  const limactl = ed.env.LOCALD_LIMACTL;
  if (limactl) return { root: "", limactl, version: "unknown", source: "LOCALD_LIMACTL" };
  const pin = opts.pin ?? LIMA;
  const root = limaInstallDir(ed.dirs.tools, pin.version, opts.asset ?? limaAsset());
  try {
    await Deno.stat(join(root, "bin", "limactl"));
  } catch {
    return undefined;
  }
  return {
    root,
    limactl: join(root, "bin", "limactl"),
    version: pin.version,
    source: "pinned release",
  };
}

export async function ensureLima(
  ed: EnvAndDirs,
  out?: Output,
  opts: EnsureLimaOptions = {},
): Promise<LimaInstall> {
  const found = await findLima(ed, opts);
  if (found) return found;
  const pin = opts.pin ?? LIMA;
  const asset = opts.asset ?? limaAsset();
  const root = limaInstallDir(ed.dirs.tools, pin.version, asset);
  // Loaded only when installing: keeps the tar code off `locald exec` on macOS.
  const { installRelease } = await import("./install.ts");
  await installRelease({
    pin,
    asset,
    dest: root,
    downloads: ed.dirs.downloads,
    locks: ed.dirs.locks,
    env: ed.env,
    out,
    validate: validateLimaLayout,
  });
  out?.info(`Lima ${pin.version} installed at ${root}`);
  return {
    root,
    limactl: join(root, "bin", "limactl"),
    version: pin.version,
    source: "pinned release",
  };
}
