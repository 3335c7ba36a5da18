/**
 * `createGitHubClient`: the GitHub REST API behind the `GitHubClient` interface.
 * JSON endpoints go through Octokit; blobs and tarballs are streamed through the same HTTP edge.
 * Endpoints: https://docs.github.com/rest/commits/commits#get-a-commit (ref → SHA with the
 * `application/vnd.github.sha` media type), https://docs.github.com/rest/git/trees#get-a-tree,
 * https://docs.github.com/rest/git/blobs#get-a-blob, https://docs.github.com/rest/repos/contents#download-a-repository-archive-tar.
 */
import { errorMessage, HostsyncError } from '../errors.js';
import type { GitMode } from '../model.js';
import { httpError, isRetryable, networkError, type ErrorContext, HttpStatusError } from './errors.js';
import type { Http } from './http.js';
import type { LowSpeed } from '../net/low-speed.js';
import type { NetSettings } from '../net/settings.js';
import { requestRef } from './ref-request.js';
import { withRetry, type RetryPolicy } from './retry.js';
import type { BodyStream, CommitInfo, CompareStatus, GitHubClient, GitTree, GitTreeEntry, RequestStats, ResolvedRef } from './types.js';

export interface GitHubClientOptions {
  readonly apiUrl: string;
  readonly owner: string;
  readonly repo: string;
  readonly token: string | undefined;
  /** Named in messages instead of the token. */
  readonly tokenSource: string | undefined;
  readonly userAgent: string;
  readonly timeoutMs: number;
  readonly stallMs: number;
  readonly connections: number;
  /** Retries and back-off of every request (and of the strategies built on this client). */
  readonly retry?: RetryPolicy | undefined;
  readonly onRetry?: ((error: unknown, attempt: number) => void) | undefined;
  readonly now?: () => number;
  /** The minimum rate of streamed bodies (blobs, tarballs). */
  readonly lowSpeed?: LowSpeed | undefined;
  /** The run's transfer signal (a stop, the transfer deadline): every request and retry ends with it. */
  readonly signal?: AbortSignal | undefined;
  /** Proxy and CA file of every request (the poll's too). @default direct, Node's roots */
  readonly net?: NetSettings | undefined;
}

const API_VERSION = '2022-11-28';
const GIT_MODES = new Set<string>(['100644', '100755', '120000', '160000', '040000']);

