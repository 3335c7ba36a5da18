/**
 * The one factory of undici dispatchers: every HTTP edge that uses undici — the REST client and its
 * blob/tarball downloads and codeload redirects (src/github/http.ts), git's wire protocol
 * (src/git/http-transport.ts), the poll when it goes through a proxy (src/github/ref-request.ts) —
 * gets its dispatcher here, built from the same {@link NetSettings}:
 *
 *   direct      an `Agent` trusting Node's roots plus `caFile`
 *   via proxy   undici's `ProxyAgent`: CONNECT for https:// (TLS end to end, the CA above),
 *               absolute-form requests for http:// (as curl does without --proxytunnel); the proxy's
 *               credentials from its URL as `Proxy-Authorization: Basic`
 *
 * chosen per origin by curl's `NO_PROXY` rules (proxy-rules.ts). Each edge closes what it created.
 * Decision 0008 says why this routes itself instead of using undici's EnvHttpProxyAgent.
 */
import { Agent, Dispatcher, fetch as undiciFetch, ProxyAgent } from 'undici';
import { caBundle } from './ca.js';
import { proxyFor, type ProxySettings } from './proxy-rules.js';
import type { NetSettings } from './settings.js';

export type { NetSettings } from './settings.js';

/** Timeouts and pool size of one edge. */
export interface DispatcherOptions {
  /** Connections per origin. @default 8 */
  readonly connections?: number;
  /** Milliseconds to connect and to wait for response headers. */
  readonly timeoutMs: number;
  /** Milliseconds without a body byte. */
  readonly stallMs: number;
}

/** Picks a direct agent or a proxy agent per request origin. */
class RoutingDispatcher extends Dispatcher {
  readonly #direct: Dispatcher;
  readonly #proxies = new Map<string, Dispatcher>();
  readonly #proxy: ProxySettings;
  readonly #make: (uri: string) => Dispatcher;

  constructor(direct: Dispatcher, proxy: ProxySettings, make: (uri: string) => Dispatcher) {
    super();
    this.#direct = direct;
    this.#proxy = proxy;
    this.#make = make;
  }

  #route(origin: string | URL | undefined): Dispatcher {
    const uri = origin === undefined ? undefined : proxyFor(origin, this.#proxy);
    if (uri === undefined) return this.#direct;
    let agent = this.#proxies.get(uri);
    if (agent === undefined) {
      agent = this.#make(uri);
      this.#proxies.set(uri, agent);
    }
    return agent;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.#route(options.origin).dispatch(options, handler);
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    const done = Promise.all([this.#direct, ...this.#proxies.values()].map((d) => d.close())).then(() => undefined);
    if (callback === undefined) return done;
    void done.then(callback, callback);
  }

  override destroy(): Promise<void>;
  override destroy(error: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(error: Error | null, callback: () => void): void;
  override destroy(first?: Error | null | (() => void), second?: () => void): Promise<void> | void {
    const error = typeof first === 'function' ? null : (first ?? null);
    const callback = typeof first === 'function' ? first : second;
    const done = Promise.all([this.#direct, ...this.#proxies.values()].map((d) => d.destroy(error))).then(() => undefined);
    if (callback === undefined) return done;
    void done.then(callback, callback);
  }
}

/**
 * A dispatcher for one HTTP edge: direct or through the proxy per origin, trusting `caFile` too.
 * Throws a HostsyncError when caFile cannot be read. The caller closes it.
 */
export function createDispatcher(net: NetSettings, options: DispatcherOptions): Dispatcher {
  const ca = net.caFile === undefined ? undefined : caBundle(net.caFile);
  const tls = { timeout: options.timeoutMs, ...(ca === undefined ? {} : { ca: [...ca] }) };
  const pool = {
    connections: options.connections ?? 8,
    keepAliveTimeout: 30_000,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.stallMs,
  };
  const direct = new Agent({ ...pool, connect: tls });
  const proxy = net.proxy;
  if (proxy === undefined || ((proxy.http ?? '') === '' && (proxy.https ?? '') === '')) return direct;
  return new RoutingDispatcher(direct, proxy, (uri) =>
    new ProxyAgent({
      ...pool,
      uri,
      // http:// targets as absolute-form requests, like curl; https:// always by CONNECT.
      proxyTunnel: false,
      requestTls: tls,
      proxyTls: tls,
    }),
  );
}

/**
 * A `fetch` whose requests take the run's proxy and CA, for clients that want one (Octokit's auth
 * strategies, e.g. GitHub App token requests). Close it when done.
 */
export function createNetFetch(net: NetSettings, options: DispatcherOptions): { readonly fetch: typeof fetch; close(): Promise<void> } {
  const dispatcher = createDispatcher(net, options);
  const bound = ((input: string | URL | Request, init?: RequestInit) =>
    // undici's fetch and Node's global fetch share a shape but not their type declarations.
    undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as object), dispatcher } as Parameters<typeof undiciFetch>[1])) as unknown as typeof fetch;
  return { fetch: bound, close: () => dispatcher.close() };
}
