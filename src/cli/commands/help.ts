import type { CommandContext } from "../registry.ts";
import { commandHelp, mainHelp } from "../help.ts";
import { findCommand } from "../registry.ts";
import { UsageError } from "../../errors.ts";

export function run({ args }: CommandContext): Promise<number> {
  const name = args.positionals[0];
  if (!name) {
    console.log(mainHelp());
    return Promise.resolve(0);
  }
  const spec = findCommand(name);
  if (!spec) throw new UsageError(`no command named "${name}"`, "help");
  console.log(commandHelp(spec));
  return Promise.resolve(0);
}
