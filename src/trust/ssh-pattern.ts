/**
 * OpenSSH's pattern lists (`match_pattern_list` in match.c), as used by allowed-signers principals
 * and `namespaces="…"`: comma-separated patterns with `*` and `?`, a leading `!` negates, and one
 * matching negated pattern wins over any positive one.
 */

/** Whether `value` matches one pattern of `*` (any run) and `?` (any one character). */
export function matchPattern(value: string, pattern: string): boolean {
  // Iterative glob with backtracking to the last `*`: linear in practice, no regex built from input.
  let v = 0;
  let p = 0;
  let starP = -1;
  let starV = 0;
  while (v < value.length) {
    const c = pattern[p];
    if (c === '*') {
      starP = p;
      starV = v;
      p += 1;
    } else if (c !== undefined && (c === '?' || c === value[v])) {
      p += 1;
      v += 1;
    } else if (starP !== -1) {
      p = starP + 1;
      starV += 1;
      v = starV;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p += 1;
  return p === pattern.length;
}

/**
 * Match `value` against a comma-separated pattern list: `1` for a positive match, `-1` when a
 * negated pattern matches (a veto), `0` for no match — OpenSSH's return values.
 */
export function matchPatternList(value: string, list: string): 1 | 0 | -1 {
  let positive = false;
  for (const item of list.split(',')) {
    const negated = item.startsWith('!');
    const pattern = negated ? item.slice(1) : item;
    if (!matchPattern(value, pattern)) continue;
    if (negated) return -1;
    positive = true;
  }
  return positive ? 1 : 0;
}
