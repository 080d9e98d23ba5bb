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

/**
 * Where a build's phases get their system from (src/cnb/userland.ts): the builder image's root
 * filesystem (`stack`), the host's (`host`), or `auto` (stack whenever a builder is used and
 * bwrap works where the steps run).
 */
export const USERLANDS = ["auto", "stack", "host"] as const;
export type UserlandSetting = (typeof USERLANDS)[number];

/** A `userland` value from a file: one of USERLANDS, or undefined when it is not. */
export function parseUserland(v: unknown): UserlandSetting | undefined {
  return USERLANDS.includes(v as UserlandSetting) ? v as UserlandSetting : undefined;
}
