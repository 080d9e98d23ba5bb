/**
 * `locald completions`: the scripts load in real bash, zsh and fish and complete commands,
 * subcommands, flags, fixed flag values, the built project's process types (`run`), the
 * builders pulled (`builder inspect`, `-B`), and all of it after a leading `-C DIR`. bash runs
 * with readline in a pseudo-terminal (bash_capture.zsh), zsh with its completion system in one
 * (zsh_capture.zsh), fish through `complete -C`. The project is really built and the builder
 * really pulled from a loopback registry; `locald` on PATH is this checkout.
 * PowerShell is not installable here: its script is only checked for content, not run (what
 * that cannot prove: that pwsh accepts it).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { COMMANDS } from "../../src/cli/registry.ts";
import type { CommandSpec } from "../../src/cli/context.ts";
import { completionModel, completionScript } from "../../src/cli/commands/completions.ts";
import { REPO, runLocald, type TestEnv, testEnv } from "../support/locald.ts";
import { copyApp, FIXTURE_APP, FIXTURE_BP } from "../support/fixture.ts";
import { lifecycleDir } from "../support/tools.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { pushBuilder } from "../support/builder_image.ts";
import { hostPlatform } from "../../src/oci/manifest.ts";

const zshCapture = fromFileUrl(new URL("./zsh_capture.zsh", import.meta.url));
const bashCapture = fromFileUrl(new URL("./bash_capture.zsh", import.meta.url));

let t: TestEnv;
let reg: TestRegistry;
/** The temporary root: the shells start here, so `-C 'My App'` is relative to it. */
let cwd: string;
/** A built project with a space and capitals in its name. */
let app: string;
let builderRef: string;
const scripts: Record<string, string> = {};

/**
 * A pty driver run: once more if it did not finish (under a fully loaded machine the driver
 * itself, not the completion, has been seen to stop early); the second run's result counts.
 */
async function capture(args: string[], hits: string, dir?: string) {
  const first = await sh("zsh", args, dir);
  if (first.code === 0) return first;
  for (const f of [hits, `${hits}.line`]) await Deno.remove(f).catch(() => {});
  return await sh("zsh", args, dir);
}

