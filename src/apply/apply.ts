/**
 * `applyPlan` and `recoverInterrupted`: put a verified plan into DEST with a journal, so a crash at
 * any point leaves DEST recoverable to exactly the old or the new commit, and an error during the
 * apply (a full disk, a read-only file system) puts the old state back before reporting.
 */
import { readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { errorCode, errorMessage, HostsyncError, IntegrityError, LocalStorageError } from '../errors.js';
import { formatBytes } from '../format.js';
import { hashBlob, hashBlobFile } from '../local/hash.js';
import type { LocalEntry, Manifest } from '../model.js';
import { kindOfMode } from '../model.js';
import type { Change, Plan } from '../plan/plan.js';
import type { ObjectStore } from '../state/objects.js';
import type { DestPaths } from '../state/layout.js';
import { backwardSteps, beginJournal, endJournal, forwardSteps, readJournal, type Journal, type JournalOp } from './journal.js';
import { reconcile, removeTempFiles, type PathState } from './reconcile.js';

export interface ApplyOptions {
  readonly paths: DestPaths;
  readonly store: ObjectStore;
  /** Drifted content larger than this is not kept for an undo (0: never). @default 256 MiB */
  readonly backupLimitBytes?: number | undefined;
  readonly log?: ((level: 'warn', message: string) => void) | undefined;
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
  readonly now?: () => Date;
  /** Steps done of the forward apply (reconcile's progress: a clear and a build pass per path). */
  readonly onProgress?: ((done: number, total: number) => void) | undefined;
  /** Test hook: called after the journal is written and before each step of the apply. */
  readonly onStep?: ((index: number) => void) | undefined;
  /** The mtime files are written with (reconcile.ts). */
  readonly stampMs?: number | undefined;
}

const parentOf = (path: string): string => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');

/** Apply `plan`, recording `manifest` once done. All needed blobs must already be in the store. */
export async function applyPlan(plan: Plan, manifest: Manifest, previous: Manifest | undefined, options: ApplyOptions): Promise<void> {
  const { paths, store } = options;
  const ops: JournalOp[] = [];
  const placed = new Map((previous?.entries ?? []).map((entry) => [entry.path, entry]));
  const backups = { limit: options.backupLimitBytes ?? DEFAULT_BACKUP_LIMIT, placed, log: options.log };
  for (const change of plan.changes) ops.push(await journalOp(change, paths.dest, store, backups));
  for (const op of ops) {
    if ((op.after.kind === 'file' || op.after.kind === 'symlink') && !op.chmodOnly && !(await store.holds(op.after.sha))) {
      throw new HostsyncError(`Blob ${op.after.sha} for ${op.path} is missing from the object store or failed its check there (it was removed); nothing was applied. Run hostsync again to fetch it anew.`);
    }
  }
  const startedAt = (options.now?.() ?? new Date()).toISOString();
  await beginJournal(paths, manifest, previous, ops, startedAt);
  const journal: Journal = { dest: paths.dest, startedAt, commit: manifest.commit, previousCommit: previous?.commit, ops };
  const reconcileOptions = { dest: paths.dest, store, uid: options.uid, gid: options.gid, stampMs: options.stampMs };
  try {
    await reconcile(forwardSteps(journal), reconcileOptions, options.onProgress);
  } catch (error) {
    try {
      await removeTempFiles(paths.dest, ops.map((op) => parentOf(op.path)));
      await reconcile(backwardSteps(journal), reconcileOptions);
      await endJournal(paths, journal, 'backward');
    } catch (undoError) {
      throw new HostsyncError(
        `Applying ${manifest.commit.slice(0, 12)} failed (${describeIoError(error)}) and undoing it failed too (${describeIoError(undoError)}). The journal ${paths.journal} is kept: the next hostsync run finishes or undoes the apply once the cause is fixed.`,
        1,
        { cause: error },
      );
    }
    throw new HostsyncError(`Applying ${manifest.commit.slice(0, 12)} to ${paths.dest} failed: ${describeIoError(error)}. DEST was put back as it was.`, 1, { cause: error });
  }
  await endJournal(paths, journal, 'forward');
}

/**
 * Finish an apply a crash interrupted (roll forward: every new blob is already in the store), or
 * undo it when finishing fails. Runs before any network. Returns what it did, or undefined.
 */
export async function recoverInterrupted(options: ApplyOptions): Promise<{ action: 'completed' | 'undone'; commit: string } | undefined> {
  const { paths, store } = options;
  const journal = await readJournal(paths.journal);
  if (journal === undefined) return undefined;
  const reconcileOptions = { dest: paths.dest, store, uid: options.uid, gid: options.gid };
  await removeTempFiles(paths.dest, journal.ops.map((op) => parentOf(op.path)));
  try {
    await reconcile(forwardSteps(journal), reconcileOptions);
    await endJournal(paths, journal, 'forward');
    return { action: 'completed', commit: journal.commit };
  } catch (error) {
    await removeTempFiles(paths.dest, journal.ops.map((op) => parentOf(op.path)));
    try {
      await reconcile(backwardSteps(journal), reconcileOptions);
    } catch (undoError) {
      throw new HostsyncError(
        `An interrupted apply of ${journal.commit.slice(0, 12)} could neither be finished (${describeIoError(error)}) nor undone (${describeIoError(undoError)}). Fix the cause (disk space? read-only mount?) and run again; the journal ${paths.journal} is kept.`,
      );
    }
    await endJournal(paths, journal, 'backward');
    return { action: 'undone', commit: journal.previousCommit ?? '' };
  }
}

/** Drifted files up to this size are kept in the store so an undo can put them back. */
export const DEFAULT_BACKUP_LIMIT = 256 * 1024 * 1024;

interface BackupPolicy {
  readonly limit: number;
  /** What hostsync placed at each path last time: the undo's content when drift is too big to keep. */
  readonly placed: ReadonlyMap<string, Manifest['entries'][number]>;
  readonly log?: ((level: 'warn', message: string) => void) | undefined;
}

/** One change as a journal op, saving the current content to the store first so it can be restored. */
async function journalOp(change: Change, dest: string, store: ObjectStore, policy: BackupPolicy): Promise<JournalOp> {
  const before = await backup(change.before, dest, store, policy);
  const after: PathState = change.target === undefined ? { kind: 'absent' } : targetState(change.target.mode, change.target.sha);
  return change.kind === 'modeChanged' ? { path: change.path, before, after, chmodOnly: true } : { path: change.path, before, after };
}

export function targetState(mode: Manifest['entries'][number]['mode'], sha: string): PathState {
  switch (kindOfMode(mode)) {
    case 'dir':
      return { kind: 'dir' };
    case 'symlink':
      return { kind: 'symlink', sha };
    case 'file':
      return { kind: 'file', sha, mode: mode === '100755' ? '100755' : '100644' };
    case 'submodule':
      return { kind: 'dir' }; // an empty folder, as git checks a submodule out without --recurse-submodules
  }
}

async function backup(local: LocalEntry | undefined, dest: string, store: ObjectStore, policy: BackupPolicy): Promise<PathState> {
  if (local === undefined || local.kind === 'other') return { kind: 'absent' };
  if (local.kind === 'dir') return { kind: 'dir' };
  const full = join(dest, local.path);
  if (local.kind === 'symlink') {
    const target = Buffer.from(await readlink(full, { encoding: 'buffer' }));
    const sha = local.sha ?? hashBlob(target);
    if (!(await store.holds(sha))) await store.put(sha, target.length, Readable.from([target]), full);
    return { kind: 'symlink', sha };
  }
  const mode = local.mode === '100755' ? '100755' : '100644';
  if (local.sha !== undefined && (await store.holds(local.sha))) return { kind: 'file', sha: local.sha, mode };
  if (local.size > policy.limit) return tooBigToKeep(local, full, policy, store);
  const sha = local.sha ?? (await hashBlobFile(full));
  if (!(await store.holds(sha))) {
    try {
      await store.importFile(sha, full);
    } catch (error) {
      if (error instanceof LocalStorageError) {
        throw new LocalStorageError(`Cannot keep a copy of ${full} (${formatBytes(local.size)}, changed since hostsync placed it) for an undo: ${error.message}`, { cause: error });
      }
      if (error instanceof IntegrityError) {
        throw new HostsyncError(`${full} changed while hostsync was reading it; nothing was applied. Run again once nothing else writes to it.`, 1, { cause: error });
      }
      throw error;
    }
  }
  return { kind: 'file', sha, mode };
}

/**
 * Drift too big to copy into the store (a disk image where a config file was placed): it is not
 * kept. An undo then puts back what hostsync placed there last (or leaves the path empty).
 */
async function tooBigToKeep(local: LocalEntry, full: string, policy: BackupPolicy, store: ObjectStore): Promise<PathState> {
  const placed = policy.placed.get(local.path);
  const fallback: PathState = placed !== undefined && (await store.holds(placed.sha)) ? targetState(placed.mode, placed.sha) : { kind: 'absent' };
  policy.log?.(
    'warn',
    `${full} is ${formatBytes(local.size)}, over backupLimitMb (${formatBytes(policy.limit)}), and differs from what hostsync placed: it is replaced without a copy; ${fallback.kind === 'absent' ? 'an undo would leave the path empty' : 'an undo would restore the version hostsync placed'}.`,
  );
  return fallback;
}

/** Name the I/O failure in words an operator can act on. */
export function describeIoError(error: unknown): string {
  switch (errorCode(error)) {
    case 'ENOSPC':
      return 'no space left on the device: free some space';
    case 'EROFS':
      return 'the file system is read-only: remount it read-write (or add DEST to ReadWritePaths=)';
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${errorMessage(error)}): run as a user that may write DEST`;
    case 'EDQUOT':
      return 'disk quota exceeded';
    default:
      return errorMessage(error);
  }
}
