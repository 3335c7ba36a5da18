/**
 * The one module that talks to LFS servers: the batch API's POST and the objects' GETs, over the
 * run's dispatcher (src/net/dispatcher.ts: proxies, `caFile`), with the run's timeouts, the
 * low-speed guard, the run's signal, redirects followed (an `Authorization` never crosses to
 * another origin), and every request and received byte counted in the source's stats.
 */
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream';
import type { Dispatcher } from 'undici';
import { lazyDispatcher } from '../net/lazy-dispatcher.js';
import { lowSpeedGuard, type LowSpeed } from '../net/low-speed.js';
import type { NetSettings } from '../net/settings.js';

const MAX_REDIRECTS = 5;
/** The batch API's answers are small JSON; a server sending more is refused. */
const MAX_JSON_BYTES = 16 << 20;

/** Counters the run's `--json` and metrics show (the source's stats). */
export interface LfsTraffic {
  httpRequests: number;
  bytesReceived: number;
}

export interface LfsHttpOptions {
  readonly net: NetSettings;
  readonly timeoutMs: number;
  readonly stallMs: number;
  readonly lowSpeed: LowSpeed;
  readonly userAgent: string;
  readonly traffic: LfsTraffic;
  readonly signal?: AbortSignal | undefined;
  /** Another dispatcher (tests). */
  readonly dispatcher?: Dispatcher | undefined;
}

/** An answer with its body still to read. */
export interface LfsResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Readable;
  /** The URL that answered (after redirects). */
  readonly url: string;
}

export interface LfsHttp {
  /** POST a JSON body; the answer's JSON (undefined when it is not JSON) with status and headers. */
  postJson(url: string, headers: Readonly<Record<string, string>>, body: unknown): Promise<{ status: number; headers: Readonly<Record<string, string | undefined>>; json: unknown; text: string }>;
  /** GET, following redirects; `sameOriginHeaders`, and any `Authorization`, go only to `url`'s own origin. */
  get(url: string, headers: Readonly<Record<string, string>>, sameOriginHeaders: Readonly<Record<string, string>>, signal?: AbortSignal): Promise<LfsResponse>;
  close(): Promise<void>;
}

function flatten(headers: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(headers)) flat[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  return flat;
}

/** A URL for messages: no query string (signed URLs carry their token there). */
export function withoutQuery(url: string): string {
  const at = url.search(/[?#]/);
  return at === -1 ? url : url.slice(0, at);
}

function withoutAuthorization(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'authorization'));
}

/** Create the LFS edge of a run. Close it when done. */
export function createLfsHttp(options: LfsHttpOptions): LfsHttp {
  // Made on the first request, unless one was given: a run without LFS never loads undici.
  const own = options.dispatcher === undefined ? lazyDispatcher(options.net, { timeoutMs: options.timeoutMs, stallMs: options.stallMs }) : undefined;
  const agent = (): Dispatcher | Promise<Dispatcher> => own?.get() ?? options.dispatcher!;
  const undici = (): Promise<typeof import('../net/undici.js')> => import('../net/undici.js');
  const { traffic } = options;

  /** Count the bytes of a body and keep a deep buffer (undici 7 re-reads its socket buffer on frequent back-pressure; see github/http.ts). */
  const metered = (body: Readable, what: string): Readable => {
    const meter = new Transform({
      readableHighWaterMark: 8 << 20,
      transform(chunk: Buffer, _encoding, callback) {
        traffic.bytesReceived += chunk.length;
        callback(null, chunk);
      },
    });
    return pipeline(body, meter, lowSpeedGuard(options.lowSpeed, what), () => undefined) as unknown as Readable;
  };

  return {
    async postJson(url, headers, body) {
      traffic.httpRequests++;
      const { request } = await undici();
      const response = await request(url, {
        method: 'POST',
        headers: { 'user-agent': options.userAgent, ...headers },
        body: JSON.stringify(body),
        dispatcher: await agent(),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const chunks: Buffer[] = [];
      let length = 0;
      for await (const chunk of metered(response.body, `The answer of ${withoutQuery(url)}`)) {
        length += (chunk as Buffer).length;
        if (length > MAX_JSON_BYTES) {
          response.body.destroy();
          throw new Error(`The answer of ${withoutQuery(url)} is over ${MAX_JSON_BYTES} bytes; refusing it.`);
        }
        chunks.push(chunk as Buffer);
      }
      const text = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(text) as unknown;
      } catch {
        json = undefined;
      }
      return { status: response.statusCode, headers: flatten(response.headers), json, text };
    },
    async get(url, headers, sameOriginHeaders, given) {
      const signal = given === undefined ? options.signal : options.signal === undefined ? given : AbortSignal.any([given, options.signal]);
      const home = new URL(url).origin;
      let current = url;
      for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
        traffic.httpRequests++;
        const sameOrigin = new URL(current).origin === home;
        const { request } = await undici();
        const response = await request(current, {
          method: 'GET',
          // No credential follows a redirect to another origin (the action's own Authorization included).
          headers: { 'user-agent': options.userAgent, ...(sameOrigin ? { ...headers, ...sameOriginHeaders } : withoutAuthorization(headers)) },
          dispatcher: await agent(),
          ...(signal ? { signal } : {}),
        });
        const flat = flatten(response.headers);
        if (response.statusCode >= 300 && response.statusCode < 400 && flat['location'] !== undefined) {
          response.body.resume();
          current = new URL(flat['location'], current).href;
          continue;
        }
        return { status: response.statusCode, headers: flat, body: metered(response.body, `The object from ${withoutQuery(current)}`), url: current };
      }
      throw new Error(`More than ${MAX_REDIRECTS} redirects from ${withoutQuery(url)}.`);
    },
    close: async () => {
      await own?.close();
    },
  };
}
