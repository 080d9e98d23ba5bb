/**
 * The content-addressed blob store shared by every image: `$LOCALD_HOME/oci/blobs/sha256/<hex>`.
 * A blob is downloaded to `tmp/<hex>.part` under an exclusive file lock (so concurrent locald
 * processes fetch it once), resumed with a Range request after a dropped connection, hashed as
 * it streams, and renamed into place only when its sha256 matches. So whatever sits under
 * blobs/ is verified, and a failed pull leaves at most a `.part` file that is never trusted.
 */
import { join } from "node:path";
import { ExitCode, LocaldError, machineError } from "../errors.ts";
import { exists, removeIfExists, sizeOf } from "../util/fs.ts";
import type { Descriptor } from "./manifest.ts";
import { formatReference, type ImageRef } from "./reference.ts";
import {
  digestMismatch,
  type RegistryClient,
  sha256OfBytes,
  TransientError,
  unreachable,
} from "./registry.ts";
import { hashFile, hashInto, newSha256 } from "../util/hash_file.ts";

export { extractionLock, holdExtraction } from "./extract_lock.ts";

/** The lock a blob's download holds while it writes `tmp/<hex>.part`. */
export function blobLockPath(root: string, hex: string): string {
  return join(root, "tmp", `${hex}.lock`);
}

function hexOf(digest: string): string {
  const m = digest.match(/^sha256:([a-f0-9]{64})$/);
  if (!m) {
    throw new LocaldError(`unsupported digest "${digest}"`, {
      hint: "locald verifies sha256 digests only",
      exitCode: ExitCode.unsupported,
    });
  }
  return m[1];
}

/** Blobs this process hashed as it wrote them (their sha256 matched): trusted without a re-read. */
const verifiedHere = new Set<string>();

/** Called with the number of bytes received since the last call. */
export type OnBytes = (n: number) => void;

export class BlobStore {
  readonly root: string;
  #inflight = new Map<string, Promise<string>>();

  constructor(root: string) {
    this.root = root;
  }

  path(digest: string): string {
    return join(this.root, "blobs", "sha256", hexOf(digest));
  }

  async has(digest: string): Promise<boolean> {
    return await exists(this.path(digest));
  }

