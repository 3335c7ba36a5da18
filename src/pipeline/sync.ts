/**
 * One sync, as two steps over an opened destination and a chosen source — the way changesets splits
 * assembling a release plan from applying it:
 *
 *   planSync:  resolve the ref (conditional) → read the tree → scan DEST → plan → choose the transfer
 *   applySync: trust → bring missing blobs into the store (verified) → apply (journal) → record
 *
 * `--check-only` prints the plan and stops; dev-update's pre-sync hook reads it; `runSync` does
 * both. DEST is not touched until every needed blob is in the store, verified.
 */
import type { Config } from '../config/types.js';
import { errorMessage, HostsyncError, throwIfAborted } from '../errors.js';
import { collectGarbage, recordGeneration } from '../apply/history.js';
import { clearHold, readHold } from '../apply/hold.js';
import type { Destination } from '../apply/destination.js';
import { withDestination } from '../apply/destination.js';
import { scanAndPlan } from '../apply/local-plan.js';
import type { GitHubClient, RateLimitInfo } from '../github/types.js';
import { saveStatCache } from '../local/stat-cache.js';
import type { ScanResult } from '../local/scan.js';
import type { Logger, Manifest, RemoteEntry, StrategyName, WantedBlob } from '../model.js';
import { isEmptyPlan, type Plan } from '../plan/plan.js';
import type { StrategyChoice } from '../plan/strategy.js';
import { loadRefCache, manifestMatches, refKey, saveRefCache } from '../state/etags.js';
import { ensurePrivateDir } from '../state/files.js';
import { openSource, resolveWithFallback, type SourceDeps } from '../source/choose.js';
import type { RemoteSource, ResolvedCommit } from '../source/types.js';
import type { HostObjects } from '../source/wire.js';
import { join } from 'node:path';
import { VERSION } from '../version.js';
import type { RetryPolicy } from '../github/retry.js';
import type { TransferProgress } from '../transfer/types.js';
import { fetchContent } from './fetch.js';
import { createPhases, type Phase, type PhaseListener } from './phases.js';
import { startTransferDeadline, type TransferDeadline } from './deadline.js';
import { countByKind, summarizeChanges, type ChangeSummary } from './summary.js';

export type { Logger, LogLevel } from '../model.js';

export interface SyncDeps {
  /** A GitHub client for the run; every request it makes carries `signal` (stop, transfer deadline). */
  readonly createClient: (config: Config, signal: AbortSignal) => GitHubClient;
  readonly log: Logger;
  readonly onProgress?: ((progress: TransferProgress) => void) | undefined;
  /** A phase starts or ends (the CLI's spinners and --verbose lines). */
  readonly onPhase?: PhaseListener | undefined;
  readonly now?: () => number;
  /** The process environment git inherits its allow-listed variables from (PATH, proxies, CAs). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted on SIGINT/SIGTERM: transfers stop; an apply in progress is finished or undone first. */
  readonly signal?: AbortSignal | undefined;
  /** Retries and back-off of requests that are not the GitHub client's (git's wire protocol). */
  readonly retry?: RetryPolicy | undefined;
}

/** What a sync would do, computed once: printed by --check-only, read by hooks, applied by applySync. */
export interface SyncPlan {
  readonly config: Config;
  readonly source: RemoteSource;
  readonly resolved: ResolvedCommit;
  /** The commit to place (the previous one while a rollback hold lasts). */
  readonly commit: string;
  readonly previous: Manifest | undefined;
  /** DEST was rolled back from the ref's commit: it keeps the previous commit until the ref moves. */
  readonly held: boolean;
  readonly remote: readonly RemoteEntry[];
  readonly repoBytes: number | undefined;
  readonly plan: Plan;
  readonly scan: ScanResult;
  readonly statCacheChanged: boolean;
  readonly scanRoot: string;
  /** Blobs the plan needs that the store does not hold. */
  readonly wanted: readonly WantedBlob[];
  /** The transfer order for `wanted`, and why. */
  readonly transfer: StrategyChoice;
  readonly changes: ChangeSummary;
  /** DEST differs from the commit. */
  readonly pending: boolean;
  readonly prefetched: { readonly blobs: number; readonly bytes: number };
  /** The synced folder's tree and the chain above it, recorded for the next thin fetch. */
  readonly tree: string | undefined;
  readonly chain: readonly { readonly sha: string; readonly data: Buffer }[] | undefined;
  readonly phases: Phase[];
  readonly startedAt: number;
  /** The run's transfer deadline; applySync disposes of it. */
  readonly deadline: TransferDeadline;
}

