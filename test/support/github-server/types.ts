/**
 * Shared types of the fake GitHub server: what a handler returns (a Reply), fault rules, and the
 * request log. Types only.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

/** What fault rules and route handlers see of a request. */
export interface RequestInfo {
  readonly method: string;
  /** URL path without the query string, percent-encoded as received. */
  readonly path: string;
  /** Path and query string as received. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

/** A response body: bytes already in memory, or a stream opened only when the body is really sent. */
export type ReplyBody =
  | { readonly kind: 'buffer'; readonly data: Buffer }
  | { readonly kind: 'stream'; readonly open: () => Readable; readonly length?: number };

/** A response before transport concerns (gzip, faults, throttling, 304s) are applied. */
export interface Reply {
  readonly status: number;
  /** Header names in lower case. */
  readonly headers: Record<string, string>;
  readonly body?: ReplyBody;
  /** Gzip when the client accepts it (JSON and raw blobs; never archives or git packs). */
  readonly compressible?: boolean;
}

/** What a fault rule does to the requests it matches. */
export type FaultAction =
  /** Answer this status at once (like a 502 from GitHub's edge); no quota is used. */
  | { readonly status: number; readonly body?: unknown; readonly headers?: Readonly<Record<string, string>> }
  /** Send the headers and part of the body (half, or `afterBytes`), then destroy the socket. */
  | { readonly dropMidBody: true; readonly afterBytes?: number }
  /** Flip bytes of the body (before compression) while keeping status and headers. */
  | { readonly corrupt: true }
  /** Accept the request and never answer (until the client gives up or the server closes). */
  | { readonly hang: true }
  /** Wait this long, then answer normally. */
  | { readonly delayMs: number }
  /** Send headers at once, then the body `bytes` at a time every `everyMs` (a server that trickles). */
  | { readonly trickle: { readonly bytes: number; readonly everyMs: number } }
  /** Answer GitHub's secondary rate limit error with `retry-after`. @see https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits */
  | { readonly secondaryRateLimit: { readonly retryAfterSec: number; readonly status?: 403 | 429 } };

/** A fault injection rule; the first matching rule with uses left applies. */
export interface FaultRule {
  readonly match: (req: RequestInfo) => boolean;
  /** How many matching requests it applies to; unlimited when absent. Decremented in place. */
  times?: number;
  readonly action: FaultAction;
}

/** Which part of GitHub a request went to. */
export type RequestKind = 'api' | 'codeload' | 'git' | 'lfs';

/** One line of the server's request log, written when the response ends (or the socket closes). */
export interface LoggedRequest {
  readonly method: string;
  /** Path and query string. */
  readonly path: string;
  /** HTTP status sent; 0 when nothing was (a hang the client gave up on). */
  readonly status: number;
  /** Bytes written to the socket for this response, headers included (compressed size when gzipped). */
  readonly bytesSent: number;
  /** A valid token came with the request. */
  readonly authenticated: boolean;
  /** Primary rate limit points used: 1 for a counted API call, 0 otherwise. */
  readonly quotaCost: number;
  readonly kind: RequestKind;
  readonly durationMs: number;
  /** When the request arrived, on the server's clock (ms since the epoch). */
  readonly at: number;
  /** The valid token it came with, if any (the fleet simulation tells its hosts apart by it). */
  readonly token?: string;
}
