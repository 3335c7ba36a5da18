/**
 * GitHub App authentication: an installation access token for one repository, minted with
 * `@octokit/auth-app` from the App's id and private key, kept in the state dir (0600) and reused
 * across runs until shortly before it expires.
 *
 * Flow: cached token still good → use it; else JWT (RS256, signed with the key) →
 * `GET /repos/{owner}/{repo}/installation` when no installation id is configured →
 * `POST /app/installations/{id}/access_tokens` scoped to this repository with `contents: read` →
 * cache. The token works for REST (`Authorization: Bearer`) and git (`x-access-token:<token>`).
 * @see https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/authenticating-as-a-github-app-installation
 *
 * A skewed host clock is reported ("check the host's clock"), not corrected behind the user's back:
 * the cache's expiry decisions and TLS both rely on it.
 */
import type { createAppAuth as CreateAppAuth } from '@octokit/auth-app';
import { errorMessage, HostsyncError, UsageError } from '../errors.js';
import { networkError } from '../github/errors.js';
import { withRetry, type RetryPolicy } from '../github/retry.js';
import type { Logger } from '../model.js';
import { parseAppPrivateKey } from './app-key.js';
import { AppAuthError, classifyAppError, type AppRequestContext } from './errors.js';
import { dropCachedToken, readCachedToken, writeCachedToken, type CachedAppToken } from './token-cache.js';

/** A token is replaced this long before it expires (or at half its life, if that is shorter). */
export const REFRESH_MARGIN_MS = 5 * 60_000;

const API_VERSION = '2022-11-28';

/** Where secrets are registered so no output ever shows them. */
export interface SecretSink {
  add(secret: string | undefined): void;
}

/** Options of {@link createAppTokenProvider}. */
export interface AppTokenProviderOptions {
  /** The numeric App ID (as a string of digits). */
  readonly appId: string;
  /** The App's private key, PEM (PKCS#1 as GitHub hands it out, or PKCS#8). */
  readonly privateKey: string;
  /** Named in messages instead of the key, e.g. its file. @default 'the configured private key' */
  readonly keySource?: string | undefined;
  /** Looked up from the repository when absent. */
  readonly installationId?: number | undefined;
  readonly owner: string;
  readonly repo: string;
  /** API root, e.g. https://api.github.com or https://HOST/api/v3. */
  readonly apiUrl: string;
  /** JSON file in the state dir for the token between runs (written 0600). */
  readonly cacheFile: string;
  /** Write a minted token to `cacheFile` (a --check-only run on a host without a state dir does not). @default true */
  readonly persist?: boolean | undefined;
  /** The run's redactor: the key, every JWT and every token are added to it. */
  readonly redact: SecretSink;
  /** @default globalThis.fetch with a `timeoutMs` timeout */
  readonly fetch?: typeof fetch | undefined;
  readonly userAgent?: string | undefined;
  /** Per request, when `fetch` is not given. @default 30000 */
  readonly timeoutMs?: number | undefined;
  readonly retry?: RetryPolicy | undefined;
  readonly signal?: AbortSignal | undefined;
  /** This host's clock. @default Date.now */
  readonly now?: (() => number) | undefined;
  readonly log?: Logger | undefined;
}

/** An installation token ready for use. */
export interface AppToken {
  readonly value: string;
  /** When it expires, on this host's clock (ISO 8601). */
  readonly expiresAt: string;
  /** When it was minted, on this host's clock (ISO 8601): GitHub may answer 401 for a few seconds after. */
  readonly mintedAt: string;
  readonly installationId: number;
  readonly source: 'github-app';
}

/** Hands out the installation token of one repository. */
export interface AppTokenProvider {
  /** The cached token while it is good, else a new one. Throws {@link AppAuthError} or a network HostsyncError. */
  token(): Promise<AppToken>;
  /** Forget the token, here and in the cache file (after GitHub answered 401 to it). */
  invalidate(): Promise<void>;
}

type AppAuth = ReturnType<typeof CreateAppAuth>;
type OctokitRequest = NonNullable<Parameters<typeof CreateAppAuth>[0]['request']>;

