/**
 * Git smart HTTP for `git-upload-pack`, protocol v2: the capability advertisement
 * (`GET <repo>/info/refs?service=git-upload-pack`) and command requests
 * (`POST <repo>/git-upload-pack`), both with `Git-Protocol: version=2`. Request bodies over 1 KiB
 * are gzipped, as git does. Credentials travel only in the headers the caller passes (e.g.
 * `Authorization: Basic base64("x-access-token:<token>")`), never in a URL or a message.
 * @see https://git-scm.com/docs/gitprotocol-http#_smart_clients
 * @see https://git-scm.com/docs/gitprotocol-v2#_http_transport
 */
import { createGunzip, createInflate, gzipSync } from 'node:zlib';
import type { Dispatcher } from 'undici';
import { pipeline, type Readable } from 'node:stream';
import { createDirectClient, guardStall } from '../net/direct-request.js';
import { lazyDispatcher } from '../net/lazy-dispatcher.js';
import { HostsyncError, UsageError } from '../errors.js';
import { describeProxyFailure, describeTlsFailure, proxyAuthMessage } from '../net/errors.js';
import { describeProxy, proxyFor } from '../net/proxy-rules.js';
import type { NetSettings } from '../net/settings.js';
import { serverDateOf } from '../net/server-date.js';
import { readCapabilities, type Capabilities } from './capabilities.js';
import { GitHttpError, GitProtocolError, GitTransportError, ProtocolVersionError } from './errors.js';

/** Options of {@link createGitHttpTransport}. */
export interface GitHttpTransportOptions {
  /** The repository URL, e.g. `https://github.com/acme/demo.git`; it must not carry credentials. */
  readonly url: string;
  /** Extra request headers: Authorization, User-Agent. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The undici dispatcher (an Agent, a ProxyAgent) for every request. Without one, requests a proxy
   * applies to (`net`) go through undici, the others through `node:http(s)` (src/net/direct-request.ts).
   */
  readonly dispatcher?: Dispatcher;
  /** Proxy and CA file: the transport makes (on first use) and closes its own connections from them. */
  readonly net?: NetSettings;
  /** With `net`: milliseconds to connect and to wait for headers, and without a body byte. @default 30000, 20000 */
  readonly timeouts?: { readonly timeoutMs: number; readonly stallMs: number };
  /** Gzip request bodies longer than this many bytes. @default 1024 */
  readonly gzipRequestsOver?: number;
}

/** Counters of one transport. */
export interface TransportStats {
  /** HTTP requests sent (each one a round trip). */
  requests: number;
  /** Request body bytes sent (after gzip). */
  bytesSent: number;
  /** Response body bytes received (before any gunzip). */
  bytesReceived: number;
  /** The server's clock (ms since the epoch) from the `Date` header of the latest answer, when one came. */
  serverDate?: number | undefined;
}

/** The smart-HTTP edge of the git client. */
export interface GitHttpTransport {
  /** The repository URL (after any same-origin redirect of the advertisement). */
  readonly url: string;
  readonly stats: TransportStats;
  /** GET the v2 capability advertisement. */
  advertise(signal?: AbortSignal): Promise<Capabilities>;
  /** POST a command request; resolves the response body, streamed. */
  post(body: Buffer, signal?: AbortSignal): Promise<AsyncIterable<Buffer>>;
  /** Release connections (a dispatcher made from `net`, an SSH session). */
  close?(): Promise<void>;
}

const ADVERTISEMENT_TYPE = 'application/x-git-upload-pack-advertisement';
const RESULT_TYPE = 'application/x-git-upload-pack-result';
const MAX_REDIRECTS = 5;

/** The repository URL without a trailing slash, refusing credentials in it. */
function normalizeUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`The git URL ${JSON.stringify(url)} is not a valid URL.`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new UsageError(`The git URL must be http(s), got ${parsed.protocol}//…`);
  if (parsed.username !== '' || parsed.password !== '') {
    throw new UsageError('The git URL must not carry credentials; pass the token in an Authorization header instead.');
  }
  return parsed.href.replace(/\/+$/, '');
}

/** An HTTP answer, from undici or from `node:http`: read or destroy its body. */
interface Answer {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Readable;
}

/** Up to `limit` bytes of a body as text (the rest is read and dropped). */
async function textOf(body: AsyncIterable<Buffer>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size < limit) chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, limit);
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value ?? '';
}

/**
 * A network failure as a {@link GitTransportError}; an abort stays what it is, so callers can
 * tell "stopped on purpose" from "failed".
 */
