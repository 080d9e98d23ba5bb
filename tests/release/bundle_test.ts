/**
 * The compiled program must be self-contained: every module, template and checksum reached
 * through imports, nothing read from the repository at run time, and nothing assuming
 * `Deno.execPath()` is `deno` (in a compiled binary it is locald itself). Compiled binaries
 * cannot be produced here (no denort), so `deno bundle` builds the same module graph into one
 * file, which then runs from a directory outside the repository with an empty DENO_DIR and
 * --cached-only: any import left unresolved, any npm: package not inlined, any read relative
 * to the source tree fails there.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { COMMANDS } from "../../src/cli/registry.ts";
import { VERSION } from "../../src/version.ts";
import { missingCommandModules } from "./graph.ts";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const dec = new TextDecoder();

const missing = missingCommandModules();
let outside: string;
let bundle: string;

async function runBundle(args: string[], cwd = outside, extraEnv: Record<string, string> = {}) {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-config", "--no-lock", "--cached-only", bundle, ...args],
    cwd,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: outside,
      DENO_DIR: join(outside, "deno-dir"),
      ...extraEnv,
    },
    stdin: "null",
  }).output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

Deno.test("bundle: main.ts bundles into one file", async () => {
  outside = await Deno.makeTempDir({ prefix: "locald-bundle-" });
  assert.ok(!outside.startsWith(repo), "the temp dir must be outside the repository");
  bundle = join(outside, "locald.js");
  // Commands whose modules do not exist yet stay external (they would fail when run); the
  // ignored test below names them until they land.
  const externals = missing.flatMap((
    m,
  ) => ["--external", `*/${m.path.split("/").slice(-2).join("/")}`]);
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "deno", ...externals, "-o", bundle, "main.ts"],
    cwd: repo,
  }).output();
  assert.equal(o.code, 0, dec.decode(o.stderr));
  const text = await Deno.readTextFile(bundle);
  assert.ok(!/from\s+["']npm:/.test(text), "an npm: import was left unbundled");
});

Deno.test("bundle: --help, version and completions run outside the repository", async () => {
  const help = await runBundle(["--help"]);
  assert.equal(help.code, 0, help.stderr);
  for (const c of COMMANDS) assert.match(help.stdout, new RegExp(`^  ${c.name} `, "m"));

  const version = await runBundle(["version"]);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout.split("\n")[0], `locald ${VERSION}`);
  const json = JSON.parse((await runBundle(["version", "--json"])).stdout);
  assert.equal(json.version, VERSION);
  assert.ok(json.tools.lifecycle, "the pinned tool versions are embedded");

  const completions = await runBundle(["completions", "bash"]);
  assert.equal(completions.code, 0, completions.stderr);
  const script = join(outside, "locald.bash");
  await Deno.writeTextFile(script, completions.stdout);
  const o = await new Deno.Command("bash", {
    args: [
      "-c",
      `source "$1"; COMP_WORDS=(locald vers); COMP_CWORD=1; _locald_complete; echo "\${COMPREPLY[*]}"`,
      "bash",
      script,
    ],
  }).output();
  assert.equal(dec.decode(o.stdout).trim(), "version");
});

Deno.test("bundle: build and env on the example app, the lifecycle fetched from a mirror", async () => {
  // Built with the bundle itself, then exported for a shell: the path a compiled locald
  // takes on first use (download, verify, install the lifecycle; build; env).
  const { startMirror } = await import("../support/mirror.ts");
  const { lifecycleMirrorDir } = await import("../support/tools.ts");
  const m = await startMirror(lifecycleMirrorDir());
  try {
    const app = join(outside, "hello");
    await new Deno.Command("cp", {
      args: ["-r", join(repo, "examples"), join(outside, "examples")],
    })
      .output();
    const extra = { LOCALD_LIFECYCLE_MIRROR: m.url, LOCALD_HOME: join(outside, "home") };
    const appDir = join(outside, "examples", "hello");
    const build = await runBundle(["build", "-C", appDir], outside, extra);
    assert.equal(build.code, 0, build.stderr);
    const env = await runBundle(["env", "-C", appDir, "--format", "json"], outside, extra);
    assert.equal(env.code, 0, env.stderr);
    const vars = JSON.parse(env.stdout);
    assert.match(vars.PATH, /examples_hello-toolchain\/toolchain\/bin:/);
    assert.match(vars.HELLO_HOME, /toolchain$/);
    void app;
  } finally {
    await m.close();
  }
});

Deno.test("bundle: teardown", async () => {
  await Deno.remove(outside, { recursive: true });
});

Deno.test("source: nothing assumes Deno.execPath() is deno or reads repository files", async () => {
  // In a compiled binary Deno.execPath() is locald; `Deno.execPath() run ...` would re-run
  // locald with "run" as its command. A use that means "this locald binary" is marked on its
  // line with `// execPath: locald itself`.
  const offenders: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory) await walk(p);
      else if (/\.tsx?$/.test(e.name) && !/_test\.tsx?$|\.test\.tsx?$/.test(e.name)) {
        const lines = (await Deno.readTextFile(p)).split("\n");
        lines.forEach((line, i) => {
          const where = `${relative(repo, p)}:${i + 1}: ${line.trim()}`;
          if (/Deno\.execPath\(\)/.test(line) && !line.includes("execPath: locald itself")) {
            offenders.push(where);
          }
          // Files next to the source do not exist in a compiled binary's file system.
          if (/import\.meta\.(dirname|filename)|new URL\([^)]*import\.meta\.url/.test(line)) {
            offenders.push(where);
          }
        });
      }
    }
  };
  await walk(join(repo, "src"));
  assert.deepEqual(offenders, []);
  const main = await Deno.readTextFile(join(repo, "main.ts"));
  assert.ok(!main.includes("Deno.execPath()"));
});
