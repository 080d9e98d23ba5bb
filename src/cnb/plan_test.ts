/** Plain tests of the pure parts of a build: inputs in, plan or error out. */
import assert from "node:assert/strict";
import { mergeBuildEnv, parseEnvFile, parseEnvFlag } from "./env.ts";
import { compareApi, negotiatePlatformApi } from "./platform_api.ts";
import { type BuildInputs, createBuildPlan } from "./plan.ts";
import { escapeId, localBuildpackPath, orderToml } from "./buildpacks.ts";
import { chooseBuilder, isBuildpackId } from "./sources.ts";
import { layoutPathFor } from "./hostimage.ts";
import { parseOsRelease } from "../hosts/target.ts";
import { parseProject } from "../config/project.ts";
import { pathsUnder, type ProjectPaths } from "../config/paths.ts";
import { windowsToWsl } from "../hosts/wsl.ts";
import { imageMounts, imageView, imageWorkspace, layoutDirOf } from "./image.ts";
import { LocaldError } from "../errors.ts";

Deno.test("-e and --env-file: NAME=VALUE, NAME from the environment, later wins", () => {
  assert.deepEqual(parseEnvFlag("A=1=2", {}), ["A", "1=2"]);
  assert.deepEqual(parseEnvFlag("HOME", { HOME: "/h" }), ["HOME", "/h"]);
  assert.throws(() => parseEnvFlag("1X=y", {}), /not a variable name/);
  assert.throws(() => parseEnvFlag("UNSET_HERE", {}), /is not set in your environment/);
  const file = parseEnvFile("# comment\nexport A=1\n\nB=\"two words\"\nC='$lit'\n", "f.env");
  assert.deepEqual(file, [["A", "1"], ["B", "two words"], ["C", "$lit"]]);
  assert.throws(
    () => parseEnvFile("A=1\nnot a line\n", "f.env"),
    /f\.env:2:1: expected NAME=VALUE/,
  );
  assert.deepEqual(
    mergeBuildEnv([[["A", "project"]], [["A", "file"], ["B", "file"]], [["B", "flag"]]]),
    {
      A: "file",
      B: "flag",
    },
  );
});

Deno.test("platform API: newest shared, a pin must be shared, none shared is an error", () => {
  assert.ok(compareApi("0.9", "0.12") < 0);
  assert.equal(negotiatePlatformApi(["0.7", "0.12", "0.13"]), "0.13");
  assert.equal(negotiatePlatformApi(["0.12", "0.15"], "0.12"), "0.12");
  assert.throws(() => negotiatePlatformApi(["0.12"], "0.14"), /not supported by both/);
  assert.throws(
    () => negotiatePlatformApi(["0.7", "0.8"]),
    (e) => e instanceof LocaldError && e.exitCode === 8,
  );
  assert.throws(() => negotiatePlatformApi(["0.12"], "twelve"), /is not a version/);
});

Deno.test("project.toml: schema 0.2 and legacy, errors point at file:line:column", () => {
  const p = parseProject(
    '[_]\nschema-version = "0.2"\n[io.buildpacks]\nbuilder = "b:1"\nexclude = ["*.log"]\n' +
      '[[io.buildpacks.group]]\nuri = "./bp"\n[[io.buildpacks.group]]\nid = "x/y"\nversion = "1"\n' +
      '[[io.buildpacks.build.env]]\nname = "K"\nvalue = "V"\n',
    "/p/project.toml",
  );
  assert.equal(p.builder, "b:1");
  assert.deepEqual(p.group, [{ id: undefined, version: undefined, uri: "./bp" }, {
    id: "x/y",
    version: "1",
    uri: undefined,
  }]);
  assert.deepEqual(p.env, [{ name: "K", value: "V" }]);
  assert.deepEqual(p.exclude, ["*.log"]);
  const legacy = parseProject(
    '[build]\n[[build.env]]\nname = "A"\nvalue = "1"\n[[build.buildpacks]]\nid = "a/b"\n',
    "p",
  );
  assert.deepEqual(legacy.env, [{ name: "A", value: "1" }]);
  assert.equal(legacy.group[0].id, "a/b");
  assert.throws(
    () => parseProject("[io.buildpacks]\nbuilder = 3\n", "/p/project.toml"),
    /project\.toml:2:1: io\.buildpacks\.builder must be a string/,
  );
  assert.throws(
    () => parseProject('[[io.buildpacks.group]]\nversion = "1"\n', "f"),
    /needs an id or a uri/,
  );
  assert.throws(() => parseProject("a = [\n", "/p/project.toml"), /project\.toml:\d+:\d+: /);
});

