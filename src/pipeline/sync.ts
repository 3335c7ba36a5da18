/**
 * `runSync`: one sync of one destination, start to end —
 * recover → resolve ref (conditional) → tree → scan → plan → transfer → apply → record.
 * DEST is not touched until every needed blob is in the store, verified. With the API quota spent,
 * ref, tree and content come over git instead (transfer/git-source.ts), at no quota.
 */
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/types.js';
import { errorMessage, HostsyncError } from '../errors.js';
import { recoverInterrupted } from '../apply/apply.js';
import { resolveOwner } from '../apply/owner.js';
import { collectGarbage, recordGeneration } from '../apply/history.js';
import { clearHold, readHold } from '../apply/hold.js';
import { describeReset, RateLimitError } from '../github/errors.js';
import { readCommitTree } from '../github/tree.js';
import type { GitHubClient, RateLimitInfo } from '../github/types.js';
import { saveStatCache } from '../local/stat-cache.js';
import type { Manifest, RemoteEntry, StrategyName } from '../model.js';
import { isEmptyPlan } from '../plan/plan.js';
import { remoteEntriesFromTree } from '../plan/remote.js';
import { loadRefCache, manifestMatches, refKey, saveRefCache } from '../state/etags.js';
import { ensurePrivateDir } from '../state/files.js';
import { destPaths, type DestPaths } from '../state/layout.js';
import { loadManifest } from '../state/manifest.js';
import { createObjectStore } from '../state/objects.js';
import type { GitSource } from '../transfer/git-source.js';
import type { TransferProgress, TransferStrategy } from '../transfer/types.js';
import { fetchContent } from './fetch.js';
import { applyToDestination, lockDestination, requireDirectory, resolveDestination, scanRootOf } from '../apply/destination.js';
import { scanAndPlan } from '../apply/local-plan.js';
import { checkTrust } from './trust.js';
import { countByKind, summarizeChanges, type ChangeSummary } from './summary.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, message: string) => void;