function transportError(error: unknown, where: string, url: string, net: NetSettings | undefined): unknown {
  if (error instanceof Error && error.name === 'AbortError') return error;
  // hostsync's own errors stay what they are: a stop by SIGINT/SIGTERM (the run's abort reason), an
  // unreadable caFile, a transport or protocol error already described.
  if (error instanceof HostsyncError) return error;
  const target = new URL(url);
  // Certificate and proxy problems do not go away on a retry: one final line with the fix.
  const tls = describeTlsFailure(error, target.host, net?.caFile);
  if (tls !== undefined) return new HostsyncError(tls, 1, { cause: error });
  const proxy = proxyFor(target, net?.proxy);
  const refused = describeProxyFailure(error, proxy === undefined ? undefined : describeProxy(proxy), target.host);
  if (refused !== undefined) return new HostsyncError(refused, 1, { cause: error });
  const message = error instanceof Error ? error.message : String(error);
  const code = typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? ` (${error.code})` : '';
  return new GitTransportError(`The connection failed ${where}: ${message}${code}.`, { cause: error });
}

/** The message for a refused request; the URL never holds credentials (see normalizeUrl). */
function statusError(status: number, url: string, text: string): GitHttpError {
  const server = text.trim() === '' ? '' : ` The server said: ${text.trim().slice(0, 200)}`;
  if (status === 407) return new GitHttpError(status, proxyAuthMessage(undefined, new URL(url).host));
  if (status === 401) return new GitHttpError(status, `${url} answered 401: authentication is required or the token was refused; check the token and that it may read this repository.${server}`);
  if (status === 403) return new GitHttpError(status, `${url} answered 403: the token may not read this repository (or the host refused the request).${server}`);
  if (status === 404) return new GitHttpError(status, `${url} answered 404: no such repository, or it is private and the token cannot see it.${server}`);
  if (status >= 500) return new GitHttpError(status, `${url} answered ${status}: the git server failed; try again later.${server}`);
  return new GitHttpError(status, `${url} answered HTTP ${status}, expected 200.${server}`);
}

