/**
 * GitHub's primary rate limit for the REST API: a budget per token (5000/h) or per client address
 * when unauthenticated (60/h), reported in `x-ratelimit-*` headers on every API response.
 * @see https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api
 */

/** Runtime-settable rate limit behaviour of the fake server. */
export interface RateLimitSettings {
  /** Budget of an authenticated token per window. @default 5000 */
  limit: number;
  /** Budget of an unauthenticated client per window. @default 60 */
  unauthenticatedLimit: number;
  /**
   * Remaining budget. Reading gives the bucket used last; setting it sets every bucket, existing and
   * not yet created, to that remaining count for the current window.
   */
  remaining: number;
  /** Epoch seconds at which the window resets (all buckets refill). @default now + 1 hour */
  resetAt: number;
  /** GHES with rate limiting off: no `x-ratelimit-*` headers and no limit. @default false */
  disabled: boolean;
  /** Status of the "rate limit exceeded" answer: GitHub sends 403, sometimes 429. @default 403 */
  exceededStatus: 403 | 429;
}

interface Bucket {
  used: number;
}

/** Snapshot of one bucket as GitHub reports it. */
export interface RateLimitState {
  readonly limit: number;
  readonly remaining: number;
  readonly used: number;
  readonly reset: number;
}

/** Identify a bucket: the token, or the client address for unauthenticated calls. */
export type BucketKey = { readonly token: string } | { readonly address: string };

const WINDOW_SECONDS = 3600;

/** The primary limit: buckets per token or address, one shared window. */
export class RateLimiter implements RateLimitSettings {
  limit = 5000;
  unauthenticatedLimit = 60;
  disabled = false;
  exceededStatus: 403 | 429 = 403;
  private reset: number;
  private readonly buckets = new Map<string, Bucket>();
  private startRemaining: number | undefined;
  private lastKey: BucketKey | undefined;

  constructor(private readonly now: () => number = () => Date.now()) {
    this.reset = this.nowSeconds() + WINDOW_SECONDS;
  }

  get resetAt(): number {
    return this.reset;
  }

  set resetAt(epochSeconds: number) {
    this.reset = epochSeconds;
  }

  get remaining(): number {
    if (this.lastKey !== undefined) return this.state(this.lastKey).remaining;
    this.roll();
    return Math.min(this.limit, this.startRemaining ?? this.limit);
  }

  set remaining(value: number) {
    this.buckets.clear();
    this.startRemaining = Math.max(0, value);
  }

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /** Start a new window once the reset time has passed, as GitHub does. */
  private roll(): void {
    if (this.nowSeconds() < this.reset) return;
    this.buckets.clear();
    this.startRemaining = undefined;
    this.reset = this.nowSeconds() + WINDOW_SECONDS;
  }

  private limitOf(key: BucketKey): number {
    return 'token' in key ? this.limit : this.unauthenticatedLimit;
  }

  private bucket(key: BucketKey): Bucket {
    const id = 'token' in key ? `t:${key.token}` : `a:${key.address}`;
    let bucket = this.buckets.get(id);
    if (!bucket) {
      const limit = this.limitOf(key);
      bucket = { used: this.startRemaining === undefined ? 0 : Math.max(0, limit - this.startRemaining) };
      this.buckets.set(id, bucket);
    }
    return bucket;
  }

  state(key: BucketKey): RateLimitState {
    this.roll();
    const limit = this.limitOf(key);
    const used = Math.min(this.bucket(key).used, limit);
    return { limit, used, remaining: Math.max(0, limit - used), reset: this.reset };
  }

  /** True when the bucket has nothing left (the request must be refused). */
  exhausted(key: BucketKey): boolean {
    return !this.disabled && this.state(key).remaining === 0;
  }

  /** Spend `cost` points (0 or 1). */
  charge(key: BucketKey, cost: number): void {
    this.lastKey = key;
    if (this.disabled || cost === 0) return;
    this.roll();
    this.bucket(key).used += cost;
  }

  /** The `x-ratelimit-*` headers for a response to this bucket (none when disabled). */
  headers(key: BucketKey): Record<string, string> {
    if (this.disabled) return {};
    const s = this.state(key);
    return {
      'x-ratelimit-limit': String(s.limit),
      'x-ratelimit-remaining': String(s.remaining),
      'x-ratelimit-reset': String(s.reset),
      'x-ratelimit-used': String(s.used),
      'x-ratelimit-resource': 'core',
    };
  }
}
