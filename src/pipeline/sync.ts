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
import type { Config, Token } from '../config/types.js';
import type { AuthSummary } from '../auth/run-auth.js';
import { errorMessage, HostsyncError, throwIfAborted } from '../errors.js';
import { collectGarbage, recordGeneration } from '../apply/history.js';
import { clearHold, readHold } from '../apply/hold.js';
import type { Destination } from '../apply/destination.js';
import { withDestination } from '../apply/destination.js';
import { planScanned, preserveMatcher, scanAndPlan } from '../apply/local-plan.js';
import type { GitHubClient, RateLimitInfo } from '../github/types.js';
import { saveStatCache } from '../local/stat-cache.js';
import { walkDestination, type ScanResult } from '../local/scan.js';
import type { Logger, Manifest, RemoteEntry, StrategyName, WantedBlob, WorkProgress } from '../model.js';
import { isEmptyPlan, planUpdate, type Plan } from '../plan/plan.js';
import type { StrategyChoice } from '../plan/strategy.js';
import { loadCapabilityMemo, type CapabilityMemo } from '../state/capabilities.js';
import { loadRefCache, manifestMatches, refKey, saveRefCache } from '../state/etags.js';
import { ensurePrivateDir } from '../state/files.js';
import { openSource, resolveWithFallback, wireUrlOf, type SourceDeps } from '../source/choose.js';
import type { RemoteSource, ResolvedCommit } from '../source/types.js';
import type { HostObjects } from '../source/wire.js';
import { join } from 'node:path';
import { VERSION } from '../version.js';
import type { RetryPolicy } from '../github/retry.js';
import type { TransferProgress } from '../transfer/types.js';
import { fetchContent } from './fetch.js';
import { createPhases, type Phase, type PhaseListener } from './phases.js';
import { startTransferDeadline, type TransferDeadline } from './deadline.js';
import { checkSignature, throwIfRefused, type SignatureStatus } from './signatures.js';
import { openFleetRun, type FleetReport } from '../rollout/fleet.js';
import { describeRollout } from '../rollout/describe.js';
import { countByKind, countEntries, countPlanChanges, filesAndFolders, summarizeChanges, type ChangeSummary } from './summary.js';
import { formatBytes } from '../format.js';
import { applyKnownPointers, examineAtHand, lfsShas, openLfs, summarizeLfs, type FetchBlobs, type LfsRun, type LfsSummary } from '../lfs/resolve.js';
import { completeLfs } from '../lfs/complete.js';

export type { Logger, LogLevel } from '../model.js';

export interface SyncDeps {
  /** A GitHub client for the run; every request it makes carries `signal` (stop, transfer deadline). */
  readonly createClient: (config: Config, signal: AbortSignal) => GitHubClient;
  readonly log: Logger;
  /** How far the running phase is (a pack as it arrives, the transfer, the apply): the CLI's bar and 10 s lines. */
  readonly onProgress?: ((progress: WorkProgress) => void) | undefined;
  /** A phase starts or ends (the CLI's spinners and --verbose lines). */
  readonly onPhase?: PhaseListener | undefined;
  readonly now?: () => number;
  /** The process environment git inherits its allow-listed variables from (PATH, proxies, CAs). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted on SIGINT/SIGTERM: transfers stop; an apply in progress is finished or undone first. */
  readonly signal?: AbortSignal | undefined;
  /** Retries and back-off of requests that are not the GitHub client's (git's wire protocol). */
  readonly retry?: RetryPolicy | undefined;
  /**
   * Asked when planning fails: a token to plan once more with (a GitHub App token GitHub refused,
   * src/auth/run-auth.ts), or undefined to fail. May throw a clearer error instead.
   */
  readonly renewToken?: ((error: unknown) => Promise<Token | undefined>) | undefined;
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
  /** The clock `startedAt` was read from (deps.now), for the run's duration. */
  readonly clock: () => number;
  /** The run's transfer deadline; applySync disposes of it. */
  readonly deadline: TransferDeadline;
  /** How the ref was polled, the ref's alternatives, and the rollout gate's verdict (src/rollout/). */
  readonly fleet: FleetReport;
  /** The host's verdict on the commit's signature with pinned keys (signatures.ts); undefined without. */
  readonly signature: SignatureStatus | undefined;
  /** Git LFS files (src/lfs): the run's side, small blobs still to look at after the transfer, what it downloads. */
  readonly lfs: { readonly run: LfsRun; readonly unexamined: readonly string[]; readonly summary: LfsSummary };
  /** The git server's advertisement: remembered from an earlier run, or learnt by this one (saved by applySync). */
  readonly capabilities: CapabilityMemo | undefined;
}

