/**
 * `openDestination`: DEST and its state, set up once per command and closed by whoever opened it.
 * In this order, before anything is read from or written to DEST: resolve DEST and the state dir
 * to real paths and refuse what the guard refuses (apply/dest-guard.ts); take the lock; sweep what
 * killed runs left (temp objects, throwaway clones); finish or undo an interrupted apply; load the
 * manifest (from the newest generation when the file is damaged). sync, rollback, validate and
 * dev-update share this handle, so nothing re-opens, re-locks or re-recovers along the way.
 */
import { chmod, lstat, mkdir, readdir, realpath, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Config } from '../config/types.js';
import { errorCode, errorMessage, UsageError } from '../errors.js';
import type { Logger, Manifest } from '../model.js';
import type { Plan } from '../plan/plan.js';
import { destKey, destPaths, type DestPaths } from '../state/layout.js';
import { acquireLock, type Lock } from '../state/lock.js';
import { loadManifestOrGeneration } from '../state/manifest.js';
import { createObjectStore, type ObjectStore } from '../state/objects.js';
import { tagAlive } from '../state/owner-process.js';
import { openPins, type Pins } from '../state/pins.js';
import { applyPlan, recoverInterrupted } from './apply.js';
import { journalFiles } from './journal.js';
import { destinationProblem } from './dest-guard.js';
import { applyAsGeneration, currentGeneration } from './generations.js';
import { STAMP_BACKDATE_MS } from './reconcile.js';
import { resolveOwner } from './owner.js';
import { recordApplied } from '../local/scan.js';
import { saveStatCache, type StatCache } from '../local/stat-cache.js';

/** The settings a destination is opened with (a subset of the config). */
export type DestinationSettings = Pick<Config, 'dest' | 'layout' | 'stateDir' | 'lockTimeout' | 'owner' | 'group' | 'prune' | 'allowSystemDest' | 'historyLimit' | 'backupLimitMb'>;

/** Numeric owner of written entries (root only). */
export interface Owner {
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
}

export interface OpenOptions {
  readonly log: Logger;
  /** Hold the destination's lock until `close`. */
  readonly lock: boolean;
  /** Sweep leftovers and finish or undo an interrupted apply (not for read-only looks: history, validate, --check-only). */
  readonly write: boolean;
  /**
   * Let a DEST that is not a directory through, and leave an interrupted apply for the caller:
   * validate reports both as checks (and `--fix` repairs them).
   */
  readonly inspect?: boolean | undefined;
}

/** An opened destination. `close` releases the lock and the run's GC pins. */
export interface Destination {
  readonly paths: DestPaths;
  readonly store: ObjectStore;
  readonly owner: Owner;
  readonly layout: 'inplace' | 'symlink';
  /** What recovery did at open, if an apply had been interrupted. */
  readonly recovered: { readonly action: 'completed' | 'undone'; readonly commit: string } | undefined;
  /** The manifest of the commit DEST holds (undefined before the first sync). */
  readonly manifest: Manifest | undefined;
  /** Pins for garbage collection: SHAs this run relies on. */
  readonly pins: Pins;
  /** The directory that holds DEST's current content (the current generation with layout "symlink"). */
  scanRoot(): Promise<string>;
  /** Read the manifest again (after an apply or a repair). */
  reloadManifest(): Promise<Manifest | undefined>;
  /**
   * Apply a verified plan in DEST's layout, recording `manifest`; every needed blob must be in the
   * store. With the scan's stat cache, every path written is recorded in it and the cache saved, so
   * the next poll hashes none of them (once the racy window has passed).
   */
  apply(plan: Plan, manifest: Manifest, previous: Manifest | undefined, now: () => number, statCache?: StatCache, onProgress?: (done: number, total: number) => void): Promise<void>;
  close(): Promise<void>;
}

/** Resolve DEST to a real path (following symlinks) without creating it; a missing DEST is its parent's real path joined with its name. */
export async function resolveDest(dest: string): Promise<string> {
  try {
    return await realpath(dest);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
    const parent = dirname(dest);
    return parent === dest ? dest : join(await resolveDest(parent), basename(dest));
  }
}

