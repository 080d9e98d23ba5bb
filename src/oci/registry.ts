/**
 * A client for the OCI distribution API (pull side): manifests and blobs, with the bearer-token
 * challenge flow, basic auth, retries with backoff on 5xx, dropped connections and stalled
 * peers (every wait is limited by LOCALD_NET_TIMEOUT, src/util/net.ts), and plain
 * HTTP for loopback registries and those named with --insecure-registry.
 */
import { ExitCode, LocaldError } from "../errors.ts";
import { sha256HexSync } from "../util/sha256.ts";
import {
  basicHeader,
  type Challenge,
  type Credential,
  CREDENTIALS_HINT,
  findCredential,
  parseChallenge,
} from "./auth.ts";
import { MANIFEST_ACCEPT } from "./manifest.ts";
import { apiHost, formatReference, type ImageRef, isLoopback } from "./reference.ts";
import { netTimeoutMs, StallError, stallHint, timedFetch } from "../util/net.ts";

export interface RegistryOptions {
  env: Record<string, string>;
  /** Registries (host[:port]) reached over plain HTTP. Loopback registries always are. */
  insecureRegistries?: string[];
  /** Attempts per request (network errors and 5xx are retried). Default 4. */
  attempts?: number;
  /** First backoff in ms, doubled each retry. Default 250. */
  backoffMs?: number;
}

export interface FetchedManifest {
  digest: string;
  mediaType: string | undefined;
  bytes: Uint8Array<ArrayBuffer>;
  doc: Record<string, unknown>;
}

const MAX_MANIFEST = 4 * 1024 * 1024;

/** Thrown for conditions a caller may retry (a dropped connection, a 5xx). */
export class TransientError extends Error {}

export function unreachable(registry: string, e: unknown): LocaldError {
  const stall = e instanceof StallError ? e : (e as Error)?.cause;
  if (stall instanceof StallError) {
    return new LocaldError(`registry ${registry} stalled: ${stall.message}`, {
      hint: stallHint("`--pull-policy never` builds with the builder and images pulled before"),
      exitCode: ExitCode.download,
      cause: e,
    });
  }
  const reason = (e instanceof Error ? e.message : String(e)).split("\n")[0];
  const tls = /certificate|tls|ssl|corrupt message|handshake/i.test(reason);
  return new LocaldError(`cannot reach registry ${registry}: ${reason}`, {
    hint: tls
      ? `if ${registry} serves plain HTTP, pass --insecure-registry ${registry}`
      : "check the registry name and your network connection, then try again",
    exitCode: ExitCode.download,
    cause: e,
  });
}

export function digestMismatch(what: string, expected: string, got: string): LocaldError {
  return new LocaldError(`digest mismatch for ${what}: expected ${expected}, got sha256:${got}`, {
    hint: "the registry (or something between it and you) served corrupt data; nothing was " +
      "kept, run the command again",
    exitCode: ExitCode.download,
  });
}

/**
 * The sha256 hex of bytes in memory (manifests, configs): small ones in JS, without loading
 * node:crypto (a warm pull hashes only its manifest), large ones with Web Crypto.
 */
