/**
 * `fetchContent`: bring every blob a plan still needs into the object store, verified — content
 * already on the host is copied, the rest comes through the strategies in the order the source
 * chose, falling through to the next when one cannot serve (quota, outage, a blob over the API
 * limit, a tarball altered by .gitattributes). Policy: docs/decisions/0003-strategy-choice.md.
 */
import { join } from 'node:path';
import { errorMessage, HostsyncError, LocalStorageError, UsageError, throwIfAborted } from '../errors.js';
import { HttpStatusError } from '../github/errors.js';
import type { Logger, StrategyName, WantedBlob } from '../model.js';
import type { Plan } from '../plan/plan.js';
import type { StrategyChoice, TransferName } from '../plan/strategy.js';
import type { ObjectStore } from '../state/objects.js';
import type { TransferProgress, TransferStrategy } from '../transfer/types.js';

export interface FetchInput {
  readonly plan: Plan;
  /** Blobs to download: the plan's, less what the store holds. */
  readonly wanted: readonly WantedBlob[];
  readonly choice: StrategyChoice;
  readonly commit: string;
  readonly store: ObjectStore;
  /** Where DEST's current content is, for local copies. */
  readonly scanRoot: string;
  readonly log: Logger;
  readonly onProgress?: ((progress: TransferProgress) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Build a strategy of the chosen order (lazily: tarball and clone import their own modules). */
  readonly createStrategy: (name: TransferName) => Promise<TransferStrategy | undefined>;
}

export interface FetchResult {
  readonly strategy: StrategyName;
  readonly reason: string;
  readonly bytes: number;
  readonly blobs: number;
}

/** Failures no other strategy can get around: a wrong token, an unknown repository or ref, a full disk, a stop. */
function isFinal(error: unknown): boolean {
  if (error instanceof UsageError || error instanceof LocalStorageError) return true;
  if (error instanceof HostsyncError && error.name === 'InterruptedError') return true;
  return error instanceof HttpStatusError && [401, 409, 422].includes(error.status);
}

/** Fetch everything the plan needs; throws (DEST untouched) when no strategy can. */
export async function fetchContent(input: FetchInput): Promise<FetchResult> {
  const { plan, store } = input;
  for (const copy of plan.localCopies) await store.importFile(copy.sha, join(input.scanRoot, copy.path));
  if (input.wanted.length === 0) {
    return plan.localCopies.length > 0
      ? { strategy: 'local', reason: 'all content already on the host (moved or copied files)', bytes: 0, blobs: 0 }
      : { strategy: 'none', reason: input.choice.reason, bytes: 0, blobs: 0 };
  }
  const failures: string[] = [];
  let lastError: unknown;
  for (const name of input.choice.order) {
    throwIfAborted(input.signal);
    const strategy = await input.createStrategy(name);
    if (strategy === undefined) continue;
    const remaining: WantedBlob[] = [];
    for (const blob of input.wanted) if (!(await store.holds(blob.sha))) remaining.push(blob);
    try {
      const result = await strategy.fetch(remaining, { store, onProgress: input.onProgress, log: input.log, signal: input.signal });
      const reason = failures.length === 0 ? input.choice.reason : `${input.choice.reason}; fell back after ${failures.join('; ')}`;
      return { strategy: name, reason, bytes: result.bytes, blobs: result.blobs };
    } catch (error) {
      throwIfAborted(input.signal);
      if (isFinal(error)) throw error;
      lastError = error;
      failures.push(`${name} failed: ${errorMessage(error)}`);
      input.log('warn', `${name} could not fetch the content (${errorMessage(error)}); trying the next strategy.`);
    }
  }
  if (failures.length === 1 && lastError instanceof HostsyncError) throw lastError;
  throw new HostsyncError(`No way to fetch ${input.commit.slice(0, 12)} worked, and nothing was applied: ${failures.join(' | ') || 'no strategy available'}.`, 1, { cause: lastError });
}
