/**
 * Repairs of DEST for `validate --fix`, all through the same writers as a sync:
 * `restoreManifest` drives every entry of a manifest back to what it says (content, mode, symlink
 * target, presence) with `applyPlan` — journaled, so a crash in the middle is finished or undone
 * by the next run — or, with layout "symlink", as a new generation switched in atomically; `ensureDirectories` creates folders through
 * `reconcile`; `setAttributes` restores modes and ownership without following symlinks.
 * Content comes from the object store; blobs it lacks are fetched (verified) through `fetchBlobs`.
 */
import { constants } from 'node:fs';
import { chmod, open } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCode, HostsyncError } from '../errors.js';
import { saveStatCache } from '../local/stat-cache.js';
import type { Manifest, WantedBlob } from '../model.js';
import type { ObjectStore } from '../state/objects.js';
import { describeIoError } from './apply.js';
import { scanRootOf, type Destination } from './destination.js';
import { scanAndPlan } from './local-plan.js';
import { lstatOrUndefined, reconcile } from './reconcile.js';

export interface RestoreOptions {
  /** Globs relative to DEST never touched (the config's `preserve`). */
  readonly preserve: readonly string[];
  /** Also delete what hostsync did not place (`--prune`). */
  readonly prune: boolean;
  /** Bring missing blobs into the store, verified. Without it a missing blob is an error. */
  readonly fetchBlobs?: ((blobs: readonly WantedBlob[]) => Promise<void>) | undefined;
}

export interface RestoreResult {
  /** Every path the restore changed, sorted. */
  readonly changed: readonly string[];
  /** Unmanaged paths deleted (with `prune`). */
  readonly pruned: readonly string[];
  /** Blobs fetched because the store lacked them. */
  readonly fetched: number;
}

/**
 * Make DEST exactly what `target` says, recording `target` as the applied manifest. `current` is
 * the manifest DEST was last synced to: paths it has and `target` lacks are deleted (a rollback);
 * for a repair both are the same manifest.
 */
export async function restoreManifest(target: Manifest, current: Manifest | undefined, destination: Destination, options: RestoreOptions): Promise<RestoreResult> {
  const { paths, store } = destination;
  const root = await destination.scanRoot();
  const { plan, scan } = await scanAndPlan({
    paths,
    store,
    remote: target.entries,
    previous: current?.entries ?? [],
    preserve: options.preserve,
    prune: options.prune,
    scanRoot: root,
    beforeStoreQuery: (shas) => destination.pins.add(shas),
  });
  if (plan.conflicts.length > 0) {
    throw new HostsyncError(`Preserved path ${plan.conflicts[0]} stands where commit ${target.commit.slice(0, 12)} needs a file; nothing was restored. Move it, or change 'preserve', then run again.`);
  }
  let fetched = 0;
  if (plan.fetch.length > 0) {
    if (options.fetchBlobs === undefined) {
      throw new HostsyncError(
        `The object store lacks ${plan.fetch.length} file(s) of commit ${target.commit.slice(0, 12)} (e.g. ${plan.fetch[0]!.path}) and no GitHub access is set up to download them; nothing was restored. Pass --repo (and a token for a private repository), or run 'hostsync sync'.`,
      );
    }
    await options.fetchBlobs(plan.fetch);
    fetched = plan.fetch.length;
  }
  for (const copy of plan.localCopies) await store.importFile(copy.sha, join(root, copy.path));
  const placed = new Set((current?.entries ?? []).map((entry) => entry.path));
  const pruned = plan.changes.filter((change) => change.kind === 'deleted' && !placed.has(change.path)).map((change) => change.path);
  if (plan.changes.length > 0) await destination.apply(plan, target, current, Date.now, scan.statCache);
  else await saveStatCache(paths.statCache, scan.statCache).catch(() => undefined); // an optimisation only
  return { changed: plan.changes.map((change) => change.path), pruned, fetched };
}

/** The directory holding DEST's content: DEST itself, or with layout "symlink" the generation it points to. */
export async function contentRoot(dest: string, layout: 'inplace' | 'symlink' | undefined): Promise<string> {
  return scanRootOf({ layout: layout ?? 'inplace' }, dest);
}


