/**
 * One durable point per batch instead of one fsync per file (decision 0009). Writers record what
 * they wrote; `flush` makes all of it durable at once: `syncfs(2)` on each file system touched
 * (through coreutils' `sync -f`, Node has no binding), else every recorded file and directory
 * fsynced concurrently — as are small batches (a few dozen paths), where starting `sync -f` costs
 * more. Measured here on ext4: 3,000 files — 815 ms fsynced one by one, 350 ms 64 at a time, 32 ms
 * with one `sync -f`.
 *
 * Whether a write that is not yet durable may be seen after a power cut is the journal's business
 * (decision 0002): content is verified by hash wherever it is used (the store's `holds`, the
 * apply's `alreadyThere`), so a torn file is redone, never trusted.
 */
import { execFile } from 'node:child_process';
import { constants, statSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errorCode } from '../errors.js';

/** Files and folders written since the last flush, durable together at `flush`. */
export interface DurableBatch {
  /** Record a file (or a folder) that must survive a power cut after the next flush. */
  add(path: string): void;
  /** Make everything recorded durable; resolves once it is. */
  flush(): Promise<void>;
  /** Paths recorded and not yet flushed. */
  readonly pending: number;
}

/** How many fsyncs are in flight at once when `sync -f` cannot be used. */
const PARALLEL_FSYNCS = 64;

/**
 * Batches up to this many paths are fsynced directly: cheaper than starting `sync -f` (a process,
 * ~4 ms here, per file system), and a small update does not flush other programs' dirty data.
 */
const DIRECT_FSYNC_PATHS = 48;

let syncfsAvailable: boolean | undefined;

/** `sync -f PATH`: syncfs(2) of PATH's file system. Resolves false when the tool is not there. */
function syncfs(path: string): Promise<boolean> {
  if (syncfsAvailable === false) return Promise.resolve(false);
  return new Promise((resolve) => {
    execFile('sync', ['-f', path], { timeout: 120_000 }, (error) => {
      if (error === null) {
        syncfsAvailable = true;
        resolve(true);
        return;
      }
      // A missing `sync` (or one without -f) is remembered; a failure of a present one falls back once.
      if (errorCode(error) === 'ENOENT' || /invalid option|unrecognized option/i.test(String((error as { stderr?: unknown }).stderr ?? error.message))) syncfsAvailable = false;
      resolve(false);
    });
  });
}

/**
 * fsync one recorded path. Never through a symlink (a link hostsync placed in DEST may point at a
 * socket, a FIFO or a device: opening that could fail, block or act on it) and never blocking: the
 * link itself needs nothing, its folder is in the batch too.
 */
async function fsyncPath(path: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const info = await handle.stat();
    if (info.isFile() || info.isDirectory()) await handle.sync();
  } catch (error) {
    // Gone since (a temp file renamed, a folder removed): nothing left to make durable there.
    // ELOOP: a symlink. Some file systems refuse fsync on directories; their renames are atomic anyway.
    const code = errorCode(error);
    if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'ENAMETOOLONG' && code !== 'EINVAL' && code !== 'EISDIR' && code !== 'ELOOP' && code !== 'ENXIO') throw error;
  } finally {
    await handle?.close();
  }
}

function statIfPresent(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** A new, empty batch. */
export function createDurableBatch(): DurableBatch {
  const paths = new Set<string>();
  return {
    add(path) {
      paths.add(path);
      paths.add(dirname(path));
    },
    get pending() {
      return paths.size;
    },
    async flush() {
      if (paths.size === 0) return;
      const batch = [...paths];
      paths.clear();
      if (batch.length <= DIRECT_FSYNC_PATHS) {
        await Promise.all(batch.map(fsyncPath));
        return;
      }
      // One syncfs per file system (by device), from any folder on it that still exists. Folders
      // only: a file hostsync writes is renamed into its folder, so it is on the folder's file
      // system (a file bind mount cannot be renamed over) — one stat per folder, not per file.
      const byDevice = new Map<number, string>();
      const folders = new Set<string>();
      for (const path of batch) folders.add(dirname(path));
      for (const folder of folders) {
        const info = statIfPresent(folder);
        if (info !== undefined && !byDevice.has(info.dev)) byDevice.set(info.dev, folder);
      }
      // Nothing recorded exists any more (all removed): nothing to make durable.
      if (byDevice.size === 0) return;
      let synced = true;
      for (const path of byDevice.values()) if (!(await syncfs(path))) synced = false;
      if (synced) return;
      for (let i = 0; i < batch.length; i += PARALLEL_FSYNCS) await Promise.all(batch.slice(i, i + PARALLEL_FSYNCS).map(fsyncPath));
    },
  };
}