Deno.test("buildpack sources: ids escape like the lifecycle's, paths versus ids, the builder choice", () => {
  assert.equal(escapeId("heroku/nodejs"), "heroku_nodejs");
  assert.equal(localBuildpackPath("./bp", "/proj"), "/proj/bp");
  assert.equal(localBuildpackPath("file:///x/bp", "/proj"), "/x/bp");
  assert.equal(localBuildpackPath("heroku-nodejs", "/proj"), undefined); // a bare id
  assert.equal(localBuildpackPath("docker://x/y:1", "/proj"), undefined);
  assert.equal(chooseBuilder("flag", "project", true, "default"), "flag");
  assert.equal(chooseBuilder(undefined, "project", false, "default"), "project");
  assert.equal(chooseBuilder(undefined, undefined, true, "default"), undefined); // -b alone: no builder
  assert.equal(chooseBuilder(undefined, undefined, false, "default"), "default");
  // Ids (looked up in a builder) versus image references (pulled).
  for (
    const id of ["heroku/nodejs", "heroku/nodejs@3.0.0", "simple/layers@simple-layers-version"]
  ) {
    assert.ok(isBuildpackId(id), id);
  }
  for (
    const ref of [
      "heroku/nodejs:3.0.0",
      "docker://heroku/nodejs",
      "ghcr.io/acme/bp",
      "localhost/bp",
      "127.0.0.1:5000/bp@sha256:" + "a".repeat(64),
    ]
  ) assert.ok(!isBuildpackId(ref), ref);
  assert.match(
    orderToml([[{ id: "a/b", version: "1" }, { id: "c", optional: true }]]),
    /\[\[order\]\]\n\[\[order\.group\]\]\nid = "a\/b"\nversion = "1"/,
  );
});

Deno.test("the host as a run image: os-release, and the analyzer's layout path scheme", () => {
  assert.deepEqual(parseOsRelease('NAME="Debian"\nID=debian\nVERSION_ID="12"\n'), {
    name: "debian",
    version: "12",
  });
  assert.equal(parseOsRelease("NAME=x\n"), undefined);
  assert.equal(
    layoutPathFor("/l", "locald.local/host:debian-12-amd64"),
    "/l/locald.local/host/debian-12-amd64",
  );
});

function inputs(extra: Partial<BuildInputs> = {}): BuildInputs {
  const paths = pathsUnder("/state");
  return {
    projectDir: "/app",
    paths,
    lifecycle: { root: "/lc", version: "0.21.17", phase: (p) => `/lc/lifecycle/${p}` },
    platformApi: "0.15",
    ids: { uid: 1000, gid: 1000 },
    runImage: "locald.local/host:x",
    layoutDir: "/state/layout",
    appImage: "locald.local/dev/app",
    buildpackDirs: ["/bp"],
    hostEnv: { PATH: "/usr/bin", HOME: "/h", GITHUB_TOKEN: "secret", AWS_SECRET_ACCESS_KEY: "s" },
    logLevel: "info",
    color: false,
    ...extra,
  };
}

