/**
 * `locald completions SHELL`: a completion script generated from the command table at run
 * time, so a command or flag added to src/cli/registry.ts is completed without touching this
 * file. The scripts hold plain data (names, flags, value kinds); each shell's own machinery
 * does the matching. What only this machine knows (the built project's process types, the
 * builders pulled) comes from `locald __complete`, with the -C directories typed so far.
 */
import type { CommandContext, CommandSpec, SubcommandSpec } from "../registry.ts";
import { COMMANDS } from "../registry.ts";
import { type FlagSpec, GLOBAL_FLAGS } from "../args.ts";
import { UsageError } from "../../errors.ts";
import { VERSION } from "../../version.ts";
import { shellQuote } from "../../util/shell.ts";

export const SHELLS = ["bash", "zsh", "fish", "pwsh"] as const;
export type Shell = (typeof SHELLS)[number];

/** Candidates only `locald __complete SOURCE` knows. */
export type Dynamic = "processes" | "builders";

/** How the value of a flag (or an operand) is completed. */
export type ValueKind =
  | { kind: "dir" }
  | { kind: "file" }
  | { kind: "command" }
  | { kind: "choices"; choices: string[] }
  | { kind: "dynamic"; source: Dynamic }
  | { kind: "none"; label: string };

export interface CompletionFlag {
  long: string;
  short?: string;
  help: string;
  repeatable: boolean;
  /** Absent for boolean flags. */
  value?: ValueKind;
}

/** A command, or one of its subcommands. */
export interface CompletionContext {
  name: string;
  summary: string;
  flags: CompletionFlag[];
  /** How its operands (positional arguments) are completed. */
  operand?: ValueKind;
  /**
   * The command line after the first operand or `--` belongs to something else: "command"
   * (exec: a command and its arguments), "files" (run: the process's arguments).
   */
  passthrough?: "command" | "files";
}

export interface CompletionCommand extends CompletionContext {
  subcommands: CompletionContext[];
}