  /** Store bytes already in memory (manifests, configs) after checking their digest. */
  async putVerified(digest: string, bytes: Uint8Array<ArrayBuffer>): Promise<string> {
    const dest = this.path(digest);
    if (await exists(dest)) return dest;
    const got = await sha256OfBytes(bytes);
    if (`sha256:${got}` !== digest) throw digestMismatch(digest, digest, got);
    await Deno.mkdir(join(this.root, "blobs", "sha256"), { recursive: true });
    const tmp = join(this.root, "blobs", "sha256", `.${got}.${Deno.pid}.${crypto.randomUUID()}`);
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, dest);
    return dest;
  }

  /** Read a stored blob (small ones: manifests and configs). */
  async read(digest: string): Promise<Uint8Array> {
    return await Deno.readFile(this.path(digest));
  }

  /** Make sure the blob is in the store, downloading it if needed. Returns its path. */
  ensure(client: RegistryClient, ref: ImageRef, desc: Descriptor, onBytes?: OnBytes) {
    let p = this.#inflight.get(desc.digest);
    if (!p) {
      p = this.#ensure(client, ref, desc, onBytes).finally(() =>
        this.#inflight.delete(desc.digest)
      );
      this.#inflight.set(desc.digest, p);
    }
    return p;
  }

  async #ensure(client: RegistryClient, ref: ImageRef, desc: Descriptor, onBytes?: OnBytes) {
    const hex = hexOf(desc.digest);
    const dest = this.path(desc.digest);
    if (await exists(dest)) return dest;
    const tmpDir = join(this.root, "tmp");
    await Deno.mkdir(tmpDir, { recursive: true });
    await Deno.mkdir(join(this.root, "blobs", "sha256"), { recursive: true });
    const lock = await Deno.open(blobLockPath(this.root, hex), { write: true, create: true });
    try {
      await lock.lock(true);
      // Another process may have finished it while we waited for the lock.
      if (await exists(dest)) return dest;
      const part = join(tmpDir, `${hex}.part`);
      await this.#download(client, ref, desc, part, onBytes);
      await Deno.rename(part, dest);
      verifiedHere.add(desc.digest);
      return dest;
    } finally {
      await lock.unlock().catch(() => {});
      lock.close();
    }
  }

  async #download(
    client: RegistryClient,
    ref: ImageRef,
    desc: Descriptor,
    part: string,
    onBytes?: OnBytes,
  ) {
    const what = `layer ${desc.digest.slice(7, 19)} of ${formatReference(ref)}`;
    let lastError: unknown;
    // Tries in a row that brought no new bytes; a try that made progress resets the count, so
    // a flaky link that keeps moving finishes a large layer however often it drops.
    const attempts = 5;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const before = await sizeOf(part);
      try {
        const got = await this.#attempt(client, ref, desc, part, onBytes);
        if (`sha256:${got}` !== desc.digest) {
          await removeIfExists(part);
          throw digestMismatch(what, desc.digest, got);
        }
        return;
      } catch (e) {
        if (!(e instanceof TransientError)) throw e;
        lastError = e;
        if ((await sizeOf(part)) > before) attempt = 0;
        if (attempt < attempts) await client.sleep(Math.max(attempt, 1));
      }
    }
    throw unreachable(ref.registry, lastError);
  }

  /**
   * One GET (or ranged GET) into `part`; returns the sha256 hex of the whole file. Throws
   * TransientError when the stream breaks (the part file stays for the next attempt).
   */
  async #attempt(
    client: RegistryClient,
    ref: ImageRef,
    desc: Descriptor,
    part: string,
    onBytes?: OnBytes,
  ): Promise<string> {
    let have = 0;
    try {
      have = (await Deno.stat(part)).size;
    } catch { /* nothing yet */ }
    if (have > desc.size) {
      await removeIfExists(part);
      have = 0;
    }
    if (have === desc.size && have > 0) return (await hashFile(part)).hex;
    const res = await client.openBlob(ref, desc.digest, have);
    if (res.status === 416) {
      await res.body?.cancel();
      await removeIfExists(part);
      throw new TransientError("range not satisfiable");
    }
    const append = res.status === 206 && have > 0;
    if (!append && have > 0) {
      onBytes?.(-have); // the registry ignored the range: start over
      have = 0;
    }
    const hash = await newSha256();
    if (append) await hashInto(hash, part);
    const file = await Deno.open(part, { write: true, create: true, append, truncate: !append });
    let done = have;
    try {
      // One buffer for the whole download (a BYOB read): no allocation per chunk.
      const reader = res.body!.getReader({ mode: "byob" });
      let buf = new Uint8Array(1 << 16);
      for (;;) {
        const r = await reader.read(buf);
        if (r.done) break;
        const chunk = r.value;
        buf = new Uint8Array(chunk.buffer);
        done += chunk.length;
        if (done > desc.size) {
          throw digestMismatch(
            `blob ${desc.digest}`,
            desc.digest,
            "(more bytes than the manifest says)",
          );
        }
        hash.update(chunk);
        // Written synchronously, from this thread: an async write hands each chunk to a thread
        // of Deno's blocking pool, and every such thread grows a malloc arena of its own (about
        // 1 MiB of resident memory per concurrent download, bench/results/oci_pull.md). A 64 KiB
        // write to the page cache takes microseconds.
        let off = 0;
        while (off < chunk.length) off += file.writeSync(chunk.subarray(off));
        onBytes?.(chunk.length);
      }
    } catch (e) {
      if (e instanceof LocaldError) {
        file.close();
        await removeIfExists(part);
        throw e;
      }
      // A full disk is not a dropped connection: no retry (main says what happened).
      if (machineError(e)) throw e;
      throw new TransientError(`connection dropped: ${(e as Error).message}`, { cause: e });
    } finally {
      try {
        file.close();
      } catch { /* closed above */ }
    }
    if (done < desc.size) {
      throw new TransientError(`connection closed after ${done} of ${desc.size} bytes`);
    }
    return hash.digest("hex");
  }
}

/**
 * Check the stored blob at `path` against its digest before it is used, unless this process
 * verified it as it downloaded it. A blob damaged since it was stored (disk, hand edits) is
 * removed, so the next pull downloads it again, and the error says so.
 */
export async function verifyStored(path: string, digest: string, what: string): Promise<void> {
  if (verifiedHere.has(digest)) return;
  const { hex } = await hashFile(path);
  if (`sha256:${hex}` === digest) {
    verifiedHere.add(digest);
    return;
  }
  await removeIfExists(path);
  throw new LocaldError(`the stored ${what} is damaged: expected ${digest}, got sha256:${hex}`, {
    hint: "it was removed from locald's store; run the command again to download it again",
    exitCode: ExitCode.download,
  });
}

/** Run `fn` over `items` with at most `limit` at a time. */
export async function parallel<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>) {
  const out: R[] = new Array(items.length);
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < items.length && failed === undefined) {
      const i = next++;
      try {
        out[i] = await fn(items[i]);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
  return out;
}
