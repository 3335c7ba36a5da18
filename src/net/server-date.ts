/**
 * The server's clock, read from the `Date` header every HTTP answer carries (RFC 9110 §6.6.1):
 * GitHub's API, its git endpoints and git-http-backend behind a web server all send it. A rollout
 * measures how long a commit has been visible on this clock, so that hosts agree on the time scale
 * whatever their own clocks say (docs/decisions/0010-rollout-first-seen.md).
 */

/** Milliseconds since the epoch of a `Date` header, or undefined when absent or unreadable. */
export function serverDateOf(headers: Readonly<Record<string, string | string[] | undefined>>): number | undefined {
  const raw = headers['date'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || value === '') return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}