export interface CompletionModel {
  /** Flags that may come before the command. */
  global: CompletionFlag[];
  commands: CompletionCommand[];
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

const BUILDERS: ValueKind = { kind: "dynamic", source: "builders" };

/** Values the table does not spell out: operands, and flags whose values live on this machine. */
const OPERANDS: Record<string, ValueKind> = {
  exec: { kind: "command" },
  run: { kind: "dynamic", source: "processes" },
  "builder pull": BUILDERS,
  "builder inspect": BUILDERS,
  "builder rm": BUILDERS,
  completions: { kind: "choices", choices: [...SHELLS] },
};
const FLAG_VALUES: Record<string, ValueKind> = { builder: BUILDERS };
const PASSTHROUGH: Record<string, "command" | "files"> = { exec: "command", run: "files" };

function valueKind(f: FlagSpec): ValueKind | undefined {
  if (f.kind === "bool") return undefined;
  if (FLAG_VALUES[f.name]) return FLAG_VALUES[f.name];
  if (f.choices?.length) return { kind: "choices", choices: f.choices };
  const v = (f.value ?? "").toUpperCase();
  if (v === "DIR") return { kind: "dir" };
  if (v === "FILE" || v === "F" || v.split("|").includes("PATH")) return { kind: "file" };
  return { kind: "none", label: f.value ?? "VALUE" };
}

function completionFlag(f: FlagSpec): CompletionFlag {
  for (const n of [f.name, f.short ?? "x", ...(f.choices ?? [])]) {
    // Names end up inside shell scripts; the table never needs anything fancier.
    if (!SAFE_NAME.test(n)) throw new Error(`flag name not completable: ${JSON.stringify(n)}`);
  }
  return {
    long: f.name,
    short: f.short,
    help: f.help,
    repeatable: f.kind === "list",
    value: valueKind(f),
  };
}

function context(c: CommandSpec | SubcommandSpec, key: string): CompletionContext {
  if (!SAFE_NAME.test(c.name)) throw new Error(`command name not completable: ${c.name}`);
  return {
    name: c.name,
    summary: c.summary,
    flags: [...c.flags, ...GLOBAL_FLAGS].map(completionFlag),
    operand: OPERANDS[key],
    passthrough: PASSTHROUGH[key],
  };
}

/** The completion model: pure data taken from the command table. */
export function completionModel(commands: CommandSpec[] = COMMANDS): CompletionModel {
  const names = commands.map((c) => c.name);
  return {
    global: [
      ...GLOBAL_FLAGS,
      { name: "version", short: "V", kind: "bool" as const, help: "print locald's version" },
    ].map(completionFlag),
    commands: commands.map((c) => {
      const subs = (c.subcommands ?? []).map((s) => context(s, `${c.name} ${s.name}`));
      const cmd = context(c, c.name);
      if (c.name === "help") cmd.operand = { kind: "choices", choices: names };
      if (subs.length) cmd.operand = { kind: "choices", choices: subs.map((s) => s.name) };
      return { ...cmd, subcommands: subs };
    }),
  };
}

/** Shell text, written with `$\{` for `${` (which a template literal would interpolate). */
const shText = (s: string) => s.replaceAll("$\\{", "${");

const header = (shell: string) =>
  `locald ${VERSION} completion for ${shell}; generated by \`locald completions ${shell}\`.`;

function flagWords(f: CompletionFlag): string[] {
  return f.short ? [`--${f.long}`, `-${f.short}`] : [`--${f.long}`];
}

/** Every context with its key as the scripts see it: "build", "builder pull", ... */
function contexts(model: CompletionModel): [string, CompletionContext, CompletionCommand][] {
  return model.commands.flatMap((c) => [
    [c.name, c, c] as [string, CompletionContext, CompletionCommand],
    ...c.subcommands.map((s) =>
      [`${c.name} ${s.name}`, s, c] as [string, CompletionContext, CompletionCommand]
    ),
  ]);
}

/** The flags of a command (all its subcommands' too) that take a value. */
function valueFlags(c: CompletionCommand): string[] {
  const all = [c, ...c.subcommands].flatMap((x) => x.flags.filter((f) => f.value));
  return [...new Set(all.flatMap(flagWords))];
}

// ---------------------------------------------------------------------------------------- bash

function bashValue(v: ValueKind): string {
  switch (v.kind) {
    case "dir":
      return "_locald_files -d";
    case "file":
      return "_locald_files -f";
    case "command":
      return "_locald_files -c";
    case "choices":
      return `_locald_words ${shellQuote(v.choices.join(" "))}`;
    case "dynamic":
      return `_locald_words "$(_locald_dynamic ${v.source})"`;
    case "none":
      return ":";
  }
}

export function bashScript(model: CompletionModel): string {
  const L: string[] = [];
  const topWords = [...model.global.flatMap(flagWords)].join(" ");
  L.push(`# ${header("bash")}`);
  L.push("# Load it with: source <(locald completions bash)");
  L.push(shText(String.raw`
# A word as typed (quotes, backslashes) -> the text it stands for.
_locald_unquote() {
  local d=$1
  case $d in
    \"*\" | \'*\') d=$\{d:1:$\{#d}-2} ;;
    \"* | \'*) d=$\{d:1} ;;
  esac
  printf '%s' "$\{d//\\/}"
}
# ... and a leading ~ expanded, for a path handed to locald.
_locald_path() {
  local d
  d=$(_locald_unquote "$1")
  [[ $d == "~" || $d == "~/"* ]] && d=$HOME$\{d:1}
  printf '%s' "$d"
}
# Candidates (whitespace-separated) that start with $cur, minus the part bash keeps ($pre:
# it splits words at COMP_WORDBREAKS, so heroku/builder:24 arrives as three words).
_locald_words() {
  local c IFS=$' \t\n'
  for c in $1; do [[ $c == "$cur"* ]] && COMPREPLY+=("$\{c#"$pre"}"); done
}
_locald_files() {
  local IFS=$'\n'
  [[ $1 != -c ]] && compopt -o filenames 2>/dev/null
  COMPREPLY=($(compgen "$1" -- "$(_locald_unquote "$\{COMP_WORDS[COMP_CWORD]}")"))
}
# locald __complete SOURCE with every -C typed so far (the caller's $w and $dirs).
_locald_dynamic() {
  local d a=(__complete "$1")
  for d in "$\{dirs[@]}"; do a+=(-C "$(_locald_path "$d")"); done
  "$(_locald_path "$\{w[0]}")" "$\{a[@]}" 2>/dev/null
}`));
  L.push("_locald_complete() {");
  L.push(
    shText(
      String
        .raw`  local IFS=$' \t\n' line piece cur prev pre="" k n i pos=0 gap cmd arg1="" dd=0 ctx vf
  local -a w=() dirs=()
  COMPREPLY=()
  # The words as typed: rejoin what bash split at COMP_WORDBREAKS (= and :).
  line=$\{COMP_LINE:0:COMP_POINT}
  for ((k = 0; k <= COMP_CWORD; k++)); do
    gap=0
    while [[ $\{COMP_LINE:pos:1} == [[:space:]] ]]; do ((pos++)); gap=1; done
    if ((k > 0 && gap == 0)); then w[$\{#w[@]}-1]+=$\{COMP_WORDS[k]}; else w+=("$\{COMP_WORDS[k]}"); fi
    ((pos += $\{#COMP_WORDS[k]}))
  done
  n=$(($\{#w[@]} - 1))
  cur=$\{w[n]}
  ((n > 0)) && prev=$\{w[n-1]}
  if [[ $cur == --*=* ]]; then prev=$\{cur%%=*}; cur=$\{cur#*=}; fi
  piece=$\{line##*[$COMP_WORDBREAKS]}
  (($\{#piece} <= $\{#cur})) && pre=$\{cur:0:$\{#cur}-$\{#piece}}
  # Flags before the command (locald -C DIR COMMAND ...).
  i=1
  while ((i < n)); do
    case $\{w[i]} in
      -C | --dir) ((i + 1 < n)) && dirs+=("$\{w[i+1]}"); ((i += 2)) ;;
      -C?*) dirs+=("$\{w[i]#-C}"); ((i++)) ;;
      --dir=*) dirs+=("$\{w[i]#--dir=}"); ((i++)) ;;
      -*) ((i++)) ;;
      *) break ;;
    esac
  done
  if ((i >= n)); then
    case $prev in -C | --dir) _locald_files -d; return 0 ;; esac`,
    ),
  );
  L.push(`    if [[ $cur == -* ]]; then _locald_words ${shellQuote(topWords)};`);
  L.push(
    `    else _locald_words ${shellQuote(model.commands.map((c) => c.name).join(" "))}; fi`,
  );
  L.push("    return 0");
  L.push("  fi");
  L.push("  cmd=${w[i]}");
  L.push("  case $cmd in");
  for (const c of model.commands) {
    const vfs = valueFlags(c);
    if (vfs.length) L.push(`    ${c.name}) vf=${shellQuote(` ${vfs.join(" ")} `)} ;;`);
  }
  L.push("  esac");
  L.push(shText(String.raw`  for ((k = i + 1; k < n; k++)); do
    case $\{w[k]} in
      --) dd=$k; break ;;
      -C | --dir) ((k + 1 < n)) && dirs+=("$\{w[k+1]}") ;;
      -C?*) dirs+=("$\{w[k]#-C}") ;;
      --dir=*) dirs+=("$\{w[k]#--dir=}") ;;
      -*) ;;
      *) [[ -z $arg1 && $vf != *" $\{w[k-1]} "* ]] && arg1=$\{w[k]} ;;
    esac
  done`));
  // The command line after `--` (or after exec's command) is another program's.
  for (const c of model.commands.filter((c) => c.passthrough)) {
    const after = c.passthrough === "command"
      ? "if ((dd + 1 == n)); then _locald_files -c; else _locald_files -f; fi"
      : "_locald_files -f";
    L.push(`  if [[ $cmd == ${c.name} ]]; then`);
    L.push(`    if ((dd > 0)); then ${after}; return 0; fi`);
    if (c.passthrough === "command") {
      L.push("    if [[ -n $arg1 ]]; then _locald_files -f; return 0; fi");
    } else {
      L.push("    if [[ -n $arg1 && $cur != -* ]]; then _locald_files -f; return 0; fi");
    }
    L.push("  fi");
  }
  const withSubs = model.commands.filter((c) => c.subcommands.length).map((c) => c.name);
  if (withSubs.length) {
    L.push(
      `  case $cmd in ${withSubs.join(" | ")}) ctx="$cmd\${arg1:+ $arg1}" ;; *) ctx=$cmd ;; esac`,
    );
  } else L.push("  ctx=$cmd");
  L.push("  case $ctx in");
  for (const [key, c, parent] of contexts(model)) {
    L.push(`    ${shellQuote(key)})`);
    const byAction = new Map<string, string[]>();
    for (const f of c.flags) {
      if (!f.value) continue;
      const action = bashValue(f.value);
      byAction.set(action, [...(byAction.get(action) ?? []), ...flagWords(f)]);
    }
    L.push("      case $prev in");
    for (const [action, words] of byAction) {
      L.push(`        ${words.join(" | ")}) ${action}; return 0 ;;`);
    }
    L.push("      esac");
    // A command with subcommands takes its flags once the subcommand is named.
    const flags = c === parent && parent.subcommands.length ? GLOBAL_FLAG_WORDS : c.flags;
    L.push(
      `      if [[ $cur == -* ]]; then _locald_words ${
        shellQuote(flags.flatMap(flagWords).join(" "))
      };`,
    );
    if (c.operand) L.push(`      else ${bashValue(c.operand)};`);
    L.push("      fi ;;");
  }
  L.push("  esac");
  L.push("  return 0");
  L.push("}");
  L.push("complete -F _locald_complete locald");
  return L.join("\n") + "\n";
}

const GLOBAL_FLAG_WORDS: CompletionFlag[] = GLOBAL_FLAGS.map(completionFlag);

// ----------------------------------------------------------------------------------------- zsh

/** Text inside an _arguments `[...]` description or a `:message:` field. */
const zdesc = (s: string) => s.replace(/\\/g, "\\\\").replace(/([\[\]:])/g, "\\$1");

function zshAction(v: ValueKind): string {
  switch (v.kind) {
    case "dir":
      return "_files -/";
    case "file":
      return "_files";
    case "command":
      return "_command_names -e";
    case "choices":
      return `(${v.choices.join(" ")})`;
    case "dynamic":
      return `_locald_dynamic ${v.source}`;
    case "none":
      return " ";
  }
}

function zshFlagSpec(f: CompletionFlag): string {
  const desc = `[${zdesc(f.help)}]`;
  let value = "";
  if (f.value) {
    const v = f.value;
    const msg = zdesc(v.kind === "none" ? v.label : v.kind === "dir" ? "DIR" : "VALUE");
    value = `:${msg}:${zshAction(v)}`;
  }
  const longName = `--${f.long}${f.value ? "=" : ""}`;
  const shortName = f.short ? `-${f.short}${f.value ? "+" : ""}` : undefined;
  const names = shortName ? `{${shortName},${longName}}` : longName;
  const prefix = f.repeatable ? "'*'" : shortName ? shellQuote(`(-${f.short} --${f.long})`) : "";
  return `${prefix}${shortName ? names : shellQuote(names)}${shellQuote(desc + value)}`;
}

function zshArguments(c: CompletionContext, indent: string): string[] {
  const specs = c.flags.map(zshFlagSpec);
  if (c.passthrough === "command") {
    specs.push(
      shellQuote("(-)1:command: _command_names -e"),
      shellQuote("*::arguments: _normal"),
    );
  } else if (c.passthrough === "files") {
    specs.push(
      shellQuote(`1:operand:${c.operand ? zshAction(c.operand) : " "}`),
      shellQuote("*:argument:_files"),
    );
  } else if (c.operand) {
    specs.push(shellQuote(`*:operand:${zshAction(c.operand)}`));
  }
  return [
    `${indent}_arguments -s -S \\`,
    ...specs.map((s, i) => `${indent}  ${s}${i < specs.length - 1 ? " \\" : ""}`),
  ];
}

export function zshScript(model: CompletionModel): string {
  const L: string[] = [];
  const described = (xs: { name: string; summary: string }[]) =>
    xs.map((x) => shellQuote(`${x.name}:${x.summary.replace(/:/g, "\\:")}`)).join(" ");
  L.push("#compdef locald");
  L.push(`# ${header("zsh")}`);
  L.push("# Put it on $fpath as _locald (before compinit), or: source <(locald completions zsh)");
  L.push(shText(String.raw`
# A word as typed -> the path it names (quotes removed, a leading ~ expanded).
_locald_path() {
  local d=$\{(Q)1}
  [[ $d == '~' || $d == '~/'* ]] && d=$HOME$\{d#\~}
  print -r -- $d
}
# locald __complete SOURCE with every -C typed so far. _arguments puts compadd options
# before SOURCE, the last word.
_locald_dynamic() {
  local d src=$argv[-1]
  local -a a vals
  argv[-1]=()
  a=(__complete $src)
  for d in $_locald_dirs; do a+=(-C "$(_locald_path $d)"); done
  vals=($\{(f)"$($_locald_cmd $a 2>/dev/null)"})
  compadd "$@" -a vals
}
_locald() {
  local i=2 k
  local -a _locald_dirs _locald_commands _locald_global
  local _locald_cmd=$(_locald_path $words[1])`));
  L.push(`  _locald_commands=(${described(model.commands)})`);
  L.push(
    `  _locald_global=(${
      described(
        model.global.flatMap((f) => flagWords(f).map((w) => ({ name: w, summary: f.help }))),
      )
    })`,
  );
  L.push(shText(String.raw`  # Flags before the command (locald -C DIR COMMAND ...).
  while (( i < CURRENT )); do
    case $words[i] in
      (-C|--dir) (( i + 1 < CURRENT )) && _locald_dirs+=($words[i+1]); (( i += 2 )) ;;
      (-C?*) _locald_dirs+=($\{words[i]#-C}); (( i++ )) ;;
      (--dir=*) _locald_dirs+=($\{words[i]#--dir=}); (( i++ )) ;;
      (-*) (( i++ )) ;;
      (*) break ;;
    esac
  done
  if (( i >= CURRENT )); then
    if [[ $words[CURRENT-1] == (-C|--dir) ]]; then _files -/; return; fi
    if compset -P '--dir='; then _files -/; return; fi
    if [[ $PREFIX == -* ]]; then _describe -t options 'locald flag' _locald_global; return; fi
    _describe -t commands 'locald command' _locald_commands
    return
  fi
  # From here on, as if the command had been typed first.
  shift $(( i - 1 )) words
  (( CURRENT -= i - 1 ))
  for (( k = 2; k < CURRENT; k++ )); do
    case $words[k] in
      (--) break ;;
      (-C|--dir) (( k + 1 < CURRENT )) && _locald_dirs+=($words[k+1]) ;;
      (-C?*) _locald_dirs+=($\{words[k]#-C}) ;;
      (--dir=*) _locald_dirs+=($\{words[k]#--dir=}) ;;
    esac
  done
  curcontext="$\{curcontext%:*:*}:locald-$words[1]:"
  case $words[1] in`));
  for (const c of model.commands) {
    L.push(`    (${c.name})`);
    if (c.subcommands.length) {
      L.push("      if (( CURRENT == 2 )); then");
      L.push(`        local -a subs=(${described(c.subcommands)})`);
      L.push(`        _describe -t commands 'locald ${c.name} subcommand' subs`);
      L.push("        return");
      L.push("      fi");
      L.push("      shift words");
      L.push("      (( CURRENT-- ))");
      L.push("      case $words[1] in");
      for (const s of c.subcommands) {
        L.push(`        (${s.name})`);
        L.push(...zshArguments(s, "          "));
        L.push("          ;;");
      }
      L.push("      esac");
    } else {
      L.push(...zshArguments(c, "      "));
    }
    L.push("      ;;");
  }
  L.push("  esac");
  L.push("}");
  L.push("if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then");
  L.push('  _locald "$@"');
  L.push("else");
  L.push("  compdef _locald locald");
  L.push("fi");
  return L.join("\n") + "\n";
}

// ---------------------------------------------------------------------------------------- fish

const fq = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

export function fishScript(model: CompletionModel): string {
  const L: string[] = [];
  L.push(`# ${header("fish")}`);
  L.push("# Save as ~/.config/fish/completions/locald.fish, or: locald completions fish | source");
  L.push(shText(String.raw`
# Where the command word is in the command line, after flags before it (locald -C DIR run).
function __locald_cmdpos
    set -l w (commandline -opc)
    set -l i 2
    while test $i -le (count $w)
        switch $w[$i]
            case -C --dir
                set i (math $i + 2)
            case '-*'
                set i (math $i + 1)
            case '*'
                echo $i
                return 0
        end
    end
    return 1
end
function __locald_needs_command
    not __locald_cmdpos >/dev/null
end
# The command's first operand (a subcommand, a process type); argv: flags that take a value.
function __locald_operand
    set -l w (commandline -opc)
    set -l i (__locald_cmdpos); or return 1
    set -l k (math $i + 1)
    while test $k -le (count $w)
        switch $w[$k]
            case --
                return 1
            case '-*'
            case '*'
                if not contains -- $w[(math $k - 1)] $argv
                    echo $w[$k]
                    return 0
                end
        end
        set k (math $k + 1)
    end
    return 1
end
# __locald_at CMD [SUB|-] VALUEFLAGS...: the command is CMD (and its subcommand SUB, or none
# yet for -), before any --.
function __locald_at
    set -l w (commandline -opc)
    set -l i (__locald_cmdpos); or return 1
    test "$w[$i]" = $argv[1]; or return 1
    contains -- -- $w[(math $i + 1)..-1]; and return 1
    test (count $argv) -ge 2; or return 0
    set -l op (__locald_operand $argv[3..-1])
    if test "$argv[2]" = -
        test -z "$op"
    else
        test "$op" = $argv[2]
    end
end
# After the command's -- (or its first operand, for commands that pass the rest on).
function __locald_passthrough_at
    set -l w (commandline -opc)
    set -l i (__locald_cmdpos); or return 1
    test "$w[$i]" = $argv[1]; or return 1
    contains -- -- $w[(math $i + 1)..-1]; and return 0
    __locald_operand $argv[2..-1] >/dev/null
end
function __locald_passthrough
    set -l words (commandline -opc) (commandline -ct)
    set -l i (contains -i -- -- $words)
    if test -z "$i"
        set i (math (__locald_cmdpos) + 0)
    end
    __fish_complete_subcommand --commandline $words[(math $i + 1)..-1]
end
function __locald_path
    string replace -r '^~(?=/|$)' -- $HOME $argv[1]
end
# locald __complete SOURCE with every -C typed so far.
function __locald_dynamic
    set -l w (commandline -opc)
    set -l a __complete $argv[1]
    set -l n (count $w)
    for k in (seq 2 $n)
        switch $w[$k]
            case --
                break
            case -C --dir
                test $k -lt $n; and set a $a -C (__locald_path $w[(math $k + 1)])
            case '-C?*'
                set a $a -C (__locald_path (string sub -s 3 -- $w[$k]))
            case '--dir=*'
                set a $a -C (__locald_path (string sub -s 7 -- $w[$k]))
        end
    end
    set -l exe (__locald_path $w[1])
    command $exe $a 2>/dev/null
end`));
  L.push("complete -c locald -f");
  const flagLine = (cond: string, f: CompletionFlag) => {
    const parts = [`complete -c locald -n ${fq(cond)}`];
    if (f.short) parts.push(`-s ${f.short}`);
    parts.push(`-l ${f.long}`);
    const v = f.value;
    if (v?.kind === "dir") parts.push("-x -a '(__fish_complete_directories)'");
    else if (v?.kind === "file") parts.push("-r -F");
    else if (v?.kind === "choices") parts.push(`-x -a ${fq(v.choices.join(" "))}`);
    else if (v?.kind === "dynamic") parts.push(`-x -a ${fq(`(__locald_dynamic ${v.source})`)}`);
    else if (v) parts.push("-x");
    parts.push(`-d ${fq(f.help)}`);
    return parts.join(" ");
  };
  for (const f of model.global) L.push(flagLine("__locald_needs_command", f));
  for (const c of model.commands) {
    L.push(`complete -c locald -n __locald_needs_command -a ${c.name} -d ${fq(c.summary)}`);
  }
  const operandLine = (cond: string, v: ValueKind) => {
    if (v.kind === "choices") {
      return `complete -c locald -n ${fq(cond)} -a ${fq(v.choices.join(" "))}`;
    }
    if (v.kind === "dynamic") {
      return `complete -c locald -n ${fq(cond)} -a ${fq(`(__locald_dynamic ${v.source})`)}`;
    }
    if (v.kind === "dir") {
      return `complete -c locald -n ${fq(cond)} -a '(__fish_complete_directories)'`;
    }
    if (v.kind === "file") return `complete -c locald -n ${fq(cond)} -F`;
    return undefined;
  };
  for (const c of model.commands) {
    const vf = valueFlags(c).join(" ");
    if (c.passthrough) {
      const cond = `__locald_passthrough_at ${c.name} ${vf}`;
      L.push(
        c.passthrough === "command"
          ? `complete -c locald -n ${fq(cond)} -x -a '(__locald_passthrough)'`
          : `complete -c locald -n ${fq(cond)} -F`,
      );
    }
    if (c.subcommands.length) {
      const cond = `__locald_at ${c.name} - ${vf}`;
      for (const s of c.subcommands) {
        L.push(`complete -c locald -n ${fq(cond)} -a ${s.name} -d ${fq(s.summary)}`);
      }
      for (const f of GLOBAL_FLAG_WORDS) L.push(flagLine(cond, f));
      for (const s of c.subcommands) {
        const sc = `__locald_at ${c.name} ${s.name} ${vf}`;
        for (const f of s.flags) L.push(flagLine(sc, f));
        const op = s.operand && operandLine(sc, s.operand);
        if (op) L.push(op);
      }
      continue;
    }
    // Commands that pass the rest on take flags and one operand before it; others any number.
    const cond = c.passthrough ? `__locald_at ${c.name} - ${vf}` : `__locald_at ${c.name}`;
    for (const f of c.flags) L.push(flagLine(cond, f));
    if (c.operand) {
      const op = operandLine(cond, c.operand);
      if (op) L.push(op);
      else if (c.operand.kind === "command") {
        L.push(`complete -c locald -n ${fq(cond)} -a '(__fish_complete_command)'`);
      }
    }
  }
  return L.join("\n") + "\n";
}

// ---------------------------------------------------------------------------------------- pwsh

export function pwshScript(model: CompletionModel): string {
  // The table travels as JSON in a single-quoted here-string: nothing in it is interpreted.
  const flags = (fs: CompletionFlag[]) =>
    fs.map((f) => ({
      words: flagWords(f),
      help: f.help,
      takesValue: !!f.value,
      choices: f.value?.kind === "choices" ? f.value.choices : [],
      source: f.value?.kind === "dynamic" ? f.value.source : "",
    }));
  const ctx = (c: CompletionContext) => ({
    name: c.name,
    summary: c.summary,
    flags: flags(c.flags),
    choices: c.operand?.kind === "choices" ? c.operand.choices : [],
    source: c.operand?.kind === "dynamic" ? c.operand.source : "",
    passthrough: c.passthrough ?? "",
  });
  const data = JSON.stringify({
    global: flags(model.global),
    commands: model.commands.map((c) => ({ ...ctx(c), subcommands: c.subcommands.map(ctx) })),
  });
  return `# ${header("pwsh")}
# Add to your $PROFILE: locald completions pwsh | Out-String | Invoke-Expression
Register-ArgumentCompleter -Native -CommandName 'locald', 'locald.exe' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $table = @'
${data}
'@ | ConvertFrom-Json
    $before = @($commandAst.CommandElements |
        Where-Object { $_.Extent.EndOffset -lt $cursorPosition -or
            ($_.Extent.EndOffset -eq $cursorPosition -and $wordToComplete -eq '') } |
        ForEach-Object { $_.Extent.Text })
    $result = {
        param($text, $type, $tip)
        if (-not $tip) { $tip = $text }
        [System.Management.Automation.CompletionResult]::new($text, $text, $type, $tip)
    }
    $dirs = [System.Collections.Generic.List[string]]::new()
    $collect = {
        param($i)
        $w = $before[$i]
        if (($w -eq '-C' -or $w -eq '--dir') -and $i + 1 -lt $before.Count) { $dirs.Add($before[$i + 1]) }
        elseif ($w -like '-C?*') { $dirs.Add($w.Substring(2)) }
        elseif ($w -like '--dir=*') { $dirs.Add($w.Substring(6)) }
    }
    $dynamic = {
        param($source)
        $a = @('__complete', $source)
        foreach ($d in $dirs) { $a += @('-C', $d) }
        @(& $before[0] @a 2>$null)
    }
    $offer = {
        param($values, $type)
        foreach ($v in $values) { if ($v -like "$wordToComplete*") { & $result $v $type $v } }
    }
    # Flags before the command (locald -C DIR COMMAND ...).
    $i = 1
    while ($i -lt $before.Count -and $before[$i] -like '-*') {
        & $collect $i
        if ($before[$i] -eq '-C' -or $before[$i] -eq '--dir') { $i += 2 } else { $i += 1 }
    }
    if ($i -ge $before.Count) {
        if ($before.Count -gt 1 -and ($before[-1] -eq '-C' -or $before[-1] -eq '--dir')) { return }
        if ($wordToComplete -like '-*') {
            foreach ($f in $table.global) { & $offer $f.words 'ParameterName' }
            return
        }
        foreach ($c in $table.commands) {
            if ($c.name -like "$wordToComplete*") { & $result $c.name 'Command' $c.summary }
        }
        return
    }
    $cmd = $table.commands | Where-Object { $_.name -eq $before[$i] } | Select-Object -First 1
    if (-not $cmd) { return }
    $ctx = $cmd
    $operands = 0
    for ($k = $i + 1; $k -lt $before.Count; $k++) {
        $w = $before[$k]
        if ($w -eq '--') { if ($cmd.passthrough) { return } else { continue } }
        & $collect $k
        if ($w -like '-*') { continue }
        $prevFlag = $ctx.flags | Where-Object { $_.words -contains $before[$k - 1] }
        if ($prevFlag -and $prevFlag.takesValue) { continue }
        $operands += 1
        if ($operands -eq 1 -and $cmd.subcommands.Count) {
            $ctx = $cmd.subcommands | Where-Object { $_.name -eq $w } | Select-Object -First 1
            if (-not $ctx) { return }
        } elseif ($cmd.passthrough) { return }
    }
    $flag = $ctx.flags | Where-Object { $_.words -contains $before[-1] } | Select-Object -First 1
    if ($flag -and $flag.takesValue) {
        if ($flag.source) { & $offer (& $dynamic $flag.source) 'ParameterValue' }
        else { & $offer $flag.choices 'ParameterValue' }
        return
    }
    if ($wordToComplete -like '-*') {
        foreach ($f in $ctx.flags) {
            foreach ($w in $f.words) {
                if ($w -like "$wordToComplete*") { & $result $w 'ParameterName' $f.help }
            }
        }
        return
    }
    if ($ctx.source) { & $offer (& $dynamic $ctx.source) 'ParameterValue' }
    else { & $offer $ctx.choices 'ParameterValue' }
}
`;
}

export function completionScript(shell: Shell, model = completionModel()): string {
  switch (shell) {
    case "bash":
      return bashScript(model);
    case "zsh":
      return zshScript(model);
    case "fish":
      return fishScript(model);
    case "pwsh":
      return pwshScript(model);
  }
}

export function run({ args }: CommandContext): Promise<number> {
  const [shell, ...extra] = args.positionals;
  if (!shell) throw new UsageError(`name a shell: ${SHELLS.join(", ")}`, "completions");
  if (extra.length) throw new UsageError("takes one argument, the shell", "completions");
  const name = shell === "powershell" ? "pwsh" : shell;
  if (!(SHELLS as readonly string[]).includes(name)) {
    throw new UsageError(
      `no completion for "${shell}" (supported: ${SHELLS.join(", ")})`,
      "completions",
    );
  }
  const bytes = new TextEncoder().encode(completionScript(name as Shell));
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
  return Promise.resolve(0);
}