/** Create the transport. Nothing is sent until a method is called. */
export function createGitHttpTransport(options: GitHttpTransportOptions): GitHttpTransport {
  let baseUrl = normalizeUrl(options.url);
  const stats: TransportStats = { requests: 0, bytesSent: 0, bytesReceived: 0 };
  const gzipOver = options.gzipRequestsOver ?? 1024;
  const timeoutMs = options.timeouts?.timeoutMs ?? 30_000;
  const stallMs = options.timeouts?.stallMs ?? 20_000;
  /** undici's dispatcher for requests through a proxy: made from `net` on first use. */
  const own = options.dispatcher !== undefined || options.net === undefined ? undefined : lazyDispatcher(options.net, { connections: 2, timeoutMs, stallMs });
  /** Direct requests (no dispatcher given, no proxy for the URL): Node's own client. */
  const direct = options.dispatcher === undefined ? createDirectClient({ timeoutMs, caFile: options.net?.caFile, connections: 2 }) : undefined;

  async function send(method: 'GET' | 'POST', url: string, headers: Record<string, string>, body: Buffer | undefined, signal: AbortSignal | undefined): Promise<Answer> {
    stats.requests += 1;
    if (body !== undefined) stats.bytesSent += body.length;
    const all = { ...options.headers, ...headers, 'git-protocol': 'version=2' };
    const answer = async (): Promise<Answer> => {
      if (direct !== undefined && proxyFor(new URL(url), options.net?.proxy) === undefined) return direct.request({ method, url, headers: all, body, signal });
      // undici is loaded only here, so runs that never go through a proxy never load it.
      const { request } = await import('../net/undici.js');
      const dispatcher = own === undefined ? options.dispatcher : await own.get();
      return request(url, { method, headers: all, body: body ?? null, ...(dispatcher === undefined ? {} : { dispatcher }), ...(signal === undefined ? {} : { signal }) });
    };
    return answer().then(
      (response) => {
        stats.serverDate = serverDateOf(response.headers) ?? stats.serverDate;
        return response;
      },
      (error: unknown) => {
        throw transportError(error, `on ${method} ${url}`, url, options.net);
      },
    );
  }

  /** Read a short error body for the message, then release the connection. */
  async function fail(response: Answer, url: string): Promise<never> {
    let text = '';
    try {
      const type = header(response.headers, 'content-type');
      if (type.startsWith('text/')) text = await textOf(guardStall(response.body as AsyncIterable<Buffer>, stallMs, new URL(url).host, () => response.body.destroy()), 1000);
      else response.body.destroy();
    } catch {
      // The status is what matters; an unreadable body adds nothing.
    }
    throw statusError(response.statusCode, url, text);
  }

  /** The response body as counted, decoded chunks; a failed connection becomes a GitTransportError. */
  function bodyOf(response: Answer, url: string): AsyncIterable<Buffer> {
    const raw = response.body;
    const encoding = header(response.headers, 'content-encoding').toLowerCase();
    const plain = encoding === '' || encoding === 'identity';
    if (!plain && encoding !== 'gzip' && encoding !== 'x-gzip' && encoding !== 'deflate') {
      raw.destroy();
      throw new GitProtocolError(`The git server sent a body with Content-Encoding ${encoding}, which hostsync cannot decode.`);
    }
    let source: Readable = raw;
    if (!plain) {
      const decoder = encoding === 'deflate' ? createInflate() : createGunzip();
      // Count wire bytes beside the pipeline: both listeners see every chunk, the pipeline keeps the
      // back-pressure, and either stream ending early (a stall, a reader that stops) destroys both.
      raw.on('data', (chunk: Buffer) => {
        stats.bytesReceived += chunk.length;
      });
      source = pipeline(raw, decoder, () => undefined);
    }
    // No byte for stallMs while waiting for one fails the body (the time spent on a chunk does not count).
    const watched = guardStall(source as AsyncIterable<Buffer>, stallMs, new URL(url).host, () => source.destroy());
    async function* guarded(): AsyncGenerator<Buffer> {
      try {
        for await (const chunk of watched) {
          if (plain) stats.bytesReceived += chunk.length;
          yield chunk;
        }
      } catch (error) {
        throw transportError(error, `while receiving the answer of ${url}`, url, options.net);
      }
    }
    return guarded();
  }

  return {
    get url() {
      return baseUrl;
    },
    stats,

    async advertise(signal) {
      let url = `${baseUrl}/info/refs?service=git-upload-pack`;
      for (let hops = 0; ; hops++) {
        const response = await send('GET', url, { accept: '*/*' }, undefined, signal);
        const location = header(response.headers, 'location');
        if ([301, 302, 303, 307, 308].includes(response.statusCode) && location !== '' && hops < MAX_REDIRECTS) {
          response.body.destroy();
          const next = new URL(location, url);
          // Credentials go only to the origin they were given for.
          if (next.origin !== new URL(url).origin) throw new GitHttpError(response.statusCode, `${url} redirects to another host (${next.origin}); refusing to follow with credentials.`);
          url = next.href;
          continue;
        }
        if (response.statusCode !== 200) return fail(response, url);
        const type = header(response.headers, 'content-type');
        if (!type.startsWith(ADVERTISEMENT_TYPE)) {
          response.body.destroy();
          throw new ProtocolVersionError(`${url} answered with Content-Type ${JSON.stringify(type)}, not ${ADVERTISEMENT_TYPE}: it is not a smart HTTP git server (a "dumb" server, or a web page).`);
        }
        // git keeps using the URL the advertisement was finally served from.
        const suffix = '/info/refs?service=git-upload-pack';
        if (url.endsWith(suffix)) baseUrl = url.slice(0, -suffix.length);
        return readCapabilities(bodyOf(response, url));
      }
    },

    async post(body, signal) {
      const url = `${baseUrl}/git-upload-pack`;
      const gzip = body.length > gzipOver;
      const payload = gzip ? gzipSync(body) : body;
      const response = await send(
        'POST',
        url,
        {
          'content-type': 'application/x-git-upload-pack-request',
          accept: RESULT_TYPE,
          ...(gzip ? { 'content-encoding': 'gzip' } : {}),
        },
        payload,
        signal,
      );
      if (response.statusCode !== 200) return fail(response, url);
      const type = header(response.headers, 'content-type');
      if (type.startsWith(ADVERTISEMENT_TYPE)) {
        response.body.destroy();
        throw new ProtocolVersionError(`${url} answered a protocol v2 command with a v0/v1 reference advertisement; hostsync needs Git protocol v2.`);
      }
      if (!type.startsWith(RESULT_TYPE)) {
        response.body.destroy();
        throw new GitProtocolError(`${url} answered with Content-Type ${JSON.stringify(type)}, not ${RESULT_TYPE}.`);
      }
      return bodyOf(response, url);
    },

    async close() {
      direct?.close();
      await own?.close();
    },
  };
}
