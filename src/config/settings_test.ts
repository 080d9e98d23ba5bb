import assert from "node:assert/strict";
import {
  builderMatches,
  builderRepository,
  builderTrusted,
  decideSandbox,
  DEFAULT_SETTINGS,
  parseSettings,
  type SandboxRequest,
  settingsFile,
} from "./settings.ts";
import { type LocaldError, UsageError } from "../errors.ts";

const req = (r: Partial<SandboxRequest> = {}): SandboxRequest => ({
  trustBuilder: false,
  settings: DEFAULT_SETTINGS,
  localBuildpacks: true,
  ...r,
});

Deno.test("settings file: LOCALD_CONFIG, then XDG_CONFIG_HOME, then ~/.config", () => {
  assert.equal(settingsFile({ LOCALD_CONFIG: "/c.toml", HOME: "/h" }), "/c.toml");
  assert.equal(settingsFile({ XDG_CONFIG_HOME: "/x", HOME: "/h" }), "/x/locald/config.toml");
  assert.equal(settingsFile({ HOME: "/h" }), "/h/.config/locald/config.toml");
  assert.equal(settingsFile({}), undefined);
});

Deno.test("parseSettings: values, wrong types at file:line:col, unknown keys as warnings", () => {
  const s = parseSettings(
    'sandbox = "always"\ntrusted-builders = ["ghcr.io/acme/builder"]\n' +
      "trust-local-buildpacks = false\nvm-cpus = 4\n",
    "/c.toml",
  );
  assert.equal(s.sandbox, "always");
  assert.deepEqual(s.trustedBuilders, ["ghcr.io/acme/builder"]);
  assert.equal(s.trustLocalBuildpacks, false);
  assert.deepEqual(s.warnings, ["/c.toml:4:1: unknown setting vm-cpus"]);
  assert.throws(
    () => parseSettings('\ntrusted-builders = "x"\n', "/c.toml"),
    (e: LocaldError) => /^\/c\.toml:2:1: trusted-builders must be an array/.test(e.message),
  );
  assert.throws(() => parseSettings("sandbox = [", "/c.toml"), /\/c\.toml:1:\d+: /);
});

Deno.test("builder references: registry defaults, tags and digests, patterns", () => {
  assert.equal(builderRepository("docker.io/heroku/builder:24"), "heroku/builder");
  assert.equal(builderRepository("index.docker.io/library/b@sha256:" + "a".repeat(64)), "b");
  assert.equal(builderRepository("localhost:5000/b:1"), "localhost:5000/b");
  assert.ok(builderMatches("heroku/builder", "heroku/builder:24"));
  assert.ok(builderMatches("heroku/builder", "docker.io/heroku/builder@sha256:" + "b".repeat(64)));
  assert.ok(!builderMatches("heroku/builder", "heroku/builder-classic:22"));
  assert.ok(
    builderMatches("paketobuildpacks/builder-jammy-*", "paketobuildpacks/builder-jammy-base"),
  );
  assert.ok(
    !builderMatches("paketobuildpacks/builder-jammy-*", "evil/paketobuildpacks/builder-jammy-x"),
  );
  assert.ok(builderMatches("ghcr.io/acme/b:1.2", "ghcr.io/acme/b:1.2"));
  assert.ok(!builderMatches("ghcr.io/acme/b:1.2", "ghcr.io/acme/b:1.3"));
  assert.equal(
    builderTrusted("gcr.io/buildpacks/builder:google-22", DEFAULT_SETTINGS),
    "a well-known public builder",
  );
  assert.equal(builderTrusted("ghcr.io/acme/b", DEFAULT_SETTINGS), undefined);
  assert.match(
    builderTrusted("ghcr.io/acme/b:7", {
      ...DEFAULT_SETTINGS,
      file: "/c",
      trustedBuilders: ["ghcr.io/acme/*"],
    })!,
    /trusted-builders in \/c/,
  );
});

Deno.test("decideSandbox: flags first, then --network none, then settings, then trust", () => {
  assert.deepEqual(decideSandbox(req({ flag: true })), {
    sandbox: true,
    network: "default",
    reason: "--sandbox",
  });
  assert.equal(
    decideSandbox(req({ flag: false, settings: { ...DEFAULT_SETTINGS, sandbox: "always" } }))
      .sandbox,
    false,
  );
  assert.throws(() => decideSandbox(req({ flag: false, network: "none" })), UsageError);
  assert.deepEqual(decideSandbox(req({ network: "none" })), {
    sandbox: true,
    network: "none",
    reason: "--network none",
  });
  assert.equal(
    decideSandbox(req({ settings: { ...DEFAULT_SETTINGS, sandbox: "always" } })).sandbox,
    true,
  );
  assert.equal(
    decideSandbox(req({ settings: { ...DEFAULT_SETTINGS, sandbox: "never" }, builder: "evil/b" }))
      .sandbox,
    false,
  );
  // untrusted (default): local buildpacks are trusted, an unknown builder is not.
  assert.equal(decideSandbox(req()).sandbox, false);
  const evil = decideSandbox(req({ builder: "evil/builder:1" }));
  assert.equal(evil.sandbox, true);
  assert.match(evil.reason, /builder evil\/builder:1 is not trusted/);
  assert.equal(
    decideSandbox(req({ builder: "evil/builder:1", trustBuilder: true })).sandbox,
    false,
  );
  assert.equal(decideSandbox(req({ builder: "heroku/builder:24" })).sandbox, false);
  assert.equal(decideSandbox(req({ builder: "heroku/builder:24", flag: true })).sandbox, true);
  assert.equal(
    decideSandbox(req({ settings: { ...DEFAULT_SETTINGS, trustLocalBuildpacks: false } })).sandbox,
    true,
  );
});

Deno.test("userland: auto by default; stack, host; anything else at file:line:col", async () => {
  assert.equal(DEFAULT_SETTINGS.userland, "auto");
  assert.equal(parseSettings('userland = "stack"\n', "/c.toml").userland, "stack");
  assert.equal(parseSettings('userland = "host"\n', "/c.toml").userland, "host");
  assert.throws(
    () => parseSettings('sandbox = "never"\nuserland = "docker"\n', "/c.toml"),
    (e: LocaldError) => {
      assert.equal(e.message, '/c.toml:2:1: userland must be "auto", "stack" or "host"');
      return true;
    },
  );
  // project.toml's [dev.locald] userland, same values.
  const { parseProject } = await import("./project.ts");
  const p = parseProject('[dev.locald]\nuserland = "host"\n', "/p/project.toml");
  assert.equal(p.userland, "host");
  assert.throws(
    () => parseProject("[dev.locald]\nuserland = true\n", "/p/project.toml"),
    /\/p\/project\.toml:2:1: dev\.locald\.userland must be "auto", "stack" or "host"/,
  );
});
