/** "did you mean ...?": the nearest names to a mistyped one. Pure, no dependencies. */

/** Edit distance counting a swap of two neighbours as one edit ("biuld" is 1 from "build"). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d[i] = [i];
  for (let j = 0; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/**
 * The candidates closest to `word` (at most three, best first): those within a few edits
 * (about a third of the word), else those it is the start of ("--pub" for "--publish").
 * Case is ignored. Nothing when nothing is close: a wild guess helps no one.
 */
export function nearest(word: string, candidates: string[]): string[] {
  const w = word.toLowerCase();
  const unique = [...new Set(candidates)];
  const limit = Math.max(1, Math.floor(w.length / 3));
  const scored = unique
    .map((c) => ({ c, d: editDistance(w, c.toLowerCase()) }))
    .filter((s) => s.d <= limit)
    .sort((x, y) => x.d - y.d);
  if (scored.length) return scored.filter((s) => s.d === scored[0].d).slice(0, 3).map((s) => s.c);
  if (w.length < 2) return [];
  const prefixed = unique.filter((c) => c.toLowerCase().startsWith(w));
  return prefixed.length <= 3 ? prefixed : [];
}

/** "did you mean `a`?", "did you mean `a` or `b`?", or undefined. */
export function didYouMean(names: string[]): string | undefined {
  if (!names.length) return undefined;
  const q = names.map((n) => `\`${n}\``);
  const list = q.length === 1 ? q[0] : `${q.slice(0, -1).join(", ")} or ${q[q.length - 1]}`;
  return `did you mean ${list}?`;
}
