/**
 * GitHub's secondary rate limits for the REST API, the two that a fleet polling one repository can
 * meet: no more than 100 concurrent requests (shared by REST and GraphQL), and no more than 900
 * points a minute to a single REST endpoint (a GET, HEAD or OPTIONS is 1 point, other methods 5).
 * Both are per user or App installation, i.e. per primary-limit bucket. A request over either is
 * answered 403 with a `retry-after` (secondaryLimitReply in faults.ts).
 * @see https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits
 *
 * GitHub does not publish whether a 304 counts towards the points; it is counted here (the careful
 * reading for a fleet's budget). The window is a sliding minute on the server's clock.
 */

/** Runtime-settable secondary limits of the fake server. */
export interface SecondaryLimitSettings {
  /** Enforce the limits. @default false (faults can still inject a secondary limit) */
  enabled: boolean;
  /** Concurrent API requests per bucket. @default 100 */
  concurrent: number;
  /** Points a minute per endpoint and bucket. @default 900 */
  pointsPerMinute: number;
}

/** One admitted request: call `release` when its response is done. */
export type Admission = { readonly ok: true; release(): void } | { readonly ok: false; readonly retryAfterSec: number; readonly reason: 'concurrent' | 'points' };

const WINDOW_MS = 60_000;

/**
 * The endpoint a path belongs to, as GitHub's documentation names them: `GET
 * /repos/{owner}/{repo}/commits/{ref}` for every ref, `…/git/blobs/{sha}` for every blob.
 */
export function endpointOf(method: string, path: string): string {
  const parts = path.split('?')[0]!.split('/').slice(1);
  if (parts[0] === 'repos' && parts.length >= 3) {
    const [, , , first, second] = parts;
    const tail = first === undefined ? '' : first === 'git' && second !== undefined ? `/git/${second}/{id}` : `/${first}${parts.length > 4 ? '/{id}' : ''}`;
    return `${method} /repos/{owner}/{repo}${tail}`;
  }
  if (parts[0] === 'repositories' && parts.length >= 2) return `${method} /repositories/{id}${parts[2] === undefined ? '' : `/${parts[2]}/{id}`}`;
  return `${method} /${parts.join('/')}`;
}

/** Points of a request: 1 for GET, HEAD and OPTIONS, 5 for the rest. */
export function pointsOf(method: string): number {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' ? 1 : 5;
}

/** The two limits, per bucket. */
export class SecondaryLimiter implements SecondaryLimitSettings {
  enabled = false;
  concurrent = 100;
  pointsPerMinute = 900;
  private readonly inFlight = new Map<string, number>();
  /** Per bucket and endpoint: the times (server clock) and points of the last minute's requests. */
  private readonly spent = new Map<string, { at: number; points: number }[]>();
  /** The most concurrent requests one bucket had, and the most points one endpoint took in a minute. */
  peakConcurrent = 0;
  peakPointsPerMinute = 0;
  /** Requests refused for either limit. */
  refusals = 0;

  constructor(private readonly now: () => number = () => Date.now()) {}

  /** Admit a request of `bucket` to `endpoint`, or say how long to wait. */
  admit(bucket: string, endpoint: string, points: number): Admission {
    const running = (this.inFlight.get(bucket) ?? 0) + 1;
    const key = `${bucket} ${endpoint}`;
    const now = this.now();
    const recent = (this.spent.get(key) ?? []).filter((entry) => entry.at > now - WINDOW_MS);
    const used = recent.reduce((sum, entry) => sum + entry.points, 0) + points;
    if (this.enabled && running > this.concurrent) {
      this.refusals += 1;
      return { ok: false, retryAfterSec: 60, reason: 'concurrent' };
    }
    if (this.enabled && used > this.pointsPerMinute) {
      this.refusals += 1;
      // Room again once enough of the window's oldest requests have aged out.
      let freed = 0;
      let until = now;
      for (const entry of recent) {
        freed += entry.points;
        until = entry.at + WINDOW_MS;
        if (used - freed <= this.pointsPerMinute) break;
      }
      this.spent.set(key, recent);
      return { ok: false, retryAfterSec: Math.max(1, Math.ceil((until - now) / 1000)), reason: 'points' };
    }
    recent.push({ at: now, points });
    this.spent.set(key, recent);
    this.inFlight.set(bucket, running);
    this.peakConcurrent = Math.max(this.peakConcurrent, running);
    this.peakPointsPerMinute = Math.max(this.peakPointsPerMinute, used);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.inFlight.set(bucket, (this.inFlight.get(bucket) ?? 1) - 1);
      },
    };
  }
}
