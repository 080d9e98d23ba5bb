/**
 * The one place locald makes a process: `command(argv, options)` is Deno.Command with the
 * program and its arguments as one exact argv (never a string a shell would re-parse). Callers
 * choose spawn() (streams, stdin, signals: src/hosts/spawn.ts for phases and dev commands) or
 * output() (small probes), as Deno.Command offers them; options and defaults are Deno's.
 * Light: on the exec/env hot path.
 */
export type CommandOptions = Omit<Deno.CommandOptions, "args">;

export function command(argv: readonly string[], options: CommandOptions = {}): Deno.Command {
  return new Deno.Command(argv[0], { ...options, args: argv.slice(1) });
}
