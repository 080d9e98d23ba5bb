/**
 * Registry credentials and authentication challenges. Credentials come from Docker's
 * config.json ($DOCKER_CONFIG/config.json, else ~/.docker/config.json): `credHelpers` for the
 * registry, then `auths`, then `credsStore`, running `docker-credential-<name> get` for helpers.
 * Secrets never leave this module except inside Authorization headers.
 */
import { join } from "../util/path.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import { DOCKER_HUB } from "./reference.ts";

export interface Credential {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token ("identitytoken" in config.json). */
  identityToken?: string;
  /** Where it came from, for messages (never the secret). */
  source: string;
}

export interface Challenge {
  scheme: "bearer" | "basic" | string;
  params: Record<string, string>;
}

/** Parse a WWW-Authenticate header: `Bearer realm="...",service="...",scope="..."`. */
export function parseChallenge(header: string): Challenge {
  const m = header.match(/^\s*(\S+)\s*(.*)$/s);
  if (!m) return { scheme: "", params: {} };
  const params: Record<string, string> = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (const p of m[2].matchAll(re)) {
    params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3];
  }
  return { scheme: m[1].toLowerCase(), params };
}

/** Where config.json is looked up, for hints. */
export function dockerConfigPath(env: Record<string, string>): string {
  if (env.DOCKER_CONFIG) return join(env.DOCKER_CONFIG, "config.json");
  return join(env.HOME ?? "~", ".docker", "config.json");
}

export const CREDENTIALS_HINT =
  "locald reads credentials from $DOCKER_CONFIG/config.json or ~/.docker/config.json " +
  "(auths, credHelpers, credsStore); log in with `docker login` or add an auths entry";

interface DockerConfig {
  auths?: Record<
    string,
    { auth?: string; username?: string; password?: string; identitytoken?: string }
  >;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

/** Keys config.json may use for a registry: `host`, `https://host`, Docker Hub's v1 URL. */
function normaliseKey(key: string): string {
  let k = key.replace(/^[a-z]+:\/\//, "");
  k = k.replace(/\/.*$/, "");
  if (k === "docker.io" || k === "registry-1.docker.io") k = DOCKER_HUB;
  return k;
}

/** The name Docker's helpers store Docker Hub under. */
function helperServer(registry: string): string {
  return registry === DOCKER_HUB ? "https://index.docker.io/v1/" : registry;
}

async function readConfig(env: Record<string, string>): Promise<DockerConfig | undefined> {
  const path = dockerConfigPath(env);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new LocaldError(`cannot read ${path}: ${(e as Error).message}`, {
      hint: "fix its permissions, or point DOCKER_CONFIG at another directory",
      exitCode: ExitCode.input,
    });
  }
  try {
    return JSON.parse(text) as DockerConfig;
  } catch {
    throw new LocaldError(`${path} is not valid JSON`, {
      hint: "fix the file, or point DOCKER_CONFIG at a directory with a valid config.json",
      exitCode: ExitCode.input,
    });
  }
}

async function runHelper(
  helper: string,
  registry: string,
  env: Record<string, string>,
): Promise<Credential | undefined> {
  const bin = `docker-credential-${helper}`;
  const { run } = await import("../util/runner.ts");
  const res = await run([bin, "get"], {
    stdin: helperServer(registry),
    env,
    clearEnv: true,
    hint: `${dockerConfigPath(env)} names it for ${registry}; install it or edit the file`,
    exitCode: ExitCode.input,
    missing: `credential helper ${bin} is not installed`,
  });
  if (res.code !== 0) {
    // "credentials not found" is a normal answer: fall through to anonymous access.
    return undefined;
  }
  try {
    const doc = JSON.parse(res.stdout) as {
      Username?: string;
      Secret?: string;
    };
    if (!doc.Secret) return undefined;
    if (doc.Username === "<token>") return { identityToken: doc.Secret, source: bin };
    return { username: doc.Username, password: doc.Secret, source: bin };
  } catch {
    throw new LocaldError(`credential helper ${bin} printed something that is not JSON`, {
      hint: `run \`echo ${helperServer(registry)} | ${bin} get\` to see what it says`,
      exitCode: ExitCode.input,
    });
  }
}

/** Credentials for `registry`, or undefined for anonymous access. */
export async function findCredential(
  registry: string,
  env: Record<string, string>,
): Promise<Credential | undefined> {
  const cfg = await readConfig(env);
  if (!cfg) return undefined;
  const source = dockerConfigPath(env);
  for (const [k, helper] of Object.entries(cfg.credHelpers ?? {})) {
    if (normaliseKey(k) === registry) return await runHelper(helper, registry, env);
  }
  for (const [k, a] of Object.entries(cfg.auths ?? {})) {
    if (normaliseKey(k) !== registry) continue;
    if (a.identitytoken) return { identityToken: a.identitytoken, source };
    if (a.auth) {
      let decoded: string;
      try {
        decoded = atob(a.auth);
      } catch {
        throw new LocaldError(`the auths entry for ${registry} in ${source} is not base64`, {
          hint: "run `docker login` again or write base64(user:password) in its auth field",
          exitCode: ExitCode.input,
        });
      }
      const i = decoded.indexOf(":");
      return { username: decoded.slice(0, i), password: decoded.slice(i + 1), source };
    }
    if (a.username && a.password) return { username: a.username, password: a.password, source };
  }
  if (cfg.credsStore) return await runHelper(cfg.credsStore, registry, env);
  return undefined;
}

export function basicHeader(c: Credential): string | undefined {
  if (c.username === undefined || c.password === undefined) return undefined;
  const bytes = new TextEncoder().encode(`${c.username}:${c.password}`);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return `Basic ${btoa(bin)}`;
}
