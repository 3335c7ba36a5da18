/**
 * `chooseStrategy`: which transfer brings the missing blobs most cheaply, as an ordered list of
 * strategies to try (the first that succeeds wins; a failure falls through to the next). Pure:
 * decided from the plan's numbers, the rate limit last seen and what is installed. The policy and
 * its constants are explained in docs/decisions/0003-strategy-choice.md.
 */
import type { StrategyName } from '../model.js';

/** Strategies that move content over the network. */
export type TransferName = Exclude<StrategyName, 'none' | 'local'>;

export interface StrategyInput {
  /** Blobs to download and their total size. */
  readonly wantedBlobs: number;
  readonly wantedBytes: number;
  /** Blobs and bytes of the whole synced tree (what a tarball or clone would bring). */
  readonly treeBlobs: number;
  readonly treeBytes: number;
  /** Size of the largest wanted blob. */
  readonly largestBlob: number;
  /** Primary rate limit remaining, undefined when the server sends no rate-limit headers (GHES with limits off). */
  readonly quotaRemaining: number | undefined;
  readonly concurrency: number;
  readonly forceFull: boolean;
  readonly gitAvailable: boolean;
  /** `--path` narrows the tree: a tarball still carries the whole repository. */
  readonly subPath: boolean;
  /** Whole-repository size when known (for `--path`); else treeBytes. */
  readonly repoBytes?: number | undefined;
}

export interface StrategyChoice {
  readonly order: readonly TransferName[];
  readonly reason: string;
}

/** GitHub's blob API serves blobs up to 100 MB. */
export const BLOB_API_LIMIT = 100 * 1024 * 1024;
/** What one round trip is worth in bytes on the links we target (1 MiB/s, ~50 ms): latency-bandwidth product, rounded up. */
export const ROUND_TRIP_BYTES = 64 * 1024;
/** Typical gzip ratio of a configuration repository's content (text compresses well, binaries do not). */
export const TARBALL_RATIO = 0.7;
/** API requests kept in reserve for the next polls and the rest of this run. */
export const QUOTA_RESERVE = 10;

/** Decide the order of strategies. With nothing wanted, the order is empty. */
export function chooseStrategy(input: StrategyInput): StrategyChoice {
  const fallbacks = (first: TransferName[]): TransferName[] => (input.gitAvailable ? [...first, 'clone'] : first);
  if (input.wantedBlobs === 0) return { order: [], reason: 'nothing to download' };
  if (input.forceFull) return { order: fallbacks(['tarball']), reason: 'full fetch forced by --force-full' };
  if (input.largestBlob > BLOB_API_LIMIT) {
    return { order: fallbacks(['tarball']), reason: `a blob of ${Math.round(input.largestBlob / 1048576)} MiB is over GitHub's 100 MB blob API limit` };
  }
  const quota = input.quotaRemaining;
  if (quota !== undefined && quota < input.wantedBlobs + QUOTA_RESERVE) {
    if (quota >= 2 + QUOTA_RESERVE / 2) return { order: fallbacks(['tarball']), reason: `${input.wantedBlobs} blob requests would not fit the ${quota} API requests left; one tarball request does` };
    return { order: input.gitAvailable ? ['clone'] : ['tarball'], reason: `API quota nearly spent (${quota} left)${input.gitAvailable ? '; git clone needs none' : ''}` };
  }
  // Both paths are compressed alike; the tarball also carries what is not wanted, the blobs pay a
  // round trip per `concurrency` requests.
  const blobCost = input.wantedBytes * TARBALL_RATIO + Math.ceil(input.wantedBlobs / Math.max(1, input.concurrency)) * ROUND_TRIP_BYTES;
  const tarballCost = (input.repoBytes ?? input.treeBytes) * TARBALL_RATIO + 2 * ROUND_TRIP_BYTES;
  if (tarballCost < blobCost) {
    return {
      order: fallbacks(['tarball', 'blobs']),
      reason: `${input.wantedBlobs} of ${input.treeBlobs} blobs missing: one tarball (~${kib(tarballCost)} KiB) beats ${input.wantedBlobs} requests (~${kib(blobCost)} KiB)`,
    };
  }
  return {
    order: fallbacks(['blobs', 'tarball']),
    reason: `${input.wantedBlobs} of ${input.treeBlobs} blobs missing: per-blob downloads (~${kib(blobCost)} KiB) beat a tarball (~${kib(tarballCost)} KiB)`,
  };
}

const kib = (bytes: number): number => Math.round(bytes / 1024);
