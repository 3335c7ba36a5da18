/** Small helpers every check uses to word its outcome. Pure. */
import type { CheckOutcome, CheckStatus } from './types.js';

/** Build an outcome; `paths` are sorted and de-duplicated. */
export function outcome(status: CheckStatus, message: string, paths: readonly string[] = [], fixable = false): CheckOutcome {
  return { status, message, paths: [...new Set(paths)].sort(), fixable: fixable && (status === 'fail' || status === 'warn') };
}

/** A commit SHA as people read it. */
export function short(sha: string): string {
  return sha.slice(0, 12);
}

/** "a, b, c and 4 more": the first `max` items of a list for a one-line message. */
export function listPaths(items: readonly string[], max = 10): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

export { formatBytes as formatSize } from '../format.js';

/** A permission mode as octal text: 0o755 → "0755". */
export function formatMode(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}