/**
 * Create folders (relative to DEST, with their parents) through `reconcile`: never through a
 * symlink and never replacing anything in the way, mode 0755. Idempotent, so a crash needs no journal: running again finishes the job.
 */
export async function ensureDirectories(dest: string, dirs: readonly string[], options: { store: ObjectStore; uid?: number | undefined; gid?: number | undefined }): Promise<string[]> {
  const wanted = new Set<string>();
  for (const dir of dirs) {
    const parts = dir.split('/');
    for (let i = 1; i <= parts.length; i++) wanted.add(parts.slice(0, i).join('/'));
  }
  const missing: string[] = [];
  for (const dir of [...wanted].sort()) {
    const info = await lstatOrUndefined(join(dest, dir));
    if (info === undefined) missing.push(dir);
    else if (!info.isDirectory()) {
      // Replacing it would delete something hostsync may not own: leave that to a sync or --prune.
      throw new HostsyncError(`Cannot create the folder ${join(dest, dir)}: ${info.isSymbolicLink() ? 'a symlink' : 'a file'} is in the way. Move it away, then run 'hostsync validate --fix' again.`);
    }
  }
  await reconcile(
    [...wanted].map((path) => ({ path, state: { kind: 'dir' } as const })),
    { dest, store: options.store, uid: options.uid, gid: options.gid },
  );
  return missing.sort();
}

/** A mode and/or owner to set on one path under DEST. */
export interface AttributeChange {
  /** Relative to DEST. */
  readonly path: string;
  /** Permission bits (e.g. 0o755). */
  readonly mode?: number | undefined;
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
}

/**
 * Set modes and owners of existing files and folders in DEST. Each path is opened with
 * O_NOFOLLOW and changed through its descriptor, so a symlink is never followed; symlinks
 * themselves are skipped (their mode means nothing on Linux). Parents must be real directories.
 */
export async function setAttributes(dest: string, changes: readonly AttributeChange[]): Promise<string[]> {
  const done: string[] = [];
  for (const change of changes) {
    await assertRealParents(dest, change.path);
    const full = join(dest, change.path);
    let handle;
    try {
      handle = await open(full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (error) {
      if (errorCode(error) === 'ELOOP' || errorCode(error) === 'ENOENT') continue; // a symlink, or gone
      if (errorCode(error) === 'EACCES' && (await chmodByPath(full, change))) {
        done.push(change.path);
        continue;
      }
      throw new HostsyncError(`Cannot open ${full} to fix its mode or owner: ${describeIoError(error)}.`, 1, { cause: error });
    }
    try {
      if (change.uid !== undefined || change.gid !== undefined) await handle.chown(change.uid ?? -1, change.gid ?? -1);
      if (change.mode !== undefined) await handle.chmod(change.mode);
      done.push(change.path);
    } catch (error) {
      throw new HostsyncError(`Cannot change the mode or owner of ${full}: ${describeIoError(error)}.`, 1, { cause: error });
    } finally {
      await handle.close();
    }
  }
  return done;
}

/** Mode 000 files cannot be opened by their non-root owner: chmod by path after checking it is no symlink. */
async function chmodByPath(full: string, change: AttributeChange): Promise<boolean> {
  const info = await lstatOrUndefined(full);
  if (info === undefined || info.isSymbolicLink() || change.mode === undefined || change.uid !== undefined || change.gid !== undefined) return false;
  await chmod(full, change.mode);
  return true;
}

async function assertRealParents(dest: string, relPath: string): Promise<void> {
  const parts = relPath.split('/').slice(0, -1);
  for (let i = 1; i <= parts.length; i++) {
    const dir = join(dest, ...parts.slice(0, i));
    const info = await lstatOrUndefined(dir);
    if (info !== undefined && !info.isDirectory()) {
      throw new HostsyncError(`Refusing to change ${join(dest, relPath)}: ${dir} is ${info.isSymbolicLink() ? 'a symlink' : 'not a directory'}. Run 'hostsync validate --fix' again after the integrity repair.`);
    }
  }
}
