/**
 * Which command a command line names, and its flags: pure. Flags may come before the command
 * (`locald -C app exec -- make`, `locald --json doctor`) as well as after it; a command with
 * subcommands (`builder pull`) takes only the chosen subcommand's flags. Mistakes are usage
 * errors that name the nearest command, subcommand or flag.
 */
import { type FlagSpec, GLOBAL_FLAGS, parseArgs, type ParsedArgs, VERSION_FLAG } from "./args.ts";
import { COMMANDS, findCommand } from "./registry.ts";
import type { CommandSpec, SubcommandSpec } from "./context.ts";
import { nearest } from "./suggest.ts";
import { UsageError } from "../errors.ts";

export type Invocation =
  /** No command: main help (exit 0 when asked for with --help, else a usage error). */
  | { kind: "help"; asked: boolean }
  | {
    kind: "command";
    spec: CommandSpec;
    sub?: SubcommandSpec;
    args: ParsedArgs;
    /** Every -C given, in order: each relative one is relative to the one before (as git). */
    dirs: string[];
  };

export function parseInvocation(argv: string[]): Invocation {
  if (argv[0] === "--version" || argv[0] === "-V") {
    return parseInvocation(["version", ...argv.slice(1)]);
  }
  // The command is the first word that names one and has only its flags (and their values)
  // before it: `-C build build` is the build command run in the directory "build".
  let firstError: UsageError | undefined;
  for (let j = 0; j < argv.length; j++) {
    const word = argv[j];
    if (word === "--") break;
    if (word.startsWith("-") && word !== "-") continue;
    const spec = findCommand(word);
    if (!spec) continue;
    let before: ParsedArgs;
    try {
      before = parseArgs(argv.slice(0, j), spec.flags, spec.name);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      firstError ??= e;
      continue;
    }
    if (before.positionals.length) continue;
    return commandInvocation(spec, argv.slice(0, j), argv.slice(j + 1));
  }
  let g: ParsedArgs;
  try {
    g = parseArgs(argv, [VERSION_FLAG], "locald");
  } catch (e) {
    throw firstError ?? e;
  }
  if (g.positionals.length) throw unknownCommand(g.positionals[0]);
  if (g.flags.version) return parseInvocation(["version"]);
  return { kind: "help", asked: g.flags.help === true };
}

function unknownCommand(word: string): UsageError {
  const names = COMMANDS.map((c) => c.name);
  let suggestions = nearest(word, names);
  if (!suggestions.length) {
    // `locald ls`: a subcommand typed without its command.
    const subs = COMMANDS.flatMap((c) => (c.subcommands ?? []).map((s) => [c.name, s.name]));
    suggestions = subs.filter(([, s]) => s === word).map(([c, s]) => `${c} ${s}`);
  }
  return new UsageError(`unknown command "${word}"`, undefined, { suggestions, brief: true });
}

/** The first word that is not a flag or a flag's value (unknown flags are left for later). */
function firstOperand(argv: string[], flags: FlagSpec[]): string | undefined {
  const valued = new Set(
    [...flags, ...GLOBAL_FLAGS].filter((f) => f.kind !== "bool")
      .flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])]),
  );
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") return undefined;
    if (!a.startsWith("-") || a === "-") return a;
    if (valued.has(a)) i++;
  }
  return undefined;
}

function commandInvocation(spec: CommandSpec, before: string[], after: string[]): Invocation {
  const opts = { stopAtPositional: spec.stopAtPositional };
  let flags = spec.flags;
  let sub: SubcommandSpec | undefined;
  if (spec.subcommands) {
    const name = firstOperand(after, spec.flags);
    if (name !== undefined) {
      sub = spec.subcommands.find((s) => s.name === name);
      if (!sub) {
        const names = spec.subcommands.map((s) => s.name);
        throw new UsageError(
          `unknown subcommand "${name}" (${names.join(", ")})`,
          spec.name,
          { suggestions: nearest(name, names), brief: true },
        );
      }
      flags = sub.flags;
    }
  }
  const context = sub ? `${spec.name} ${sub.name}` : spec.name;
  const pre = parseArgs(before, flags, context);
  const post = parseArgs(after, flags, context, opts);
  const args = parseArgs([...before, ...after], flags, context, opts);
  const dirs = [pre.flags.dir, post.flags.dir].filter((d): d is string => typeof d === "string");
  return { kind: "command", spec, sub, args, dirs };
}
