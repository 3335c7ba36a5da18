/**
 * One HTTP request on `node:http(s)`, for an edge whose target no proxy applies to: git's smart
 * HTTP (src/git/http-transport.ts). undici costs 65–90 ms of CPU to import on the machines here —
 * a sixth of a whole ten-file update — while Node's own client is part of its start-up snapshot.
 * Through a proxy the edge keeps undici's ProxyAgent (CONNECT is undici's job, not ours: decision
 * 0008, which has the measurements).
 *
 * The same limits as the undici dispatchers of src/net/dispatcher.ts: `timeoutMs` to connect and
 * get the response's headers; `stallMs` without a body byte while the reader waits for one
 * ({@link guardStall}, which the reader wraps the body in); a private CA (`caFile`) is trusted
 * beside Node's roots. Errors carry undici's codes for the same failures (`UND_ERR_HEADERS_TIMEOUT`,
 * `UND_ERR_BODY_TIMEOUT`), so callers describe them alike; an abort rejects with the signal's reason.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { caBundle } from './ca.js';

/** An answer: status, headers and the body, streamed (read or destroy it to free the connection). */
export interface DirectAnswer {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Readable;
}

export interface DirectRequest {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface DirectClientOptions {
  /** Milliseconds to connect and to get the response headers. */
  readonly timeoutMs: number;
  /** PEM file of a private CA, trusted beside Node's roots. */
  readonly caFile?: string | undefined;
  /** Connections kept per origin. @default 2 */
  readonly connections?: number;
}

/** Requests over kept-alive connections of its own; `close` ends them. */
export interface DirectClient {
  request(options: DirectRequest): Promise<DirectAnswer>;
  close(): void;
}

function timeoutError(message: string, code: string): Error {
  return Object.assign(new Error(message), { name: 'TimeoutError', code });
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : Object.assign(new Error('The request was aborted.'), { name: 'AbortError' });
}

/**
 * `body`, failing with `UND_ERR_BODY_TIMEOUT` when the server sends nothing for `ms` while the reader
 * is waiting for the next chunk — undici's bodyTimeout, not the socket's idle timer: while the reader
 * is busy with a chunk (a slow disk), nothing is owed. On a stall `abandon` is called (destroy the
 * body so its connection is not reused).
 */
export async function* guardStall(body: AsyncIterable<Buffer>, ms: number, host: string, abandon: () => void): AsyncGenerator<Buffer> {
  const chunks = body[Symbol.asyncIterator]();
  let ended = false;
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const stalled = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(timeoutError(`No byte of the answer from ${host} for ${ms} ms`, 'UND_ERR_BODY_TIMEOUT')), ms);
      });
      let next: IteratorResult<Buffer>;
      try {
        next = await Promise.race([chunks.next(), stalled]);
      } catch (error) {
        abandon();
        throw error;
      } finally {
        clearTimeout(timer);
      }
      if (next.done === true) {
        ended = true;
        return;
      }
      yield next.value;
    }
  } finally {
    // A reader that stops early (a damaged pack, an abort) releases the body, as for-await would —
    // without waiting: after a stall a read is still pending, and `abandon` has destroyed the body.
    if (!ended) void chunks.return?.()?.catch(() => undefined);
  }
}

export function createDirectClient(options: DirectClientOptions): DirectClient {
  const pool = { keepAlive: true, maxSockets: options.connections ?? 2 };
  let http: HttpAgent | undefined;
  let https: HttpsAgent | undefined;
  return {
    request(call) {
      const url = new URL(call.url);
      const secure = url.protocol === 'https:';
      // Read here, not at creation: an unreadable caFile fails the request that needs it, naming the file.
      const tls = secure && options.caFile !== undefined ? { ca: [...caBundle(options.caFile)] } : {};
      const agent = secure ? (https ??= new HttpsAgent({ ...pool, ...tls })) : (http ??= new HttpAgent(pool));
      const send = secure ? httpsRequest : httpRequest;
      return new Promise<DirectAnswer>((resolve, reject) => {
        const signal = call.signal;
        if (signal?.aborted === true) {
          reject(abortReason(signal));
          return;
        }
        const headers = { ...call.headers, ...(call.body === undefined ? {} : { 'content-length': String(call.body.length) }) };
        let answer: Readable | undefined;
        const req = send(url, { method: call.method, headers, agent }, (res) => {
          answer = res;
          clearTimeout(headersTimer);
          res.once('close', () => signal?.removeEventListener('abort', onAbort));
          resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: res });
        });
        const headersTimer = setTimeout(() => {
          req.destroy(timeoutError(`No answer from ${url.host} within ${options.timeoutMs} ms`, 'UND_ERR_HEADERS_TIMEOUT'));
        }, options.timeoutMs);
        const onAbort = (): void => {
          // Once the answer came, its body is what fails with the reason.
          (answer ?? req).destroy(abortReason(signal!));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        req.on('error', (error) => {
          clearTimeout(headersTimer);
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        });
        req.end(call.body);
      });
    },
    close() {
      http?.destroy();
      https?.destroy();
    },
  };
}