Deno.test("plan: four phases with every container default set, no host secrets, exporter on request", () => {
  const plan = createBuildPlan(inputs());
  assert.deepEqual(plan.steps.map((s) => s.name), ["analyzer", "detector", "restorer", "builder"]);
  for (const s of plan.steps) {
    assert.equal(s.env.GITHUB_TOKEN, undefined);
    assert.equal(s.env.AWS_SECRET_ACCESS_KEY, undefined);
    assert.equal(s.env.CNB_LAYERS_DIR, "/state/layers");
    assert.equal(s.env.CNB_APP_DIR, "/app");
    assert.equal(s.env.CNB_USER_ID, "1000");
    assert.equal(s.dropRoot, true);
  }
  assert.deepEqual(plan.steps[0].argv, ["/lc/lifecycle/analyzer", "locald.local/dev/app"]);
  assert.equal(plan.steps[0].env.CNB_RUN_IMAGE, "locald.local/host:x");
  const img = createBuildPlan(inputs({
    exporter: { launcher: "/lc/lifecycle/launcher", layout: false, insecureRegistries: ["r:5000"] },
    appImage: "r:5000/app:1",
  }));
  const exporter = img.steps.at(-1)!;
  assert.deepEqual(exporter.argv, [
    "/lc/lifecycle/exporter",
    "-launcher",
    "/lc/lifecycle/launcher",
    "r:5000/app:1",
  ]);
  assert.equal(exporter.env.CNB_USE_LAYOUT, "false");
  assert.equal(exporter.env.CNB_INSECURE_REGISTRIES, "r:5000");
  assert.equal(exporter.env.CNB_LAYOUT_DIR, undefined);
  // A guest view applies to every path the steps carry, in one place.
  const g = createBuildPlan(inputs({ guestPath: (p) => p.replace(/^\/app/, "/workspace") }));
  assert.equal(g.steps[1].cwd, "/workspace");
  assert.equal(g.steps[1].env.CNB_APP_DIR, "/workspace");
  assert.equal(g.projectDir, "/app"); // messages keep the user's path
});

Deno.test("image build view: a copy of the project at /workspace, the layout at /layout-repo", () => {
  const paths = pathsUnder("/Users/Ada/Library/Application Support/locald/projects/MyApp-1/image");
  const plan = createBuildPlan(inputs({
    projectDir: "/Users/Ada/MyApp",
    paths,
    layoutDir: layoutDirOf(paths),
    appDir: imageWorkspace(paths),
    buildpackDirs: ["/Users/Ada/MyApp/my-buildpack"],
    extensionsDir: "/cache/builder/cnb/extensions",
    guestPath: imageView(paths),
    exporter: { launcher: "/lc/lifecycle/launcher", layout: true },
  }));
  const exporter = plan.steps.at(-1)!;
  assert.equal(exporter.cwd, "/workspace");
  assert.equal(exporter.env.CNB_APP_DIR, "/workspace");
  assert.equal(exporter.env.CNB_LAYOUT_DIR, "/layout-repo");
  assert.equal(exporter.env.CNB_EXTENSIONS_DIR, "/cache/builder/cnb/extensions");
  assert.equal(exporter.env.CNB_LAYERS_DIR, "/layers");
  assert.equal(exporter.env.CNB_GROUP_PATH, "/layers/group.toml");
  const mounts = imageMounts(exporter.mounts, paths);
  const at = (p: string) => mounts.find((m) => m.path === p);
  assert.equal(at("/workspace")?.source, imageWorkspace(paths));
  assert.equal(at("/layout-repo")?.source, layoutDirOf(paths));
  // A buildpack inside the project is shown where it is.
  assert.deepEqual(at("/Users/Ada/MyApp/my-buildpack"), {
    path: "/Users/Ada/MyApp/my-buildpack",
    writable: false,
  });
  // Anything beneath a root comes from beneath its host directory.
  assert.deepEqual(imageMounts([{ path: "/layers/generated", writable: true }], paths), [
    { path: "/layers/generated", writable: true, source: `${paths.layers}/generated` },
  ]);
});

