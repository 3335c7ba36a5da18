/**
 * Turn what GitHub (or the network) said into one line a user can act on.
 * Status meanings follow https://docs.github.com/rest/using-the-rest-api/troubleshooting-the-rest-api
 * and https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api.
 */
import { errorCode, errorMessage, HostsyncError } from '../errors.js';
import type { RateLimitInfo } from './types.js';
import { describeProxyFailure, describeTlsFailure, proxyAuthMessage } from '../net/errors.js';

/** What a message may name: never the token itself. */
export interface ErrorContext {
  readonly repo: string;
  readonly apiUrl: string;
  /** Where the token came from (`GITHUB_TOKEN`, `--token-file` …), or undefined for none. */
  readonly tokenSource: string | undefined;
}

/** An HTTP answer that was not what we asked for. Retryable when the server may do better later. */
export class HttpStatusError extends HostsyncError {
  readonly status: number;
  readonly retryable: boolean;
  constructor(message: string, status: number, retryable: boolean) {
    super(message);
    this.name = 'HttpStatusError';
    this.status = status;
    this.retryable = retryable;
  }
}

/** The primary rate limit is spent until `reset`; a quota-free path may still serve. */
export class RateLimitError extends HttpStatusError {
  readonly reset: number;
  constructor(message: string, status: number, reset: number) {
    super(message, status, false);
    this.name = 'RateLimitError';
    this.reset = reset;
  }
}

/** GitHub's secondary (abuse) limit: wait `retryAfterSec`, then go slower. */
export class SecondaryRateLimitError extends HttpStatusError {
  readonly retryAfterSec: number;
  constructor(message: string, status: number, retryAfterSec: number) {
    super(message, status, true);
    this.name = 'SecondaryRateLimitError';
    this.retryAfterSec = retryAfterSec;
  }
}

/** A blob over GitHub's 100 MB blob API limit: only the tarball or clone can bring it. */
export class BlobTooLargeError extends HttpStatusError {
  constructor(message: string) {
    super(message, 403, false);
    this.name = 'BlobTooLargeError';
  }
}

/** Format a reset time for a message: ISO time and minutes from now. */
export function describeReset(reset: number, nowMs: number): string {
  const minutes = Math.max(0, Math.ceil((reset * 1000 - nowMs) / 60_000));
  return `${new Date(reset * 1000).toISOString()} (in ${minutes} min)`;
}

function tokenPhrase(context: ErrorContext): string {
  return context.tokenSource === undefined ? 'without a token' : `with the token from ${context.tokenSource}`;
}

/**
 * Classify a non-2xx answer. `what` names the request for messages, e.g. "ref 'main'".
 * `body` is the parsed JSON body if there was one.
 */