export async function sha256OfBytes(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  if (bytes.length < 1 << 16) return sha256HexSync(bytes);
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class RegistryClient {
  readonly env: Record<string, string>;
  #insecure: Set<string>;
  #attempts: number;
  #backoff: number;
  /** LOCALD_NET_TIMEOUT: the longest wait for headers, and for each next chunk of a body. */
  readonly timeoutMs: number;
  /** Authorization header per registry+scope, once a challenge has been answered. */
  #auth = new Map<string, string>();
  #creds = new Map<string, Promise<Credential | undefined>>();

  constructor(opts: RegistryOptions) {
    this.env = opts.env;
    const fromEnv = (opts.env.LOCALD_INSECURE_REGISTRIES ?? "").split(",").filter(Boolean);
    this.#insecure = new Set([...(opts.insecureRegistries ?? []), ...fromEnv]);
    this.#attempts = opts.attempts ?? 4;
    this.#backoff = opts.backoffMs ?? 250;
    this.timeoutMs = netTimeoutMs(opts.env);
  }

  baseUrl(registry: string): string {
    const plain = this.#insecure.has(registry) || isLoopback(registry);
    return `${plain ? "http" : "https"}://${apiHost(registry)}/v2`;
  }

  #credential(registry: string) {
    let p = this.#creds.get(registry);
    if (!p) {
      p = findCredential(registry, this.env);
      this.#creds.set(registry, p);
    }
    return p;
  }

  /**
   * One request with auth and retries. Returns the response for any status but 401 (after
   * answering a challenge) and 5xx (retried); network errors are retried, then reported.
   */
  async request(
    ref: ImageRef,
    path: string,
    headers: Record<string, string> = {},
    method: "GET" | "HEAD" = "GET",
  ) {
    const url = `${this.baseUrl(ref.registry)}/${ref.repository}/${path}`;
    const scope = `repository:${ref.repository}:pull`;
    const key = `${ref.registry} ${scope}`;
    let answered = false;
    for (let attempt = 1;; attempt++) {
      const h: Record<string, string> = { ...headers };
      const auth = this.#auth.get(key);
      if (auth) h.Authorization = auth;
      let res: Response;
      try {
        res = await timedFetch(url, { method, headers: h }, this.timeoutMs);
      } catch (e) {
        if (attempt < this.#attempts) {
          await this.sleep(attempt);
          continue;
        }
        throw unreachable(ref.registry, e);
      }
      if (res.status === 401 && !answered) {
        await res.body?.cancel();
        const challenge = parseChallenge(res.headers.get("www-authenticate") ?? "");
        this.#auth.set(key, await this.#answer(ref, challenge, scope));
        answered = true;
        attempt--;
        continue;
      }
      if (res.status === 401) {
        await res.body?.cancel();
        throw await this.unauthorized(ref);
      }
      if (res.status >= 500 && attempt < this.#attempts) {
        await res.body?.cancel();
        await this.sleep(attempt);
        continue;
      }
      return res;
    }
  }

  sleep(attempt: number) {
    return new Promise((r) => setTimeout(r, this.#backoff * 2 ** (attempt - 1)));
  }

  async unauthorized(ref: ImageRef): Promise<LocaldError> {
    const cred = await this.#credential(ref.registry);
    const which = cred
      ? `the credentials from ${cred.source} were refused`
      : "no credentials were found for it";
    return new LocaldError(`${ref.registry} refused access to ${ref.repository} (401): ${which}`, {
      hint: CREDENTIALS_HINT,
      exitCode: ExitCode.input,
    });
  }

  async #answer(ref: ImageRef, ch: Challenge, scope: string): Promise<string> {
    const cred = await this.#credential(ref.registry);
    if (ch.scheme === "basic") {
      const h = cred && basicHeader(cred);
      if (!h) throw await this.unauthorized(ref);
      return h;
    }
    if (ch.scheme !== "bearer" || !ch.params.realm) {
      throw new LocaldError(`${ref.registry} asks for an unsupported authentication scheme`, {
        hint: `it answered "WWW-Authenticate: ${ch.scheme}"; locald speaks Bearer and Basic`,
        exitCode: ExitCode.unsupported,
      });
    }
    const realm = new URL(ch.params.realm);
    const service = ch.params.service;
    let res: Response;
    try {
      if (cred?.identityToken) {
        const form = new URLSearchParams({
          grant_type: "refresh_token",
          refresh_token: cred.identityToken,
          client_id: "locald",
          scope,
        });
        if (service) form.set("service", service);
        res = await timedFetch(realm, { method: "POST", body: form }, this.timeoutMs);
      } else {
        if (service) realm.searchParams.set("service", service);
        realm.searchParams.set("scope", ch.params.scope ?? scope);
        const h: Record<string, string> = {};
        const basic = cred && basicHeader(cred);
        if (basic) h.Authorization = basic;
        res = await timedFetch(realm, { headers: h }, this.timeoutMs);
      }
    } catch (e) {
      throw unreachable(realm.host, e);
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw await this.unauthorized(ref);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new LocaldError(`the token service of ${ref.registry} answered HTTP ${res.status}`, {
        hint: "try again later; if it persists, check the registry's status",
        exitCode: ExitCode.download,
      });
    }
    const doc = await res.json() as { token?: string; access_token?: string };
    const token = doc.token ?? doc.access_token;
    if (!token) {
      throw new LocaldError(`the token service of ${ref.registry} returned no token`, {
        hint: "check that the registry speaks the Docker token protocol",
        exitCode: ExitCode.download,
      });
    }
    return `Bearer ${token}`;
  }

  /**
   * The digest `reference` points at now, from a HEAD request (no body): undefined when the
   * registry does not say (no Docker-Content-Digest, or any status but 200), so that the
   * caller falls back to getManifest, whose errors say what went wrong.
   */
  async headManifest(ref: ImageRef, reference = ref.digest ?? ref.tag ?? "latest") {
    const res = await this.request(
      ref,
      `manifests/${reference}`,
      { Accept: MANIFEST_ACCEPT },
      "HEAD",
    );
    await res.body?.cancel();
    const digest = res.headers.get("docker-content-digest") ?? undefined;
    return res.status === 200 && digest?.startsWith("sha256:") ? digest : undefined;
  }

  /** Fetch a manifest or index by tag or digest, verified against the digest it should have. */
  async getManifest(ref: ImageRef, reference = ref.digest ?? ref.tag ?? "latest") {
    const res = await this.request(ref, `manifests/${reference}`, { Accept: MANIFEST_ACCEPT });
    if (res.status === 404) {
      const body = await res.text().catch(() => "");
      throw notFound(ref, body);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw httpError(ref, res.status);
    }
    const bytes = await readLimited(res, MAX_MANIFEST, ref);
    const got = await sha256OfBytes(bytes);
    const expected = reference.startsWith("sha256:")
      ? reference
      : res.headers.get("docker-content-digest") ?? undefined;
    if (expected && expected !== `sha256:${got}`) {
      throw digestMismatch(`the manifest of ${formatReference(ref)}`, expected, got);
    }
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      throw new LocaldError(`the manifest of ${formatReference(ref)} is not JSON`, {
        hint: "the registry served something that is not an image manifest",
        exitCode: ExitCode.download,
      });
    }
    const mediaType = (doc.mediaType as string | undefined) ??
      res.headers.get("content-type")?.split(";")[0];
    return { digest: `sha256:${got}`, mediaType, bytes, doc } satisfies FetchedManifest;
  }

  /** Start a blob download at `offset` (a Range request when > 0). */
  async openBlob(ref: ImageRef, digest: string, offset = 0): Promise<Response> {
    const headers: Record<string, string> = {};
    if (offset > 0) headers.Range = `bytes=${offset}-`;
    const res = await this.request(ref, `blobs/${digest}`, headers);
    if (res.status === 404) {
      await res.body?.cancel();
      throw new LocaldError(`${formatReference(ref)} names blob ${digest}, which is missing`, {
        hint: "the image in the registry is incomplete; push it again",
        exitCode: ExitCode.download,
      });
    }
    if (res.status >= 500) {
      await res.body?.cancel();
      throw new TransientError(`HTTP ${res.status}`);
    }
    if (!res.ok && res.status !== 416) {
      await res.body?.cancel();
      throw httpError(ref, res.status);
    }
    return res;
  }
}