/** Create a client for one repository. Call `close()` to release connections. */
export function createGitHubClient(options: GitHubClientOptions): GitHubClient {
  const stats: RequestStats = { apiRequests: 0, notModified: 0, httpRequests: 0, bytesReceived: 0, rateLimit: undefined };
  const now = options.now ?? Date.now;
  const caFile = options.net?.caFile;
  const context: ErrorContext = { repo: `${options.owner}/${options.repo}`, apiUrl: options.apiUrl, tokenSource: options.tokenSource };
  // undici and Octokit are loaded on first use: an unchanged poll needs neither (see ref-request.ts).
  let heavy: Promise<{ http: Http; octokit: import('@octokit/rest').Octokit }> | undefined;
  const load = (): Promise<{ http: Http; octokit: import('@octokit/rest').Octokit }> =>
    (heavy ??= (async () => {
      const [{ createHttp }, { Octokit }] = await Promise.all([import('./http.js'), import('@octokit/rest')]);
      const http = createHttp({ ...options, stats });
      const octokit = new Octokit({
        baseUrl: options.apiUrl,
        userAgent: options.userAgent,
        ...(options.token !== undefined ? { auth: options.token } : {}),
        request: { fetch: http.fetch, retries: 0 },
        log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
      });
      return { http, octokit };
    })());
  const repoParams = { owner: options.owner, repo: options.repo };
  const headers = { 'x-github-api-version': API_VERSION };

  /** Run one Octokit call with retries, turning failures into one-line HostsyncErrors. */
  const call = async <T>(what: string, run: () => Promise<T>): Promise<T> =>
    withRetry(
      async () => {
        try {
          return await run();
        } catch (error) {
          throw classify(error, what);
        }
      },
      { ...options.retry, onRetry: options.onRetry, signal: options.signal },
    ).catch((error: unknown) => {
      throw error instanceof HostsyncError ? error : networkError(error, options.apiUrl, caFile);
    });

  const classify = (error: unknown, what: string): unknown => {
    if (isRequestError(error)) {
      // Octokit reports a fetch that never got an answer (DNS, TLS, refused) as a 500 without a response.
      // Our own error from inside the fetch (an unreadable caFile met on the first request): as it is.
      if (error.response === undefined && error.cause instanceof HostsyncError) return error.cause;
      if (error.response === undefined && error.cause !== undefined) return isRetryable(error.cause) ? error.cause : networkError(error.cause, options.apiUrl, caFile);
      const responseHeaders = (error.response?.headers ?? {}) as Record<string, string | undefined>;
      return httpError(error.status, responseHeaders, error.response?.data, what, context, now());
    }
    return error;
  };

  const resolveRef = async (ref: string, etag?: string): Promise<ResolvedRef> => {
    const what = `ref '${ref}'`;
    const response = await withRetry(
      async () => {
        let url = `${options.apiUrl}/repos/${enc(options.owner)}/${enc(options.repo)}/commits/${enc(ref)}`;
        for (let hop = 0; hop <= 5; hop++) {
          const sameOrigin = new URL(url).origin === new URL(options.apiUrl).origin;
          const answer = await requestRef({
            url,
            timeoutMs: options.timeoutMs,
            stats,
            signal: options.signal,
            net: options.net,
            headers: {
              accept: 'application/vnd.github.sha',
              'user-agent': options.userAgent,
              ...headers,
              ...(etag !== undefined ? { 'if-none-match': etag } : {}),
              ...(sameOrigin && options.token !== undefined ? { authorization: `Bearer ${options.token}` } : {}),
            },
          });
          const location = answer.headers['location'];
          // A renamed repository answers 301 to its new location (https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api#follow-redirects).
          if ([301, 302, 307, 308].includes(answer.status) && location !== undefined) {
            url = new URL(location, url).href;
            continue;
          }
          if (answer.status === 200 || answer.status === 304) return answer;
          throw httpError(answer.status, answer.headers, parseJsonBody(answer.body), what, context, now());
        }
        throw new HostsyncError(`Too many redirects resolving ${what} of ${context.repo}. Check --repo and --api-url.`);
      },
      { ...options.retry, onRetry: options.onRetry, signal: options.signal },
    ).catch((error: unknown) => {
      throw error instanceof HostsyncError ? error : networkError(error, options.apiUrl, caFile);
    });
    if (response.status === 304) return { changed: false };
    const sha = response.body.trim();
    if (!/^[0-9a-f]{40}$/.test(sha)) throw new HostsyncError(`GitHub answered ${what} with '${sha.slice(0, 60)}', not a commit SHA. Check --api-url.`);
    return { changed: true, sha, etag: response.headers['etag'] };
  };

  const getTree = async (sha: string, recursive: boolean): Promise<GitTree> => {
    const response = await call(`tree ${sha}`, () =>
      load().then(({ octokit }) => octokit.request('GET /repos/{owner}/{repo}/git/trees/{tree_sha}', {
        ...repoParams,
        tree_sha: sha,
        headers,
        ...(recursive ? { recursive: '1' } : {}),
      })),
    );
    return { sha: response.data.sha, truncated: response.data.truncated, entries: response.data.tree.map((entry) => toTreeEntry(entry, sha)) };
  };

  const getCommit = async (sha: string): Promise<CommitInfo> => {
    const response = await call(`commit ${sha}`, () =>
      load().then(({ octokit }) => octokit.request('GET /repos/{owner}/{repo}/commits/{ref}', { ...repoParams, ref: sha, headers })),
    );
    const data = response.data;
    return {
      sha: data.sha,
      tree: data.commit.tree.sha,
      parents: data.parents.map((parent) => parent.sha),
      verified: data.commit.verification?.verified === true,
      verificationReason: data.commit.verification?.reason ?? 'unknown',
      signature: data.commit.verification?.signature ?? null,
      payload: data.commit.verification?.payload ?? null,
    };
  };

  const compare = async (base: string, head: string): Promise<CompareStatus> => {
    const response = await call(`comparison ${base.slice(0, 12)}...${head.slice(0, 12)}`, () =>
      load().then(({ octokit }) => octokit.request('GET /repos/{owner}/{repo}/compare/{basehead}', { ...repoParams, basehead: `${base}...${head}`, per_page: 1, headers })),
    );
    return response.data.status;
  };

  const openStream = async (path: string, accept: string, what: string, signal?: AbortSignal): Promise<BodyStream> => {
    const url = `${options.apiUrl}${path}`;
    const { http } = await load();
    const response = await http.get(url, { accept, ...headers }, signal).catch((error: unknown) => {
      throw isRetryable(error) ? error : networkError(error, url, caFile);
    });
    if (response.status !== 200) {
      const body = await readJsonBody(response.body);
      throw httpError(response.status, response.headers, body, what, context, now());
    }
    return { body: response.body, url: response.url };
  };

  return {
    stats,
    retry: options.retry ?? {},
    resolveRef,
    getTree,
    getCommit,
    compare,
    openBlob: (sha, signal) => openStream(`/repos/${enc(options.owner)}/${enc(options.repo)}/git/blobs/${sha}`, 'application/vnd.github.raw', `blob ${sha}`, signal),
    openTarball: (sha, signal) => openStream(`/repos/${enc(options.owner)}/${enc(options.repo)}/tarball/${sha}`, 'application/vnd.github+json', `tarball of ${sha}`, signal),
    close: async () => {
      if (heavy !== undefined) await (await heavy).http.close();
    },
  };
}

const enc = encodeURIComponent;

/** Parse an error body; a non-JSON one becomes its text as the message. */
function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { message: text.slice(0, 200) };
  }
}

/** Octokit's RequestError, recognised by shape so the transitive package need not be imported. */
interface RequestErrorLike {
  readonly status: number;
  readonly cause?: unknown;
  readonly response?: { readonly headers: object; readonly data: unknown } | undefined;
}

function isRequestError(error: unknown): error is RequestErrorLike {
  return error instanceof Error && error.name === 'HttpError' && typeof (error as { status?: unknown }).status === 'number';
}

function toTreeEntry(entry: { path?: string; mode?: string; type?: string; sha?: string; size?: number }, tree: string): GitTreeEntry {
  const { path, mode, type, sha } = entry;
  if (
    typeof path !== 'string' ||
    typeof mode !== 'string' ||
    !GIT_MODES.has(mode) ||
    (type !== 'blob' && type !== 'tree' && type !== 'commit') ||
    typeof sha !== 'string' ||
    !/^[0-9a-f]{40}$/.test(sha)
  ) {
    throw new HttpStatusError(`GitHub sent a malformed entry in tree ${tree}: ${JSON.stringify(entry).slice(0, 200)}. Refusing the whole tree.`, 200, false);
  }
  return { path, mode: mode as GitMode, type, sha, size: entry.size };
}

async function readJsonBody(body: NodeJS.ReadableStream): Promise<unknown> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      total += buffer.length;
      if (total > 1 << 20) break; // an error body is small; don't buffer a hostile one
      chunks.push(buffer);
    }
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    return { message: errorMessage(error) };
  }
}
