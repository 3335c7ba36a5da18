/**
 * Retry policy for every GitHub request: transient failures (network, timeouts, 5xx) are retried
 * with jittered exponential backoff; GitHub's secondary limit is honoured by waiting `retry-after`
 * (https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api);
 * 4xx answers are final at once. Nothing retries forever.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';
import { isRetryable, RateLimitError, SecondaryRateLimitError } from './errors.js';

/** Wait for a primary rate-limit reset only when it is this close; otherwise take a quota-free path. */
export const MAX_RESET_WAIT_MS = 90_000;

const resetSoon = (error: unknown): error is RateLimitError => error instanceof RateLimitError && error.reset * 1000 - Date.now() <= MAX_RESET_WAIT_MS;

/** How a run retries: the counts and back-offs, and how it waits (tests wait for nothing). */
export interface RetryPolicy {
  /** Attempts after the first. @default 4 */
  readonly retries?: number | undefined;
  /** First backoff in ms. @default 500 */
  readonly minTimeoutMs?: number | undefined;
  /** Largest backoff in ms. @default 15000 */
  readonly maxTimeoutMs?: number | undefined;
  /** Waits GitHub asks for (`retry-after`, a near reset). @default a timer */
  readonly sleep?: ((ms: number, signal?: AbortSignal) => Promise<void>) | undefined;
}

export interface RetryOptions extends RetryPolicy {
  /** Called before each retry, e.g. to log or to lower concurrency after a secondary limit. */
  readonly onRetry?: ((error: unknown, attempt: number) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Random numbers in [0, 1) for the jitter of secondary-limit waits. @default Math.random */
  readonly random?: (() => number) | undefined;
  /** Extra failures worth another attempt (beyond network errors and 5xx), e.g. a SHA mismatch. */
  readonly isRetryable?: ((error: unknown) => boolean) | undefined;
}

/**
 * The wait after GitHub's secondary limit said `retry-after`: at least that, doubled on each
 * repeat, plus a random share of one more such wait (full jitter on top of the floor GitHub sets).
 */
export function secondaryWaitMs(retryAfterSec: number, attempt: number, random: () => number = Math.random): number {
  const floor = Math.max(1, retryAfterSec) * 1000 * 2 ** Math.max(0, attempt - 1);
  return Math.round(floor + random() * floor);
}

/** Run `attempt` until it succeeds, fails for good, or runs out of retries. */
export async function withRetry<T>(attempt: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const wait = options.sleep ?? ((ms: number, signal?: AbortSignal) => sleep(ms, undefined, signal ? { signal } : {}));
  const retryable = (error: unknown): boolean => options.signal?.aborted !== true && (isRetryable(error) || resetSoon(error) || options.isRetryable?.(error) === true);
  return pRetry(attempt, {
    retries: options.retries ?? 4,
    minTimeout: options.minTimeoutMs ?? 500,
    maxTimeout: options.maxTimeoutMs ?? 15_000,
    randomize: true,
    ...(options.signal ? { signal: options.signal } : {}),
    shouldRetry: ({ error }) => retryable(error),
    onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
      if (!retryable(error) || retriesLeft === 0) return;
      options.onRetry?.(error, attemptNumber);
      if (resetSoon(error)) {
        // The quota is spent but comes back within a minute or so: waiting is cheaper than any fallback.
        await wait(Math.max(0, error.reset * 1000 - Date.now()) + 1000, options.signal);
      } else if (error instanceof SecondaryRateLimitError) {
        // GitHub asks for at least `retry-after` seconds; grow it on repeats, and spread the hosts of
        // a fleet that were all told the same number over one more such wait, so they do not return together.
        await wait(secondaryWaitMs(error.retryAfterSec, attemptNumber, options.random ?? Math.random), options.signal);
      }
    },
  });
}
