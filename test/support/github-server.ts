/**
 * A GitHub-compatible server on 127.0.0.1 for end-to-end tests and benchmarks: the REST API
 * (repository, commits, trees, blobs, tarball, compare, rate_limit), codeload archives, git smart
 * HTTP and Git LFS (batch API and object links), all backed by real git repositories, with GitHub's
 * auth, rate limits, headers and errors, plus fault injection and link simulation.
 *
 * Request flow: latency → fault rule → kind (api | codeload | git | lfs) → auth → rate limit → route →
 * 304 check → charge → transport (gzip, corrupt/drop, throttle) → log.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { docsFor, routeRepo, type ApiSettings, type ServedRepo } from './github-server/api-routes.js';
import { AppRegistry, type InstallationSpec } from './github-server/app-routes.js';
import { secondaryLimitReply, statusFaultReply, takeFault } from './github-server/faults.js';
import { rateLimitPayload } from './github-server/payloads.js';
import { RateLimiter, type BucketKey, type RateLimitSettings } from './github-server/rate-limit.js';
import { endpointOf, pointsOf, SecondaryLimiter, type SecondaryLimitSettings } from './github-server/secondary-limit.js';
import { RepoRegistry, type AddRepoOptions } from './github-server/registry.js';
import { API_VERSION, DOCS, errorReply, isNotModified, jsonReply, notFound, notModifiedReply } from './github-server/reply.js';
import { gitAuthRequired, gitNotFound, gitPushRefused, matchGitPath, runHttpBackend } from './github-server/smart-http.js';
import { Throttle } from './github-server/throttle.js';
import { isLfsPath, LfsServer, lfsError, matchLfsApiPath } from './github-server/lfs-routes.js';
import { acceptsGzip, sendReply } from './github-server/transport.js';
import type { FaultAction, FaultRule, LoggedRequest, Reply, RequestInfo, RequestKind } from './github-server/types.js';

export type { AddRepoOptions } from './github-server/registry.js';
export type { AppRegistry, InstallationSpec, MintedToken } from './github-server/app-routes.js';
export type { RateLimitSettings } from './github-server/rate-limit.js';
export type { SecondaryLimitSettings } from './github-server/secondary-limit.js';
export type { FaultAction, FaultRule, LoggedRequest, RequestInfo } from './github-server/types.js';

/** Options of {@link startGitHubServer}; every one can also be changed later on the returned object. */
export interface GitHubServerOptions {
  /** Valid tokens. @default [] */
  readonly tokens?: readonly string[];
  readonly rateLimit?: Partial<RateLimitSettings>;
  readonly faults?: readonly FaultRule[];
  /** Added before answering each request. @default 0 */
  readonly latencyMs?: number;
  /** Shared bandwidth of all response bodies; 0 = unlimited. @default 0 */
  readonly bandwidthBytesPerSec?: number;
  readonly treeEntryLimit?: number;
  readonly treeMaxBytes?: number;
  readonly maxBlobBytes?: number;
  readonly verifiedCommits?: Iterable<string>;
  readonly tarballRedirect?: 'sha' | 'ref';
  /**
   * The host name of the tarball redirect's target: `localhost` makes it another origin than the API's
   * 127.0.0.1 (same server and port), as codeload.github.com is for api.github.com. @default '127.0.0.1'
   */
  readonly codeloadHost?: '127.0.0.1' | 'localhost';
  /**
   * The server's clock (rate-limit windows, secondary limits, the `Date` header). Called with the
   * request's token for the time of that request (the fleet simulation gives each host's run its
   * own virtual time), without one for the limits' windows. @default Date.now
   */
  readonly now?: (token?: string) => number;
  /** GitHub's secondary limits, enforced when `enabled` (secondary-limit.ts). */
  readonly secondaryLimits?: Partial<SecondaryLimitSettings>;
  /**
   * Tokens that share one primary and secondary bucket, as the installation tokens of one GitHub App
   * installation share its limit: maps a token to its bucket's name. @default every token its own
   */
  readonly quotaGroupOf?: (token: string) => string | undefined;
}

