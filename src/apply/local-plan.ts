/**
 * Scan DEST and plan against a set of remote entries — shared by sync, rollback and validate.
 * The scan hashes only paths the remote or the previous manifest name, trusting the stat cache.
 */
import picomatch from 'picomatch';
import { loadStatCache } from '../local/stat-cache.js';
import { scanDestination, type ScanResult, type WalkedDestination } from '../local/scan.js';
import type { ManifestEntry, RemoteEntry } from '../model.js';
import { planUpdate, withStored, type Plan, type PlanInput } from '../plan/plan.js';
import type { DestPaths } from '../state/layout.js';
import type { ObjectStore } from '../state/objects.js';

export interface LocalPlanInput {
  readonly paths: DestPaths;
  readonly store: ObjectStore;
  readonly remote: readonly RemoteEntry[];
  readonly previous: readonly ManifestEntry[];
  readonly preserve: readonly string[];
  readonly prune: boolean;
  /** Directory to scan instead of DEST (the current generation with `layout: symlink`). */
  readonly scanRoot?: string | undefined;
  /** DEST as listed moments ago ({@link walkDestination}), e.g. while the ref request was in flight. */
  readonly walked?: WalkedDestination | undefined;
  /** Hash every file (`--force-full`: trust nothing incremental). */
  readonly ignoreStatCache?: boolean | undefined;
  /** Called with every SHA the plan may take from the store, before the store is asked about any (GC pins). */
  readonly beforeStoreQuery?: ((shas: readonly string[]) => Promise<void>) | undefined;
}

/** A matcher for the config's `preserve` globs (dotfiles included). */
export function preserveMatcher(preserve: readonly string[]): (path: string) => boolean {
  return preserve.length === 0 ? () => false : picomatch([...preserve], { dot: true });
}

/** Scan DEST, then plan; the plan knows which needed blobs the store already holds. */
export async function scanAndPlan(input: LocalPlanInput): Promise<{ plan: Plan; scan: ScanResult; statCacheChanged: boolean }> {
  const isPreserved = preserveMatcher(input.preserve);
  const interest = new Set<string>();
  for (const entry of input.remote) interest.add(entry.path);
  for (const entry of input.previous) interest.add(entry.path);
  const statCache = input.ignoreStatCache === true ? undefined : await loadStatCache(input.paths.statCache);
  const scan = await scanDestination(input.scanRoot ?? input.paths.dest, { interest, isPreserved, ...(statCache ? { statCache } : {}), walked: input.walked, concurrency: 8 });
  const plan = await planScanned(input, scan);
  // Nothing hashed and every cached entry still there: the cache file already says all this.
  const statCacheChanged = statCache === undefined || scan.stats.hashed > 0 || scan.statCache.entries.size !== statCache.entries.size;
  return { plan, scan, statCacheChanged };
}

/**
 * Plan against a scan already made: scanAndPlan's second half, and a plan made again when the
 * remote entries changed after the scan (Git LFS files resolved to their content, src/lfs).
 */
export async function planScanned(input: Pick<LocalPlanInput, 'store' | 'remote' | 'previous' | 'preserve' | 'prune' | 'beforeStoreQuery'>, scan: ScanResult): Promise<Plan> {
  const planned = await planWithStore(
    { remote: input.remote, local: scan.entries, previous: input.previous, isPreserved: preserveMatcher(input.preserve), prune: input.prune },
    input.store,
    input.beforeStoreQuery,
  );
  return scan.undecodable.length === 0 ? planned : { ...planned, unmanaged: [...planned.unmanaged, ...scan.undecodable.filter((path) => !coveredBy(path, planned.unmanaged))].sort() };
}

/** Whether an unmanaged folder already reported covers `path`. */
function coveredBy(path: string, unmanaged: readonly string[]): boolean {
  return unmanaged.some((dir) => path.startsWith(`${dir}/`));
}

/**
 * Plan, then re-plan knowing which needed blobs the store holds (checked: a rotted object counts as
 * missing). Only the blobs the first plan needs are pinned and asked of the store: an unchanged
 * poll of 100,000 files asks the store nothing.
 */
async function planWithStore(input: Omit<PlanInput, 'stored'>, store: ObjectStore, beforeStoreQuery: LocalPlanInput['beforeStoreQuery']): Promise<Plan> {
  const first = planUpdate({ ...input, stored: new Set() });
  const candidates = [...first.fetch.map((blob) => blob.sha), ...first.localCopies.map((copy) => copy.sha)];
  if (candidates.length === 0) return first;
  await beforeStoreQuery?.(candidates);
  const stored = new Set<string>();
  for (const sha of candidates) if (await store.holds(sha)) stored.add(sha);
  return withStored(first, stored);
}
