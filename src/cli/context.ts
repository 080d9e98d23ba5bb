/**
 * What a command gets and what it is: the context main hands to a command's `run`, and the
 * shape of a command table entry. Types only (and one lookup), so a command module can name
 * them without importing the table that loads it.
 */
import type { FlagSpec, ParsedArgs } from "./args.ts";
import type { Output } from "../output.ts";
import type { LocaldDirs } from "../config/paths.ts";

export interface CommandContext {
  args: ParsedArgs;
  out: Output;
  env: Record<string, string>;
  /**
   * Every place under locald's home, resolved once from `env` (config/paths.ts) and handed
   * down. Resolved on first use: a command that keeps nothing there runs without a HOME.
   */
  readonly dirs: LocaldDirs;
  /** The project directory from -C (absolute), or the current directory. */
  dir: string;
  /** The command table, for the commands that describe the others (help, completions). */
  table: CommandTable;
}

export interface CommandModule {
  run(ctx: CommandContext): Promise<number>;
}

/** `locald builder pull`, `locald cache ls`, ...: its own usage, flags and help. */
export interface SubcommandSpec {
  name: string;
  summary: string;
  usage: string[];
  description?: string;
  flags: FlagSpec[];
  examples?: string[];
}

export interface CommandSpec extends SubcommandSpec {
  /** With subcommands: every flag any of them takes (each subcommand accepts only its own). */
  flags: FlagSpec[];
  stopAtPositional?: boolean;
  /** The first positional names one of these; main parses the rest with its flags. */
  subcommands?: SubcommandSpec[];
  load: () => Promise<CommandModule>;
}

/** The visible commands, and a lookup that also finds the hidden ones. */
export interface CommandTable {
  commands: CommandSpec[];
  find(name: string): CommandSpec | undefined;
}

export function findSubcommand(c: CommandSpec, name: string): SubcommandSpec | undefined {
  return c.subcommands?.find((s) => s.name === name);
}