async function sh(cmd: string, args: string[], dir = cwd) {
  const o = await new Deno.Command(cmd, {
    args,
    env: t.env,
    clearEnv: true,
    stdin: "null",
    cwd: dir,
  })
    .output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

Deno.test({
  name: "completions: setup (a built project, a pulled builder, the scripts from the real CLI)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    t = await testEnv({ LOCALD_LIFECYCLE_DIR: lifecycleDir() });
    cwd = t.root;
    // `locald` on PATH runs this checkout, as an installed binary would be found.
    const bin = join(t.root, "bin");
    await Deno.mkdir(bin);
    await Deno.writeTextFile(
      join(bin, "locald"),
      `#!/bin/sh\nexec '${Deno.execPath()}' run -A --quiet --config '${REPO}/deno.json' ` +
        `'${REPO}/main.ts' "$@"\n`,
    );
    await Deno.chmod(join(bin, "locald"), 0o755);
    t.env.PATH = `${bin}:${t.env.PATH}`;
    app = await copyApp(FIXTURE_APP, t.root, "My App");
    await Deno.mkdir(join(app, "sub dir"));
    const b = await runLocald(["build", "-C", app, "-b", FIXTURE_BP], { env: t.env });
    assert.equal(b.code, 0, b.stderr);
    reg = await startRegistry();
    const arch = hostPlatform().architecture;
    await pushBuilder(reg, "test/builder", "1", {
      architecture: arch,
      otherArchitecture: arch === "amd64" ? "arm64" : "amd64",
    });
    builderRef = `${reg.host}/test/builder:1`;
    const p = await runLocald(["builder", "pull", builderRef], { env: t.env });
    assert.equal(p.code, 0, p.stderr);
    for (const shell of ["bash", "zsh", "fish", "pwsh"]) {
      const r = await runLocald(["completions", shell], { env: t.env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
      scripts[shell] = join(t.root, `locald.${shell}`);
      await Deno.writeTextFile(scripts[shell], r.stdout);
    }
  },
});

/** What bash's completion function offers, and the line readline leaves, after TAB. */
async function bashComplete(line: string, opts: { script?: string; dir?: string } = {}) {
  const hits = join(t.root, `bash-hits-${crypto.randomUUID()}`);
  const r = await capture(
    ["-f", bashCapture, opts.script ?? scripts.bash, line, hits],
    hits,
    opts.dir,
  );
  assert.equal(r.code, 0, `bash capture did not finish: ${r.stderr}`);
  const offered = (await Deno.readTextFile(hits)).split("\n").filter((l) => l && l !== "END");
  const after = (await Deno.readTextFile(`${hits}.line`)).replace(/\n$/, "");
  return { offered, line: after };
}
const bash = async (line: string, dir?: string) => (await bashComplete(line, { dir })).offered;

/** The checks every shell must pass; `complete` returns the candidates for a typed line. */
async function common(complete: (line: string, dir?: string) => Promise<string[]>) {
  const sorted = async (line: string, dir?: string) => (await complete(line, dir)).sort();
  const all = await complete("locald ");
  for (const c of COMMANDS) assert.ok(all.includes(c.name), `${c.name} missing from ${all}`);
  assert.ok(!all.includes("__complete"), "the hidden command is offered");
  assert.deepEqual(await sorted("locald bu"), ["build", "builder"]);
  assert.deepEqual(await sorted("locald build --d"), ["--default-process", "--dir", "--dry-run"]);
  // Subcommands, and each subcommand's own flags.
  assert.deepEqual(await sorted("locald builder "), ["inspect", "ls", "pull", "rm"]);
  assert.deepEqual(await sorted("locald cache "), ["ls", "prune"]);
  assert.deepEqual(await sorted("locald vm "), ["rm", "shell", "start", "status", "stop"]);
  assert.deepEqual(await sorted("locald builder pull --p"), ["--platform", "--pull-policy"]);
  assert.deepEqual(await sorted("locald cache prune --a"), ["--all"]);
  // Fixed flag values.
  assert.deepEqual(await sorted("locald build --pull-policy "), [
    "always",
    "if-not-present",
    "never",
  ]);
  assert.deepEqual(await sorted("locald builder inspect --pull-policy n"), ["never"]);
  assert.deepEqual(await sorted("locald exec --network "), ["default", "none"]);
  assert.deepEqual(await sorted("locald env --format "), [
    "direnv",
    "dotenv",
    "fish",
    "json",
    "pwsh",
    "sh",
  ]);
  assert.deepEqual(await sorted("locald completions "), ["bash", "fish", "pwsh", "zsh"]);
  // The built project's process types, found through -C (before or after the command) or
  // from a subdirectory, as `locald run` finds it.
  assert.deepEqual(await sorted("locald -C 'My App' run "), ["web", "worker"]);
  assert.deepEqual(await sorted("locald run -C My\\ App wor"), ["worker"]);
  assert.deepEqual(await sorted("locald run ", join(app, "sub dir")), ["web", "worker"]);
  // (zsh offers flags when nothing else fits.)
  assert.deepEqual(
    (await sorted("locald run ")).filter((w) => !w.startsWith("-")),
    [],
    "no project here: no process types",
  );
  // Builders pulled so far.
  assert.deepEqual(await complete(`locald builder inspect ${reg.host}/`), [builderRef]);
  assert.deepEqual(await complete(`locald build -B ${reg.host}/te`), [builderRef]);
  // Everything after a leading -C DIR.
  assert.deepEqual(await sorted("locald -C 'My App' bu"), ["build", "builder"]);
  assert.deepEqual(await sorted("locald -C 'My App' build --d"), [
    "--default-process",
    "--dir",
    "--dry-run",
  ]);
  assert.deepEqual(await sorted("locald -C 'My App' builder "), ["inspect", "ls", "pull", "rm"]);
  // After exec's `--`, a command on PATH.
  assert.ok((await complete("locald exec -- bas")).includes("bash"));
}

Deno.test("completions bash: loads cleanly, completes through readline", async () => {
  const load = await sh("bash", ["-c", `source "$1" && complete -p locald`, "bash", scripts.bash]);
  assert.equal(load.code, 0);
  assert.equal(load.stderr, "", "sourcing the script printed errors");
  assert.match(load.stdout, /complete -F \S+ locald/);
  // bash splits at COMP_WORDBREAKS (":" "="): it offers what follows the last one typed.
  const typed = `${reg.host}/te`;
  await common(async (line, dir) => {
    const got = await bash(line, dir);
    if (line.includes(reg.host)) return got.length ? [builderRef] : [];
    return got;
  });
  const inspect = await bashComplete(`locald builder inspect ${typed}`);
  assert.deepEqual(inspect.offered, [builderRef.slice(typed.lastIndexOf(":") + 1)]);
  assert.equal(inspect.line, `locald builder inspect ${builderRef} `);
  const colon = await bashComplete(`locald build -B ${builderRef.slice(0, -1)}`);
  assert.equal(colon.line, `locald build -B ${builderRef} `);
  const eq = await bashComplete("locald build --pull-policy=if");
  assert.equal(eq.line, "locald build --pull-policy=if-not-present ");
  const run = await bashComplete("locald -C My\\ App run wo");
  assert.equal(run.line, "locald -C My\\ App run worker ");
  // -C completes directories only, with the path as typed.
  assert.deepEqual(await bash("locald -C 'My A"), ["My App"]);
  assert.deepEqual(await bash("locald build -C My"), ["My App"]);
});

Deno.test("completions bash: a command added to the table is completed with its flags", async () => {
  const extra: CommandSpec = {
    name: "frobnicate",
    summary: "a command another helper adds later",
    usage: ["locald frobnicate [--widget W]"],
    flags: [{ name: "widget", kind: "string", value: "W", help: "the widget", choices: ["a"] }],
    load: () => Promise.reject(new Error("not loaded by completion")),
  };
  const script = join(t.root, "extra.bash");
  await Deno.writeTextFile(script, completionScript("bash", completionModel([...COMMANDS, extra])));
  const c = (line: string) => bashComplete(line, { script });
  assert.ok((await c("locald fro")).offered.includes("frobnicate"));
  assert.deepEqual((await c("locald frobnicate --w")).offered, ["--widget"]);
  assert.deepEqual((await c("locald frobnicate --widget ")).offered, ["a"]);
});

async function zshComplete(mode: "source" | "fpath", target: string, line: string, dir?: string) {
  const hits = join(t.root, `zsh-hits-${crypto.randomUUID()}`);
  const r = await capture(["-f", zshCapture, mode, target, line, hits], hits, dir);
  assert.equal(r.code, 0, `zsh capture did not finish: ${r.stderr}`);
  const out = (await Deno.readTextFile(hits)).split("\n").filter((l) => l && l !== "END");
  return [...new Set(out)].sort();
}

Deno.test("completions zsh: loads cleanly (sourced and autoloaded) and completes", async () => {
  const load = await sh("zsh", [
    "-f",
    "-c",
    `autoload -U compinit && compinit -u -D && source "$1" && print -r -- $_comps[locald]`,
    "zsh",
    scripts.zsh,
  ]);
  assert.equal(load.code, 0, load.stderr);
  assert.equal(load.stderr, "", "sourcing the script printed errors");
  assert.equal(load.stdout.trim(), "_locald");
  await common((line, dir) => zshComplete("source", scripts.zsh, line, dir));
  assert.deepEqual(await zshComplete("source", scripts.zsh, "locald -C 'My A"), ["My App"]);

  // The usual install: the script saved as _locald in a directory on $fpath.
  const fpath = join(t.root, "zfunc");
  await Deno.mkdir(fpath, { recursive: true });
  await Deno.copyFile(scripts.zsh, join(fpath, "_locald"));
  assert.deepEqual(await zshComplete("fpath", fpath, "locald comp"), ["completions"]);
  assert.deepEqual(await zshComplete("fpath", fpath, "locald completions f"), ["fish"]);
  assert.deepEqual(await zshComplete("fpath", fpath, "locald -C 'My App' run w"), [
    "web",
    "worker",
  ]);
});

async function fishComplete(line: string, dir?: string): Promise<string[]> {
  const r = await sh(
    "fish",
    ["--no-config", "-c", `source $argv[1]; complete -C $argv[2]`, "--", scripts.fish, line],
    dir,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  return r.stdout.split("\n").filter(Boolean).map((l) => l.split("\t")[0]);
}

Deno.test("completions fish: loads cleanly and completes", async () => {
  const load = await sh("fish", ["--no-config", "-c", `source $argv[1]`, scripts.fish]);
  assert.equal(load.code, 0, load.stderr);
  assert.equal(load.stderr, "", "sourcing the script printed errors");
  await common(fishComplete);
  assert.deepEqual(await fishComplete("locald -C 'My A"), ["My App/"]);
  // exec's own flags stop at its command: what follows is that command's.
  assert.ok(!(await fishComplete("locald exec ls --")).includes("--sandbox"));
});

Deno.test("completions pwsh: registers a native completer holding every command", async () => {
  // No PowerShell on these machines: this proves the content, not that pwsh runs it.
  const text = await Deno.readTextFile(scripts.pwsh);
  assert.match(text, /Register-ArgumentCompleter -Native -CommandName 'locald', 'locald.exe'/);
  const json = text.slice(text.indexOf("@'\n") + 3, text.indexOf("\n'@"));
  const table = JSON.parse(json) as {
    global: { words: string[] }[];
    commands: {
      name: string;
      source: string;
      flags: { words: string[]; choices: string[]; source: string }[];
      subcommands: { name: string; source: string }[];
    }[];
  };
  assert.deepEqual(table.commands.map((c) => c.name), COMMANDS.map((c) => c.name));
  assert.ok(table.global.some((f) => f.words.includes("-C")));
  const env = table.commands.find((c) => c.name === "env")!;
  assert.ok(env.flags.some((f) => f.words.includes("--format")));
  const build = table.commands.find((c) => c.name === "build")!;
  assert.deepEqual(build.flags.find((f) => f.words.includes("--network"))!.choices, [
    "none",
    "default",
  ]);
  assert.equal(build.flags.find((f) => f.words.includes("-B"))!.source, "builders");
  assert.equal(table.commands.find((c) => c.name === "run")!.source, "processes");
  const builder = table.commands.find((c) => c.name === "builder")!;
  assert.equal(builder.subcommands.find((s) => s.name === "inspect")!.source, "builders");
  assert.match(text, /& \$before\[0\] @a/, "asks locald __complete");
});

Deno.test("completions: __complete prints nothing where there is nothing to offer", async () => {
  for (const args of [["__complete", "processes", "-C", "/nonexistent"], ["__complete", "nope"]]) {
    const r = await runLocald(args, { env: t.env, cwd });
    assert.equal(r.stdout, "", args.join(" "));
  }
  const r = await runLocald(["__complete", "processes"], { env: t.env, cwd: app });
  assert.equal(r.stdout, "web\nworker\n");
  const help = await runLocald(["--help"], { env: t.env });
  assert.doesNotMatch(help.stdout, /__complete/);
});

Deno.test("completions: an unknown shell is a usage error naming the supported ones", async () => {
  const r = await runLocald(["completions", "tcsh"], { env: t.env });
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(r.stderr.split("\n")[0], /no completion for "tcsh" \(supported: bash, zsh, fish/);
});

Deno.test({
  name: "completions: teardown",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await reg.stop();
    await t.cleanup();
  },
});
