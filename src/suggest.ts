// "Did you mean …?": the candidate closest to a mistyped word, by edit distance. Pure; the CLI uses it for
// flags, commands and NUGET_PROXY_* variables.

/** Levenshtein distance with adjacent transpositions counted as one edit ("porxy" → "proxy"). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    const row = d[i] as number[];
    const prev = d[i - 1] as number[];
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, ((d[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = best;
    }
  }
  return (d[rows - 1] as number[])[cols - 1] as number;
}

/**
 * The candidate closest to `input` (case-insensitive), or null when none is close enough to be a plausible
 * typo: at most a third of the longer word's letters changed, or one word a prefix of the other (a truncated
 * or extended name such as `upstream-url` for `upstream`). Ties go to the earlier candidate.
 */
export function closestMatch(input: string, candidates: Iterable<string>): string | null {
  const word = input.toLowerCase();
  if (word.length === 0) return null;
  let best: { candidate: string; score: number } | null = null;
  for (const candidate of candidates) {
    const c = candidate.toLowerCase();
    const distance = editDistance(word, c);
    const limit = Math.max(1, Math.floor(Math.max(word.length, c.length) / 3));
    const prefix = Math.min(word.length, c.length) >= 3 && (c.startsWith(word) || word.startsWith(c));
    if (distance > limit && !prefix) continue;
    // A prefix relation is a strong hint even when many letters differ in length.
    const score = prefix ? Math.min(distance, 1.5) : distance;
    if (!best || score < best.score) best = { candidate, score };
  }
  return best?.candidate ?? null;
}
