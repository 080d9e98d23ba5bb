/** Command-line parsing: pure, table-driven, no dependencies. */
import { UsageError } from "../errors.ts";
import { nearest } from "./suggest.ts";

export type FlagKind = "bool" | "string" | "list";

export interface FlagSpec {
  /** Long name without dashes, e.g. "env-file". */
  name: string;
  short?: string;
  kind: FlagKind;
  /** Placeholder shown in help, e.g. "DIR". */
  value?: string;
  help: string;
  /** The values the flag accepts, when it is a fixed set (used by shell completion). */
  choices?: string[];
}

export interface ParsedArgs {
  flags: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** Everything after a literal `--`. */
  rest: string[];
  /** True when `--` was present (so `exec --` with nothing after it can be told apart). */
  dashdash: boolean;
}

export interface ParseOptions {
  /** Stop reading flags at the first positional (exec/run: the command's own flags follow). */
  stopAtPositional?: boolean;
}

/** Flags every command takes, before or after its name (`locald -C DIR exec -- ...`). */
export const GLOBAL_FLAGS: FlagSpec[] = [
  { name: "dir", short: "C", kind: "string", value: "DIR", help: "project directory (default: .)" },
  { name: "help", short: "h", kind: "bool", help: "show help for this command" },
];

/** Only before a command: `locald --version` is `locald version`. */
export const VERSION_FLAG: FlagSpec = {
  name: "version",
  short: "V",
  kind: "bool",
  help: "print locald's version (as `locald version`)",
};

/** "a", "a" or "b", "a", "b" or "c" */
export function orList(words: string[]): string {
  const q = words.map((w) => `"${w}"`);
  return q.length < 2 ? q.join("") : `${q.slice(0, -1).join(", ")} or ${q[q.length - 1]}`;
}

function unknownFlag(shown: string, all: FlagSpec[], command: string): UsageError {
  const longs = all.map((f) => `--${f.name}`);
  // `-force` for `--force`: a long name behind one dash.
  const single = /^-[^-]{2,}/.test(shown) && longs.includes(`-${shown.split("=")[0]}`)
    ? [`-${shown.split("=")[0]}`]
    : [];
  const suggestions = single.length ? single : shown.startsWith("--") ? nearest(shown, longs) : [];
  return new UsageError(`unknown flag ${shown}`, command, { suggestions, brief: true });
}

export function parseArgs(
  argv: string[],
  specs: FlagSpec[],
  command: string,
  opts: ParseOptions = {},
): ParsedArgs {
  const all = [...specs, ...GLOBAL_FLAGS];
  const byLong = new Map(all.map((f) => [f.name, f]));
  const byShort = new Map(all.filter((f) => f.short).map((f) => [f.short!, f]));
  const out: ParsedArgs = { flags: {}, positionals: [], rest: [], dashdash: false };
  for (const f of all) if (f.kind === "list") out.flags[f.name] = [];

  const set = (f: FlagSpec, value: string | undefined, shown: string) => {
    if (f.kind === "bool") {
      if (value !== undefined) {
        if (value === "true" || value === "1") out.flags[f.name] = true;
        else if (value === "false" || value === "0") out.flags[f.name] = false;
        else throw new UsageError(`${shown} takes no value (got "${value}")`, command);
      } else out.flags[f.name] = true;
      return false;
    }
    if (value === undefined) return true; // needs the next argument
    if (f.choices && !f.choices.includes(value)) {
      throw new UsageError(`${shown} takes ${orList(f.choices)} (got "${value}")`, command, {
        suggestions: nearest(value, f.choices),
        brief: true,
      });
    }
    if (f.kind === "list") (out.flags[f.name] as string[]).push(value);
    else out.flags[f.name] = value;
    return false;
  };

  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      out.dashdash = true;
      out.rest = argv.slice(i + 1);
      break;
    }
    let spec: FlagSpec | undefined;
    let value: string | undefined;
    let shown = a;
    if (a.startsWith("--") && a.length > 2) {
      const eq = a.indexOf("=");
      const name = eq === -1 ? a.slice(2) : a.slice(2, eq);
      shown = `--${name}`;
      if (eq !== -1) value = a.slice(eq + 1);
      spec = byLong.get(name);
      if (!spec) throw unknownFlag(shown, all, command);
    } else if (a.startsWith("-") && a.length > 1 && a !== "-") {
      const s = a[1];
      shown = `-${s}`;
      spec = byShort.get(s);
      if (!spec) throw unknownFlag(a.length > 2 && !byShort.has(s) ? a : shown, all, command);
      if (a.length > 2) {
        if (spec.kind === "bool") {
          throw new UsageError(`${shown} takes no value (got "${a.slice(2)}")`, command);
        }
        value = a.slice(2).replace(/^=/, "");
      }
    } else {
      out.positionals.push(a);
      if (opts.stopAtPositional) {
        out.rest = argv.slice(i + 1);
        break;
      }
      continue;
    }
    if (set(spec, value, shown)) {
      if (i + 1 >= argv.length) {
        throw new UsageError(
          `${shown} needs a value${spec.value ? ` (${spec.value})` : ""}`,
          command,
        );
      }
      set(spec, argv[++i], shown);
    }
  }
  return out;
}

export function flagString(p: ParsedArgs, name: string): string | undefined {
  const v = p.flags[name];
  return typeof v === "string" ? v : undefined;
}

export function flagBool(p: ParsedArgs, name: string): boolean {
  return p.flags[name] === true;
}

export function flagList(p: ParsedArgs, name: string): string[] {
  const v = p.flags[name];
  return Array.isArray(v) ? v : [];
}
