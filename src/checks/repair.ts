/**
 * The real {@link Repairer}: what `validate --fix` may write. DEST is written only through
 * src/apply (`restoreManifest`, `ensureDirectories`, `setAttributes`, `recoverInterrupted`); the
 * state dir only through its own modules. Missing content is downloaded, verified, via `fetchBlobs`.
 */
import { lstat, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { recoverInterrupted } from '../apply/apply.js';
import { recordGeneration } from '../apply/history.js';
import { contentRoot, ensureDirectories, restoreManifest, setAttributes } from '../apply/restore.js';
import { HostsyncError } from '../errors.js';
import type { Manifest, WantedBlob } from '../model.js';
import type { Destination } from '../apply/destination.js';
import { short } from './outcome.js';
import type { Repairer } from './types.js';

export interface RepairOptions {
  readonly destination: Destination;
  readonly preserve: readonly string[];
  /** Folders a check requires that the manifest does not manage: made again (empty) after a prune. */
  readonly keep?: ((manifest: Manifest) => readonly string[]) | undefined;
  readonly historyLimit: number;
  /** Download blobs the store lacks; undefined without repository access. */
  readonly fetchBlobs: ((blobs: readonly WantedBlob[]) => Promise<void>) | undefined;
}

/** Those of `dirs` (relative to `root`) that are folders now. */
async function existingDirs(root: string, dirs: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const dir of dirs) if ((await lstat(join(root, dir)).catch(() => undefined))?.isDirectory() === true) found.push(dir);
  return found;
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
      // Required folders the commit lacks are pruned with what is in them, then made again, empty.
      const root = await contentRoot(paths.dest, layout);
      const keep = prune ? await existingDirs(root, options.keep?.(manifest) ?? []) : [];
      const result = await restoreManifest(manifest, manifest, destination, { preserve: options.preserve, prune, fetchBlobs: options.fetchBlobs });
      if (keep.length > 0) await ensureDirectories(await contentRoot(paths.dest, layout), keep, { store, ...owner });
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
