/**
 * Checksum files, parsed without caring which way round the columns are: sha256sum writes
 * `HEX  NAME` (NAME may start with `*`), the lifecycle's release writes `PATH HEX`. A line's
 * digest is its one 64-hex token; its file is the other token's basename.
 */
export function parseChecksums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const tokens = line.split(/\s+/);
    const hexIndex = tokens.findIndex((t) => /^[0-9a-fA-F]{64}$/.test(t));
    if (hexIndex === -1) continue;
    const name = tokens.filter((_, i) => i !== hexIndex).join(" ").replace(/^\*/, "");
    if (!name) continue;
    const base = name.split("/").pop()!;
    out.set(base, tokens[hexIndex].toLowerCase());
  }
  return out;
}

export function formatSha256Sums(entries: Iterable<[string, string]>): string {
  return [...entries].map(([name, hex]) => `${hex}  ${name}`).join("\n") + "\n";
}
