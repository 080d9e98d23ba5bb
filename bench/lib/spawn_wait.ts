/**
 * The least a Deno program can do to run a command: spawn it with inherited stdio, wait, exit
 * with its code. With the plain phases' script as the command, the floor for `locald build`
 * that any Deno program pays (bench/core.ts).
 *
 *   deno run -A bench/lib/spawn_wait.ts CMD [ARGS...]
 */
const [cmd, ...args] = Deno.args;
Deno.exitCode = (await new Deno.Command(cmd, { args }).spawn().status).code;
