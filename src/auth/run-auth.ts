/**
 * The credential of one run. Without a GitHub App it is the configured token (or none), as it is.
 * With one (`appId`), it is the App's installation token for the run's repository: from the cache
 * in the state dir while it is good, else minted (github-app.ts), through the run's proxy and CA
 * (net/dispatcher.ts `createNetFetch`). Commands put it into the config they run with
 * (`withToken`), so the REST client, git's wire protocol, the git CLI fallback and Git LFS all send
 * this one token, and the redactor knows it before any of them runs.
 *
 * After a failure, `renew` decides whether planning is worth one more try (pipeline/sync.ts asks):
 *   - GitHub answered 401 to a token from the cache: it was revoked, or the installation changed.
 *     The cache is dropped and a new token minted, once per run.
 *   - GitHub answered 401 to a token minted seconds ago: GitHub may not accept a new token
 *     everywhere at once (auth-app retries for 5 s for the same reason). One more try after 1 s.
 *   - Anything else, or a second refusal: the run fails, with a message naming the App.
 * Nothing loops: each of the two retries happens at most once per run.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { GitHubAppConfig, ProxyConfig, Token } from '../config/types.js';
import { HostsyncError, UsageError } from '../errors.js';
import type { RetryPolicy } from '../github/retry.js';
import type { Logger } from '../model.js';
import { createAppTokenProvider, type AppToken, type AppTokenProvider, type SecretSink } from './github-app.js';
import { AppAuthError } from './errors.js';

/** A new token refused within this long after minting is tried once more (GitHub's replication delay). */
export const NEW_TOKEN_GRACE_MS = 5_000;
/** The pause before that second try. */
export const NEW_TOKEN_RETRY_DELAY_MS = 1_000;

/** The settings a run's credential depends on. */
export interface RunAuthSettings {
  readonly githubApp: GitHubAppConfig | undefined;
  readonly token: Token | undefined;
  readonly apiUrl: string;
  readonly stateDir: string;
  readonly proxy: ProxyConfig | undefined;
  readonly caFile: string | undefined;
  readonly timeoutSec: number;
  readonly stallSec: number;
  /** A --check-only run keeps a minted token only in a state dir that already exists. */
  readonly checkOnly: boolean;
}

export interface RunAuthDeps {
  /** The run's redactor: the App's key, every JWT and token are added to it. */
  readonly redact: SecretSink;
  readonly log: Logger;
  readonly retry?: RetryPolicy | undefined;
  readonly signal?: AbortSignal | undefined;
  /** @default Date.now */
  readonly now?: (() => number) | undefined;
  /** The pause before a new token is tried again. @default a timer */
  readonly sleep?: ((ms: number) => Promise<void>) | undefined;
  readonly userAgent?: string | undefined;
  /** Replaces the proxy- and CA-aware fetch (tests). */
  readonly fetch?: typeof fetch | undefined;
}

/** How the run authenticated, for `--json` (`auth`, `authRequests`) and the metrics. */
export type AuthSummary =
  | { readonly method: 'none'; readonly requests: 0 }
  | { readonly method: 'token'; readonly source: string; readonly requests: 0 }
  | {
      readonly method: 'github-app';
      readonly appId: string;
      /** Undefined when no token was needed (the run failed before). */
      readonly installationId: number | undefined;
      /** Where the token the run ended with came from: the cache, minted, or minted again after GitHub refused the cached one. */
      readonly token: 'cached' | 'minted' | 'renewed' | undefined;
      /** When that token expires (this host's clock). */
      readonly expiresAt: string | undefined;
      /**
       * Requests made for the token: the installation lookup and the token request, 0 when the cache
       * served. They are authenticated as the App (a JWT) and do not count against the installation's
       * REST quota, so `quotaPoints` leaves them out.
       */
      readonly requests: number;
    };

/** The run's credential (see the module comment). */
export interface RunAuth {
  /**
   * `config` with the run's token in `token`: unchanged without an App; with one, the installation
   * token for `repo` (default `config.repo`). Throws AppAuthError (exit 2 for the key, 1 otherwise).
   */
  withToken<C extends { readonly token: Token | undefined; readonly repo?: string | undefined }>(config: C, repo?: string): Promise<C>;
  /** After a failure: the token to try once more with, or undefined; throws a clearer error for a new App token GitHub keeps refusing. */
  renew(error: unknown): Promise<Token | undefined>;
  summary(): AuthSummary;
  /** Release the connections of the token requests. */
  close(): Promise<void>;
}

/** The cache file of one App, installation (or "look it up") and repository on one server, in `stateDir`. */
export function appTokenCacheFile(stateDir: string, apiUrl: string, appId: string, installationId: number | undefined, repo: string): string {
  const key = createHash('sha256')
    .update(JSON.stringify([apiUrl.replace(/\/+$/, '').toLowerCase(), appId, installationId ?? null, repo.toLowerCase()]))
    .digest('hex')
    .slice(0, 16);
  return join(stateDir, 'auth', `github-app-${appId}-${key}.json`);
}