export interface SyncResult {
  readonly ok: boolean;
  readonly repo: string;
  readonly ref: string;
  readonly path: string;
  readonly dest: string;
  readonly commit: string;
  readonly previousCommit: string | undefined;
  readonly source: RemoteSource['name'];
  readonly strategy: StrategyName;
  readonly strategyReason: string;
  readonly checkOnly: boolean;
  /** Whether DEST differs (or, after a real run, differed) from the commit. */
  readonly pending: boolean;
  readonly changes: ChangeSummary;
  readonly unmanaged: readonly string[];
  readonly skipped: readonly { readonly path: string; readonly reason: string }[];
  /** Blob content bytes downloaded (or, with --check-only, that would be). */
  readonly bytesDownloaded: number;
  /** Blobs downloaded (or that would be). */
  readonly blobsDownloaded: number;
  readonly apiRequests: number;
  readonly httpRequests: number;
  readonly bytesReceived: number;
  readonly filesHashed: number;
  readonly recovered: string | undefined;
  readonly rateLimit: RateLimitInfo | undefined;
  readonly durationMs: number;
  /** Phases with their durations, for the bench and --verbose. */
  readonly phases: readonly Phase[];
}

/** Run one sync: open DEST, plan, and (unless --check-only) apply. Throws HostsyncError for anything a user can act on; DEST is then as before. */
export async function runSync(config: Config, deps: SyncDeps): Promise<SyncResult> {
  return withDestination(config, { log: deps.log, lock: true, write: !config.checkOnly }, async (destination) => {
    const plan = await planSync(destination, config, deps);
    try {
      return config.checkOnly ? planResult(plan, destination) : await applySync(destination, plan, deps);
    } finally {
      plan.deadline.dispose();
      await plan.source.close();
    }
  });
}

/** The source deps of a sync: every request carries the transfer deadline's signal. */
function sourceDeps(deps: SyncDeps, deadline: TransferDeadline, host: () => HostObjects): SourceDeps {
  return { createClient: (config) => deps.createClient(config, deadline.signal), log: deps.log, env: deps.env, now: deps.now ?? Date.now, signal: deadline.signal, host, userAgent: `hostsync/${VERSION}`, retry: deps.retry };
}

/** What DEST and the store hold, as delta bases for the wire source. */
function hostObjects(destination: Destination, scanRoot: string): () => HostObjects {
  let bySha: Map<string, string> | undefined;
  return () => ({
    store: destination.store,
    localPath(sha) {
      bySha ??= new Map((destination.manifest?.entries ?? []).filter((entry) => entry.mode === '100644' || entry.mode === '100755').map((entry) => [entry.sha, entry.path]));
      const path = bySha.get(sha);
      return path === undefined ? undefined : join(scanRoot, path);
    },
  });
}

/** The host a run talks to, for messages. */
function serverHost(config: Config): string {
  try {
    return new URL(config.apiUrl).host;
  } catch {
    return config.apiUrl;
  }
}

/**
 * Work out what a sync of `destination` to `config.ref` would do. Reads the server and DEST,
 * writes nothing but (with a source that brings content while reading the tree) verified objects
 * into the store. The returned plan owns its source: close `plan.source` when done.
 */
