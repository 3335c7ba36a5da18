/**
 * `fetchContent`: bring every blob the plan needs into the object store, verified — content
 * already on the host is copied, the rest comes through the strategies `chooseStrategy` orders,
 * falling through to the next when one cannot serve (quota, outage, a blob over the API limit, a
 * tarball altered by .gitattributes). Policy: docs/decisions/0003-strategy-choice.md.
 */
import { join } from 'node:path';
import type { Config } from '../config/types.js';
import { errorMessage, HostsyncError, LocalStorageError, UsageError } from '../errors.js';
import { HttpStatusError } from '../github/errors.js';
import type { GitHubClient } from '../github/types.js';
import type { RemoteEntry, StrategyName, WantedBlob } from '../model.js';
import type { Plan } from '../plan/plan.js';
import { chooseStrategy, type TransferName } from '../plan/strategy.js';
import type { ObjectStore } from '../state/objects.js';
import { createBlobStrategy } from '../transfer/blobs.js';
import type { TransferProgress, TransferStrategy } from '../transfer/types.js';
import type { Logger } from './sync.js';

export interface FetchInput {
  readonly config: Pick<Config, 'concurrency' | 'forceFull' | 'path'>;
  readonly plan: Plan;
  readonly remote: readonly RemoteEntry[];
  /** Whole-repository blob bytes when the full tree was read (a tarball carries all of it). */
  readonly repoBytes: number | undefined;
  readonly commit: string;
  readonly client: GitHubClient;
  readonly store: ObjectStore;
  /** Where DEST's current content is, for local copies. */
  readonly scanRoot: string;
  readonly log: Logger;
  readonly onProgress?: ((progress: TransferProgress) => void) | undefined;
  /** Build the other strategies (tarball, clone) on demand: they are imported lazily. */
  readonly createStrategy: (name: Exclude<TransferName, 'blobs'>) => Promise<TransferStrategy | undefined>;
  readonly gitAvailable: () => Promise<boolean>;
  /** Only decide (for --check-only): copy and download nothing. */
  readonly dryRun?: boolean | undefined;
}

export interface FetchResult {
  readonly strategy: StrategyName;
  readonly reason: string;
  readonly bytes: number;
  readonly blobs: number;
}

/** Failures no other strategy can get around: a wrong token, an unknown repository or ref. */
function isFinal(error: unknown): boolean {
  if (error instanceof UsageError || error instanceof LocalStorageError) return true;
  return error instanceof HttpStatusError && [401, 404, 409, 422].includes(error.status);
}

/** Fetch everything the plan needs; throws (DEST untouched) when no strategy can. */
export async function fetchContent(input: FetchInput): Promise<FetchResult> {
  const { plan, store } = input;
  if (input.dryRun !== true) for (const copy of plan.localCopies) await store.importFile(copy.sha, join(input.scanRoot, copy.path));
  const wanted: WantedBlob[] = [];
  for (const blob of plan.fetch) if (!(await store.has(blob.sha))) wanted.push(blob);
  if (wanted.length === 0) {
    return plan.localCopies.length > 0
      ? { strategy: 'local', reason: 'all content already on the host (moved or copied files)', bytes: 0, blobs: 0 }
      : { strategy: 'none', reason: 'nothing to download', bytes: 0, blobs: 0 };
  }
  const treeBlobs = input.remote.filter((e) => e.mode !== '040000' && e.mode !== '160000');
  const choice = chooseStrategy({
    wantedBlobs: wanted.length,
    wantedBytes: wanted.reduce((sum, b) => sum + (b.size ?? 0), 0),
    treeBlobs: treeBlobs.length,
    treeBytes: treeBlobs.reduce((sum, e) => sum + (e.size ?? 0), 0),
    largestBlob: wanted.reduce((max, b) => Math.max(max, b.size ?? 0), 0),
    quotaRemaining: input.client.stats.rateLimit?.remaining,
    concurrency: input.config.concurrency,
    forceFull: input.config.forceFull,
    gitAvailable: await input.gitAvailable(),
    subPath: input.config.path !== '',
    repoBytes: input.repoBytes,
  });
  input.log('debug', `strategy: ${choice.order.join(' → ')} (${choice.reason})`);
  if (input.dryRun === true) return { strategy: choice.order[0] ?? 'none', reason: choice.reason, bytes: 0, blobs: 0 };
  const failures: string[] = [];
  let lastError: unknown;
  for (const name of choice.order) {
    const strategy = name === 'blobs' ? createBlobStrategy({ client: input.client, concurrency: input.config.concurrency }) : await input.createStrategy(name);
    if (strategy === undefined) continue;
    const remaining: WantedBlob[] = [];
    for (const blob of wanted) if (!(await store.has(blob.sha))) remaining.push(blob);
    try {
      const result = await strategy.fetch(remaining, { store, onProgress: input.onProgress, log: input.log });
      const reason = failures.length === 0 ? choice.reason : `${choice.reason}; fell back after ${failures.join('; ')}`;
      return { strategy: name, reason, bytes: result.bytes, blobs: result.blobs };
    } catch (error) {
      if (isFinal(error)) throw error;
      lastError = error;
      failures.push(`${name} failed: ${errorMessage(error)}`);
      input.log('warn', `${name} could not fetch the content (${errorMessage(error)}); trying the next strategy.`);
    }
  }
  if (failures.length === 1 && lastError instanceof HostsyncError) throw lastError;
  throw new HostsyncError(`No way to fetch ${input.commit.slice(0, 12)} worked, and nothing was applied: ${failures.join(' | ') || 'no strategy available'}.`, 1, { cause: lastError });
}
