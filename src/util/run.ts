/**
 * Where the start-up path makes a process: `command(argv, options)` is Deno.Command with the
 * program and its arguments as one exact argv (never a string a shell would re-parse). Used by
 * src/hosts/spawn.ts (phases and dev commands: streams, signals, 128+N for a signal death),
 * the launcher's environment capture and the bwrap probe (src/hosts/sandbox_check.ts). Light: on the exec/env hot path, where dax must not load.
 * Everything else runs through the dax runner, src/util/runner.ts (README "Processes").
 */
export type CommandOptions = Omit<Deno.CommandOptions, "args">;

export function command(argv: readonly string[], options: CommandOptions = {}): Deno.Command {
  return new Deno.Command(argv[0], { ...options, args: argv.slice(1) });
}
