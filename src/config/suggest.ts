/**
 * "Did you mean" for misspelt keys and values: the closest candidate by edit distance, or one that
 * differs only in case and separators (`state-dir`, `state_dir`, `STATEDIR` all mean `stateDir`).
 */

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      d[i * cols + j] = best;
    }
  }
  return at(a.length, b.length);
}

function fold(s: string): string {
  return s.toLowerCase().replace(/[-_\s]/g, '');
}

/**
 * The candidate the user most likely meant, or `undefined` when none is close enough
 * (at most 1 edit for short words, 2 for longer ones, or the only candidate that extends or truncates
 * the input). Ties go to the earlier candidate.
 */
export function closestMatch(input: string, candidates: readonly string[]): string | undefined {
  const folded = fold(input);
  const same = candidates.find((c) => fold(c) === folded);
  if (same !== undefined) return same;
  // `timeout` for `timeoutSec`, `lockTimeoutSec` for `lockTimeout`: one is the other plus a suffix.
  const stem = candidates.filter((c) => {
    const f = fold(c);
    return Math.min(f.length, folded.length) >= 4 && (f.startsWith(folded) || folded.startsWith(f));
  });
  if (stem.length === 1) return stem[0];
  const limit = folded.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    const distance = editDistance(folded, fold(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