export async function planSync(destination: Destination, config: Config, deps: SyncDeps): Promise<SyncPlan> {
  const now = deps.now ?? Date.now;
  const startedAt = now();
  const phases: Phase[] = [];
  const phase = createPhases(now, phases, deps.onPhase);
  const previous = destination.manifest;
  const deadline = startTransferDeadline(config.transferTimeoutSec, serverHost(config), deps.signal);
  const scanRoot = await destination.scanRoot();
  const host = hostObjects(destination, scanRoot);
  const opened = openSource(config, sourceDeps(deps, deadline, host));
  let source = opened;
  let what = 'resolving the ref';
  try {
    phase.start('resolve ref');
    const cache = await loadRefCache(destination.paths.etags);
    const cached = cache[refKey(config.apiUrl, config.repo, config.ref)];
    const known = cached !== undefined && previous !== undefined ? cached : undefined;
    const found = await resolveWithFallback(config, source, known, sourceDeps(deps, deadline, host));
    source = found.source;
    const resolved = found.resolved;
    deps.log('debug', resolved.changed ? `Ref ${config.ref} → ${resolved.sha}.` : `Ref ${config.ref} unchanged (304): ${resolved.sha.slice(0, 12)}.`);
    phase.end(`${config.ref} → ${resolved.sha.slice(0, 12)}`);
    throwIfAborted(deps.signal);

    const hold = await readHold(destination.paths);
    const held = hold !== undefined && previous !== undefined && hold.rolledBackFrom === resolved.sha;
    if (held) deps.log('info', `DEST was rolled back from ${resolved.sha.slice(0, 12)}; keeping ${previous.commit.slice(0, 12)} until ${config.ref} moves (or run 'hostsync rollback --to ${resolved.sha.slice(0, 12)}').`);
    const commit = held ? previous.commit : resolved.sha;

    phase.start('tree');
    what = 'reading the tree';
    const sameFolder = previous?.repo === config.repo && previous.path === config.path ? previous : undefined;
    const tree = manifestMatches(previous, config.repo, config.path, commit)
      ? { entries: previous.entries, repoBytes: undefined, prefetched: { blobs: 0, bytes: 0 }, tree: previous.tree, chain: previous.chain?.map((t) => ({ sha: t.sha, data: Buffer.from(t.data, 'base64') })) }
      : await source.readTree(commit, { path: config.path, withContent: !config.checkOnly, previous: sameFolder });
    phase.end(`${tree.entries.length} entries`);
    throwIfAborted(deps.signal);

    phase.start('scan');
    const { plan, scan, statCacheChanged } = await scanAndPlan({
      paths: destination.paths,
      store: destination.store,
      remote: tree.entries,
      previous: previous?.entries ?? [],
      preserve: config.preserve,
      prune: config.prune,
      scanRoot,
      ignoreStatCache: config.forceFull,
      // Pinned before the store is asked what it holds, so another destination's collection cannot take it meanwhile.
      beforeStoreQuery: (shas) => destination.pins.add(shas),
    });
    phase.end(`${scan.stats.files} files, ${scan.stats.hashed} hashed, ${scan.stats.cacheHits} from the stat cache`, { files: scan.stats.files, hashed: scan.stats.hashed, cacheHits: scan.stats.cacheHits });
    if (plan.conflicts.length > 0) {
      throw new HostsyncError(`Preserved path ${plan.conflicts[0]} stands where commit ${commit.slice(0, 12)} needs a file. Move it, or change 'preserve', then run again.`);
    }
    for (const skip of plan.skipped) deps.log('warn', `Skipping ${skip.path}: ${skip.reason}.`);

    const wanted: WantedBlob[] = [];
    for (const blob of plan.fetch) if (!(await destination.store.holds(blob.sha))) wanted.push(blob);
    const gitAvailable = wanted.length > 0 && source.name === 'rest' ? await (await import('../transfer/clone.js')).isGitAvailable('git', undefined, deps.env) : source.name === 'git';
    const transfer = wanted.length === 0
      ? { order: [], reason: plan.localCopies.length > 0 ? 'all content already on the host (moved or copied files)' : 'nothing to download' }
      : source.chooseTransfer({ wanted, remote: tree.entries, repoBytes: tree.repoBytes, path: config.path, forceFull: config.forceFull, concurrency: config.concurrency }, gitAvailable);
    deps.log('debug', `strategy: ${transfer.order.join(' → ') || 'none'} (${transfer.reason})`);
    return {
      config,
      source,
      resolved,
      commit,
      previous,
      held,
      remote: tree.entries,
      repoBytes: tree.repoBytes,
      plan,
      scan,
      statCacheChanged,
      scanRoot,
      wanted,
      transfer,
      changes: summarizeChanges(plan),
      pending: !isEmptyPlan(plan),
      prefetched: tree.prefetched,
      tree: tree.tree,
      chain: tree.chain,
      phases,
      startedAt,
      deadline,
    };
  } catch (error) {
    deadline.dispose();
    await source.close();
    if (source !== opened) await opened.close().catch(() => undefined);
    throw deadline.explain(error, what);
  }
}

/** The result of a plan that is not applied (--check-only). */
export function planResult(plan: SyncPlan, destination: Destination): SyncResult {
  const strategy: StrategyName = plan.wanted.length > 0 ? (plan.transfer.order[0] ?? 'none') : plan.plan.localCopies.length > 0 ? 'local' : 'none';
  return resultOf(plan, destination, { checkOnly: true, strategy, reason: plan.transfer.reason, bytes: plan.wanted.reduce((sum, b) => sum + (b.size ?? 0), 0), blobs: plan.wanted.length });
}