/** A running fake GitHub. Settings are plain mutable fields, read on every request. */
export interface FakeGitHub extends ApiSettings {
  /** API root, like https://api.github.com (no trailing slash). */
  readonly apiUrl: string;
  /** Web/git root, like https://github.com; git smart HTTP at `{serverUrl}/{owner}/{repo}.git`. */
  readonly serverUrl: string;
  tokens: string[];
  readonly rateLimit: RateLimitSettings;
  /** Secondary limits; `peakConcurrent` and `peakPointsPerMinute` say how close a run came. */
  readonly secondaryLimits: SecondaryLimiter;
  faults: FaultRule[];
  latencyMs: number;
  bandwidthBytesPerSec: number;
  /** Every finished request, in the order responses ended. */
  readonly requests: LoggedRequest[];
  /** Called with every finished request as it is logged (the fleet simulation times them). */
  onRequest: ((request: LoggedRequest) => void) | undefined;
  resetLog(): void;
  /** Serve the repository in `gitDir` (working tree or bare) as `owner/repo`; resolves its id. */
  addRepo(fullName: string, gitDir: string, opts?: AddRepoOptions): Promise<number>;
  /** Rename as GitHub does: the old name answers 301 to `/repositories/{id}/...`. */
  renameRepo(oldFullName: string, newFullName: string): void;
  /** GitHub Apps: JWT checks, installations, minted tokens (`apps.minted`), token lifetime, clock. */
  readonly apps: AppRegistry;
  /**
   * Git LFS (github-server/lfs-routes.ts): the batch API at `{serverUrl}/{owner}/{repo}.git/info/lfs`,
   * object links, stored objects, switches (`lfs.settings`) and the LFS log (`lfs.log`).
   */
  readonly lfs: LfsServer;
  /** Store `data` as an LFS object of a served repository; resolves its oid (SHA-256). */
  addLfsObject(fullName: string, data: Buffer): Promise<string>;
  /** The file an LFS object of a served repository is stored in (to damage it in a test). */
  lfsObjectPath(fullName: string, oid: string): string;
  /** Register a GitHub App by id with the public half of its key (PEM) and its installations. */
  addApp(appId: number, publicKey: string, installations?: readonly InstallationSpec[]): void;
  close(): Promise<void>;
}

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers':
    'ETag, Link, Location, Retry-After, X-GitHub-OTP, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Used, X-RateLimit-Resource, X-RateLimit-Reset, X-OAuth-Scopes, X-Accepted-OAuth-Scopes, X-Poll-Interval, X-GitHub-Media-Type, X-GitHub-SSO, X-GitHub-Request-Id, Deprecation, Sunset',
  'content-security-policy': "default-src 'none'",
  'referrer-policy': 'origin-when-cross-origin, strict-origin-when-cross-origin',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'deny',
  'x-xss-protection': '0',
  server: 'github.com',
};

/** The credential of a request: Bearer/token scheme, or the password of HTTP Basic. */
export function credentialOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^(Bearer|token|Basic)\s+(\S+)\s*$/i.exec(header);
  if (!match) return header === '' ? undefined : header;
  const scheme = (match[1] ?? '').toLowerCase();
  const value = match[2] ?? '';
  if (scheme !== 'basic') return value;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? decoded : decoded.slice(colon + 1);
}