export interface SyncResult {
  readonly ok: boolean;
  readonly repo: string;
  readonly ref: string;
  readonly path: string;
  readonly dest: string;
  readonly commit: string;
  readonly previousCommit: string | undefined;
  /** The commit the ref names now (differs from `commit` while DEST is held after a rollback). */
  readonly refCommit: string;
  /** DEST was rolled back from `refCommit`: the sync kept `commit` until the ref moves. */
  readonly held: boolean;
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
  /** GitHub REST API quota points the run spent: API requests not answered 304 (docs/operations.md). */
  readonly quotaPoints: number;
  /** How the ref was polled, the ref's alternatives, and the rollout gate's verdict. */
  readonly fleet: FleetReport;
  /** With pinned keys: whether the commit's signature verified on this host. */
  readonly signature: SignatureStatus | undefined;
  /** Git LFS files in the tree, and the objects downloaded (or, with --check-only, to download). */
  readonly lfs: LfsSummary;
  /** How the run authenticated and what its GitHub App token cost (set by the command, src/auth/run-auth.ts). */
  readonly auth?: AuthSummary | undefined;
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
function sourceDeps(deps: SyncDeps, deadline: TransferDeadline, host: () => HostObjects, capabilities: CapabilityMemo | undefined): SourceDeps {
  return { createClient: (config) => deps.createClient(config, deadline.signal), log: deps.log, env: deps.env, now: deps.now ?? Date.now, signal: deadline.signal, host, userAgent: `hostsync/${VERSION}`, retry: deps.retry, onProgress: deps.onProgress, capabilities };
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
  // A GitHub App token GitHub refused is replaced (src/auth/run-auth.ts, which may throw a clearer
  // error instead); planning runs at most three times.
  for (let attempt = 1; ; attempt++) {
    try {
      return await planOnce(destination, config, deps);
    } catch (error) {
      const token = await deps.renewToken?.(error);
      if (token === undefined || attempt >= 3) throw error;
      config = { ...config, token };
    }
  }
}

async function planOnce(destination: Destination, config: Config, deps: SyncDeps): Promise<SyncPlan> {
  const now = deps.now ?? Date.now;
  const startedAt = now();
  const phases: Phase[] = [];
  const phase = createPhases(now, phases, deps.onPhase);
  const previous = destination.manifest;
  const fleet = await openFleetRun(config, { log: deps.log, now });
  const deadline = startTransferDeadline(config.transferTimeoutSec, serverHost(config), deps.signal);
  const scanRoot = await destination.scanRoot();
  const host = hostObjects(destination, scanRoot);
  // What the git server offers, remembered from an earlier run: the wire source skips the `info/refs` GET.
  const capabilities = config.transport === 'rest' && config.gitUrl === undefined ? undefined : await loadCapabilityMemo(destination.paths.capabilities, wireUrlOf(config), now);
  const forSource = sourceDeps(deps, deadline, host, capabilities);
  const opened = openSource(config, forSource);
  let source = opened;
  let what = 'resolving the ref';
  try {
    phase.start('resolve ref');
    const cache = await loadRefCache(destination.paths.etags);
    // DEST is listed while the ref request is in flight: the listing needs no tree. (Its rejection, if
    // the ref's is first, is the ref's to report; the listing's is raised by the scan below.)
    const walking = walkDestination(scanRoot, { isPreserved: preserveMatcher(config.preserve) });
    walking.catch(() => undefined);
    // A ref with alternatives (`canary/%H|main`) becomes the one that exists; the rest of the run uses that.
    const found = await fleet.resolve(source, (ref, from) => {
      const cached = cache[refKey(config.apiUrl, config.repo, ref)];
      const known = cached !== undefined && previous !== undefined ? cached : undefined;
      return resolveWithFallback({ ...config, ref }, from, known, forSource);
    });
    source = found.source;
    const resolved = found.resolved;
    config = { ...config, ref: found.ref };
    if (!config.checkOnly) await fleet.remember(source.stats);
    deps.log('debug', resolved.changed ? `Ref ${config.ref} → ${resolved.sha}.` : `Ref ${config.ref} unchanged (304): ${resolved.sha.slice(0, 12)}.`);
    phase.end(`${config.ref} → ${resolved.sha.slice(0, 12)}`);
    throwIfAborted(deps.signal);

    const hold = await readHold(destination.paths);
    const held = hold !== undefined && previous !== undefined && hold.rolledBackFrom === resolved.sha;
    if (held) deps.log('info', `DEST was rolled back from ${resolved.sha.slice(0, 12)}; keeping ${previous.commit.slice(0, 12)} until ${config.ref} moves (or run 'hostsync rollback --to ${resolved.sha.slice(0, 12)}').`);
    // A rollout keeps DEST's commit until the host's wave is due (src/rollout/gate.ts).
    const gate = held ? undefined : await fleet.gate({ previous, config, resolved: found, stats: source.stats, write: !config.checkOnly, paths: destination.paths });
    const waiting = previous !== undefined && gate?.apply === false;
    if (gate !== undefined) deps.log(waiting ? 'info' : 'debug', describeRollout(gate.report, config.ref, previous?.commit, source.stats.serverDate ?? now()));
    const commit = held || waiting ? previous.commit : resolved.sha;

    phase.start('tree');
    what = 'reading the tree';
    const sameFolder = previous?.repo === config.repo && previous.path === config.path ? previous : undefined;
    const fromManifest = manifestMatches(previous, config.repo, config.path, commit);
    // Said before the download starts: with the wire protocol the content comes with the tree.
    const reading = fromManifest || config.checkOnly ? undefined : source.describeRead?.(commit, sameFolder);
    if (reading) deps.log('info', reading);
    const tree = fromManifest
      ? { entries: previous.entries, repoBytes: undefined, prefetched: { blobs: 0, bytes: 0 }, tree: previous.tree, chain: previous.chain?.map((t) => ({ sha: t.sha, data: Buffer.from(t.data, 'base64') })) }
      : await source.readTree(commit, { path: config.path, withContent: !config.checkOnly, previous: sameFolder });
    const inTree = countEntries(tree.entries);
    phase.end(filesAndFolders(inTree.files, inTree.folders), inTree);
    throwIfAborted(deps.signal);
    const signature = await checkSignature({ config, source, commit, previous, root: tree.root, log: deps.log, now });

    phase.start('scan');
    // Git LFS files become their content: known pointers now, pointers in blobs at hand after the scan (src/lfs).
    const lfs = await openLfs({ mode: config.lfs, stateDir: config.stateDir, store: destination.store, scanRoot, previous, log: deps.log });
    const planInput = {
      paths: destination.paths,
      store: destination.store,
      remote: applyKnownPointers(lfs, tree.entries),
      previous: previous?.entries ?? [],
      preserve: config.preserve,
      prune: config.prune,
      scanRoot,
      ignoreStatCache: config.forceFull,
      walked: await walking,
      // Pinned before the store is asked what it holds, so another destination's collection cannot take it meanwhile.
      beforeStoreQuery: (shas: readonly string[]) => destination.pins.add(shas),
    };
    const scanned = await scanAndPlan(planInput);
    const examined = await examineAtHand(lfs, planInput.remote, scanned.scan, scanned.plan, config.checkOnly ? blobFetcher(source, commit, destination, tree.entries, config, deps.log, deadline.signal) : undefined);
    const remote = examined.remote;
    const { plan, scan, statCacheChanged } = examined.changed ? { ...scanned, plan: await planScanned({ ...planInput, remote }, scanned.scan) } : scanned;
    phase.end(`${scan.stats.files} files in DEST, ${scan.stats.hashed} hashed, ${scan.stats.cacheHits} from the stat cache`, { files: scan.stats.files, hashed: scan.stats.hashed, cacheHits: scan.stats.cacheHits });
    if (plan.conflicts.length > 0) {
      throw new HostsyncError(`Preserved path ${plan.conflicts[0]} stands where commit ${commit.slice(0, 12)} needs a file. Move it, or change 'preserve', then run again.`);
    }
    for (const skip of plan.skipped) deps.log('warn', `Skipping ${skip.path}: ${skip.reason}.`);

    // LFS objects come from the LFS server (applySync), never from git's transfers.
    const lfsContent = lfsShas(remote);
    const wanted: WantedBlob[] = [];
    for (const blob of plan.fetch) if (!lfsContent.has(blob.sha) && !(await destination.store.holds(blob.sha))) wanted.push(blob);
    const transfer = wanted.length === 0
      ? { order: [], reason: plan.localCopies.length > 0 ? 'all content already on the host (moved or copied files)' : 'nothing to download' }
      : await source.chooseTransfer({ wanted, remote: tree.entries, repoBytes: tree.repoBytes, path: config.path, forceFull: config.forceFull, concurrency: config.concurrency });
    deps.log('debug', `strategy: ${transfer.order.join(' → ') || 'none'} (${transfer.reason})`);
    return {
      config,
      source,
      resolved,
      commit,
      previous,
      held,
      remote,
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
      clock: now,
      deadline,
      fleet: { poll: fleet.poll, refPattern: fleet.pattern, rollout: gate?.report },
      signature,
      lfs: { run: lfs, unexamined: examined.unexamined, summary: summarizeLfs(config.lfs, remote, plan.fetch) },
      capabilities,
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
  const now = plan.clock;
  const reason = source.reason === '' ? outcome.reason : outcome.strategy === 'clone' || outcome.strategy === 'none' ? source.reason : `${source.reason}; ${outcome.reason}`;
  return {
    ok: true,
    repo: config.repo,
    ref: config.ref,
    path: config.path,
    dest: destination.paths.dest,
    commit: plan.commit,
    previousCommit: plan.previous?.commit,
    refCommit: plan.resolved.sha,
    held: plan.held,
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
    // GitHub charges every API request except a 304 to an authenticated conditional request.
    quotaPoints: source.stats.apiRequests - (config.token === undefined ? 0 : source.stats.notModified),
    fleet: plan.fleet,
    signature: plan.signature,
    lfs: plan.lfs.summary,
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
    throwIfRefused(plan.signature, commit);
    // DEST already holds the commit (an unchanged poll, a rollout holding back): it was vouched for when applied, and asking GitHub again would cost a point at every poll.
    if (!plan.held && commit !== previous?.commit) await source.checkTrust(commit, previous);
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
    onProgress: deps.onProgress === undefined ? undefined : (progress) => deps.onProgress?.(transferWork(progress)),
    signal: plan.deadline.signal,
    createStrategy: (name) => source.createStrategy(name, commit),
    });
    plan = await completeLfsFiles(destination, plan, deps);
  } catch (error) {
    throw plan.deadline.explain(error, 'checking or downloading content');
  } finally {
    plan.deadline.dispose();
    // What the git server offers, learnt while planning or downloading: remembered, whatever happens next.
    await plan.capabilities?.save();
  }
  const moved = fetched.blobs > 0 ? `via ${fetched.strategy}, ${fetched.blobs} blobs, ${formatBytes(fetched.bytes)}` : plan.prefetched.blobs > 0 ? 'nothing more: the content came with the tree' : fetched.strategy === 'local' ? 'nothing: the content was on the host' : 'nothing to download';
  phase.end(moved, { blobs: fetched.blobs, bytes: fetched.bytes });
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
      lfs: config.lfs,
      ...(plan.tree !== undefined ? { tree: plan.tree } : {}),
      ...(plan.chain !== undefined && plan.chain.length > 0 ? { chain: plan.chain.map((t) => ({ sha: t.sha, data: t.data.toString('base64') })) } : {}),
    };
    phase.start('apply');
    const onApplied = deps.onProgress === undefined ? undefined : (done: number, total: number) => deps.onProgress?.({ bytes: 0, items: Math.floor(done / 2), totalItems: Math.ceil(total / 2), unit: 'paths' });
    await destination.apply(plan.plan, manifest, previous, now, plan.scan.statCache, onApplied);
    const counted = countPlanChanges(plan.plan);
    phase.end(filesAndFolders(counted.files, counted.folders), { changes: plan.plan.changes.length, ...counted });
    // The run's records, each its own file, written side by side (the collection reads the history, so after it).
    await allDone([
      recordGeneration(destination.paths, manifest, { kind: 'sync', previousCommit: previous?.commit, changes: countByKind(plan.changes) }, config.historyLimit).then(() =>
        collectGarbage(config.stateDir, destination.store, now).catch((error: unknown) => deps.log('warn', `Skipped cleaning the object store: ${errorMessage(error)}`)),
      ),
      plan.held ? undefined : clearHold(destination.paths),
      saveEtag(destination, plan, config),
    ]);
  } else {
    // An apply records what it wrote in the stat cache itself (Destination.apply).
    await allDone([plan.statCacheChanged ? saveStatCache(destination.paths.statCache, plan.scan.statCache) : undefined, saveEtag(destination, plan, config)]);
  }
  return resultOf(plan, destination, {
    checkOnly: false,
    strategy,
    reason: prefetched ? 'content came with the tree in one pack' : fetched.reason,
    bytes: fetched.bytes + plan.prefetched.bytes,
    blobs: fetched.blobs + plan.prefetched.blobs,
  });
}

