/**
 * Install a pinned tool release: download (verified against the embedded pin, or against the
 * release's checksums file when the pin is missing), extract into a private temporary
 * directory, check the layout, and rename into place. A failure at any step leaves nothing
 * under the final path, and the next run starts clean (a partial download resumes).
 */
import { basename, dirname, join } from "node:path";
import type { Output } from "../output.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import { exists, removeIfExists } from "../util/fs.ts";
import { acquireLock } from "../util/lock.ts";
import { extractTar } from "../archive/extract.ts";
import { parseChecksums } from "./checksums.ts";
import { downloadVerified, fetchText } from "./download.ts";
import { netTimeoutMs } from "../util/net.ts";
import type { ToolPin } from "./pins.ts";

export interface InstallOptions {
  pin: ToolPin;
  /** Key into pin.assets, e.g. "linux-x86_64". */
  asset: string;
  /** Directory that will hold the unpacked release when done. */
  dest: string;
  /** Where downloads are kept while in progress. */
  downloads: string;
  /** Where installers' locks are kept (one per tool and version). */
  locks: string;
  /** locald's environment: the mirror variable, network timeouts, proxies. */
  env: Record<string, string>;
  out?: Output;
  /** How to do without the download when the server stalls (e.g. LOCALD_LIFECYCLE_DIR). */
  offline?: string;
  /** Throws if the unpacked tree is not what the tool's release looks like. */
  validate: (dir: string) => Promise<void>;
}

export function releaseBase(pin: ToolPin, env: Record<string, string>): string {
  const mirror = env[pin.mirrorVariable];
  return (mirror || pin.baseUrl).replace(/\/+$/, "");
}

/** The sha256 to verify against, and where it came from. */
export async function expectedDigest(
  pin: ToolPin,
  asset: string,
  env: Record<string, string>,
  out?: Output,
  offline?: string,
): Promise<{ sha256: string; source: "pinned" | string }> {
  const a = pin.assets[asset];
  if (a.sha256) return { sha256: a.sha256, source: "pinned" };
  const url = `${releaseBase(pin, env)}/${pin.checksumsFile}`;
  out?.warn(
    `this build of locald has no pinned checksum for ${a.file}; verifying against ${url}`,
  );
  const sums = parseChecksums(
    await fetchText(url, mirrorHint(pin, env), netTimeoutMs(env), offline),
  );
  const sha = sums.get(a.file);
  if (!sha) {
    throw new LocaldError(`${url} lists no checksum for ${a.file}`, {
      hint: `check that ${pin.mirrorVariable} points at a copy of the v${pin.version} release`,
      exitCode: ExitCode.download,
    });
  }
  return { sha256: sha, source: url };
}

/** The variable that makes locald use an unpacked copy instead of downloading, per tool. */
const LOCAL_COPY: Record<string, string> = { lifecycle: "LOCALD_LIFECYCLE_DIR" };

export function mirrorHint(pin: ToolPin, env: Record<string, string> = {}): string {
  const local = LOCAL_COPY[pin.name]
    ? `, or ${LOCAL_COPY[pin.name]}=DIR to use an unpacked ${pin.name} release you have`
    : "";
  if (env[pin.mirrorVariable]) {
    return `check the mirror in ${pin.mirrorVariable} (${env[pin.mirrorVariable]}), or unset ` +
      `${pin.mirrorVariable} to download the ${pin.name} v${pin.version} release from ` +
      `upstream${local}`;
  }
  return `check your network, or set ${pin.mirrorVariable}=URL to a mirror of the ${pin.name} ` +
    `v${pin.version} release files${local}`;
}

export async function installRelease(o: InstallOptions): Promise<string> {
  if (await exists(o.dest)) return o.dest;
  const a = o.pin.assets[o.asset];
  if (!a) {
    throw new LocaldError(`${o.pin.name} ${o.pin.version} has no release for ${o.asset}`, {
      exitCode: ExitCode.unsupported,
      hint: `supported: ${Object.keys(o.pin.assets).join(", ")}`,
    });
  }
  const parent = dirname(o.dest);
  await Deno.mkdir(parent, { recursive: true });
  // One installer at a time per destination: a second locald waits, then finds it installed.
  // The lock file lives apart from the tools, so nothing but finished installs sits there.
  const lock = await acquireLock(
    join(o.locks, `${o.pin.name}-${basename(o.dest)}.lock`),
    `another locald installing ${o.pin.name} ${o.pin.version}`,
    o.out,
  );
  try {
    if (await exists(o.dest)) return o.dest;
    await removeStaleInstalls(parent, o.dest);
    return await install(o, a.file, parent);
  } finally {
    lock.release();
  }
}

/** Temporary trees of installs that were killed midway (we hold the lock: nobody owns them). */
async function removeStaleInstalls(parent: string, dest: string) {
  const prefix = `.install-${basename(dest)}-`;
  for await (const e of Deno.readDir(parent)) {
    if (e.name.startsWith(prefix)) await removeIfExists(join(parent, e.name));
  }
}

async function install(o: InstallOptions, file: string, parent: string): Promise<string> {
  const { sha256 } = await expectedDigest(o.pin, o.asset, o.env, o.out, o.offline);
  const url = `${releaseBase(o.pin, o.env)}/${file}`;
  const archive = await downloadVerified({
    url,
    dest: join(o.downloads, file),
    sha256,
    label: `${o.pin.name} ${o.pin.version}`,
    out: o.out,
    hint: mirrorHint(o.pin, o.env),
    timeoutMs: netTimeoutMs(o.env),
    offline: o.offline,
  });
  const tmp = await Deno.makeTempDir({ dir: parent, prefix: `.install-${basename(o.dest)}-` });
  try {
    const f = await Deno.open(archive, { read: true });
    await extractTar(f.readable, tmp, { gzip: file.endsWith("gz") });
    await o.validate(tmp);
    await Deno.rename(tmp, o.dest);
  } catch (e) {
    await removeIfExists(tmp);
    if (e instanceof LocaldError) throw e;
    throw new LocaldError(`cannot unpack ${file}: ${(e as Error).message}`, {
      hint: "nothing was installed; run the command again to retry",
      exitCode: ExitCode.download,
      cause: e,
    });
  }
  await removeIfExists(archive);
  return o.dest;
}