function resultOf(plan: SyncPlan, destination: Destination, outcome: { checkOnly: boolean; strategy: StrategyName; reason: string; bytes: number; blobs: number }): SyncResult {
  const { config, source } = plan;
  const now = Date.now;
  const reason = source.reason === '' ? outcome.reason : outcome.strategy === 'clone' || outcome.strategy === 'none' ? source.reason : `${source.reason}; ${outcome.reason}`;
  return {
    ok: true,
    repo: config.repo,
    ref: config.ref,
    path: config.path,
    dest: destination.paths.dest,
    commit: plan.commit,
    previousCommit: plan.previous?.commit,
    source: source.name,
    strategy: outcome.strategy,
    strategyReason: reason,
    checkOnly: outcome.checkOnly,
    pending: plan.pending,
    changes: plan.changes,
    unmanaged: plan.plan.unmanaged,
    skipped: plan.plan.skipped,
    bytesDownloaded: outcome.bytes,
    blobsDownloaded: outcome.blobs,
    apiRequests: source.stats.apiRequests,
    httpRequests: source.stats.httpRequests,
    bytesReceived: source.stats.bytesReceived,
    filesHashed: plan.scan.stats.hashed,
    recovered: destination.recovered?.action,
    rateLimit: source.stats.rateLimit,
    durationMs: now() - plan.startedAt,
    phases: plan.phases,
  };
}

/**
 * Apply a plan: trust checks, missing content into the store (verified), the journaled apply,
 * history, GC, the stat cache and the ref's ETag. Throws with DEST as before on any failure.
 */
export async function applySync(destination: Destination, plan: SyncPlan, deps: SyncDeps): Promise<SyncResult> {
  const { config, source, commit, previous } = plan;
  const now = deps.now ?? Date.now;
  const phase = createPhases(now, plan.phases, deps.onPhase);
  let fetched: Awaited<ReturnType<typeof fetchContent>>;
  try {
    if (!plan.held) await source.checkTrust(commit, previous);
    await ensurePrivateDir(config.stateDir);
    phase.start('transfer');
    deps.log(plan.wanted.length === 0 ? 'debug' : 'info', `strategy ${plan.transfer.order[0] ?? 'none'}: ${plan.transfer.reason}`);
    fetched = await fetchContent({
    plan: plan.plan,
    wanted: plan.wanted,
    choice: plan.transfer,
    commit,
    store: destination.store,
    scanRoot: plan.scanRoot,
    log: deps.log,
    onProgress: deps.onProgress,
    signal: plan.deadline.signal,
    createStrategy: (name) => source.createStrategy(name, commit),
    });
  } catch (error) {
    throw plan.deadline.explain(error, 'checking or downloading content');
  } finally {
    plan.deadline.dispose();
  }
  phase.end(`via ${fetched.strategy}, ${fetched.blobs} blobs, ${fetched.bytes} bytes`, { blobs: fetched.blobs, bytes: fetched.bytes });
  const prefetched = plan.prefetched.blobs > 0 && fetched.strategy === 'none';
  const strategy: StrategyName = prefetched ? 'pack' : fetched.strategy;
  throwIfAborted(deps.signal);

  const applied = plan.pending || previous?.commit !== commit;
  if (applied) {
    const manifest: Manifest = {
      version: 1,
      repo: config.repo,
      ref: config.ref,
      path: config.path,
      commit,
      appliedAt: new Date(now()).toISOString(),
      strategy,
      entries: plan.plan.entries,
      ...(plan.tree !== undefined ? { tree: plan.tree } : {}),
      ...(plan.chain !== undefined && plan.chain.length > 0 ? { chain: plan.chain.map((t) => ({ sha: t.sha, data: t.data.toString('base64') })) } : {}),
    };
    phase.start('apply');
    await destination.apply(plan.plan, manifest, previous, now, plan.scan.statCache);
    phase.end(`${plan.plan.changes.length} changes`, { changes: plan.plan.changes.length });
    await recordGeneration(destination.paths, manifest, { kind: 'sync', previousCommit: previous?.commit, changes: countByKind(plan.changes) }, config.historyLimit);
    if (!plan.held) await clearHold(destination.paths);
    await collectGarbage(config.stateDir, destination.store, now).catch((error: unknown) => deps.log('warn', `Skipped cleaning the object store: ${errorMessage(error)}`));
  }
  // An apply records what it wrote in the stat cache itself (Destination.apply).
  if (!applied && plan.statCacheChanged) await saveStatCache(destination.paths.statCache, plan.scan.statCache);
  if (plan.resolved.etag !== undefined) {
    const cache = await loadRefCache(destination.paths.etags);
    cache[refKey(config.apiUrl, config.repo, config.ref)] = { etag: plan.resolved.etag, sha: plan.resolved.sha };
    await saveRefCache(destination.paths.etags, cache);
  }
  return resultOf(plan, destination, {
    checkOnly: false,
    strategy,
    reason: prefetched ? 'content came with the tree in one pack' : fetched.reason,
    bytes: fetched.bytes + plan.prefetched.bytes,
    blobs: fetched.blobs + plan.prefetched.blobs,
  });
}
