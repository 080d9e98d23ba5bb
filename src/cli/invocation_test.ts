import assert from "node:assert/strict";
import { parseInvocation } from "./invocation.ts";
import { COMMANDS, TABLE } from "./registry.ts";
import { editDistance, nearest } from "./suggest.ts";
import { commandHelp, usageError } from "./help.ts";
import { UsageError } from "../errors.ts";

function command(argv: string[]) {
  const inv = parseInvocation(argv);
  assert.equal(inv.kind, "command", argv.join(" "));
  if (inv.kind !== "command") throw new Error("unreachable");
  return inv;
}

function usage(argv: string[]): UsageError {
  try {
    parseInvocation(argv);
  } catch (e) {
    assert.ok(e instanceof UsageError, String(e));
    return e;
  }
  assert.fail(`${argv.join(" ")} parsed`);
}

Deno.test("global flags before the command: -C, --help, --version, and the command's own", () => {
  const a = command(["-C", "app", "exec", "--", "make", "-C", "x"]);
  assert.equal(a.spec.name, "exec");
  assert.deepEqual(a.dirs, ["app"]);
  assert.deepEqual(a.args.rest, ["make", "-C", "x"]);
  assert.deepEqual(command(["--dir=app", "env"]).dirs, ["app"]);
  assert.deepEqual(command(["-Capp", "env"]).dirs, ["app"]);
  // Both: the second is relative to the first, as with git -C.
  assert.deepEqual(command(["-C", "a", "exec", "-C", "b", "--", "true"]).dirs, ["a", "b"]);
  // A directory named like a command is the flag's value, not the command.
  const b = command(["-C", "build", "build", "--force"]);
  assert.equal(b.spec.name, "build");
  assert.deepEqual(b.dirs, ["build"]);
  assert.equal(b.args.flags.force, true);
  // A flag of the command before it, with its value.
  const e = command(["--format", "json", "env"]);
  assert.equal(e.spec.name, "env");
  assert.equal(e.args.flags.format, "json");
  assert.equal(command(["--json", "doctor"]).args.flags.json, true);
  assert.equal(command(["--help", "build"]).args.flags.help, true);
  assert.equal(command(["--version"]).spec.name, "version");
  assert.equal(command(["-V", "--json"]).args.flags.json, true);
  assert.deepEqual(parseInvocation(["-C", "app", "--help"]), { kind: "help", asked: true });
  assert.deepEqual(parseInvocation([]), { kind: "help", asked: false });
});

Deno.test("subcommands: chosen by the first positional, each with only its own flags", () => {
  const p = command(["builder", "pull", "heroku/builder:24", "--platform", "linux/arm64"]);
  assert.equal(p.sub?.name, "pull");
  assert.deepEqual(p.args.positionals, ["pull", "heroku/builder:24"]);
  assert.equal(command(["--json", "builder", "ls"]).args.flags.json, true);
  const wrong = usage(["builder", "ls", "--platform", "linux/amd64"]);
  assert.equal(wrong.command, "builder ls");
  assert.match(wrong.message, /unknown flag --platform/);
  const sub = usage(["cache", "prnue"]);
  assert.deepEqual(sub.suggestions, ["prune"]);
  assert.ok(sub.brief);
  assert.deepEqual(usage(["vm", "statsu"]).suggestions, ["status"]);
  assert.equal(command(["vm", "start", "--cpus", "2"]).args.flags.cpus, "2");
  assert.match(usage(["vm", "stop", "--cpus", "2"]).message, /unknown flag --cpus/);
});

Deno.test("mistakes name the nearest command, subcommand, flag or value", () => {
  assert.deepEqual(usage(["biuld"]).suggestions, ["build"]);
  assert.deepEqual(usage(["exce", "--", "true"]).suggestions, ["exec"]);
  assert.deepEqual(usage(["ls"]).suggestions, ["builder ls", "cache ls"]);
  assert.deepEqual(usage(["zzzzzz"]).suggestions, []);
  assert.deepEqual(usage(["build", "--forse"]).suggestions, ["--force"]);
  assert.deepEqual(usage(["build", "-force"]).suggestions, ["--force"]);
  assert.deepEqual(usage(["build", "--pub", "x"]).suggestions, ["--publish"]);
  assert.deepEqual(usage(["--forse", "build"]).suggestions, ["--force"]);
  const v = usage(["build", "--pull-policy", "alway"]);
  assert.equal(
    v.message,
    '--pull-policy takes "always", "if-not-present" or "never" (got "alway")',
  );
  assert.deepEqual(v.suggestions, ["always"]);
  assert.match(usage(["exec", "--network", "off", "--", "true"]).message, /"none" or "default"/);
  assert.deepEqual(usage(["env", "--format", "jsno"]).suggestions, ["json"]);
  assert.equal(editDistance("biuld", "build"), 1);
  assert.deepEqual(nearest("--json", ["--json"]), ["--json"]);
});

Deno.test("an unknown name's answer is short: message, nearest match, where to look", () => {
  for (
    const argv of [["biuld"], ["build", "--forse"], ["builder", "pul"], ["cache", "prune", "--al"]]
  ) {
    const text = usageError(usage(argv), TABLE);
    const lines = text.split("\n");
    assert.ok(lines.length <= 6, `${argv.join(" ")}: ${lines.length} lines:\n${text}`);
    assert.match(text, /did you mean `/);
    assert.doesNotMatch(text, /Usage:|Flags:/);
  }
});

Deno.test("every usage line names every flag of its command or subcommand", () => {
  const flagged = (usage: string[], f: { name: string; short?: string }) =>
    usage.some((u) =>
      u.includes(`--${f.name}`) || (f.short !== undefined && u.includes(`-${f.short} `))
    );
  for (const c of COMMANDS) {
    for (const s of c.subcommands ?? []) {
      for (const f of s.flags) {
        if (f.name === "dir") continue;
        assert.ok(flagged(s.usage, f), `${c.name} ${s.name}: usage misses --${f.name}`);
      }
      assert.match(commandHelp(c, s), new RegExp(`^locald ${c.name} ${s.name}: `));
    }
    for (const f of c.flags) {
      assert.ok(flagged(c.usage, f), `${c.name}: usage misses --${f.name}`);
    }
  }
});
