/**
 * `locald completions`: the scripts load in real bash, zsh and fish and complete commands,
 * flags and flag values. PowerShell is not installable here: its script is only checked for
 * content, not run (what that cannot prove: that pwsh accepts it).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { COMMANDS, type CommandSpec } from "../../src/cli/registry.ts";
import { completionModel, completionScript } from "../../src/cli/commands/completions.ts";

const repo = fromFileUrl(new URL("../../", import.meta.url));
const capture = fromFileUrl(new URL("./zsh_capture.zsh", import.meta.url));

async function sh(cmd: string, args: string[], env: Record<string, string> = {}) {
  const o = await new Deno.Command(cmd, { args, env, stdin: "null", cwd: repo }).output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

async function locald(...args: string[]) {
  return await sh(Deno.execPath(), ["run", "-A", join(repo, "main.ts"), ...args]);
}

let dir: string;
const scripts: Record<string, string> = {};

Deno.test({
  name: "completions: setup (generate the scripts with the real CLI)",
  fn: async () => {
    dir = await Deno.makeTempDir({ prefix: "locald-completions-" });
    for (const shell of ["bash", "zsh", "fish", "pwsh"]) {
      const r = await locald("completions", shell);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
      scripts[shell] = join(dir, `locald.${shell}`);
      await Deno.writeTextFile(scripts[shell], r.stdout);
    }
  },
});

/** What bash's completion function offers for the words typed so far. */
async function bashComplete(script: string, words: string[]): Promise<string[]> {
  const body = `source "$1" || exit 9
shift
COMP_WORDS=("$@"); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); COMPREPLY=()
"$(complete -p locald | sed -E 's/.*-F ([^ ]+) locald$/\\1/')"
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = await sh("bash", ["-c", body, "bash", script, ...words]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split("\n").filter(Boolean);
}

Deno.test("completions bash: loads cleanly and completes commands, flags and values", async () => {
  const load = await sh("bash", ["-c", `source "$1" && complete -p locald`, "bash", scripts.bash]);
  assert.equal(load.code, 0);
  assert.equal(load.stderr, "", "sourcing the script printed errors");
  assert.match(load.stdout, /complete -F \S+ locald/);

  const all = await bashComplete(scripts.bash, ["locald", ""]);
  for (const c of COMMANDS) assert.ok(all.includes(c.name), `${c.name} missing from ${all}`);
  assert.deepEqual(await bashComplete(scripts.bash, ["locald", "bu"]), ["build", "builder"]);
  assert.deepEqual(await bashComplete(scripts.bash, ["locald", "build", "--d"]), [
    "--dry-run",
    "--dir",
  ]);
  assert.deepEqual(await bashComplete(scripts.bash, ["locald", "env", "--format", "j"]), [
    "json",
  ]);
  assert.deepEqual(
    (await bashComplete(scripts.bash, ["locald", "completions", ""])).sort(),
    ["bash", "fish", "pwsh", "zsh"],
  );
  // -C completes directories only (relative to the shell's cwd, the repository here).
  const dirs = await bashComplete(scripts.bash, ["locald", "build", "-C", "sr"]);
  assert.deepEqual(dirs, ["src"]);
  // After `exec --` the next word is a command on PATH.
  assert.ok((await bashComplete(scripts.bash, ["locald", "exec", "--", "bas"])).includes("bash"));
});

Deno.test("completions bash: a command added to the table is completed with its flags", async () => {
  const extra: CommandSpec = {
    name: "frobnicate",
    summary: "a command another helper adds later",
    usage: ["locald frobnicate [--widget W]"],
    flags: [{ name: "widget", kind: "string", value: "W", help: "the widget", choices: ["a"] }],
    load: () => Promise.reject(new Error("not loaded by completion")),
  };
  const path = join(dir, "extra.bash");
  await Deno.writeTextFile(path, completionScript("bash", completionModel([...COMMANDS, extra])));
  assert.ok((await bashComplete(path, ["locald", "fro"])).includes("frobnicate"));
  assert.deepEqual(await bashComplete(path, ["locald", "frobnicate", "--w"]), ["--widget"]);
  assert.deepEqual(await bashComplete(path, ["locald", "frobnicate", "--widget", ""]), ["a"]);
});

async function zshComplete(mode: "source" | "fpath", target: string, line: string) {
  const hits = join(dir, `zsh-hits-${crypto.randomUUID()}`);
  const r = await sh("zsh", ["-f", capture, mode, target, line, hits]);
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

  const all = await zshComplete("source", scripts.zsh, "locald ");
  for (const c of COMMANDS) assert.ok(all.includes(c.name), `${c.name} missing from ${all}`);
  assert.deepEqual(await zshComplete("source", scripts.zsh, "locald bu"), ["build", "builder"]);
  assert.deepEqual(await zshComplete("source", scripts.zsh, "locald build --d"), [
    "--dir",
    "--dry-run",
  ]);
  assert.deepEqual(await zshComplete("source", scripts.zsh, "locald env --format "), [
    "direnv",
    "dotenv",
    "fish",
    "json",
    "pwsh",
    "sh",
  ]);
  assert.ok((await zshComplete("source", scripts.zsh, "locald exec -- bas")).includes("bash"));

  // The usual install: the script saved as _locald in a directory on $fpath.
  const fpath = join(dir, "zfunc");
  await Deno.mkdir(fpath, { recursive: true });
  await Deno.copyFile(scripts.zsh, join(fpath, "_locald"));
  assert.deepEqual(await zshComplete("fpath", fpath, "locald comp"), ["completions"]);
  assert.deepEqual(await zshComplete("fpath", fpath, "locald completions f"), ["fish"]);
});

async function fishComplete(line: string): Promise<string[]> {
  const r = await sh(
    "fish",
    ["--no-config", "-c", `source $argv[1]; complete -C $argv[2]`, "--"]
      .concat([scripts.fish, line]),
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  return r.stdout.split("\n").filter(Boolean).map((l) => l.split("\t")[0]);
}

Deno.test("completions fish: loads cleanly and completes commands, flags and values", async () => {
  const load = await sh("fish", ["--no-config", "-c", `source $argv[1]`, scripts.fish]);
  assert.equal(load.code, 0, load.stderr);
  assert.equal(load.stderr, "", "sourcing the script printed errors");
  const all = await fishComplete("locald ");
  for (const c of COMMANDS) assert.ok(all.includes(c.name), `${c.name} missing from ${all}`);
  assert.deepEqual(await fishComplete("locald bu"), ["build", "builder"]);
  assert.deepEqual((await fishComplete("locald build --d")).sort(), ["--dir", "--dry-run"]);
  assert.deepEqual((await fishComplete("locald env --format ")).sort(), [
    "direnv",
    "dotenv",
    "fish",
    "json",
    "pwsh",
    "sh",
  ]);
  assert.deepEqual((await fishComplete("locald completions ")).sort(), [
    "bash",
    "fish",
    "pwsh",
    "zsh",
  ]);
  assert.ok((await fishComplete("locald exec -- bas")).includes("bash"));
});

Deno.test("completions pwsh: registers a native completer holding every command", async () => {
  // No PowerShell on these machines: this proves the content, not that pwsh runs it.
  const text = await Deno.readTextFile(scripts.pwsh);
  assert.match(text, /Register-ArgumentCompleter -Native -CommandName 'locald', 'locald.exe'/);
  const json = text.slice(text.indexOf("@'\n") + 3, text.indexOf("\n'@"));
  const table = JSON.parse(json) as { name: string; flags: { words: string[] }[] }[];
  assert.deepEqual(table.map((c) => c.name), COMMANDS.map((c) => c.name));
  const env = table.find((c) => c.name === "env")!;
  assert.ok(env.flags.some((f) => f.words.includes("--format")));
});

Deno.test("completions: an unknown shell is a usage error naming the supported ones", async () => {
  const r = await locald("completions", "tcsh");
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(r.stderr.split("\n")[0], /no completion for "tcsh" \(supported: bash, zsh, fish/);
});

Deno.test({
  name: "completions: teardown",
  fn: async () => {
    await Deno.remove(dir, { recursive: true });
  },
});