/** GitHub (REST, git, LFS) answered 401 somewhere in `error`'s cause chain; not a refusal of the App's own JWT. */
export function isCredentialRejection(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && typeof current === 'object' && current !== null; depth++) {
    if (current instanceof AppAuthError) return false;
    if ((current as { status?: unknown }).status === 401) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** How the `token` field of a run's config names an App token in messages ("the token from GitHub App 1 (installation 2)"). */
function tokenOf(appId: string, token: AppToken): Token {
  return { value: token.value, source: `GitHub App ${appId} (installation ${token.installationId})` };
}

/** The run's credential for `settings`; nothing is read or requested until `withToken`. */
export function createRunAuth(settings: RunAuthSettings, deps: RunAuthDeps): RunAuth {
  const app = settings.githubApp;
  if (app === undefined) {
    const summary: AuthSummary = settings.token === undefined ? { method: 'none', requests: 0 } : { method: 'token', source: settings.token.source, requests: 0 };
    return { withToken: async (config) => config, renew: async () => undefined, summary: () => summary, close: async () => undefined };
  }

  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  deps.redact.add(app.privateKey);
  let requests = 0;
  let net: Promise<{ fetch: typeof fetch; close(): Promise<void> }> | undefined;
  // Every App request goes through the run's proxy and CA; undici loads only when a token is minted.
  const fetchVia = (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    requests++;
    if (deps.fetch !== undefined) return deps.fetch(input, init);
    net ??= import('../net/dispatcher.js').then(({ createNetFetch }) =>
      createNetFetch({ proxy: settings.proxy, caFile: settings.caFile }, { timeoutMs: settings.timeoutSec * 1000, stallMs: settings.stallSec * 1000, connections: 2 }),
    );
    return (await net).fetch(input, init);
  }) as typeof fetch;

  const providers = new Map<string, { provider: AppTokenProvider; cacheFile: string }>();
  let persist: Promise<boolean> | undefined;
  const providerFor = async (repo: string): Promise<{ provider: AppTokenProvider; cacheFile: string }> => {
    const key = repo.toLowerCase();
    const known = providers.get(key);
    if (known !== undefined) return known;
    const [owner = '', name = ''] = repo.split('/');
    const cacheFile = appTokenCacheFile(settings.stateDir, settings.apiUrl, app.appId, app.installationId, repo);
    // --check-only creates no state directory; one that exists keeps the token for the next run.
    persist ??= settings.checkOnly ? stat(settings.stateDir).then(() => true, () => false) : Promise.resolve(true);
    const provider = createAppTokenProvider({
      appId: app.appId,
      privateKey: app.privateKey,
      keySource: app.privateKeyFile,
      installationId: app.installationId,
      owner,
      repo: name,
      apiUrl: settings.apiUrl,
      cacheFile,
      persist: await persist,
      redact: deps.redact,
      fetch: fetchVia,
      userAgent: deps.userAgent,
      retry: deps.retry,
      signal: deps.signal,
      now,
      log: deps.log,
    });
    const entry = { provider, cacheFile };
    providers.set(key, entry);
    return entry;
  };

  /** The token handed out last: the one the run is using. */
  let current: { repo: string; token: AppToken; origin: 'cached' | 'minted' | 'renewed'; cacheFile: string; provider: AppTokenProvider } | undefined;
  let reminted = false;
  let retriedNew = false;

  const obtain = async (repo: string, renewed: boolean): Promise<AppToken> => {
    const { provider, cacheFile } = await providerFor(repo);
    const before = requests;
    const token = await provider.token();
    const origin = renewed ? 'renewed' : requests === before ? 'cached' : 'minted';
    current = { repo, token, origin, cacheFile, provider };
    deps.log('debug', origin === 'cached' ? `GitHub App ${app.appId}: token from ${cacheFile}, good until ${token.expiresAt}.` : `GitHub App ${app.appId}: new installation token for ${repo} (installation ${token.installationId}), good until ${token.expiresAt}.`);
    return token;
  };

  return {
    async withToken(config, repo) {
      const target = repo ?? config.repo;
      if (target === undefined || !/^[^/\s]+\/[^/\s]+$/.test(target)) {
        throw new UsageError(`Authenticating as GitHub App ${app.appId} needs the repository as OWNER/NAME: pass --repo OWNER/NAME, or set "repo" in the config file.`);
      }
      return { ...config, token: tokenOf(app.appId, await obtain(target, false)) };
    },

    async renew(error) {
      const used = current;
      if (used === undefined || !isCredentialRejection(error)) return undefined;
      const what = `GitHub App ${app.appId} (installation ${used.token.installationId})`;
      if (used.origin === 'cached' && !reminted) {
        reminted = true;
        deps.log('warn', `GitHub refused the token of ${what} kept in ${used.cacheFile} (401): it was revoked, or the installation changed. Minting a new one and planning again.`);
        await used.provider.invalidate();
        return tokenOf(app.appId, await obtain(used.repo, true));
      }
      const age = now() - Date.parse(used.token.mintedAt);
      if (used.origin !== 'cached' && !retriedNew && age >= 0 && age < NEW_TOKEN_GRACE_MS) {
        retriedNew = true;
        deps.log('info', `GitHub refused the token of ${what} minted ${(age / 1000).toFixed(1)} s ago (401); a new token can take GitHub a moment. Trying again in ${NEW_TOKEN_RETRY_DELAY_MS / 1000} s.`);
        await sleep(NEW_TOKEN_RETRY_DELAY_MS);
        return tokenOf(app.appId, used.token);
      }
      // The next run starts from a new token rather than this one.
      await used.provider.invalidate();
      throw new HostsyncError(
        `GitHub answered 401 to the installation token of ${what} minted for this run. ` +
          `Check that the App is still installed on ${used.repo} with "Contents: Read" and not suspended (the account's Settings → GitHub Apps), and https://www.githubstatus.com; the next run mints a new token.`,
        1,
        { cause: error },
      );
    },

    summary() {
      return {
        method: 'github-app',
        appId: app.appId,
        installationId: current?.token.installationId,
        token: current?.origin,
        expiresAt: current?.token.expiresAt,
        requests,
      };
    },

    async close() {
      const opened = net;
      net = undefined;
      if (opened !== undefined) await (await opened).close().catch(() => undefined);
    },
  };
}
