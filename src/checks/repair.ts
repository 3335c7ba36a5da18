/**
 * The real {@link Repairer}: what `validate --fix` may write. DEST is written only through
 * src/apply (`restoreManifest`, `ensureDirectories`, `setAttributes`, `recoverInterrupted`); the
 * state dir only through its own modules. Missing content is downloaded, verified, via `fetchBlobs`.
 */
import { mkdir, rm } from 'node:fs/promises';
import { recoverInterrupted } from '../apply/apply.js';
import { recordGeneration } from '../apply/history.js';
import { contentRoot, ensureDirectories, restoreManifest, setAttributes } from '../apply/restore.js';
import { HostsyncError } from '../errors.js';
import type { WantedBlob } from '../model.js';
import type { Destination } from '../apply/destination.js';
import { short } from './outcome.js';
import type { Repairer } from './types.js';

export interface RepairOptions {
  readonly destination: Destination;
  readonly preserve: readonly string[];
  readonly historyLimit: number;
  /** Download blobs the store lacks; undefined without repository access. */
  readonly fetchBlobs: ((blobs: readonly WantedBlob[]) => Promise<void>) | undefined;
}

/** Create the repairer for one validate run. */
export function createRepairer(options: RepairOptions): Repairer {
  const { destination } = options;
  const { paths, store, owner, layout } = destination;
  return {
    async recoverJournal() {
      const recovered = await recoverInterrupted({ paths, store, ...owner });
      if (recovered === undefined) return 'No interrupted apply was left.';
      return recovered.action === 'completed' ? `Finished the interrupted apply of ${short(recovered.commit)}.` : `Undid the interrupted apply; DEST is back at ${short(recovered.commit) || 'its previous state'}.`;
    },
    async clearStaleLock(file) {
      await rm(file, { force: true });
      return `Removed the stale lock file ${file}.`;
    },
    async createDest() {
      if (layout === 'symlink') return `${paths.dest} is created by the restore (layout "symlink").`;
      await mkdir(paths.dest, { recursive: true, mode: 0o755 });
      return `Created ${paths.dest}.`;
    },
    async restore(prune) {
      const manifest = await destination.reloadManifest();
      if (manifest === undefined) throw new HostsyncError(`Nothing was applied to ${paths.dest} yet, so there is nothing to restore; run 'hostsync sync'.`);
      if (layout === 'inplace') await mkdir(paths.dest, { recursive: true, mode: 0o755 });
      const result = await restoreManifest(manifest, manifest, destination, { preserve: options.preserve, prune, fetchBlobs: options.fetchBlobs });
      if (result.changed.length === 0) return `DEST already matched ${short(manifest.commit)}.`;
      const restored = result.changed.length - result.pruned.length;
      await recordGeneration(
        paths,
        { ...manifest, appliedAt: new Date().toISOString(), strategy: 'fix' },
        { kind: 'fix', previousCommit: manifest.commit, changes: { added: 0, modified: restored, deleted: result.pruned.length, modeChanged: 0, typeChanged: 0 } },
        options.historyLimit,
      );
      const fetched = result.fetched > 0 ? `, downloading ${result.fetched} blob(s)` : '';
      const pruned = result.pruned.length > 0 ? `; deleted ${result.pruned.length} unmanaged path(s)` : '';
      return `Restored ${restored} path(s) from ${short(manifest.commit)}${fetched}${pruned}.`;
    },
    async ensureDirectories(dirs) {
      const created = await ensureDirectories(await contentRoot(paths.dest, layout), dirs, { store, ...owner });
      return created.length === 0 ? 'The folders already existed.' : `Created ${created.join(', ')}.`;
    },
    async setAttributes(changes) {
      const done = await setAttributes(await contentRoot(paths.dest, layout), changes);
      return `Set the mode or owner of ${done.length} path(s).`;
    },
  };
}
