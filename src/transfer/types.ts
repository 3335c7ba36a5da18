/**
 * The transfer interface: wanted blob SHAs in, verified objects in the store out. Strategies
 * (per-blob API downloads, tarball, clone) plug in here; the store's `put` verifies every byte,
 * so no strategy can hand apply something that does not match the tree.
 */
import type { StrategyName, WantedBlob } from '../model.js';
import type { ObjectStore } from '../state/objects.js';

/** Progress of a transfer, for the progress bar and logs. */
export interface TransferProgress {
  readonly doneBlobs: number;
  readonly totalBlobs: number;
  readonly doneBytes: number;
  readonly totalBytes: number;
  /**
   * Bytes of the stream read so far, wanted or not, when a strategy reads more than it keeps (a
   * tarball carries the whole repository): what the rate and the ETA are measured on.
   */
  readonly streamedBytes?: number | undefined;
  /** What the stream carries in all, when known (the repository's blob bytes, for a tarball). */
  readonly streamTotal?: number | undefined;
}

export interface TransferContext {
  readonly store: ObjectStore;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((progress: TransferProgress) => void) | undefined;
  readonly log?: ((level: 'debug' | 'info' | 'warn', message: string) => void) | undefined;
}

export interface TransferResult {
  /** Verified content bytes written to the store. */
  readonly bytes: number;
  /** Blobs now in the store. */
  readonly blobs: number;
}

export interface TransferStrategy {
  readonly name: Exclude<StrategyName, 'none' | 'local'>;
  /** Bring every wanted blob into the store, verified, or throw leaving DEST untouched. */
  fetch(wanted: readonly WantedBlob[], context: TransferContext): Promise<TransferResult>;
}
