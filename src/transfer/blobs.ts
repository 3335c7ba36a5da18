/**
 * The `blobs` strategy: one raw-blob API request per missing blob, in parallel (p-limit), each
 * retried (p-retry) on network errors, 5xx, a dropped body or a SHA mismatch, and streamed
 * straight into the verifying object store. https://docs.github.com/rest/git/blobs#get-a-blob
 */
import { Transform, type Readable } from 'node:stream';
import pLimit from 'p-limit';
import { IntegrityError } from '../errors.js';
import { SecondaryRateLimitError } from '../github/errors.js';
import type { GitHubClient } from '../github/types.js';
import { withRetry } from '../github/retry.js';
import type { WantedBlob } from '../model.js';
import type { TransferContext, TransferResult, TransferStrategy } from './types.js';

export interface BlobStrategyOptions {
  readonly client: GitHubClient;
  /** Requests in flight at once. GitHub asks clients not to hammer it; 8 measured best here. */
  readonly concurrency: number;
  /** Retries per blob after the first attempt. @default 4 */
  readonly retries?: number | undefined;
}

/** Create the per-blob download strategy. */
export function createBlobStrategy(options: BlobStrategyOptions): TransferStrategy {
  return {
    name: 'blobs',
    async fetch(wanted: readonly WantedBlob[], context: TransferContext): Promise<TransferResult> {
      const limit = pLimit(options.concurrency);
      const totalBytes = wanted.reduce((sum, blob) => sum + (blob.size ?? 0), 0);
      let doneBlobs = 0;
      let doneBytes = 0;
      /** Bytes of large blobs still on their way: one 50 MiB blob is not one jump after a silence. */
      let partialBytes = 0;
      const report = (): void => context.onProgress?.({ doneBlobs, totalBlobs: wanted.length, doneBytes: doneBytes + partialBytes, totalBytes });
      const controller = new AbortController();
      const signal = context.signal ? AbortSignal.any([context.signal, controller.signal]) : controller.signal;
      const one = async (blob: WantedBlob): Promise<void> => {
        if (await context.store.has(blob.sha)) return;
        let partial = 0;
        const settle = (): void => {
          partialBytes -= partial;
          partial = 0;
        };
        const written = await withRetry(
          async () => {
            settle(); // an attempt starts the blob over
            const stream = await options.client.openBlob(blob.sha, signal);
            const body = context.onProgress !== undefined && (blob.size ?? 0) >= PARTIAL_PROGRESS_BYTES ? counted(stream.body, (n) => {
              partial += n;
              partialBytes += n;
              report();
            }) : stream.body;
            return context.store.put(blob.sha, blob.size, body, `blob ${blob.sha} (${blob.path}) from ${stream.url}`);
          },
          {
            ...options.client.retry,
            ...(options.retries !== undefined ? { retries: options.retries } : {}),
            signal,
            isRetryable: (error) => error instanceof IntegrityError,
            onRetry: (error) => {
              if (error instanceof SecondaryRateLimitError && limit.concurrency > 1) {
                // GitHub's secondary limit punishes concurrency: go slower for the rest of the run.
                limit.concurrency = Math.max(1, Math.floor(limit.concurrency / 2));
                context.log?.('warn', `secondary rate limit: lowering download concurrency to ${limit.concurrency}`);
              }
              context.log?.('warn', `retrying blob ${blob.sha.slice(0, 12)} (${blob.path}): ${error instanceof Error ? error.message : String(error)}`);
            },
          },
        );
        settle();
        doneBlobs++;
        doneBytes += written;
        report();
      };
      try {
        await Promise.all(wanted.map((blob) => limit(() => one(blob))));
      } catch (error) {
        controller.abort();
        limit.clearQueue();
        throw error;
      }
      return { bytes: doneBytes, blobs: doneBlobs };
    },
  };
}

/** Blobs at least this large report their bytes as they arrive; smaller ones when stored. */
const PARTIAL_PROGRESS_BYTES = 1 << 20;

/** `body`, counting its bytes on the way (errors pass through, destroying one destroys both). */
function counted(body: Readable, onBytes: (bytes: number) => void): Readable {
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      onBytes(chunk.length);
      callback(null, chunk);
    },
  });
  body.on('error', (error) => meter.destroy(error));
  meter.on('close', () => {
    if (!body.destroyed) body.destroy();
  });
  return body.pipe(meter);
}