function decodeSegments(path: string): string[] | undefined {
  try {
    return path.split('/').slice(1).map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
}

/** Start the server on 127.0.0.1 with an ephemeral port. */
export async function startGitHubServer(options: GitHubServerOptions = {}): Promise<FakeGitHub> {
  const registry = new RepoRegistry();
  const apps = new AppRegistry();
  const clock = options.now ?? ((): number => Date.now());
  const limiter = new RateLimiter(() => clock());
  Object.assign(limiter, options.rateLimit ?? {});
  const secondary = new SecondaryLimiter(() => clock());
  Object.assign(secondary, options.secondaryLimits ?? {});
  const throttle = new Throttle();
  throttle.bytesPerSec = options.bandwidthBytesPerSec ?? 0;
  const lfsRoot = await mkdtemp(join(tmpdir(), 'hostsync-lfs-server-'));
  const lfs = new LfsServer(lfsRoot);
  const repoIdOf = (fullName: string): number => {
    const [owner = '', name = ''] = fullName.split('/');
    const found = registry.lookup(owner, name);
    if (found === undefined || !('repo' in found)) throw new Error(`Repository '${fullName}' is not served; add it first.`);
    return found.repo.record.id;
  };
  let requestCounter = 0;
  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fake GitHub failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
      } else res.destroy();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const origins = { api: origin, web: origin, codeload: `http://${options.codeloadHost ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}` };

  const fake: FakeGitHub = {
    apiUrl: origin,
    serverUrl: origin,
    tokens: [...(options.tokens ?? [])],
    rateLimit: limiter,
    secondaryLimits: secondary,
    faults: [...(options.faults ?? [])],
    latencyMs: options.latencyMs ?? 0,
    get bandwidthBytesPerSec() {
      return throttle.bytesPerSec;
    },
    set bandwidthBytesPerSec(value: number) {
      throttle.bytesPerSec = value;
    },
    treeEntryLimit: options.treeEntryLimit ?? 100_000,
    treeMaxBytes: options.treeMaxBytes ?? 7 * 1024 * 1024,
    maxBlobBytes: options.maxBlobBytes ?? 100 * 1024 * 1024,
    verifiedCommits: new Set(options.verifiedCommits ?? []),
    tarballRedirect: options.tarballRedirect ?? 'sha',
    treeSubstitutes: new Map(),
    verificationOverrides: new Map(),
    requests: [],
    onRequest: undefined,
    resetLog() {
      fake.requests.length = 0;
    },
    async addRepo(fullName, gitDir, opts) {
      return (await registry.add(fullName, gitDir, opts)).record.id;
    },
    renameRepo: (oldName, newName) => registry.rename(oldName, newName),
    apps,
    addApp: (appId, publicKey, installations) => apps.addApp(appId, publicKey, installations),
    lfs,
    addLfsObject: async (fullName, data) => lfs.put(repoIdOf(fullName), data),
    lfsObjectPath: (fullName, oid) => lfs.pathOf(repoIdOf(fullName), oid),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      registry.close();
      await rm(lfsRoot, { recursive: true, force: true });
    },
  };

  function nextRequestId(): string {
    requestCounter += 1;
    const n = requestCounter.toString(16).toUpperCase();
    return `C0DE:${n.padStart(5, '0')}:${n.padStart(7, '0')}:${n.padStart(7, '0')}:65A1B2C3`;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const credential = credentialOf(req.headers.authorization);
    const at = clock(credential);
    const baseBytes = req.socket.bytesWritten;
    const url = new URL(req.url ?? '/', origin);
    const info: RequestInfo = { method: req.method ?? 'GET', path: url.pathname, url: `${url.pathname}${url.search}`, headers: req.headers };
    const kind: RequestKind = url.pathname.startsWith('/_codeload/') ? 'codeload' : matchGitPath(url.pathname) ? 'git' : isLfsPath(url.pathname) ? 'lfs' : 'api';
    const authenticated = credential !== undefined && (fake.tokens.includes(credential) || apps.isLiveToken(credential));
    let quotaCost = 0;
    let logged = false;
    const log = (): void => {
      if (logged) return;
      logged = true;
      const bytesSent = req.socket.bytesWritten - baseBytes;
      const entry: LoggedRequest = { method: info.method, path: info.url, status: res.headersSent ? res.statusCode : 0, bytesSent, authenticated, quotaCost, kind, durationMs: performance.now() - started, at, ...(authenticated && credential !== undefined ? { token: credential } : {}) };
      fake.requests.push(entry);
      fake.onRequest?.(entry);
    };
    res.on('finish', log);
    res.on('close', log);
    res.on('error', () => undefined);

    if (fake.latencyMs > 0) await sleep(fake.latencyMs);
    const fault = takeFault(fake.faults, info);
    if (fault !== undefined && 'hang' in fault) return;
    if (fault !== undefined && 'delayMs' in fault) await sleep(fault.delayMs);
    // GitHub's clock on every answer (Node would add the real one): hosts time rollouts by it.
    const send = (reply: Reply): Promise<void> =>
      sendReply(res, { ...reply, headers: { date: new Date(clock(credential)).toUTCString(), ...reply.headers } }, {
        acceptsGzip: acceptsGzip(req.headers['accept-encoding']),
        corrupt: fault !== undefined && 'corrupt' in fault,
        ...(fault !== undefined && 'dropMidBody' in fault ? { dropAfter: fault.afterBytes ?? 'half' } : {}),
        ...(fault !== undefined && 'trickle' in fault ? { trickle: fault.trickle } : {}),
        throttle,
      });
    if (fault !== undefined && 'status' in fault) return send(statusFaultReply(fault));

    if (kind === 'git') return send(await gitReply(req, url, credential, authenticated));
    if (kind === 'lfs') return send(await lfsReply(req, url, credential, authenticated));
    if (kind === 'codeload') return send(await codeloadReply(url, authenticated, credential));

    const requestId = nextRequestId();
    const key: BucketKey = authenticated && credential !== undefined ? { token: options.quotaGroupOf?.(credential) ?? credential } : { address: req.socket.remoteAddress ?? '127.0.0.1' };
    const common = (reply: Reply): Reply => {
      const cache = reply.status === 200 || reply.status === 304 ? { 'cache-control': `${authenticated ? 'private' : 'public'}, max-age=60, s-maxage=60` } : {};
      const headers = {
        ...SECURITY_HEADERS,
        ...cache,
        vary: 'Accept, Authorization, Cookie, X-GitHub-OTP, Accept-Encoding, Accept, X-Requested-With',
        ...(authenticated ? { 'x-oauth-scopes': 'repo', 'x-accepted-oauth-scopes': 'repo' } : {}),
        ...reply.headers,
        ...limiter.headers(key),
        'x-github-api-version-selected': API_VERSION,
        'x-github-request-id': requestId,
      };
      return { ...reply, headers };
    };
    const reply = await apiReply(req, url, info, key, credential, authenticated, requestId, fault, res);
    quotaCost = reply.cost;
    limiter.charge(key, reply.cost);
    return send(common(reply.reply));
  }

  /** The API answer and what it costs (0 or 1 point of the primary limit). */
  async function apiReply(
    req: IncomingMessage,
    url: URL,
    info: RequestInfo,
    key: BucketKey,
    credential: string | undefined,
    authenticated: boolean,
    requestId: string,
    fault: FaultAction | undefined,
    res: ServerResponse,
  ): Promise<{ reply: Reply; cost: number }> {
    const appReply = await apps.route(req, url, credential, origins);
    if (appReply !== undefined) return { reply: appReply, cost: 0 };
    if (credential !== undefined && !authenticated) {
      return { reply: errorReply(401, 'Bad credentials', DOCS.rest), cost: 1 };
    }
    if (url.pathname === '/rate_limit') {
      // Querying the rate limit does not count against it.
      return { reply: jsonReply(200, rateLimitPayload(limiter.state(key))), cost: 0 };
    }
    if (limiter.exhausted(key)) {
      const who = 'token' in key ? `user ID ${userIdOf(key.token)}` : key.address;
      const goodNews = 'token' in key ? '' : " (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)";
      const message = `API rate limit exceeded for ${who}.${goodNews} If you reach out to GitHub Support for help, please include the request ID ${requestId}.`;
      return { reply: jsonReply(limiter.exceededStatus, { message, documentation_url: DOCS.primaryLimit }), cost: 0 };
    }
    if (fault !== undefined && 'secondaryRateLimit' in fault) {
      const { retryAfterSec, status } = fault.secondaryRateLimit;
      return { reply: secondaryLimitReply(retryAfterSec, status ?? 403, requestId), cost: 1 };
    }
    const admission = secondary.admit('token' in key ? `t:${key.token}` : `a:${key.address}`, endpointOf(req.method ?? 'GET', url.pathname), pointsOf(req.method ?? 'GET'));
    if (!admission.ok) return { reply: secondaryLimitReply(admission.retryAfterSec, 403, requestId), cost: 1 };
    // Running until its answer is sent (a streamed blob or tarball included) or the client goes away.
    res.once('close', () => admission.release());
    const reply = await routeApi(req, url, authenticated, credential);
    if (isNotModified(info.headers, reply)) {
      // A 304 is free only for authenticated requests.
      // @see https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate
      return { reply: notModifiedReply(reply), cost: authenticated ? 0 : 1 };
    }
    return { reply, cost: 1 };
  }

  async function routeApi(req: IncomingMessage, url: URL, authenticated: boolean, credential: string | undefined): Promise<Reply> {
    // An installation token reads only the private repositories it was minted for.
    const sees = (repo: ServedRepo): boolean => !repo.record.private || (authenticated && apps.allows(credential, repo.record.owner, repo.record.name));
    const segments = decodeSegments(url.pathname);
    if (segments === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) return notFound();
    const [root, a, b, ...rest] = segments;
    let served: ServedRepo | undefined;
    let tail: string[] = [];
    if (root === 'repos' && a !== undefined && b !== undefined) {
      tail = rest;
      const found = registry.lookup(a, b);
      if (found !== undefined && 'movedTo' in found && sees(found.movedTo)) {
        const location = `${origin}/repositories/${found.movedTo.record.id}${tail.length > 0 ? `/${tail.join('/')}` : ''}${url.search}`;
        return jsonReply(301, { message: 'Moved Permanently', url: location, documentation_url: DOCS.redirects }, { location });
      }
      served = found !== undefined && 'repo' in found ? found.repo : undefined;
    } else if (root === 'repositories' && a !== undefined && /^\d+$/.test(a)) {
      served = registry.byRepoId(Number(a));
      tail = b === undefined ? [] : [b, ...rest];
    } else {
      return notFound();
    }
    while (tail.length > 0 && tail[tail.length - 1] === '') tail.pop();
    if (served === undefined || !sees(served)) return notFound(docsFor(tail));
    const repo = served;
    return routeRepo({
      repo,
      rest: tail,
      query: url.searchParams,
      accept: req.headers.accept ?? '',
      origins,
      authenticated,
      settings: fake,
      codeloadToken: () => registry.issueToken(repo.record.id, Date.now()),
    });
  }

  async function codeloadReply(url: URL, authenticated: boolean, credential: string | undefined): Promise<Reply> {
    const text404: Reply = { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: { kind: 'buffer', data: Buffer.from('404: Not Found') } };
    const match = /^\/_codeload\/([^/]+)\/([^/]+)\/legacy\.tar\.gz\/(.+)$/.exec(url.pathname);
    const found = match ? registry.lookup(match[1] ?? '', match[2] ?? '') : undefined;
    if (!match || found === undefined || !('repo' in found)) return text404;
    const { record, git } = found.repo;
    const token = url.searchParams.get('token');
    const sees = authenticated && apps.allows(credential, record.owner, record.name);
    if (record.private && !sees && (token === null || !registry.tokenValid(token, record.id, Date.now()))) return text404;
    const sha = await git.resolve(decodeURIComponent(match[3] ?? ''), 'commit', record.defaultBranch);
    if (sha === undefined) return text404;
    const base = `${record.owner}-${record.name}-${sha.slice(0, 7)}`;
    return {
      status: 200,
      headers: { 'content-type': 'application/x-gzip', 'content-disposition': `attachment; filename=${base}.tar.gz`, etag: `"${sha}"`, 'x-github-request-id': nextRequestId() },
      body: { kind: 'stream', open: () => git.openArchive(sha, `${base}/`) },
      compressible: false,
    };
  }

  /** The LFS batch API (auth as for git: Basic with the token; private repositories need it) and object links. */
  async function lfsReply(req: IncomingMessage, url: URL, credential: string | undefined, authenticated: boolean): Promise<Reply> {
    if (url.pathname.startsWith('/_lfs/')) return lfs.object(req, url);
    const target = matchLfsApiPath(url.pathname);
    const askForCredentials = { 'lfs-authenticate': 'Basic realm="GitHub"' };
    if (target === undefined) return lfsError(404, 'Not Found');
    if (credential !== undefined && !authenticated) return lfsError(401, 'Bad credentials', askForCredentials);
    const found = registry.lookup(target.owner, target.repo);
    if (found === undefined || !('repo' in found)) return credential === undefined ? lfsError(401, 'Credentials needed', askForCredentials) : lfsError(404, 'Repository not found');
    const { record } = found.repo;
    if (record.private && !authenticated) return lfsError(401, 'Credentials needed', askForCredentials);
    if (record.private && !apps.allows(credential, record.owner, record.name)) return lfsError(404, 'Repository not found');
    if (target.rest === 'objects/batch' && req.method === 'POST') return lfs.batch(req, found.repo, origin, authenticated);
    // The locking API (git lfs lock) is not part of this fake.
    return lfsError(404, 'Not Found');
  }

  async function gitReply(req: IncomingMessage, url: URL, credential: string | undefined, authenticated: boolean): Promise<Reply> {
    const target = matchGitPath(url.pathname);
    if (target === undefined) return gitNotFound();
    if (credential !== undefined && !authenticated) return gitAuthRequired();
    const found = registry.lookup(target.owner, target.repo);
    if (found !== undefined && 'movedTo' in found) {
      const { owner, name } = found.movedTo.record;
      return { status: 301, headers: { location: `${origin}/${owner}/${name}.git/${target.service}${url.search}` } };
    }
    if (found === undefined) return credential === undefined ? gitAuthRequired() : gitNotFound();
    if (target.service === 'git-receive-pack' || url.searchParams.get('service') === 'git-receive-pack') return gitPushRefused();
    if (found.repo.record.private && !authenticated) return gitAuthRequired();
    // A valid installation token for other repositories: GitHub does not confirm the repository exists.
    if (found.repo.record.private && !apps.allows(credential, found.repo.record.owner, found.repo.record.name)) return gitNotFound();
    const query = url.search.startsWith('?') ? url.search.slice(1) : url.search;
    return runHttpBackend(req, found.repo.git.dir, target.service, query, authenticated ? 'x-access-token' : undefined);
  }

  return fake;
}

/** A stable fake user id for a token (GitHub's limit message names the user, not the token). */
function userIdOf(token: string): number {
  return 10_000 + [...token].reduce((sum, ch) => (sum * 33 + ch.charCodeAt(0)) % 9_000_000, 5);
}
