import type { CommandContext } from "../context.ts";
import { commandHelp, mainHelp } from "../help.ts";
import { findSubcommand } from "../context.ts";
import { nearest } from "../suggest.ts";
import { UsageError } from "../../errors.ts";

export function run({ args, table }: CommandContext): Promise<number> {
  const [name, subName, ...extra] = args.positionals;
  if (!name) {
    console.log(mainHelp(table.commands));
    return Promise.resolve(0);
  }
  const spec = table.find(name);
  if (!spec) {
    throw new UsageError(`no command named "${name}"`, "help", {
      suggestions: nearest(name, table.commands.map((c) => c.name)),
      brief: true,
    });
  }
  const sub = subName === undefined ? undefined : findSubcommand(spec, subName);
  if (subName !== undefined && !sub) {
    const names = (spec.subcommands ?? []).map((s) => s.name);
    throw new UsageError(
      names.length
        ? `${name} has no subcommand "${subName}" (${names.join(", ")})`
        : `${name} has no subcommands`,
      "help",
      { suggestions: nearest(subName, names), brief: true },
    );
  }
  if (extra.length) throw new UsageError("takes a command and a subcommand at most", "help");
  console.log(commandHelp(spec, sub));
  return Promise.resolve(0);
}
