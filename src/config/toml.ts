/** TOML reading with file:line:column errors. The one place smol-toml is imported. */
import { parse, stringify, TomlError } from "smol-toml";
import { ExitCode, LocaldError } from "../errors.ts";

export type TomlTable = Record<string, unknown>;

export function parseToml(text: string, file: string): TomlTable {
  try {
    return parse(text) as TomlTable;
  } catch (e) {
    if (e instanceof TomlError) {
      const te = e as TomlError & { line: number; column: number };
      const reason = te.message.split("\n")[0].replace(/^Invalid TOML document:\s*/, "");
      throw new LocaldError(`${file}:${te.line}:${te.column}: ${reason}`, {
        hint: `fix the TOML syntax in ${file}`,
        exitCode: ExitCode.input,
      });
    }
    throw e;
  }
}

export function toToml(value: TomlTable): string {
  return stringify(value) + "\n";
}

/** Where in `text` a key appears, for errors about valid TOML with wrong content. */
export function locate(text: string, key: string): string {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const col = lines[i].search(new RegExp(`(^|[\\s.\\[])${key.replace(/[-.]/g, "\\$&")}\\b`));
    if (col !== -1) return `${i + 1}:${col + 1 + (/[\s.[]/.test(lines[i][col]) ? 1 : 0)}`;
  }
  return "1:1";
}
