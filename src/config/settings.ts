/**
 * locald's own settings: one TOML file, $LOCALD_CONFIG, else $XDG_CONFIG_HOME/locald/config.toml,
 * else ~/.config/locald/config.toml. A missing file means the defaults. Wrong types are errors
 * with file:line:column; unknown keys are warnings (a newer locald may know them).
 *
 * Keys (add new ones to KEYS, each with its own parser):
 *   sandbox = "untrusted"          # "always" | "untrusted" | "never"
 *   trusted-builders = ["ghcr.io/acme/builder", "registry.example/team/*"]
 *   trust-local-buildpacks = true  # local buildpacks (-b PATH) count as trusted
 *   userland = "auto"              # "auto" | "stack" | "host" (src/cnb/userland.ts)
 *
 * And the trust rules that turn settings and flags into "sandbox this build or not" (pure).
 */
import { join } from "../util/path.ts";
import { ExitCode, LocaldError, UsageError } from "../errors.ts";
import { readTextIfExists } from "../util/fs.ts";
import { locate, parseToml } from "./toml.ts";

import { type Network, parseUserland, type UserlandSetting } from "./defaults.ts";

export type SandboxMode = "always" | "untrusted" | "never";

export interface Settings {
  /** The file read, if there was one. */
  file?: string;
  sandbox: SandboxMode;
  trustedBuilders: string[];
  trustLocalBuildpacks: boolean;
  /** Where builds with a builder run: the builder's image (stack), the host, or auto. */
  userland: UserlandSetting;
  /** Unknown keys, as "file:line:col: unknown setting NAME". */
  warnings: string[];
}

export const DEFAULT_SETTINGS: Settings = {
  sandbox: "untrusted",
  trustedBuilders: [],
  trustLocalBuildpacks: true,
  userland: "auto",
  warnings: [],
};

/**
 * Well-known public builders whose buildpacks run unsandboxed under `sandbox = "untrusted"`,
 * as pack trusts its suggested builders. Matched on the repository (any tag or digest).
 */
export const BUILTIN_TRUSTED_BUILDERS = [
  "heroku/builder",
  "paketobuildpacks/builder-jammy-*",
  "gcr.io/buildpacks/builder",
];

export function settingsFile(env: Record<string, string>): string | undefined {
  if (env.LOCALD_CONFIG) return env.LOCALD_CONFIG;
  if (env.XDG_CONFIG_HOME) return join(env.XDG_CONFIG_HOME, "locald", "config.toml");
  if (env.HOME) return join(env.HOME, ".config", "locald", "config.toml");
  return undefined;
}

type Apply = (s: Settings, v: unknown, bad: (what: string) => never) => void;

const KEYS: Record<string, Apply> = {
  sandbox(s, v, bad) {
    if (v !== "always" && v !== "untrusted" && v !== "never") {
      bad('must be "always", "untrusted" or "never"');
    }
    s.sandbox = v as SandboxMode;
  },
  "trusted-builders"(s, v, bad) {
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string" || !x)) {
      bad("must be an array of image names (a trailing * matches any suffix)");
    }
    s.trustedBuilders = v as string[];
  },
  "trust-local-buildpacks"(s, v, bad) {
    if (typeof v !== "boolean") bad("must be true or false");
    s.trustLocalBuildpacks = v as boolean;
  },
  userland(s, v, bad) {
    const u = parseUserland(v);
    if (!u) bad('must be "auto", "stack" or "host"');
    s.userland = u!;
  },
};

export function parseSettings(text: string, file: string): Settings {
  const doc = parseToml(text, file);
  const s: Settings = { ...DEFAULT_SETTINGS, file, warnings: [] };
  for (const [key, value] of Object.entries(doc)) {
    const apply = KEYS[key];
    if (!apply) {
      s.warnings.push(`${file}:${locate(text, key)}: unknown setting ${key}`);
      continue;
    }
    apply(s, value, (what) => {
      throw new LocaldError(`${file}:${locate(text, key)}: ${key} ${what}`, {
        hint: `fix ${key} in ${file} (see \`locald help build\`)`,
        exitCode: ExitCode.input,
      });
    });
  }
  return s;
}