export function httpError(
  status: number,
  headers: Readonly<Record<string, string | undefined>>,
  body: unknown,
  what: string,
  context: ErrorContext,
  nowMs: number,
): HttpStatusError {
  // A forward proxy's answer, not GitHub's (an http:// API URL through a proxy).
  if (status === 407) return new HttpStatusError(proxyAuthMessage(undefined, context.apiUrl), status, false);
  const message = typeof body === 'object' && body !== null && 'message' in body ? String((body as { message: unknown }).message) : '';
  const remaining = headers['x-ratelimit-remaining'];
  const retryAfter = headers['retry-after'];
  // GitHub: wait for x-ratelimit-reset; without it, retry-after; without both, at least a minute.
  // https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api#handle-rate-limit-errors-appropriately
  const headerReset = Number(headers['x-ratelimit-reset'] ?? 'NaN');
  const resetKnown = Number.isFinite(headerReset) && headerReset > 0;
  const reset = resetKnown ? headerReset : Math.ceil(nowMs / 1000) + (retryAfter !== undefined && /^\d+$/.test(retryAfter) ? Number(retryAfter) : 60);
  if ((status === 403 || status === 429) && /secondary rate limit|abuse/i.test(message)) {
    const seconds = retryAfter !== undefined && /^\d+$/.test(retryAfter) ? Number(retryAfter) : 60;
    return new SecondaryRateLimitError(
      `GitHub's secondary rate limit stopped ${what} for ${context.repo}; retry after ${seconds} s.`,
      status,
      seconds,
    );
  }
  if ((status === 403 || status === 429) && (remaining === '0' || /rate limit exceeded/i.test(message))) {
    const when = resetKnown ? `it resets at ${describeReset(reset, nowMs)}` : `GitHub did not say when it resets (no x-ratelimit-reset); trying again after ${describeReset(reset, nowMs)}`;
    return new RateLimitError(
      `GitHub API rate limit exhausted ${tokenPhrase(context)}; ${when}. ` +
        (context.tokenSource === undefined ? 'Set a token (GITHUB_TOKEN or --token-file) for 5,000 requests an hour.' : 'Wait for the reset or spread hosts over more time.'),
      status,
      reset,
    );
  }
  if (status === 403 && /too large|too_large/i.test(JSON.stringify(body ?? ''))) {
    return new BlobTooLargeError(`${what} is over GitHub's 100 MB blob API limit; it needs the tarball or git clone path.`);
  }
  switch (status) {
    case 401:
      return new HttpStatusError(
        `GitHub rejected the token from ${context.tokenSource ?? 'the request'} (401 ${message || 'Bad credentials'}): it is wrong, expired or revoked. Put a valid token there, or remove it for a public repository.`,
        status,
        false,
      );
    case 403:
      return new HttpStatusError(
        `GitHub refused ${what} for ${context.repo} ${tokenPhrase(context)} (403 ${message}). Check the token's permissions (contents: read).`,
        status,
        false,
      );
    case 404:
      if (/^(blob|tarball) /.test(what)) {
        return new HttpStatusError(
          `GitHub answered 404 for ${what} of ${context.repo}, which the commit's tree names: the commit was rewritten or garbage-collected meanwhile, or the token lost access ${tokenPhrase(context)}. Nothing was applied; run again.`,
          status,
          false,
        );
      }
      return new HttpStatusError(
        context.tokenSource === undefined
          ? `Repository ${context.repo} not found at ${context.apiUrl}, or not visible without a token. Check --repo and --api-url; a private repository needs a token: put it in /etc/hostsync/token (chmod 600) and set "tokenFile": "/etc/hostsync/token" in /etc/hostsync/config.json, or pass --token-file FILE (also read: $CREDENTIALS_DIRECTORY/github-token, GITHUB_TOKEN, GH_TOKEN, ~/.config/github/token).`
          : `Repository ${context.repo} not found at ${context.apiUrl}, or not visible ${tokenPhrase(context)}. Check --repo, --api-url and the token's access.`,
        status,
        false,
      );
    case 409:
      return new HttpStatusError(`Repository ${context.repo} is empty (409 ${message}): push a commit first.`, status, false);
    case 422:
      return new HttpStatusError(`Unknown ${what} in ${context.repo}: no branch, tag or commit by that name (422 ${message}).`, status, false);
    default:
      return new HttpStatusError(
        `GitHub answered ${status} ${message} for ${what} in ${context.repo}${status >= 500 ? ' (a server-side failure; retried)' : ''}.`,
        status,
        status >= 500 || status === 408 || status === 429,
      );
  }
}

/** Codes that mean the connection failed before or while GitHub answered: worth a retry. */
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'ERR_STREAM_PREMATURE_CLOSE',
  'Z_BUF_ERROR',
  'Z_DATA_ERROR',
]);

/** Find the system error code in an error or its cause chain (fetch wraps them). */
export function rootCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined; depth++) {
    const code = errorCode(current);
    if (code !== undefined) return code;
    current = typeof current === 'object' && current !== null && 'cause' in current ? (current as { cause: unknown }).cause : undefined;
  }
  return undefined;
}

/** Whether a failure is transient (network, timeout, 5xx) and the request may be tried again. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof HttpStatusError) return error.retryable;
  // A HostsyncError is final unless it says otherwise (a body that arrived too slowly).
  if (error instanceof HostsyncError) return (error as { retryable?: unknown }).retryable === true;
  const code = rootCode(error);
  if (code !== undefined) return RETRYABLE_CODES.has(code);
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return true;
  return error instanceof TypeError && /fetch failed|terminated/i.test(error.message);
}

/** A one-line message for a network failure, naming the host. */
export function networkError(error: unknown, url: string, caFile?: string): HostsyncError {
  const host = safeHost(url);
  const tls = describeTlsFailure(error, host, caFile) ?? describeProxyFailure(error, undefined, host);
  if (tls !== undefined) return new HostsyncError(tls, 1, { cause: error });
  const code = rootCode(error);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new HostsyncError(`Cannot resolve ${host} (DNS ${code}). Check the host's DNS and --api-url.`, 1, { cause: error });
  }
  if (code === 'ECONNREFUSED') {
    return new HostsyncError(`Connection to ${host} refused. Check --api-url and that the host can reach it.`, 1, { cause: error });
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || (error instanceof Error && error.name === 'TimeoutError')) {
    return new HostsyncError(`${host} stopped answering (timed out after retries). Check the link, or raise --timeout-sec.`, 1, { cause: error });
  }
  return new HostsyncError(`Network failure talking to ${host}: ${code ?? errorMessage(error)}.`, 1, { cause: error });
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** Read rate-limit headers; undefined when the server sends none (GHES with limits off). */
export function readRateLimit(headers: Readonly<Record<string, string | undefined>>): RateLimitInfo | undefined {
  const remaining = headers['x-ratelimit-remaining'];
  if (remaining === undefined) return undefined;
  return {
    limit: Number(headers['x-ratelimit-limit'] ?? '0'),
    remaining: Number(remaining),
    reset: Number(headers['x-ratelimit-reset'] ?? '0'),
    resource: headers['x-ratelimit-resource'] ?? 'core',
  };
}
