/**
 * The GitHub edge as the rest of hostsync sees it. One implementation talks HTTP
 * (`createGitHubClient`); tests may pass any object of this shape.
 */
import type { Readable } from 'node:stream';
import type { GitMode } from '../model.js';

/** Primary rate-limit state from the last `x-ratelimit-*` headers seen. */
export interface RateLimitInfo {
  readonly limit: number;
  readonly remaining: number;
  /** Epoch seconds when the window resets. */
  readonly reset: number;
  readonly resource: string;
}

/** One entry of a git tree as GitHub returns it. */
export interface GitTreeEntry {
  readonly path: string;
  readonly mode: GitMode;
  readonly type: 'blob' | 'tree' | 'commit';
  readonly sha: string;
  readonly size?: number | undefined;
}

export interface GitTree {
  readonly sha: string;
  readonly entries: readonly GitTreeEntry[];
  readonly truncated: boolean;
}

/** Result of resolving a ref with a conditional request. */
export type ResolvedRef =
  | { readonly changed: true; readonly sha: string; readonly etag: string | undefined }
  | { readonly changed: false };

export interface CommitInfo {
  readonly sha: string;
  readonly tree: string;
  readonly parents: readonly string[];
  readonly verified: boolean;
  readonly verificationReason: string;
  /** `verification.signature`: the armored signature, null for an unsigned commit. */
  readonly signature: string | null;
  /** `verification.payload`: the commit object without its signature header, null when unsigned. */
  readonly payload: string | null;
}

export type CompareStatus = 'ahead' | 'behind' | 'identical' | 'diverged';

/** A streamed, already-decompressed response body. */
export interface BodyStream {
  readonly body: Readable;
  /** The URL finally answered (after redirects), for messages. */
  readonly url: string;
}

/** Counters over every request a client made, for `--json` and the benchmarks. */
export interface RequestStats {
  /** HTTP requests sent to the API (not counting redirects followed off the API). */
  apiRequests: number;
  /** API requests answered 304 Not Modified. */
  notModified: number;
  /** All HTTP requests, including redirects and archive downloads. */
  httpRequests: number;
  /** Response body bytes as received (compressed where the server compressed them). */
  bytesReceived: number;
  rateLimit: RateLimitInfo | undefined;
  /** The server's clock (ms since the epoch) from the `Date` header of the latest answer, when one came. */
  serverDate?: number | undefined;
}

export interface GitHubClient {
  readonly stats: RequestStats;
  /** The retry policy of this client's requests; strategies built on it retry alike. */
  readonly retry: import('./retry.js').RetryPolicy;
  /**
   * Resolve a branch, tag, SHA or `HEAD` to a commit SHA with one request
   * (`GET /repos/{o}/{r}/commits/{ref}`, `Accept: application/vnd.github.sha`).
   * With `etag`, the request is conditional: `{changed: false}` on 304, which costs no quota.
   */
  resolveRef(ref: string, etag?: string): Promise<ResolvedRef>;
  /** `GET /repos/{o}/{r}/git/trees/{sha}`, recursive or one level. */
  getTree(sha: string, recursive: boolean): Promise<GitTree>;
  getCommit(sha: string): Promise<CommitInfo>;
  compare(base: string, head: string): Promise<CompareStatus>;
  /** Raw blob bytes, streamed (`Accept: application/vnd.github.raw`). */
  openBlob(sha: string, signal?: AbortSignal): Promise<BodyStream>;
  /** The commit's tarball, streamed after following GitHub's redirect. */
  openTarball(sha: string, signal?: AbortSignal): Promise<BodyStream>;
  close(): Promise<void>;
}