export async function loadSettings(env: Record<string, string>): Promise<Settings> {
  const file = settingsFile(env);
  if (!file) return { ...DEFAULT_SETTINGS };
  const text = await readTextIfExists(file).catch((e) => {
    throw new LocaldError(`cannot read ${file}: ${(e as Error).message}`, {
      hint: "check the file's permissions, or point LOCALD_CONFIG at another file",
      exitCode: ExitCode.input,
    });
  });
  return text === undefined ? { ...DEFAULT_SETTINGS } : parseSettings(text, file);
}

function withoutDefaultRegistry(ref: string): string {
  return ref.replace(/^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, "")
    .replace(/^library\//, "");
}

/** An image reference without registry defaults, tag or digest: "heroku/builder". */
export function builderRepository(ref: string): string {
  let r = withoutDefaultRegistry(ref).replace(/@sha256:[0-9a-f]+$/i, "");
  const colon = r.lastIndexOf(":");
  if (colon > r.lastIndexOf("/")) r = r.slice(0, colon);
  return r;
}

/**
 * A trusted-builders entry against a builder reference: "repo" trusts any tag or digest of
 * it, "repo:tag" exactly that, and a trailing "*" any reference that starts with the rest.
 */
export function builderMatches(pattern: string, ref: string): boolean {
  const p = withoutDefaultRegistry(pattern);
  const r = withoutDefaultRegistry(ref);
  if (p.endsWith("*")) return r.startsWith(p.slice(0, -1));
  return builderRepository(p) === p ? builderRepository(r) === p : r === p;
}

export function builderTrusted(ref: string, settings: Settings): string | undefined {
  if (BUILTIN_TRUSTED_BUILDERS.some((p) => builderMatches(p, ref))) {
    return "a well-known public builder";
  }
  const hit = settings.trustedBuilders.find((p) => builderMatches(p, ref));
  return hit ? `trusted-builders in ${settings.file ?? "the settings"}` : undefined;
}

export interface SandboxRequest {
  /** --sandbox (true), --sandbox=false (false), or absent. */
  flag?: boolean;
  /** --network, if given. */
  network?: Network;
  /** --trust-builder. */
  trustBuilder: boolean;
  settings: Settings;
  /** The builder whose buildpacks this build runs, if any. */
  builder?: string;
  /** Whether the build runs buildpacks from local directories. */
  localBuildpacks: boolean;
}

export interface SandboxDecision {
  sandbox: boolean;
  network: Network;
  /** Why, in a few words, for the build's output and --dry-run. */
  reason: string;
}

/**
 * The trust rules, first match wins:
 *  1. --sandbox: sandboxed.  --sandbox=false: not (and --network none with it is an error).
 *  2. --network none: sandboxed (only the sandbox can cut the network).
 *  3. sandbox = "always" / "never" in the settings.
 *  4. sandbox = "untrusted" (the default): sandboxed when the builder is not trusted (built-in
 *     list, trusted-builders, --trust-builder), or when local buildpacks run and
 *     trust-local-buildpacks = false. Otherwise not.
 */
export function decideSandbox(r: SandboxRequest): SandboxDecision {
  const network = r.network ?? "default";
  const where = r.settings.file ?? "the settings";
  if (r.flag === false) {
    if (network === "none") {
      throw new UsageError("--network none needs the sandbox; drop --sandbox=false", "build");
    }
    return { sandbox: false, network, reason: "--sandbox=false" };
  }
  if (r.flag === true) return { sandbox: true, network, reason: "--sandbox" };
  if (network === "none") return { sandbox: true, network, reason: "--network none" };
  if (r.settings.sandbox === "always") {
    return { sandbox: true, network, reason: `sandbox = "always" in ${where}` };
  }
  if (r.settings.sandbox === "never") {
    return { sandbox: false, network, reason: `sandbox = "never" in ${where}` };
  }
  if (r.builder !== undefined) {
    const trusted = r.trustBuilder ? "--trust-builder" : builderTrusted(r.builder, r.settings);
    if (!trusted) {
      return {
        sandbox: true,
        network,
        reason: `builder ${r.builder} is not trusted (pass --trust-builder or add it to ` +
          `trusted-builders)`,
      };
    }
  }
  if (r.localBuildpacks && !r.settings.trustLocalBuildpacks) {
    return {
      sandbox: true,
      network,
      reason: `local buildpacks are not trusted (trust-local-buildpacks = false in ${where})`,
    };
  }
  return {
    sandbox: false,
    network,
    reason: r.builder !== undefined ? "trusted builder" : "local buildpacks are trusted",
  };
}
