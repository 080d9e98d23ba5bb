/**
 * Image references, normalised the way Docker does it: `ubuntu` is
 * `index.docker.io/library/ubuntu:latest`, `heroku/builder:24` lives on Docker Hub, and a first
 * component with a `.` or `:` (or `localhost`) names a registry. Pure functions.
 */
import { ExitCode, LocaldError } from "../errors.ts";

export const DOCKER_HUB = "index.docker.io";
/** The host that serves Docker Hub's registry API. */
export const DOCKER_HUB_API = "registry-1.docker.io";

export interface ImageRef {
  /** Registry as the lifecycle's layout paths name it (`index.docker.io`, `127.0.0.1:5000`). */
  registry: string;
  /** Repository path (`library/ubuntu`). */
  repository: string;
  /** Tag; "latest" when the reference names neither tag nor digest. */
  tag?: string;
  /** `sha256:<hex>` when the reference pins a digest. */
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d{1,5})?$|^\[[0-9a-fA-F:]+\](?::\d{1,5})?$/;

function bad(ref: string, why: string): LocaldError {
  return new LocaldError(`invalid image reference "${ref}": ${why}`, {
    hint: "write it as [REGISTRY/]REPOSITORY[:TAG][@sha256:DIGEST], e.g. heroku/builder:24",
    exitCode: ExitCode.input,
  });
}

/** Parse and normalise a reference; throws a LocaldError (exit 3) on malformed input. */
export function parseReference(input: string): ImageRef {
  let s = input.trim();
  if (s.startsWith("docker://")) s = s.slice("docker://".length);
  if (s === "") throw bad(input, "it is empty");
  let digest: string | undefined;
  const at = s.indexOf("@");
  if (at !== -1) {
    digest = s.slice(at + 1);
    s = s.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(input, "the digest must be sha256: and 64 hex digits");
  }
  let registry = DOCKER_HUB;
  const slash = s.indexOf("/");
  if (slash !== -1) {
    const first = s.slice(0, slash);
    if (
      (first.includes(".") || first.includes(":") || first === "localhost") &&
        first === first.toLowerCase() || first.startsWith("[")
    ) {
      if (!HOST.test(first)) throw bad(input, `"${first}" is not a registry host`);
      registry = first;
      s = s.slice(slash + 1);
    }
  }
  if (registry === "docker.io" || registry === "registry-1.docker.io") registry = DOCKER_HUB;
  let tag: string | undefined;
  const colon = s.lastIndexOf(":");
  if (colon !== -1 && !s.slice(colon).includes("/")) {
    tag = s.slice(colon + 1);
    s = s.slice(0, colon);
    if (!TAG.test(tag)) throw bad(input, `"${tag}" is not a valid tag`);
  }
  if (s === "") throw bad(input, "it names no repository");
  if (s !== s.toLowerCase()) throw bad(input, "repository names must be lowercase");
  const parts = s.split("/");
  for (const p of parts) {
    if (!COMPONENT.test(p)) throw bad(input, `"${p}" is not a valid repository component`);
  }
  if (registry === DOCKER_HUB && parts.length === 1) s = `library/${s}`;
  if (!tag && !digest) tag = "latest";
  return { registry, repository: s, tag, digest };
}

/** The canonical string: `index.docker.io/library/ubuntu:latest`, `host/repo@sha256:...`. */
export function formatReference(r: ImageRef): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ""}${
    r.digest ? `@${r.digest}` : ""
  }`;
}

/** The same image, pinned to a digest (the tag is kept for display). */
export function withDigest(r: ImageRef, digest: string): ImageRef {
  return { ...r, digest };
}

/** What the lifecycle calls the reference in layout mode: the digest wins over the tag. */
export function layoutRelativePath(r: ImageRef): string {
  const id = r.digest ? r.digest.replace(":", "/") : r.tag ?? "latest";
  return `${r.registry}/${r.repository}/${id}`;
}

/** Host to talk to for a registry (Docker Hub's API lives on another name). */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/** True for registries on this machine: locald talks plain HTTP to them (as Docker does). */
export function isLoopback(registry: string): boolean {
  const host = registry.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
