/**
 * DEST as the pipeline sees it, for both layouts: where it really is, what to scan, how to lock
 * it, and how to apply a plan to it (in place with the journal, or as a new generation behind a
 * symlink).
 */
import { chmod, lstat, mkdir, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Config } from '../config/types.js';
import { errorCode, UsageError } from '../errors.js';
import { applyPlan } from './apply.js';
import { applyAsGeneration, currentGeneration } from './generations.js';
import { resolveOwner } from './owner.js';
import type { Manifest } from '../model.js';
import type { Plan } from '../plan/plan.js';
import { destKey, type DestPaths } from '../state/layout.js';
import { acquireLock, type Lock } from '../state/lock.js';
import type { ObjectStore } from '../state/objects.js';

type LogLevel = 'debug' | 'info' | 'warn' | 'error';

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

/** Refuse a DEST that exists and is not a directory (a missing one is created by the apply). */
export async function requireDirectory(dest: string): Promise<void> {
  try {
    const info = await lstat(await realpath(dest));
    if (!info.isDirectory()) throw new UsageError(`Destination ${dest} exists and is not a directory. Point --dest at a directory (it is created if missing).`);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
}

/** DEST's key path: its real path, or with layout "symlink" the link itself (it is what gets switched). */
export async function resolveDestination(config: Pick<Config, 'dest' | 'layout'>): Promise<string> {
  if (config.layout !== 'symlink') return resolveDest(config.dest);
  return join(await resolveDest(dirname(config.dest)), basename(config.dest));
}

/** The directory that holds DEST's current content. */
export async function scanRootOf(config: Pick<Config, 'layout'>, dest: string): Promise<string> {
  if (config.layout !== 'symlink') return dest;
  return (await currentGeneration(dest)) ?? join(dest, '.none');
}

/** Take the destination's lock, saying so when another run holds it. */
export async function lockDestination(config: Pick<Config, 'lockTimeout' | 'stateDir'>, paths: DestPaths, log: (level: LogLevel, message: string) => void): Promise<Lock> {
  return acquireLock(destKey(paths.dest), {
    timeoutSec: config.lockTimeout,
    fallbackDir: config.stateDir,
    what: paths.dest,
    onWait: (pid) => log('info', `Waiting up to ${config.lockTimeout} s for another hostsync run${pid !== undefined ? ` (PID ${pid})` : ''} on ${paths.dest}.`),
  });
}

/** Apply a verified plan to DEST in its layout; every needed blob must already be in the store. */
export async function applyToDestination(
  config: Pick<Config, 'layout' | 'owner' | 'group' | 'historyLimit'>,
  plan: Plan,
  manifest: Manifest,
  previous: Manifest | undefined,
  context: {
    readonly paths: DestPaths;
    readonly store: ObjectStore;
    readonly now: () => number;
    /** Numeric owner already resolved by the caller; otherwise resolved from the config's names. */
    readonly owner?: { readonly uid?: number | undefined; readonly gid?: number | undefined } | undefined;
  },
): Promise<void> {
  const owner = context.owner ?? (await resolveOwner(config));
  if (config.layout === 'symlink') {
    await applyAsGeneration(plan, manifest, { paths: context.paths, store: context.store, ...owner, keep: config.historyLimit, now: context.now });
    return;
  }
  const created = await mkdir(context.paths.dest, { recursive: true, mode: 0o755 });
  if (created !== undefined) await chmod(context.paths.dest, 0o755); // the umask must not decide DEST's mode
  await applyPlan(plan, manifest, previous, { paths: context.paths, store: context.store, ...owner });
}
