import assert from "node:assert/strict";
import { formatReference, isLoopback, layoutRelativePath, parseReference } from "./reference.ts";
import { hostPlatform, listPlatforms, selectPlatform } from "./manifest.ts";
import { parseChallenge } from "./auth.ts";
import { RegistryClient } from "./registry.ts";
import { LocaldError } from "../errors.ts";

Deno.test("references are normalised as Docker does", () => {
  const cases: [string, string][] = [
    ["ubuntu", "index.docker.io/library/ubuntu:latest"],
    ["heroku/builder:24", "index.docker.io/heroku/builder:24"],
    [
      "docker.io/paketobuildpacks/builder-jammy-base",
      "index.docker.io/paketobuildpacks/builder-jammy-base:latest",
    ],
    ["docker://ghcr.io/org/img:v1.2", "ghcr.io/org/img:v1.2"],
    ["localhost:5000/app", "localhost:5000/app:latest"],
    ["127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000/a/b/c:t"],
    [
      `busybox@sha256:${"a".repeat(64)}`,
      `index.docker.io/library/busybox@sha256:${"a".repeat(64)}`,
    ],
    [`r.io/x:1@sha256:${"b".repeat(64)}`, `r.io/x:1@sha256:${"b".repeat(64)}`],
  ];
  for (const [input, want] of cases) assert.equal(formatReference(parseReference(input)), want);
  for (const bad of ["", "UPPER/case", "a//b", "img:bad tag", `x@sha256:123`, "x:"]) {
    assert.throws(() => parseReference(bad), LocaldError, bad);
  }
});

Deno.test("layout paths follow the lifecycle's scheme", () => {
  assert.equal(
    layoutRelativePath(parseReference("busybox")),
    "index.docker.io/library/busybox/latest",
  );
  assert.equal(
    layoutRelativePath(parseReference(`r.io/x:1@sha256:${"c".repeat(64)}`)),
    `r.io/x/sha256/${"c".repeat(64)}`,
  );
});

Deno.test("plain HTTP only for loopback and --insecure-registry hosts", () => {
  const c = new RegistryClient({ env: {}, insecureRegistries: ["reg.lan:5000"] });
  assert.equal(c.baseUrl("index.docker.io"), "https://registry-1.docker.io/v2");
  assert.equal(c.baseUrl("ghcr.io"), "https://ghcr.io/v2");
  assert.equal(c.baseUrl("reg.lan:5000"), "http://reg.lan:5000/v2");
  assert.equal(c.baseUrl("127.0.0.1:5000"), "http://127.0.0.1:5000/v2");
  assert.equal(c.baseUrl("localhost:5000"), "http://localhost:5000/v2");
  const e = new RegistryClient({ env: { LOCALD_INSECURE_REGISTRIES: "a.b,c.d:1" } });
  assert.equal(e.baseUrl("c.d:1"), "http://c.d:1/v2");
  assert.ok(isLoopback("[::1]:5000"));
  assert.ok(!isLoopback("128.0.0.1"));
});

Deno.test("platform selection and bearer challenges", () => {
  const idx = {
    schemaVersion: 2 as const,
    manifests: [
      {
        mediaType: "m",
        digest: "sha256:1",
        size: 1,
        platform: { os: "linux", architecture: "amd64" },
      },
      {
        mediaType: "m",
        digest: "sha256:2",
        size: 1,
        platform: { os: "linux", architecture: "arm64", variant: "v8" },
      },
      {
        mediaType: "m",
        digest: "sha256:3",
        size: 1,
        platform: { os: "unknown", architecture: "unknown" },
      },
    ],
  };
  assert.equal(selectPlatform(idx, { os: "linux", architecture: "arm64" })?.digest, "sha256:2");
  assert.equal(selectPlatform(idx, { os: "linux", architecture: "amd64" })?.digest, "sha256:1");
  assert.equal(selectPlatform(idx, { os: "linux", architecture: "riscv64" }), undefined);
  assert.deepEqual(listPlatforms(idx), ["linux/amd64", "linux/arm64/v8"]);
  assert.deepEqual(hostPlatform("aarch64"), { os: "linux", architecture: "arm64" });
  const ch = parseChallenge(
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"',
  );
  assert.equal(ch.scheme, "bearer");
  assert.equal(ch.params.realm, "https://auth.docker.io/token");
  assert.equal(ch.params.scope, "repository:library/ubuntu:pull");
  assert.equal(parseChallenge('Basic realm="x"').scheme, "basic");
});