/** DEST's key path: its real path, or with layout "symlink" the link itself (it is what gets switched). */
export async function resolveDestination(config: Pick<Config, 'dest' | 'layout'>): Promise<string> {
  if (config.layout !== 'symlink') return resolveDest(config.dest);
  return join(await resolveDest(dirname(config.dest)), basename(config.dest));
}

/** Refuse a DEST that exists and is not a directory (a missing one is created by the apply). */
export async function requireDirectory(dest: string): Promise<void> {
  try {
    const info = await lstat(await realpath(dest));
    if (!info.isDirectory()) throw new UsageError(`Destination ${dest} exists and is not a directory. Point --dest at a directory (it is created if missing).`);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
}

/** The directory that holds DEST's current content. */
export async function scanRootOf(config: Pick<Config, 'layout'>, dest: string): Promise<string> {
  if (config.layout !== 'symlink') return dest;
  return (await currentGeneration(dest)) ?? join(dest, '.none');
}

/** Resolve and guard DEST against the state dir and the host's own directories; returns its key path. */
export async function guardDestination(settings: Pick<DestinationSettings, 'dest' | 'layout' | 'stateDir' | 'prune' | 'allowSystemDest'>): Promise<string> {
  const dest = await resolveDestination(settings);
  const stateDir = await resolveDest(settings.stateDir);
  // With layout "symlink" the link is replaced, and its target (the current generation) is what a scan reads.
  const content = settings.layout === 'symlink' ? await resolveDest(dest) : dest;
  for (const real of new Set([dest, content])) {
    const problem = destinationProblem({ dest: real, stateDir, prune: settings.prune, layout: settings.layout, allowSystemDest: settings.allowSystemDest, given: settings.dest });
    if (problem !== undefined) throw new UsageError(problem);
  }
  return dest;
}

/** Open DEST for a command (see the module comment for the order of things). */
export async function openDestination(settings: DestinationSettings, options: OpenOptions): Promise<Destination> {
  if (settings.layout !== 'symlink' && options.inspect !== true) await requireDirectory(settings.dest);
  const paths = destPaths(settings.stateDir, await guardDestination(settings));
  let lock: Lock | undefined;
  if (options.lock) {
    lock = await acquireLock(destKey(paths.dest), {
      timeoutSec: settings.lockTimeout,
      fallbackDir: settings.stateDir,
      what: paths.dest,
      onWait: (pid) => options.log('info', `Waiting up to ${settings.lockTimeout} s for another hostsync run${pid !== undefined ? ` (PID ${pid})` : ''} on ${paths.dest}.`),
    });
  }
  // A read-only look (--check-only, validate without --fix) writes nothing, not even a pin.
  const pins: Pins = options.write ? openPins(settings.stateDir) : { add: async () => undefined, release: async () => undefined };
  try {
    const store = createObjectStore(paths.objects, { readOnly: !options.write });
    const owner = await resolveOwner(settings);
    let recovered: Destination['recovered'];
    if (options.write) {
      await sweepLeftovers(paths, store, options.log);
      recovered = options.inspect === true ? undefined : await recoverInterrupted({ paths, store, ...owner });
      if (recovered) options.log('warn', `Recovered an interrupted apply: ${recovered.action} (${recovered.commit.slice(0, 12) || 'first install'}).`);
    }
    let manifest = await loadManifestOrGeneration(paths, options.log);
    const backupLimitBytes = settings.backupLimitMb * 1024 * 1024;
    const destination: Destination = {
      paths,
      store,
      owner,
      layout: settings.layout,
      recovered,
      get manifest() {
        return manifest;
      },
      pins,
      scanRoot: () => scanRootOf(settings, paths.dest),
      async reloadManifest() {
        manifest = await loadManifestOrGeneration(paths, options.log);
        return manifest;
      },
      async apply(plan, next, previous, now, statCache, onProgress) {
        // Every object the apply (and its journal) relies on is durable first: one barrier for the batch.
        await store.flush();
        // What the files are stamped with (decision 0016): the stat cache trusts a file only while its mtime is this.
        const stampMs = Date.now() - STAMP_BACKDATE_MS;
        if (settings.layout === 'symlink') {
          await applyAsGeneration(plan, next, { paths, store, ...owner, keep: settings.historyLimit, now, onProgress, stampMs });
        } else {
          const created = await mkdir(paths.dest, { recursive: true, mode: 0o755 });
          if (created !== undefined) await chmod(paths.dest, 0o755); // the umask must not decide DEST's mode
          await applyPlan(plan, next, previous, { paths, store, ...owner, backupLimitBytes, log: options.log, onProgress, stampMs });
        }
        manifest = next;
        if (statCache !== undefined) await recordInStatCache(plan, statCache, paths, await scanRootOf(settings, paths.dest), stampMs, options.log);
      },
      async close() {
        await pins.release().catch(() => undefined);
        await lock?.release();
        lock = undefined;
      },
    };
    return destination;
  } catch (error) {
    await pins.release().catch(() => undefined);
    await lock?.release();
    throw error;
  }
}

/** Run `work` with an opened destination, closing it however `work` ends. */
export async function withDestination<T>(settings: DestinationSettings, options: OpenOptions, work: (destination: Destination) => Promise<T>): Promise<T> {
  const destination = await openDestination(settings, options);
  try {
    return await work(destination);
  } finally {
    await destination.close();
  }
}

/** The stat cache after an apply: what was written recorded, what was removed dropped; a failure only costs re-hashing. */
async function recordInStatCache(plan: Plan, before: StatCache, paths: DestPaths, root: string, stampMs: number, log: Logger): Promise<void> {
  const written = new Map<string, string>();
  const removed: string[] = [];
  for (const change of plan.changes) {
    const target = change.target;
    if (target !== undefined && (target.mode === '100644' || target.mode === '100755')) written.set(change.path, target.sha);
    else removed.push(change.path);
  }
  try {
    await saveStatCache(paths.statCache, await recordApplied(before, root, written, removed, { stampMs }));
  } catch (error) {
    log('warn', `The stat cache was not updated (${errorMessage(error)}); the next run hashes the files it cannot trust.`);
  }
}

/** Untagged throwaway clones (from older versions) older than this are swept. */
const UNTAGGED_AGE_MS = 24 * 60 * 60 * 1000;

/**
 * What killed runs left in the state dir: partial objects in `objects/tmp` and throwaway clones in
 * `tmp/`, each named with the process that made it; a live run's (another destination's) is kept.
 */
async function sweepLeftovers(paths: DestPaths, store: ObjectStore, log: Logger): Promise<void> {
  let removed = await store.sweepTemp().catch(() => 0);
  // Manifest files of an apply that stopped before its journal was written, or after it was removed.
  if (!(await exists(paths.journal))) {
    const files = journalFiles(paths.root);
    for (const file of [files.next, files.previous]) if (await exists(file)) await rm(file, { force: true });
  }
  const tmp = join(paths.stateDir, 'tmp');
  let names: string[] = [];
  try {
    names = await readdir(tmp);
  } catch {
    // no throwaway clones yet
  }
  for (const name of names) {
    const tag = /^clone-(\d+-\d+)-/.exec(name)?.[1];
    if (tag !== undefined ? tagAlive(tag) : !(await olderThan(join(tmp, name), UNTAGGED_AGE_MS))) continue;
    try {
      await rm(join(tmp, name), { recursive: true, force: true });
      removed++;
    } catch (error) {
      log('warn', `Could not remove the leftover ${join(tmp, name)}: ${errorMessage(error)}.`);
    }
  }
  if (removed > 0) log('info', `Removed ${removed} leftover(s) of an interrupted run from ${paths.stateDir}.`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function olderThan(path: string, ageMs: number): Promise<boolean> {
  try {
    return Date.now() - (await stat(path)).mtimeMs > ageMs;
  } catch {
    return false;
  }
}
