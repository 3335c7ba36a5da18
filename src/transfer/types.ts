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
