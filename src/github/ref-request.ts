/**
 * The poll's one request, on `node:http(s)` alone: `GET /repos/{o}/{r}/commits/{ref}` with
 * `Accept: application/vnd.github.sha` and `If-None-Match`
 * (https://docs.github.com/rest/commits/commits#get-a-commit). An unchanged poll — the common
 * case, every 15 minutes on every host — then never loads undici or Octokit: measured, that import
 * alone cost ~230 ms of CPU and ~55 MB of memory per run, more than the request itself.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readRateLimit } from './errors.js';
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
}

const MAX_BODY = 64 * 1024;

/** One GET; resolves with whatever status came back, rejects on network failure or timeout. */
export function requestRef(options: RefRequestOptions): Promise<RefResponse> {
  const url = new URL(options.url);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', headers: options.headers, timeout: options.timeoutMs }, (res) => {
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
        options.stats.httpRequests++;
        options.stats.apiRequests++;
        if (status === 304) options.stats.notModified++;
        const rate = readRateLimit(headers);
        if (rate !== undefined) options.stats.rateLimit = rate;
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
