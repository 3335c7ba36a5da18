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

/** Bytes for messages: 1536 → "1.5 KiB". */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A permission mode as octal text: 0o755 → "0755". */
export function formatMode(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}