async function readLimited(
  res: Response,
  max: number,
  ref: ImageRef,
): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const c of res.body!) {
    n += c.length;
    if (n > max) {
      throw new LocaldError(`the manifest of ${formatReference(ref)} is larger than 4 MiB`, {
        hint: "this is not an image manifest locald can use",
        exitCode: ExitCode.download,
      });
    }
    chunks.push(c);
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

function notFound(ref: ImageRef, body: string): LocaldError {
  let code = "";
  try {
    code = (JSON.parse(body).errors?.[0]?.code as string) ?? "";
  } catch { /* not a registry error document */ }
  const what = code === "NAME_UNKNOWN"
    ? `repository ${ref.repository} does not exist on ${ref.registry}`
    : `${formatReference(ref)} was not found`;
  return new LocaldError(`image not found: ${what}`, {
    hint: "check the spelling of the image name and tag; private images need credentials " +
      "(see DOCKER_CONFIG / ~/.docker/config.json)",
    exitCode: ExitCode.input,
  });
}

function httpError(ref: ImageRef, status: number): LocaldError {
  return new LocaldError(`${ref.registry} answered HTTP ${status} for ${formatReference(ref)}`, {
    hint: status === 403
      ? "your account may not have pull access to this repository"
      : status === 429
      ? "the registry limits pulls; wait a while or log in (docker login) for a higher limit"
      : "try again later; if it persists, check the registry's status",
    exitCode: ExitCode.download,
  });
}
