/**
 * The seam between a sync and the repository it reads: a `RemoteSource` resolves the ref, reads
 * the commit's tree, vouches for the commit (signatures, the downgrade guard) and offers transfer
 * strategies for the blobs the plan still needs. Sources today: the GitHub REST API (`rest`), git
 * itself when the API quota is spent (`git`), and git's wire protocol spoken natively (`wire`).
 * `chooseSource` (choose.ts) is the one place that picks one for a run.
 */
import type { Manifest, RemoteEntry, WantedBlob } from '../model.js';
import type { StrategyChoice, TransferName } from '../plan/strategy.js';
import type { RateLimitInfo } from '../github/types.js';
import type { TransferStrategy } from '../transfer/types.js';

export type SourceName = 'rest' | 'git' | 'wire';

/** What the ref resolved to; `changed: false` when a conditional request said "as before" (free). */
export interface ResolvedCommit {
  readonly sha: string;
  /** The validator to store for the next conditional request. */
  readonly etag: string | undefined;
  readonly changed: boolean;
}

/** The last resolution of this ref, for a conditional request. */
export interface KnownRef {
  readonly etag: string;
  readonly sha: string;
}

/** The commit's entries below `--path`, and what reading them brought along. */
export interface RemoteTree {
  readonly entries: readonly RemoteEntry[];
  /** Blob bytes of the whole repository, when known (a tarball carries all of it). */
  readonly repoBytes: number | undefined;
  /** Blobs the source already put in the store, verified, while reading (a pack carries both). */
  readonly prefetched: { readonly blobs: number; readonly bytes: number };
  /** The synced folder's tree SHA, when known (recorded in the manifest). */
  readonly tree?: string | undefined;
  /** With `--path`: the raw trees from the repository root down to the folder's parent. */
  readonly chain?: readonly { readonly sha: string; readonly data: Buffer }[] | undefined;
  /**
   * The root tree the entries were checked against by hashing (a pack's trees; a REST listing
   * rebuilt when keys are pinned): a signed commit must name this tree. Undefined when unchecked.
   */
  readonly root?: string | undefined;
}

export interface ReadTreeOptions {
  readonly path: string;
  readonly withContent: boolean;
  /** The manifest of the commit DEST holds (undefined before the first sync). */
  readonly previous: Manifest | undefined;
}

/** Counters of a source's traffic, for `--json`, metrics and the bench. */
export interface SourceStats {
  /** Requests that cost REST API quota (a 304 costs none but is counted here). */
  apiRequests: number;
  /** API requests answered 304. */
  notModified: number;
  /** Every HTTP request (API, archives, git). */
  httpRequests: number;
  /** Response bytes as received. */
  bytesReceived: number;
  rateLimit: RateLimitInfo | undefined;
  /** The server's clock (ms since the epoch) from the `Date` header of the latest answer, when one came. */
  serverDate?: number | undefined;
}

/** What the transfer choice weighs. */
export interface TransferNeeds {
  readonly wanted: readonly WantedBlob[];
  readonly remote: readonly RemoteEntry[];
  readonly repoBytes: number | undefined;
  readonly path: string;
  readonly forceFull: boolean;
  readonly concurrency: number;
  /** A git clone may serve (not for the few blobs a `--check-only` run reads). @default true */
  readonly clone?: boolean;
}

/** Everything a sync needs from the repository. Close it when done. */
export interface RemoteSource {
  readonly name: SourceName;
  /** Why this source serves the run (empty for the default). */
  readonly reason: string;
  readonly stats: SourceStats;
  /** Resolve `ref`, conditionally when `known` (a 304 costs no quota). */
  resolveRef(ref: string, known: KnownRef | undefined): Promise<ResolvedCommit>;
  /**
   * The first of `refs` that exists, by git's `ls-refs` (no API quota): the poll of `poll: ls-refs`
   * and of a ref with alternatives (src/rollout/). Throws `UnknownRefError` when none exists.
   * Absent on sources that cannot list refs in one request (the REST API alone).
   */
  resolveFirst?(refs: readonly string[]): Promise<{ readonly ref: string; readonly sha: string }>;
  /**
   * The commit's entries below `path`; with `withContent`, the source may bring blobs into the store
   * on the way. `previous` is what DEST holds: a source may fetch only what differs from it.
   */
  readTree(commit: string, options: ReadTreeOptions): Promise<RemoteTree>;
  /** Throw when `commit` may not replace `previous` (unsigned with requireSigned, not a descendant). */
  checkTrust(commit: string, previous: Manifest | undefined): Promise<void>;
  /**
   * The raw commit object (what `git cat-file commit` prints), for verifying its signature on the
   * host: from the pack, from git, or rebuilt from the REST answer's signed payload. The caller checks
   * that it hashes to `commit`. Undefined when the server says the commit is unsigned and cannot
   * give the object otherwise (the REST API). Throws `CommitReassemblyError` when a REST answer
   * does not rebuild into an object with that SHA.
   */
  commitObject(commit: string): Promise<Buffer | undefined>;
  /**
   * The order of strategies for the missing blobs, with the reason. The source decides what it can
   * offer (the REST source asks whether git is installed for its clone fallback).
   */
  chooseTransfer(needs: TransferNeeds): Promise<StrategyChoice>;
  /** The line said before `readTree` brings content with the tree (the wire source's pack); none otherwise. */
  describeRead?(commit: string, previous: Manifest | undefined): string;
  /** Build one strategy of that order; undefined when this source cannot offer it. */
  createStrategy(name: TransferName, commit: string): Promise<TransferStrategy | undefined>;
  close(): Promise<void>;
}
