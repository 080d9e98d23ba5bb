/** Defaults and small vocabularies shared across the layers (settings, builds, dev commands). */
import { UsageError } from "../errors.ts";

/** The default builder: public, multi-arch (amd64 and arm64), Ubuntu 24.04 based. */
export const DEFAULT_BUILDER = "heroku/builder:24";

/** What a sandboxed step may reach: the host's network, or none (loopback only). */
export type Network = "default" | "none";

/** --network's value. */
export function parseNetwork(value: string | undefined, command: string): Network | undefined {
  if (value === undefined || value === "none" || value === "default") return value;
  throw new UsageError(`--network takes "none" or "default" (got "${value}")`, command);
}