export interface SyncDeps {
  readonly createClient: (config: Config) => GitHubClient;
  readonly log: Logger;
  readonly onProgress?: ((progress: TransferProgress) => void) | undefined;
  /** A phase starts or ends (the CLI's spinners and --verbose lines); without it, phase durations are debug log lines. */
  readonly onPhase?: ((name: string, state: 'start' | 'end', detail?: string) => void) | undefined;
  readonly now?: () => number;
  /** The caller (dev-update) already holds the destination's lock. */
  readonly lockHeld?: boolean | undefined;
  /** The process environment git inherits its allow-listed variables from (PATH, proxies, CAs). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface SyncResult {
  readonly ok: boolean;
  readonly repo: string;
  readonly ref: string;
  readonly path: string;
  readonly dest: string;
  readonly commit: string;
  readonly previousCommit: string | undefined;
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
  readonly filesHashed: number;
  readonly recovered: string | undefined;
  readonly rateLimit: RateLimitInfo | undefined;
  readonly durationMs: number;
}

/** Run one sync. Throws HostsyncError for anything a user can act on; DEST is then as before. */
export async function runSync(config: Config, deps: SyncDeps): Promise<SyncResult> {
  const now = deps.now ?? Date.now;
  const started = now();
  if (config.layout !== 'symlink') await requireDirectory(config.dest);
  const paths = destPaths(config.stateDir, await resolveDestination(config));
  const lock = deps.lockHeld === true ? undefined : await lockDestination(config, paths, deps.log);
  try {
    return await syncLocked(config, deps, paths, started);
  } finally {
    await lock?.release();
  }
}

async function syncLocked(config: Config, deps: SyncDeps, paths: DestPaths, started: number): Promise<SyncResult> {
  const now = deps.now ?? Date.now;
  const dest = paths.dest;
  const store = createObjectStore(paths.objects);
  const recovered = config.checkOnly ? undefined : await recoverInterrupted({ paths, store, ...(await resolveOwner(config)) });
  if (recovered) deps.log('warn', `Recovered an interrupted apply: ${recovered.action} (${recovered.commit.slice(0, 12)}).`);
  const previous = await loadManifest(paths.manifest);
  const client = deps.createClient(config);
  const quota: { git?: GitPath } = {};
  try {
    const phase = createPhases(now, deps.log, deps.onPhase);
    phase.start('resolve ref');
    const resolved = await resolveCommit(config, client, paths, previous, deps.log).catch(async (error: unknown) => {
      quota.git = await openGitPath(error, config, client, paths, deps.log, now(), deps.env);
      return { sha: await quota.git.source.resolveRef(config.ref), etag: undefined };
    });
    phase.end(`${config.ref} → ${resolved.sha.slice(0, 12)}`);
    const hold = await readHold(paths);
    const held = hold !== undefined && previous !== undefined && hold.rolledBackFrom === resolved.sha;
    if (held) deps.log('info', `DEST was rolled back from ${resolved.sha.slice(0, 12)}; keeping ${previous.commit.slice(0, 12)} until ${config.ref} moves (or run 'hostsync rollback --to ${resolved.sha.slice(0, 12)}').`);
    const commit = held ? { sha: previous.commit, etag: resolved.etag } : resolved;
    phase.start('tree');
    const { remote, repoBytes } = manifestMatches(previous, config.repo, config.path, commit.sha)
      ? { remote: previous.entries, repoBytes: undefined }
      : await fetchRemoteEntries(config, client, commit.sha, quota.git?.source);
    phase.end(`${remote.length} entries`);
    phase.start('scan');
    const scanRoot = await scanRootOf(config, dest);
    const { plan, scan, statCacheChanged } = await scanAndPlan({
      paths,
      store,
      remote,
      previous: previous?.entries ?? [],
      preserve: config.preserve,
      prune: config.prune,
      scanRoot,
      ignoreStatCache: config.forceFull,
    });
    phase.end(`${scan.stats.files} files, ${scan.stats.hashed} hashed, ${scan.stats.cacheHits} from the stat cache`);
    if (plan.conflicts.length > 0) {
      throw new HostsyncError(`Preserved path ${plan.conflicts[0]} stands where commit ${commit.sha.slice(0, 12)} needs a file. Move it, or change 'preserve', then run again.`);
    }
    for (const skip of plan.skipped) deps.log('warn', `Skipping ${skip.path}: ${skip.reason}.`);
    if (!held && !config.checkOnly) {
      if (quota.git === undefined) await checkTrust(client, config, previous, commit.sha);
      else warnUncheckedDowngrade(config, previous, commit.sha, deps.log);
    }
    if (!config.checkOnly) {
      await ensurePrivateDir(config.stateDir);
      await mkdir(paths.root, { recursive: true, mode: 0o700 });
    }
    phase.start('transfer');
    const fetched = await fetchContent({
      config,
      plan,
      remote,
      repoBytes,
      commit: commit.sha,
      client,
      store,
      scanRoot,
      log: deps.log,
      onProgress: deps.onProgress,
      createStrategy: (name) => createFallbackStrategy(name, config, client, commit.sha, paths, deps.env, quota.git?.source),
      gitAvailable: async () => quota.git !== undefined || (await import('../transfer/clone.js')).isGitAvailable('git', undefined, deps.env),
      dryRun: config.checkOnly,
    });
    phase.end(`via ${fetched.strategy}, ${fetched.blobs} blobs, ${fetched.bytes} bytes`);
    const strategyReason = quota.git === undefined ? fetched.reason : `${quota.git.reason}${fetched.strategy === 'clone' ? '' : `; ${fetched.reason}`}`;
    deps.log(fetched.strategy === 'none' ? 'debug' : 'info', `strategy ${fetched.strategy}: ${strategyReason}`);
    const changes = summarizeChanges(plan);
    const pending = !isEmptyPlan(plan);
    const result = (extra: Pick<SyncResult, 'checkOnly' | 'bytesDownloaded' | 'blobsDownloaded'>): SyncResult => ({
      ok: true,
      repo: config.repo,
      ref: config.ref,
      path: config.path,
      dest,
      commit: commit.sha,
      previousCommit: previous?.commit,
      strategy: fetched.strategy,
      strategyReason,
      pending,
      changes,
      unmanaged: plan.unmanaged,
      skipped: plan.skipped,
      filesHashed: scan.stats.hashed,
      recovered: recovered?.action,
      apiRequests: client.stats.apiRequests,
      rateLimit: client.stats.rateLimit,
      durationMs: now() - started,
      ...extra,
    });
    if (config.checkOnly) return result({ checkOnly: true, bytesDownloaded: plan.downloadBytes, blobsDownloaded: plan.fetch.length });

    if (pending || previous?.commit !== commit.sha) {
      const manifest: Manifest = {
        version: 1,
        repo: config.repo,
        ref: config.ref,
        path: config.path,
        commit: commit.sha,
        appliedAt: new Date(now()).toISOString(),
        strategy: fetched.strategy,
        entries: plan.entries,
      };
      phase.start('apply');
      await applyToDestination(config, plan, manifest, previous, { paths, store, now });
      phase.end(`${plan.changes.length} changes`);
      await recordGeneration(paths, manifest, { kind: 'sync', previousCommit: previous?.commit, changes: countByKind(changes) }, config.historyLimit);
      if (!held) await clearHold(paths);
      await collectGarbage(config.stateDir, store).catch((error: unknown) => deps.log('warn', `Skipped cleaning the object store: ${errorMessage(error)}`));
    }
    if (statCacheChanged) await saveStatCache(paths.statCache, scan.statCache);
    if (commit.etag !== undefined) {
      const cache = await loadRefCache(paths.etags);
      cache[refKey(config.apiUrl, config.repo, config.ref)] = { etag: commit.etag, sha: resolved.sha };
      await saveRefCache(paths.etags, cache);
    }
    return result({ checkOnly: false, bytesDownloaded: fetched.bytes, blobsDownloaded: fetched.blobs });
  } finally {
    await Promise.all([client.close(), quota.git?.source.close()]);
  }
}

/**
 * Phases as they start and end: to `onPhase` (the CLI's spinners and --verbose lines), else their
 * durations as debug lines in the same format (`scan (…): 43 ms`, which test/bench parses).
 */
function createPhases(now: () => number, log: Logger, onPhase: SyncDeps['onPhase']): { start(name: string): void; end(detail: string): void } {
  let current: { name: string; at: number } | undefined;
  return {
    start(name) {
      current = { name, at: now() };
      onPhase?.(name, 'start');
    },
    end(detail) {
      if (current === undefined) return;
      if (onPhase !== undefined) onPhase(current.name, 'end', detail);
      else log('debug', `${current.name} (${detail}): ${now() - current.at} ms`);
      current = undefined;
    },
  };
}

/** Resolve the ref with a conditional request when we know its last ETag. */
async function resolveCommit(
  config: Config,
  client: GitHubClient,
  paths: DestPaths,
  previous: Manifest | undefined,
  log: Logger,
): Promise<{ sha: string; etag: string | undefined }> {
  const cached = (await loadRefCache(paths.etags))[refKey(config.apiUrl, config.repo, config.ref)];
  const usable = cached !== undefined && previous !== undefined ? cached : undefined;
  const resolved = await client.resolveRef(config.ref, usable?.etag);
  if (!resolved.changed) {
    log('debug', `Ref ${config.ref} unchanged (304): ${usable!.sha.slice(0, 12)}.`);
    return { sha: usable!.sha, etag: undefined };
  }
  log('debug', `Ref ${config.ref} → ${resolved.sha}.`);
  return { sha: resolved.sha, etag: resolved.etag };
}

/** Read the commit's tree (from the API, or from git on the git-only path) and select `--path`; also the whole repository's blob bytes when known. */
async function fetchRemoteEntries(config: Config, client: GitHubClient, commit: string, git?: GitSource): Promise<{ remote: RemoteEntry[]; repoBytes: number | undefined }> {
  const tree = git === undefined ? await readCommitTree(client, commit, config.path, config.concurrency) : { entries: await git.readTree(commit), walked: false };
  const repoBytes = tree.walked ? undefined : tree.entries.reduce((sum, entry) => sum + (entry.type === 'blob' ? (entry.size ?? 0) : 0), 0);
  return { remote: remoteEntriesFromTree(tree.entries, config.path, commit), repoBytes };
}

/** The tarball and clone strategies, imported only when a run needs them; on the git-only path, clone alone, from the git source's fetch. */
async function createFallbackStrategy(name: 'tarball' | 'clone', config: Config, client: GitHubClient, commit: string, paths: DestPaths, env: Readonly<Record<string, string | undefined>>, git?: GitSource): Promise<TransferStrategy | undefined> {
  if (git !== undefined) return name === 'clone' ? git.strategy(commit) : undefined;
  if (name === 'tarball') {
    const { createTarballStrategy } = await import('../transfer/tarball.js');
    return createTarballStrategy({ client, commit, root: config.path });
  }
  const { createCloneStrategy } = await import('../transfer/clone.js');
  return createCloneStrategy({
    serverUrl: config.serverUrl,
    owner: config.repoOwner,
    repo: config.repoName,
    token: config.token?.value,
    tokenSource: config.token?.source,
    commit,
    tmpDir: join(paths.stateDir, 'tmp'),
    stallSec: config.stallSec,
    env,
  });
}

/** A run on the git-only path: the source that replaces the API, and why it was taken. */
interface GitPath {
  readonly source: GitSource;
  readonly reason: string;
}

/**
 * On a spent API quota, take the git-only path for this run: ref, tree and content over git smart
 * HTTP, which GitHub does not rate-limit. Any RateLimitError that reaches here is one retry.ts did
 * not wait out (a far reset, or still spent after waiting). Anything else, or no usable git, is
 * rethrown as it was (the rate-limit message names the reset time).
 */
async function openGitPath(error: unknown, config: Config, client: GitHubClient, paths: DestPaths, log: Logger, nowMs: number, env: Readonly<Record<string, string | undefined>>): Promise<GitPath> {
  if (!(error instanceof RateLimitError) || !(await (await import('../transfer/clone.js')).isGitAvailable('git', undefined, env))) throw error;
  const resets = describeReset(error.reset, nowMs);
  if (config.requireSigned && !config.checkOnly) {
    throw new HostsyncError(
      `GitHub API rate limit exhausted; it resets at ${resets}. --require-signed needs the API to read the commit's signature verification, so the git-only path cannot be used. Wait for the reset, or drop requireSigned.`,
      1,
      { cause: error },
    );
  }
  // What the next steps see (the strategy choice, --json): no quota left until the reset.
  const last = client.stats.rateLimit;
  if (last?.remaining !== 0) client.stats.rateLimit = { limit: last?.limit ?? 0, remaining: 0, reset: error.reset, resource: last?.resource ?? 'core' };
  log('warn', `GitHub API rate limit exhausted until ${resets}: reading ${config.ref} of ${config.repo} with git from ${config.serverUrl} instead (no API requests).`);
  const { createGitSource } = await import('../transfer/git-source.js');
  const source = createGitSource({
    serverUrl: config.serverUrl,
    owner: config.repoOwner,
    repo: config.repoName,
    token: config.token?.value,
    tokenSource: config.token?.source,
    // --check-only writes no state, not even a throwaway repository (mkdtemp makes it 0700).
    tmpDir: config.checkOnly ? tmpdir() : join(paths.stateDir, 'tmp'),
    stallSec: config.stallSec,
    env,
  });
  return { source, reason: `GitHub API rate limit exhausted until ${resets}; ref, tree and content read with git (no API requests)` };
}

/** The downgrade guard compares commits through the API; on the git-only path, say when it would have run. */
function warnUncheckedDowngrade(config: Config, previous: Manifest | undefined, commit: string, log: Logger): void {
  if (config.allowDowngrade || previous === undefined || previous.commit === commit || previous.repo !== config.repo || previous.ref !== config.ref) return;
  log('warn', `Not checked: that ${commit.slice(0, 12)} descends from the last applied commit ${previous.commit.slice(0, 12)} (the downgrade guard needs the GitHub API, whose quota is spent). Applying it anyway.`);
}