/** Create the provider; the key and the app id are checked at once (exit 2 when wrong). */
export function createAppTokenProvider(options: AppTokenProviderOptions): AppTokenProvider {
  const now = options.now ?? Date.now;
  const keySource = options.keySource ?? 'the configured private key';
  const repository = `${options.owner}/${options.repo}`;
  options.redact.add(options.privateKey);
  if (!/^\d{1,20}$/.test(options.appId)) {
    throw new UsageError(`Expected appId to be the numeric App ID from the GitHub App's settings page, got '${options.appId.slice(0, 40)}'.`);
  }
  if (options.installationId !== undefined && (!Number.isSafeInteger(options.installationId) || options.installationId <= 0)) {
    throw new UsageError(`Expected appInstallationId to be a positive integer, got ${String(options.installationId)}.`);
  }
  // auth-app takes any PEM Node reads once it is PKCS#8: normalize (and check) it here.
  const pkcs8 = parseAppPrivateKey(options.privateKey, keySource).export({ type: 'pkcs8', format: 'pem' }).toString();
  options.redact.add(pkcs8);

  let current: AppToken | undefined;
  let pending: Promise<AppToken> | undefined;
  let loaded: Promise<{ auth: AppAuth; request: OctokitRequest; serverDate: () => number | undefined }> | undefined;

  const good = (token: { expiresAt: string; mintedAt: string }): boolean => {
    const expires = Date.parse(token.expiresAt);
    const lifetime = expires - Date.parse(token.mintedAt);
    const margin = Number.isFinite(lifetime) ? Math.min(REFRESH_MARGIN_MS, Math.max(0, lifetime) / 2) : REFRESH_MARGIN_MS;
    return expires - margin > now();
  };

  // Octokit and auth-app load only when an App token has to be minted.
  const load = (): Promise<{ auth: AppAuth; request: OctokitRequest; serverDate: () => number | undefined }> =>
    (loaded ??= (async () => {
      const [{ createAppAuth }, { Octokit }] = await Promise.all([import('@octokit/auth-app'), import('@octokit/rest')]);
      let lastDate: number | undefined;
      const baseFetch = options.fetch ?? globalThis.fetch;
      const timeoutMs = options.timeoutMs ?? 30_000;
      const dated = (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
        const headers = new Headers(init?.headers);
        if (!headers.has('x-github-api-version')) headers.set('x-github-api-version', API_VERSION);
        // Every credential sent (the JWTs auth-app signs included) is known to the redactor.
        options.redact.add(headers.get('authorization')?.replace(/^(bearer|token)\s+/i, '') ?? undefined);
        const signals = [...(options.fetch === undefined ? [AbortSignal.timeout(timeoutMs)] : []), ...(init?.signal ? [init.signal] : []), ...(options.signal ? [options.signal] : [])];
        const response = await baseFetch(input, { ...init, headers, ...(signals.length > 0 ? { signal: AbortSignal.any(signals) } : {}) });
        // GitHub's clock, to turn `expires_at` into this host's time.
        const date = Date.parse(response.headers.get('date') ?? '');
        lastDate = Number.isFinite(date) ? date : undefined;
        return response;
      }) as typeof fetch;
      const silent = (): void => undefined;
      const octokit = new Octokit({
        baseUrl: options.apiUrl.replace(/\/+$/, ''),
        userAgent: options.userAgent ?? 'hostsync',
        request: { fetch: dated },
        log: { debug: silent, info: silent, warn: silent, error: silent },
      });
      const auth = createAppAuth({
        appId: options.appId,
        privateKey: pkcs8,
        request: octokit.request,
        log: { warn: (message: string) => options.log?.('warn', message) },
      });
      return { auth, request: octokit.request, serverDate: () => lastDate };
    })());

  /** One request with retries for network failures and 5xx; failures become AppAuthErrors. */
  const call = async <T>(ctx: Omit<AppRequestContext, 'now'>, run: () => Promise<T>): Promise<T> =>
    withRetry(
      async () => {
        try {
          return await run();
        } catch (error) {
          throw classifyAppError(error, { ...ctx, now: now() });
        }
      },
      { ...options.retry, signal: options.signal, onRetry: (error, attempt) => options.log?.('warn', `GitHub App token, retry ${attempt}: ${errorMessage(error)}`) },
    ).catch((error: unknown) => {
      throw error instanceof HostsyncError ? error : networkError(error, options.apiUrl);
    });

  const context = (step: 'lookup' | 'mint', installationId?: number): Omit<AppRequestContext, 'now'> => ({
    appId: options.appId,
    repo: repository,
    apiUrl: options.apiUrl,
    step,
    installationId,
    keySource,
  });

  /** A JWT for the App (10 minutes), registered with the redactor. */
  const jwt = async (auth: AppAuth): Promise<string> => {
    const { token } = await auth({ type: 'app' });
    options.redact.add(token);
    return token;
  };

  const lookUpInstallation = async (): Promise<number> => {
    const { auth, request } = await load();
    const response = await call(context('lookup'), async () =>
      request('GET /repos/{owner}/{repo}/installation', {
        owner: options.owner,
        repo: options.repo,
        headers: { authorization: `Bearer ${await jwt(auth)}` },
      }),
    );
    const id = (response.data as { id?: unknown }).id;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
      throw new AppAuthError('github', `GitHub answered GET /repos/${repository}/installation without an installation id. Check --api-url.`);
    }
    return id;
  };

  const mint = async (): Promise<AppToken> => {
    const installationId = options.installationId ?? (await lookUpInstallation());
    const { auth, serverDate } = await load();
    const minted = await call(context('mint', installationId), () =>
      // Least privilege: this repository only, read-only contents (metadata comes with it).
      auth({ type: 'installation', installationId, repositoryNames: [options.repo], permissions: { contents: 'read' }, refresh: true }),
    );
    const at = now();
    const githubExpiry = Date.parse(minted.expiresAt);
    if (typeof minted.token !== 'string' || !/^[\x21-\x7e]{8,}$/.test(minted.token) || !Number.isFinite(githubExpiry)) {
      throw new AppAuthError('github', `GitHub answered the token request of GitHub App ${options.appId} without a usable token or expiry. Check --api-url.`);
    }
    options.redact.add(minted.token);
    const server = serverDate();
    const expires = server === undefined ? githubExpiry : at + (githubExpiry - server);
    const token: AppToken = { value: minted.token, expiresAt: new Date(expires).toISOString(), mintedAt: new Date(at).toISOString(), installationId, source: 'github-app' };
    const record: CachedAppToken = { appId: options.appId, installationId, repository: repository.toLowerCase(), token: token.value, expiresAt: token.expiresAt, mintedAt: token.mintedAt };
    if (options.persist !== false) await writeCachedToken(options.cacheFile, record).catch((error: unknown) => {
      options.log?.('warn', `Cannot keep the GitHub App token in ${options.cacheFile} (${errorMessage(error)}); the next run mints a new one.`);
    });
    return token;
  };

  const obtain = async (): Promise<AppToken> => {
    const cached = await readCachedToken(options.cacheFile, { appId: options.appId, installationId: options.installationId, repository });
    if (cached !== undefined && good(cached)) {
      options.redact.add(cached.token);
      options.log?.('debug', `GitHub App token from ${options.cacheFile}, good until ${cached.expiresAt}.`);
      return { value: cached.token, expiresAt: cached.expiresAt, mintedAt: cached.mintedAt, installationId: cached.installationId, source: 'github-app' };
    }
    if (cached !== undefined) options.redact.add(cached.token);
    return mint();
  };

  return {
    token: async () => {
      if (current !== undefined && good(current)) return current;
      pending ??= obtain()
        .then((token) => (current = token))
        .finally(() => {
          pending = undefined;
        });
      return pending;
    },
    invalidate: async () => {
      if (current !== undefined) options.redact.add(current.value);
      current = undefined;
      await dropCachedToken(options.cacheFile).catch((error: unknown) => {
        options.log?.('warn', `Cannot remove the GitHub App token cache ${options.cacheFile}: ${errorMessage(error)}.`);
      });
    },
  };
}
