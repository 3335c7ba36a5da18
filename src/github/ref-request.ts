/**
 * The poll's one request, on `node:http(s)` alone: `GET /repos/{o}/{r}/commits/{ref}` with
 * `Accept: application/vnd.github.sha` and `If-None-Match`
 * (https://docs.github.com/rest/commits/commits#get-a-commit). An unchanged poll — the common
 * case, every 15 minutes on every host — then never loads undici or Octokit: measured, that import
 * alone cost ~230 ms of CPU and ~55 MB of memory per run, more than the request itself.
 *
 * A private CA (`caFile`) is handed to `node:https` directly. Only when a proxy applies to the URL
 * does the request go through undici's ProxyAgent (src/net/dispatcher.ts): CONNECT is undici's job,
 * not a hand-written tunnel here, and such hosts pay the import (decision 0008 has the numbers).
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { caBundle } from '../net/ca.js';
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

/** One GET; resolves with whatever status came back, rejects on network failure or timeout. */
export function requestRef(options: RefRequestOptions): Promise<RefResponse> {
  const url = new URL(options.url);
  const proxy = proxyFor(url, options.net?.proxy);
  if (proxy !== undefined) return requestThroughProxy(options);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const caFile = options.net?.caFile;
  const tls = url.protocol === 'https:' && caFile !== undefined ? { ca: [...caBundle(caFile)] } : {};
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', headers: options.headers, timeout: options.timeoutMs, ...tls }, (res) => {
      const headers: Record<string, string | undefined> = {};
      for (const [key, value] of Object.entries(res.headers)) headers[key] = Array.isArray(value) ? value.join(', ') : value;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        options.stats.bytesReceived += chunk.length;
        if (size <= MAX_BODY) chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        noteAnswer(options.stats, status, headers);
        resolve({ status, headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    const timedOut = (): void => {
      req.destroy(Object.assign(new Error(`No complete answer from ${url.host} within ${options.timeoutMs} ms`), { name: 'TimeoutError', code: 'UND_ERR_HEADERS_TIMEOUT' }));
    };
    // A server that trickles a byte now and then never trips the socket's idle timeout: bound the whole request.
    const deadline = setTimeout(timedOut, options.timeoutMs);
    const onAbort = (): void => {
      req.destroy(options.signal?.reason instanceof Error ? options.signal.reason : new Error('aborted'));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const done = (): void => {
      clearTimeout(deadline);
      options.signal?.removeEventListener('abort', onAbort);
    };
    req.on('timeout', timedOut);
    req.on('error', (error) => {
      done();
      reject(error);
    });
    req.on('close', done);
    if (options.signal?.aborted === true) onAbort();
    req.end();
  });
}

/** The same GET through the proxy, by undici's ProxyAgent; the whole request within `timeoutMs`. */
async function requestThroughProxy(options: RefRequestOptions): Promise<RefResponse> {
  const [{ request }, { createDispatcher }] = await Promise.all([import('../net/undici.js'), import('../net/dispatcher.js')]);
  const dispatcher = createDispatcher(options.net ?? { proxy: undefined, caFile: undefined }, { connections: 1, timeoutMs: options.timeoutMs, stallMs: options.timeoutMs });
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal === undefined ? deadline : AbortSignal.any([deadline, options.signal]);
  try {
    const response = await request(options.url, { method: 'GET', headers: options.headers, dispatcher, signal }).catch((error: unknown) => {
      if (deadline.aborted) throw Object.assign(new Error(`No complete answer from ${new URL(options.url).host} within ${options.timeoutMs} ms`), { name: 'TimeoutError', code: 'UND_ERR_HEADERS_TIMEOUT', cause: error });
      throw error;
    });
    const headers: Record<string, string | undefined> = {};
    for (const [key, value] of Object.entries(response.headers)) headers[key] = Array.isArray(value) ? value.join(', ') : value;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      options.stats.bytesReceived += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    }
    noteAnswer(options.stats, response.statusCode, headers);
    return { status: response.statusCode, headers, body: Buffer.concat(chunks).toString('utf8') };
  } finally {
    await dispatcher.close().catch(() => undefined);
  }
}
