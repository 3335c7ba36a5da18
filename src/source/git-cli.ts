/**
 * git itself as a source, for runs whose REST quota is spent (git traffic is not rate-limited):
 * the ref by `git ls-remote`, the tree by `git ls-tree` of one shallow fetch, content from the
 * same fetch (transfer/git-source.ts). Pinned keys are verified from git's own commit object;
 * `--require-signed` without them needs the API, and the downgrade guard is not run (a warning says so).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/types.js';
import { netSettingsOf } from '../net/settings.js';
import { HostsyncError } from '../errors.js';
import { describeReset, type RateLimitError } from '../github/errors.js';
import type { Logger, Manifest } from '../model.js';
import { remoteEntriesFromTree } from '../plan/remote.js';
import type { RemoteSource, SourceStats } from './types.js';
import { commitTree } from '../trust/commit-object.js';
import { pinsConfigured } from '../trust/pins.js';

export interface GitCliSourceOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The refusal that sent the run here: its reset time is reported. */
  readonly rateLimit: RateLimitError;
  /** The REST source's counters, continued (its refused request stays counted). */
  readonly stats: SourceStats;
  readonly now: () => number;
  /** The run's transfer signal: git is stopped when it aborts. */
  readonly signal?: AbortSignal | undefined;
}

/** Create the git-only source; throws when --require-signed needs the API. */
export async function createGitCliSource(options: GitCliSourceOptions): Promise<RemoteSource> {
  const { config, log } = options;
  const resets = describeReset(options.rateLimit.reset, options.now());
  // With pinned keys the host verifies signatures from git's own objects; only GitHub's flag needs the API.
  const pinned = pinsConfigured(config.trust);
  if (config.requireSigned && !pinned && !config.checkOnly) {
    throw new HostsyncError(
      `GitHub API rate limit exhausted; it resets at ${resets}. --require-signed needs the API to read the commit's signature verification, so the git-only path cannot be used. Wait for the reset, or drop requireSigned.`,
      1,
      { cause: options.rateLimit },
    );
  }
  // What the next steps see (the strategy choice, --json): no quota left until the reset.
  const stats = options.stats;
  const last = stats.rateLimit;
  if (last?.remaining !== 0) stats.rateLimit = { limit: last?.limit ?? 0, remaining: 0, reset: options.rateLimit.reset, resource: last?.resource ?? 'core' };
  log('warn', `GitHub API rate limit exhausted until ${resets}: reading ${config.ref} of ${config.repo} with git from ${config.serverUrl} instead (no API requests).`);
  const { createGitSource } = await import('../transfer/git-source.js');
  const git = createGitSource({
    serverUrl: config.serverUrl,
    owner: config.repoOwner,
    repo: config.repoName,
    token: config.token?.value,
    tokenSource: config.token?.source,
    // --check-only writes no state, not even a throwaway repository (mkdtemp makes it 0700).
    tmpDir: config.checkOnly ? tmpdir() : join(config.stateDir, 'tmp'),
    stallSec: config.lowSpeedTimeSec,
    lowSpeedLimit: config.lowSpeedLimit,
    env: options.env,
    net: netSettingsOf(config),
  });
  return {
    name: 'git',
    reason: `GitHub API rate limit exhausted until ${resets}; ref, tree and content read with git (no API requests)`,
    stats,
    async resolveRef(ref) {
      return { sha: await git.resolveRef(ref, options.signal), etag: undefined, changed: true };
    },
    async readTree(commit, { path }) {
      const entries = remoteEntriesFromTree(await git.readTree(commit, options.signal), path, commit);
      // git lists the tree its own (hashed) commit object names.
      const root = pinned ? commitTree(await git.commitObject(commit, options.signal)) : undefined;
      return { entries, repoBytes: undefined, prefetched: { blobs: 0, bytes: 0 }, root };
    },
    commitObject: (commit) => git.commitObject(commit, options.signal),
    async checkTrust(commit, previous: Manifest | undefined) {
      if (config.allowDowngrade || previous === undefined || previous.commit === commit || previous.repo !== config.repo || previous.ref !== config.ref) return;
      log('warn', `Not checked: that ${commit.slice(0, 12)} descends from the last applied commit ${previous.commit.slice(0, 12)} (the downgrade guard needs the GitHub API, whose quota is spent). Applying it anyway.`);
    },
    async chooseTransfer(needs) {
      return needs.wanted.length === 0 ? { order: [], reason: 'nothing to download' } : { order: ['clone'], reason: 'the API quota is spent: content from the same git fetch' };
    },
    async createStrategy(name, commit) {
      return name === 'clone' ? git.strategy(commit) : undefined;
    },
    close: () => git.close(),
  };
}
