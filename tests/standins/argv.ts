/** The real arguments: the shell wrappers pass them NUL-separated in a file (see there). */
export function standinArgs(): string[] {
  const file = Deno.env.get("STANDIN_ARGV_FILE");
  if (!file) return [...Deno.args];
  const parts = Deno.readTextFileSync(file).split("\0");
  Deno.removeSync(file);
  Deno.env.delete("STANDIN_ARGV_FILE");
  return parts.slice(1, 1 + Number(parts[0]));
}
