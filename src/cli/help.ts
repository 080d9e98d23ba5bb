/** Help text, built from the command table. */
import { type FlagSpec, GLOBAL_FLAGS, VERSION_FLAG } from "./args.ts";
import {
  type CommandSpec,
  type CommandTable,
  findSubcommand,
  type SubcommandSpec,
} from "./context.ts";
import { didYouMean } from "./suggest.ts";
import type { UsageError } from "../errors.ts";
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

export function mainHelp(commands: CommandSpec[]): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return [
    `locald ${VERSION}: a project's real toolchain from Cloud Native Buildpacks, no Docker`,
    "",
    "Usage: locald [-C DIR] COMMAND [FLAGS]",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    "",
    "Flags (-C and -h on every command, before or after its name):",
    ...flagLines([...GLOBAL_FLAGS, VERSION_FLAG]),
    "",
    "Examples:",
    "  locald build && locald shell",
    "  locald exec -- node -v",
    "  locald -C ~/src/app run web -- --port 3000",
    "",
    "Run `locald help COMMAND` for a command's flags and examples.",
  ].join("\n");
}

export function usageText(c: { usage: string[] }): string {
  return ["Usage:", ...c.usage.map((u) => `  ${u}`)].join("\n");
}

/** Help for a command, or for one of its subcommands (`locald help builder pull`). */
export function commandHelp(c: CommandSpec, sub?: SubcommandSpec): string {
  const what = sub ?? c;
  const parts = [
    `locald ${c.name}${sub ? ` ${sub.name}` : ""}: ${what.summary}`,
    "",
    usageText(what),
  ];
  if (what.description) parts.push("", what.description);
  if (c.subcommands && !sub) {
    const w = Math.max(...c.subcommands.map((s) => s.name.length));
    parts.push(
      "",
      "Subcommands:",
      ...c.subcommands.map((s) => `  ${s.name.padEnd(w)}  ${s.summary}`),
    );
  }
  parts.push("", "Flags:", ...flagLines([...what.flags, ...GLOBAL_FLAGS]));
  if (what.examples?.length) parts.push("", "Examples:", ...what.examples.map((e) => `  ${e}`));
  if (c.subcommands && !sub) {
    parts.push("", `Run \`locald ${c.name} SUBCOMMAND --help\` for a subcommand's flags.`);
  }
  return parts.join("\n");
}

/**
 * What a usage error prints. An unknown name gets a short answer (the message, the nearest
 * match, where to look); other mistakes get the command's usage as well.
 */
export function usageError(e: UsageError, table: CommandTable, fallback?: string): string {
  const context = e.command && e.command !== "locald" ? e.command : fallback;
  const [name, subName] = (context ?? "").split(" ");
  const spec = name ? table.find(name) : undefined;
  const sub = spec && subName ? findSubcommand(spec, subName) : undefined;
  const lines = [`locald${spec ? ` ${context}` : ""}: ${e.message}`];
  const dym = didYouMean(e.suggestions);
  if (dym) lines.push(dym);
  if (!spec || spec.name === "help") {
    lines.push("Run `locald --help` for the commands.");
  } else if (e.brief) {
    lines.push(
      `Run \`locald help ${context}\` for its ${
        subName || !spec.subcommands ? "flags" : "subcommands"
      }.`,
    );
  } else {
    lines.push(usageText(sub ?? spec), `Run \`locald help ${context}\` for more.`);
  }
  return lines.join("\n");
}