/**
 * Wait for every one of `writes`, then fail with the first failure: the DEST lock is released only
 * once no write of the run is still going.
 */
async function allDone(writes: readonly (Promise<unknown> | undefined)[]): Promise<void> {
  const settled = await Promise.allSettled(writes);
  const failed = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

/** The ref's ETag and SHA, for the next run's conditional request (after the apply: it vouches for DEST's commit). */
async function saveEtag(destination: Destination, plan: SyncPlan, config: Config): Promise<void> {
  if (plan.resolved.etag === undefined) return;
  const cache = await loadRefCache(destination.paths.etags);
  cache[refKey(config.apiUrl, config.repo, config.ref)] = { etag: plan.resolved.etag, sha: plan.resolved.sha };
  await saveRefCache(destination.paths.etags, cache);
}

/** Blobs into the store through the source's transfers, in the order it chooses (for what src/lfs must read). */
function blobFetcher(source: RemoteSource, commit: string, destination: Destination, remote: readonly RemoteEntry[], config: Config, log: Logger, signal: AbortSignal): FetchBlobs {
  const noCopies = planUpdate({ remote: [], local: new Map(), previous: [], stored: new Set(), isPreserved: () => false, prune: false });
  return async (blobs) => {
    const wanted: WantedBlob[] = [];
    for (const blob of blobs) if (!(await destination.store.holds(blob.sha))) wanted.push(blob);
    if (wanted.length === 0) return;
    const choice = await source.chooseTransfer({ wanted, remote, repoBytes: undefined, path: config.path, forceFull: false, concurrency: config.concurrency, clone: false });
    await fetchContent({ plan: noCopies, wanted, choice, commit, store: destination.store, scanRoot: destination.paths.dest, log, signal, createStrategy: (name) => source.createStrategy(name, commit) });
  };
}

/**
 * After the transfer: pointers in the blobs it brought, and every LFS object the plan needs
 * downloaded and verified (src/lfs). When entries changed, the plan is made again against the same
 * scan, and content DEST holds at other paths is copied into the store.
 */
async function completeLfsFiles(destination: Destination, plan: SyncPlan, deps: SyncDeps): Promise<SyncPlan> {
  const { config, source, commit } = plan;
  const fetchBlobs = blobFetcher(source, commit, destination, plan.remote, config, deps.log, plan.deadline.signal);
  const done = await completeLfs(plan.lfs.run, {
    config,
    remote: plan.remote,
    unexamined: plan.lfs.unexamined,
    scan: plan.scan,
    plan: plan.plan,
    chain: plan.chain,
    fetchBlobs,
    pin: (shas) => destination.pins.add(shas),
    traffic: source.stats,
    retry: deps.retry,
    signal: plan.deadline.signal,
    onProgress: deps.onProgress === undefined ? undefined : (progress) => deps.onProgress?.({ ...transferWork(progress), unit: 'LFS objects' }),
    userAgent: `hostsync/${VERSION}`,
    now: deps.now ?? Date.now,
  });
  const lfs = { ...plan.lfs, unexamined: [], summary: { ...summarizeLfs(config.lfs, done.remote, []), objects: done.objects, bytes: done.bytes } };
  if (!done.changed) return { ...plan, lfs };
  const replanned = await planScanned({ store: destination.store, remote: done.remote, previous: plan.previous?.entries ?? [], preserve: config.preserve, prune: config.prune, beforeStoreQuery: (shas) => destination.pins.add(shas) }, plan.scan);
  await fetchContent({ plan: replanned, wanted: [], choice: { order: [], reason: '' }, commit, store: destination.store, scanRoot: plan.scanRoot, log: deps.log, signal: plan.deadline.signal, createStrategy: async () => undefined });
  return { ...plan, remote: done.remote, plan: replanned, changes: summarizeChanges(replanned), pending: !isEmptyPlan(replanned), lfs };
}

/** A transfer strategy's progress as the phase's: the rate is measured on what the stream carries. */
export function transferWork(progress: TransferProgress): WorkProgress {
  const streamed = progress.streamedBytes !== undefined;
  return {
    bytes: streamed ? progress.streamedBytes! : progress.doneBytes,
    totalBytes: streamed ? progress.streamTotal : progress.totalBytes > 0 ? progress.totalBytes : undefined,
    items: progress.doneBlobs,
    totalItems: progress.totalBlobs,
    unit: 'blobs',
  };
}
