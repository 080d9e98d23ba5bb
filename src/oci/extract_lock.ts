/** The extraction lock of the image store (light: a cached image's use takes it too). */
import { join } from "../util/path.ts";
import { acquireLock, type Lock } from "../util/lock.ts";

/**
 * Held (shared) by every locald extracting an image under oci/ (`.tmp-*` directories), taken
 * exclusively by `cache prune` before it removes such leftovers: an extraction in progress is
 * never a leftover.
 */
export function extractionLock(oci: string): string {
  return join(oci, "extract.lock");
}

/**
 * The extraction lock held shared, as every extraction (and the use of an extracted tree between
 * its check and its own lock) holds it: `cache prune` takes it exclusively.
 */
export function holdExtraction(oci: string, out?: { info(line: string): void }): Promise<Lock> {
  return acquireLock(extractionLock(oci), "locald cache prune", out, { shared: true });
}
