/**
 * The poll's one request, on `node:http(s)` alone: `GET /repos/{o}/{r}/commits/{ref}` with
 * `Accept: application/vnd.github.sha` and `If-None-Match`
 * (https://docs.github.com/rest/commits/commits#get-a-commit). An unchanged poll — the common
 * case, every 15 minutes on every host — then never loads undici or Octokit: measured, that import
 * alone cost ~230 ms of CPU and ~55 MB of memory per run, more than the request itself.
 *
 * Direct, the request goes through `net/direct-request.ts` (the git edge's client too), a private CA
 * (`caFile`) handed to `node:https`. Only when a proxy applies to the URL
 * does the request go through undici's ProxyAgent (src/net/dispatcher.ts): CONNECT is undici's job,
 * not a hand-written tunnel here, and such hosts pay the import (decision 0008 has the numbers).
 */
import { createDirectClient } from '../net/direct-request.js';
import { proxyFor } from '../net/proxy-rules.js';
import type { NetSettings } from '../net/settings.js';
import { readRateLimit } from './errors.js';
import { serverDateOf } from '../net/server-date.js';
import type { RequestStats } from './types.js';

export interface RefResponse {
  readonly status: number;
  readonly headers: Record<string, string | undefined>;
  /** The body as text (a SHA, or a JSON error); capped at 64 KiB. */
  readonly body: string;
}

export interface RefRequestOptions {
  readonly url: string;
  readonly headers: Record<string, string>;
  /** The whole request, body included, must end within this (not only between bytes). */
  readonly timeoutMs: number;
  readonly stats: RequestStats;
  readonly signal?: AbortSignal | undefined;
  /** Proxy and CA file. @default direct, Node's roots */
  readonly net?: NetSettings | undefined;
}

const MAX_BODY = 64 * 1024;

/** Count a finished answer in the stats. */
function noteAnswer(stats: RequestStats, status: number, headers: Record<string, string | undefined>): void {
  stats.httpRequests++;
  stats.apiRequests++;
  if (status === 304) stats.notModified++;
  const rate = readRateLimit(headers);
  if (rate !== undefined) stats.rateLimit = rate;
  stats.serverDate = serverDateOf(headers) ?? stats.serverDate;
}

/** An answer from either edge: status, headers, the body streamed. */
interface RawAnswer {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: AsyncIterable<Buffer>;
}

/** How the request goes out: `node:http(s)` when direct, undici's ProxyAgent through a proxy. */
interface RefEdge {
  get(signal: AbortSignal): Promise<RawAnswer>;
  close(): Promise<void>;
}

/** One GET; resolves with whatever status came back, rejects on network failure or timeout. */
export async function requestRef(options: RefRequestOptions): Promise<RefResponse> {
  const target = new URL(options.url);
  // A server that trickles a byte now and then trips no stall limit: the whole request, body included, is bounded.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), options.timeoutMs);
  const signal = options.signal === undefined ? deadline.signal : AbortSignal.any([deadline.signal, options.signal]);
  let edge: RefEdge | undefined;
  try {
    edge = proxyFor(target, options.net?.proxy) === undefined ? directEdge(options) : await proxyEdge(options);
    const response = await edge.get(signal);
    const headers: Record<string, string | undefined> = {};
    for (const [key, value] of Object.entries(response.headers)) headers[key] = Array.isArray(value) ? value.join(', ') : value;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      size += chunk.length;
      options.stats.bytesReceived += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    }
    noteAnswer(options.stats, response.statusCode, headers);
    return { status: response.statusCode, headers, body: Buffer.concat(chunks).toString('utf8') };
  } catch (error) {
    if (deadline.signal.aborted && options.signal?.aborted !== true) {
      throw Object.assign(new Error(`No complete answer from ${target.host} within ${options.timeoutMs} ms`), { name: 'TimeoutError', code: 'UND_ERR_HEADERS_TIMEOUT', cause: error });
    }
    throw error;
  } finally {
    clearTimeout(timer);
    await edge?.close();
  }
}

/** Direct: Node's own client (net/direct-request.ts, the git edge's too), the CA file beside the roots. */
function directEdge(options: RefRequestOptions): RefEdge {
  const client = createDirectClient({ timeoutMs: options.timeoutMs, caFile: options.net?.caFile, connections: 1 });
  return {
    get: (signal) => client.request({ method: 'GET', url: options.url, headers: options.headers, signal }) as Promise<RawAnswer>,
    close: async () => client.close(),
  };
}

/** Through the proxy: undici's ProxyAgent (CONNECT is undici's job, decision 0008). */
async function proxyEdge(options: RefRequestOptions): Promise<RefEdge> {
  const [{ request }, { createDispatcher }] = await Promise.all([import('../net/undici.js'), import('../net/dispatcher.js')]);
  const dispatcher = createDispatcher(options.net ?? { proxy: undefined, caFile: undefined }, { connections: 1, timeoutMs: options.timeoutMs, stallMs: options.timeoutMs });
  return {
    get: (signal) => request(options.url, { method: 'GET', headers: options.headers, dispatcher, signal }) as Promise<RawAnswer>,
    close: () => dispatcher.close().catch(() => undefined),
  };
}
