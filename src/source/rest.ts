/**
 * The GitHub REST API as a source: the ref by one conditional request, the tree by
 * `GET /git/trees/{sha}?recursive=1` (walked when truncated), trust by the commit and compare
 * endpoints, and content by per-blob downloads, the tarball, or a git clone, in the order
 * `chooseStrategy` (plan/strategy.ts, decision 0003) picks from sizes and the quota left.
 */
import { join } from 'node:path';
import type { Config } from '../config/types.js';
import { netSettingsOf } from '../net/settings.js';
import { HostsyncError } from '../errors.js';
import type { GitHubClient } from '../github/types.js';
import { readCommitTree } from '../github/tree.js';
import type { Manifest } from '../model.js';
import { remoteEntriesFromTree } from '../plan/remote.js';
import { treesOfListing } from './trees.js';
import { createRestSignatures } from './rest-signed.js';
import { pinsConfigured } from '../trust/pins.js';
import { chooseStrategy } from '../plan/strategy.js';
import { checkTrust } from '../pipeline/trust.js';
import { createBlobStrategy } from '../transfer/blobs.js';
import type { RemoteSource, TransferNeeds } from './types.js';

export interface RestSourceOptions {
  readonly config: Config;
  readonly client: GitHubClient;
  /** The environment git inherits (the clone strategy). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal | undefined;
}

/** Create the REST source over an existing client (closed with the source). */
export function createRestSource(options: RestSourceOptions): RemoteSource {
  const { config, client } = options;
  // With pinned keys: the commit object rebuilt from GitHub's answer, and the listing tied to its tree.
  const signed = createRestSignatures(client, pinsConfigured(config.trust));
  /** The repository's blob bytes from the last tree read, when known: a tarball's content. */
  let repoBytesRead: number | undefined;
  return {
    name: 'rest',
    reason: '',
    stats: client.stats,
    async resolveRef(ref, known) {
      const resolved = await client.resolveRef(ref, known?.etag);
      if (!resolved.changed) {
        if (known === undefined) throw new HostsyncError(`GitHub answered 304 Not Modified for ref '${ref}' without a conditional request; check --api-url.`);
        return { sha: known.sha, etag: undefined, changed: false };
      }
      return { sha: resolved.sha, etag: resolved.etag, changed: true };
    },
    async readTree(commit, { path }) {
      const read = await signed.treeToRead(commit);
      const tree = await readCommitTree(client, read, path, config.concurrency);
      const root = signed.bind(commit, read, tree.entries, path, tree.walked);
      const repoBytes = tree.walked ? undefined : tree.entries.reduce((sum, entry) => sum + (entry.type === 'blob' ? (entry.size ?? 0) : 0), 0);
      repoBytesRead = repoBytes; // the whole repository's, as the tarball carries it
      const entries = remoteEntriesFromTree(tree.entries, path, commit);
      // The folder's tree and the chain above it, rebuilt from the listing, let a later thin fetch use them as bases.
      const known = tree.walked ? undefined : treesOfListing(tree.entries, tree.rootSha, path);
      return { entries, repoBytes, prefetched: { blobs: 0, bytes: 0 }, ...known, root };
    },
    checkTrust: (commit, previous: Manifest | undefined) => checkTrust(client, config, previous, commit),
    commitObject: (commit) => signed.commitObject(commit),
    async chooseTransfer(needs: TransferNeeds) {
      const gitAvailable = needs.wanted.length > 0 && needs.clone !== false && (await (await import('../transfer/clone.js')).isGitAvailable('git', undefined, options.env));
      const treeBlobs = needs.remote.filter((e) => e.mode !== '040000' && e.mode !== '160000');
      return chooseStrategy({
        wantedBlobs: needs.wanted.length,
        wantedBytes: needs.wanted.reduce((sum, b) => sum + (b.size ?? 0), 0),
        treeBlobs: treeBlobs.length,
        treeBytes: treeBlobs.reduce((sum, e) => sum + (e.size ?? 0), 0),
        largestBlob: needs.wanted.reduce((max, b) => Math.max(max, b.size ?? 0), 0),
        quotaRemaining: client.stats.rateLimit?.remaining,
        concurrency: needs.concurrency,
        forceFull: needs.forceFull,
        gitAvailable,
        subPath: needs.path !== '',
        repoBytes: needs.repoBytes,
      });
    },
    async createStrategy(name, commit) {
      if (name === 'blobs') return createBlobStrategy({ client, concurrency: config.concurrency });
      if (name === 'tarball') {
        const { createTarballStrategy } = await import('../transfer/tarball.js');
        return createTarballStrategy({ client, commit, root: config.path, archiveBytes: repoBytesRead });
      }
      if (name === 'clone') {
        const { createCloneStrategy } = await import('../transfer/clone.js');
        return createCloneStrategy({
          serverUrl: config.serverUrl,
          owner: config.repoOwner,
          repo: config.repoName,
          token: config.token?.value,
          tokenSource: config.token?.source,
          commit,
          tmpDir: join(config.stateDir, 'tmp'),
          stallSec: config.lowSpeedTimeSec,
          lowSpeedLimit: config.lowSpeedLimit,
          env: options.env,
          net: netSettingsOf(config),
        });
      }
      return undefined;
    },
    close: () => client.close(),
  };
}
