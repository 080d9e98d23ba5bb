/** POSIX shell quoting, for scripts locald hands to bash/sh and for plans it prints. */

/** One single-quoted shell word: safe for any string. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** A word quoted only when it needs to be (for output people read). */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : shellQuote(s);
}
