/** Help text, built from the command table. */
import { type FlagSpec, GLOBAL_FLAGS } from "./args.ts";
import { COMMANDS, type CommandSpec } from "./registry.ts";
import { VERSION } from "../version.ts";

function flagLines(flags: FlagSpec[]): string[] {
  const rows = flags.map((f) => {
    const names = (f.short ? `-${f.short}, ` : "    ") + `--${f.name}` +
      (f.value ? ` ${f.value}` : "");
    return [names, f.help];
  });
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([a, b]) => `  ${a.padEnd(w)}  ${b}`);
}

export function mainHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `locald ${VERSION}: a project's real toolchain from Cloud Native Buildpacks, no Docker`,
    "",
    "Usage: locald COMMAND [FLAGS]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    "",
    "Flags on every command:",
    ...flagLines(GLOBAL_FLAGS),
    "",
    "Examples:",
    "  locald build && locald shell",
    "  locald exec -- node -v",
    "",
    "Run `locald help COMMAND` for a command's flags and examples.",
  ].join("\n");
}

export function usageText(c: CommandSpec): string {
  return ["Usage:", ...c.usage.map((u) => `  ${u}`)].join("\n");
}

export function commandHelp(c: CommandSpec): string {
  const parts = [`locald ${c.name}: ${c.summary}`, "", usageText(c)];
  if (c.description) parts.push("", c.description);
  parts.push("", "Flags:", ...flagLines([...c.flags, ...GLOBAL_FLAGS]));
  if (c.examples?.length) parts.push("", "Examples:", ...c.examples.map((e) => `  ${e}`));
  return parts.join("\n");
}
