/**
 * The REST client's HTTP edge. Every request — Octokit's JSON calls and the streamed blob and
 * tarball downloads, codeload redirects included — goes through one undici dispatcher from
 * src/net/dispatcher.ts (kept-alive connections, one pool per origin, the run's proxy and CA file)
 * and one meter that counts requests and bytes and remembers the rate-limit headers.
 */
import { createGunzip, createInflate, createBrotliDecompress } from 'node:zlib';
import { pipeline, Transform, type Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { readRateLimit } from './errors.js';
import { serverDateOf } from '../net/server-date.js';
import { lowSpeedGuard, type LowSpeed } from '../net/low-speed.js';
import { DIRECT, type NetSettings } from '../net/settings.js';
import { lazyDispatcher } from '../net/lazy-dispatcher.js';
import type { RequestStats } from './types.js';

export interface HttpOptions {
  readonly apiUrl: string;
  readonly token: string | undefined;
  readonly userAgent: string;
  /** Milliseconds to wait for response headers. */
  readonly timeoutMs: number;
  /** Milliseconds without a body byte before a transfer counts as stalled. */
  readonly stallMs: number;
  /** Connections per origin. */
  readonly connections: number;
  /** Counters to add to (shared with the light ref request); a fresh set when absent. */
  readonly stats?: RequestStats | undefined;
  /** The minimum rate of a streamed body (blobs, tarballs). */
  readonly lowSpeed?: LowSpeed | undefined;
  /** The run's transfer signal (stop, deadline): every request ends when it aborts. */
  readonly signal?: AbortSignal | undefined;
  /** Proxy and CA file. @default direct, Node's roots */
  readonly net?: NetSettings | undefined;
}

export interface StreamResponse {
  readonly status: number;
  readonly headers: Record<string, string | undefined>;
  readonly body: Readable;
  readonly url: string;
}

export interface Http {
  readonly stats: RequestStats;
  /** A fetch for Octokit: same pool, same meter, a timeout on every request. */
  readonly fetch: typeof fetch;
  /** GET with a streamed, decompressed body; follows redirects, dropping auth across origins. */
  get(url: string, headers: Record<string, string>, signal?: AbortSignal): Promise<StreamResponse>;
  close(): Promise<void>;
}

const MAX_REDIRECTS = 5;

/** Create the HTTP edge. The token is only ever put in an Authorization header to the API origin. */
export function createHttp(options: HttpOptions): Http {
  // Made on the first request: an unchanged poll (one request on node:http, github/ref-request.ts) never loads undici.
  const dispatcher = lazyDispatcher(options.net ?? DIRECT, { connections: options.connections, timeoutMs: options.timeoutMs, stallMs: options.stallMs });
  const agent = (): Promise<Dispatcher> => dispatcher.get();
  const apiOrigin = new URL(options.apiUrl).origin;
  const stats: RequestStats = options.stats ?? { apiRequests: 0, notModified: 0, httpRequests: 0, bytesReceived: 0, rateLimit: undefined };

  const timeout = (): AbortSignal => (options.signal === undefined ? AbortSignal.timeout(options.timeoutMs) : AbortSignal.any([AbortSignal.timeout(options.timeoutMs), options.signal]));
  const runSignal = (signal: AbortSignal | undefined): AbortSignal | undefined =>
    options.signal === undefined ? signal : signal === undefined ? options.signal : AbortSignal.any([signal, options.signal]);

  const note = (url: string, status: number, headers: Record<string, string | undefined>, api = url.startsWith(options.apiUrl)): void => {
    stats.httpRequests++;
    if (api) {
      stats.apiRequests++;
      if (status === 304) stats.notModified++;
      const rate = readRateLimit(headers);
      if (rate !== undefined) stats.rateLimit = rate;
      stats.serverDate = serverDateOf(headers) ?? stats.serverDate;
    }
  };

  const meteredFetch = (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const signal = AbortSignal.any([timeout(), ...(init?.signal ? [init.signal] : [])]);
    // undici's fetch and Node's global fetch share a shape but not their type declarations.
    const { fetch: undiciFetch } = await import('../net/undici.js');
    const response = (await undiciFetch(url, { ...(init as object), signal, dispatcher: await agent() } as Parameters<typeof undiciFetch>[1])) as unknown as Response;
    const headers = Object.fromEntries(response.headers.entries());
    note(url, response.status, headers);
    const length = Number(headers['content-length'] ?? '0');
    if (Number.isFinite(length)) stats.bytesReceived += length;
    return response;
  }) as typeof fetch;

  const get = async (url: string, headers: Record<string, string>, given?: AbortSignal): Promise<StreamResponse> => {
    const signal = runSignal(given);
    let current = url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const sameOrigin = new URL(current).origin === apiOrigin;
      const sent: Record<string, string> = { 'user-agent': options.userAgent, 'accept-encoding': 'gzip', ...headers };
      if (sameOrigin && options.token !== undefined) sent['authorization'] = `Bearer ${options.token}`;
      if (!sameOrigin) delete sent['authorization'];
      const { request } = await import('../net/undici.js');
      const response: Dispatcher.ResponseData = await request(current, {
        method: 'GET',
        headers: sent,
        dispatcher: await agent(),
        ...(signal ? { signal } : {}),
      });
      const flat = flattenHeaders(response.headers);
      // Only the first hop is an API request; a redirect target (codeload) is not.
      note(current, response.statusCode, flat, hop === 0 && current.startsWith(options.apiUrl));
      if (response.statusCode >= 300 && response.statusCode < 400 && flat['location'] !== undefined) {
        response.body.resume();
        current = new URL(flat['location'], current).href;
        continue;
      }
      const guard = options.lowSpeed === undefined ? undefined : lowSpeedGuard(options.lowSpeed, `The response of ${withoutQuery(current)}`);
      return { status: response.statusCode, headers: flat, body: meterAndDecode(response.body, flat['content-encoding'], stats, guard), url: current };
    }
    throw new Error(`More than ${MAX_REDIRECTS} redirects from ${url}.`);
  };

  return { stats, fetch: meteredFetch, get, close: () => dispatcher.close() };
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(headers)) flat[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  return flat;
}

/**
 * Count wire bytes, then decompress. `pipeline` ties the streams' lifetimes together: a consumer
 * that destroys the result (a failed verification) also releases the socket.
 */
function meterAndDecode(body: Readable, encoding: string | undefined, stats: RequestStats, guard: Transform | undefined): Readable {
  // A deep buffer between the socket and the consumer: with undici 7, frequent backpressure on a
  // large body makes its HTTP/1 parser re-read its socket buffer on every cycle (measured: a 50 MiB
  // body took 36-57 s and ~500 MiB RSS without it, seconds and tens of MiB with it).
  const meter = new Transform({
    readableHighWaterMark: 8 << 20,
    transform(chunk: Buffer, _encoding, callback) {
      stats.bytesReceived += chunk.length;
      callback(null, chunk);
    },
  });
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? createGunzip()
      : encoding === 'deflate'
        ? createInflate()
        : encoding === 'br'
          ? createBrotliDecompress()
          : undefined;
  const ignore = (): void => undefined;
  const stages: NodeJS.ReadWriteStream[] = [meter, ...(guard === undefined ? [] : [guard]), ...(decoder === undefined ? [] : [decoder])];
  return pipeline([body, ...stages], ignore) as unknown as Readable;
}

/** A URL for messages: no query string (it may carry a signed token). */
function withoutQuery(url: string): string {
  const at = url.indexOf('?');
  return at === -1 ? url : url.slice(0, at);
}