Deno.test("the plan maps every path to the guest's view in one place (WSL: C:\\ -> /mnt/c)", () => {
  const d = "Ubuntu";
  const g = (p: string) => windowsToWsl(p, d)!;
  const state = "\\\\wsl.localhost\\Ubuntu\\home\\ann\\.local\\share\\locald\\projects\\app-1";
  const paths = Object.fromEntries(
    [
      "state",
      "layers",
      "platform",
      "cache",
      "buildpacks",
      "order",
      "analyzed",
      "group",
      "plan",
      "report",
      "processes",
      "lock",
      "buildRecord",
    ].map((k) => [k, `${state}\\${k}`]),
  ) as unknown as ProjectPaths;
  const lc = "\\\\wsl.localhost\\Ubuntu\\home\\ann\\.local\\share\\locald\\tools\\lc";
  const plan = createBuildPlan({
    projectDir: "C:\\Users\\ann\\app",
    paths,
    lifecycle: { root: lc, version: "0.21.17", phase: (p) => `${lc}\\lifecycle\\${p}` },
    platformApi: "0.15",
    ids: { uid: 1000, gid: 1000 },
    runImage: "locald.local/host:ubuntu-24.04-amd64",
    layoutDir: `${state}\\layout`,
    appImage: "locald.local/dev/app",
    buildpackDirs: ["C:\\bp"],
    hostEnv: { PATH: "/usr/bin:/bin" },
    logLevel: "info",
    color: false,
    guestPath: g,
  });
  assert.equal(plan.projectDir, "C:\\Users\\ann\\app", "headers keep the user's path");
  for (const s of plan.steps) {
    assert.equal(s.cwd, "/mnt/c/Users/ann/app");
    assert.match(s.argv[0], /^\/home\/ann\/\.local\/share\/locald\/tools\/lc\/lifecycle\/\w+$/);
    for (const [k, v] of Object.entries(s.env)) {
      assert.ok(!v.includes("\\"), `${s.name} ${k}=${v} has a Windows path`);
    }
    assert.equal(s.env.CNB_LAYERS_DIR, "/home/ann/.local/share/locald/projects/app-1/layers");
    assert.deepEqual(s.mounts.map((m) => m.path).slice(-1), ["/mnt/c/bp"]);
  }
});

Deno.test("a lifecycle inside the builder's image: phases at /cnb/lifecycle, nothing mounted for it", () => {
  const paths = pathsUnder("/s");
  const input: BuildInputs = {
    projectDir: "/p",
    paths,
    lifecycle: {
      root: "/home/a/lc",
      version: "0.21.17",
      phase: (p) => `/home/a/lc/lifecycle/${p}`,
    },
    platformApi: "0.13",
    ids: { uid: 1002, gid: 1000 },
    runImage: "r",
    layoutDir: "/s/layout",
    appImage: "a",
    buildpackDirs: [],
    hostEnv: {},
    logLevel: "info",
    color: false,
  };
  const host = createBuildPlan(input);
  assert.ok(host.steps[0].mounts.some((m) => m.path === "/home/a/lc"));
  const inImage = createBuildPlan({
    ...input,
    lifecycle: {
      root: "/cnb",
      version: "0.20.0",
      phase: (p) => `/cnb/lifecycle/${p}`,
      inImage: true,
    },
    buildpacksDir: "/cnb/buildpacks",
    orderPath: "/cnb/order.toml",
  });
  for (const s of inImage.steps) {
    assert.equal(s.argv[0], `/cnb/lifecycle/${s.name}`);
    assert.ok(!s.mounts.some((m) => m.path === "/cnb" || m.path.startsWith("/cnb/")));
    assert.equal(s.env.CNB_BUILDPACKS_DIR, "/cnb/buildpacks");
    assert.equal(s.env.CNB_USER_ID, "1002");
  }
});
