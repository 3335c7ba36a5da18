/**
 * The only code that writes the target tree. `reconcile` drives a list of paths to desired states
 * in two passes — clear (deepest first: remove what is in the way) then build (shallowest first:
 * directories, then files by temp file + rename, one durable point at the end) — and is idempotent, so the same call
 * completes an interrupted apply and, with the states swapped, undoes one.
 *
 * Never writes through a symlink: every parent is lstat'ed from DEST down and must be a real
 * directory; a symlink where a file goes is replaced by rename (which does not follow it).
 */
import { chmodSync, chownSync, closeSync, fchmodSync, fchownSync, fstatSync, futimesSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, readlinkSync, renameSync, rmdirSync, statSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import { readdir, unlink } from 'node:fs/promises';
import { createBlobHasher, hashBlob, hashBlobFile } from '../local/hash.js';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { errorCode, HostsyncError, IntegrityError } from '../errors.js';
import type { ObjectStore } from '../state/objects.js';
import { createDurableBatch } from '../state/durable.js';

/** What a path should be. File modes are git's: 100644 → 0644, 100755 → 0755 (umask-independent). */
export type PathState =
  | { readonly kind: 'absent' }
  | { readonly kind: 'dir' }
  | { readonly kind: 'file'; readonly sha: string; readonly mode: '100644' | '100755' }
  | { readonly kind: 'symlink'; readonly sha: string };

export interface ReconcileStep {
  readonly path: string;
  readonly state: PathState;
  /** Content is already right: only the mode changes (chmod, no rewrite). */
  readonly chmodOnly?: boolean | undefined;
}

export interface ReconcileOptions {
  readonly dest: string;
  readonly store: ObjectStore;
  /** Numeric owner for written entries (root only). */
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
  /** The mtime (ms since the epoch) files are written with. @default now − {@link STAMP_BACKDATE_MS} */
  readonly stampMs?: number | undefined;
}

/** Prefix of temp files placed beside their targets during an apply; recovery removes leftovers. */
export const TEMP_PREFIX = '.hostsync-tmp-';

/** Exactly the names hostsync generates (a commit may not use the prefix: see plan/remote.ts). */
const TEMP_NAME = /^\.hostsync-tmp-[0-9a-f]{12}$/;

const depth = (path: string): number => path.split('/').length;

/** Random per process, then counted: unique temp names without a random draw per file. */
let tempBase: bigint | undefined;
let tempCount = 0n;

/** A temp file name: TEMP_PREFIX and 12 hex digits (what recovery recognises as hostsync's). */
function tempName(): string {
  tempBase ??= BigInt(`0x${randomBytes(6).toString('hex')}`);
  tempCount += 1n;
  return `${TEMP_PREFIX}${((tempBase + tempCount) % (1n << 48n)).toString(16).padStart(12, '0')}`;
}

/** Content up to this size is hashed in one read to check it is already in place; larger files are streamed. */
const WHOLE_FILE_LIMIT = 4 * 1024 * 1024;
/** Steps done between yields to the event loop (progress, signals). */
const STEPS_PER_YIELD = 256;

/**
 * How far before the apply the files it writes are stamped (mtime and atime). A file written now
 * would be "racy" for the stat cache (a change in the same clock tick keeps its mtime), so the next
 * poll would hash it again; stamped 3 s back — past the 2 s margin of whole-second file systems — it
 * is not, and any later write by anyone moves its mtime to the present, which the cache sees. Why
 * this and not waiting out the margin: docs/decisions/0016-apply-stamps-mtimes.md.
 */
export const STAMP_BACKDATE_MS = 3000;

/**
 * Drive every step's path to its state. Safe to run again after a crash at any point.
 *
 * Speed: the file system calls are synchronous — one syscall each, no thread-pool round trip and
 * no promise per call (measured: 20,000 files went from ~40 s of mostly waiting to seconds) — and
 * the event loop gets a turn every few hundred steps, so progress and signals are served.
 */
export async function reconcile(steps: readonly ReconcileStep[], options: ReconcileOptions, onProgress?: (done: number, total: number) => void): Promise<void> {
  const verified = new Set<string>(['']);
  /** Paths the clear pass found (or left) empty: the build pass need not look at them again. */
  const absent = new Set<string>();
  // One durable point for the whole pass (decision 0009): no fsync per file. Until it is reached a
  // crash leaves the journal in place, and its replay checks every path's content by hash.
  const durable = createDurableBatch();
  const stamp = (options.stampMs ?? Date.now() - STAMP_BACKDATE_MS) / 1000;
  const clearing = [...steps].sort((a, b) => depth(b.path) - depth(a.path) || (a.path < b.path ? 1 : -1));
  let done = 0;
  const total = steps.length * 2;
  const tick = async (): Promise<void> => {
    done++;
    if (done % STEPS_PER_YIELD === 0) {
      onProgress?.(done, total);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };
  const parents = new Map<string, boolean>();
  for (const step of clearing) {
    if (clearPath(step, options, verified, parents)) absent.add(step.path);
    await tick();
  }
  const building = [...steps].sort((a, b) => depth(a.path) - depth(b.path) || (a.path < b.path ? -1 : 1));
  for (const step of building) {
    if (step.state.kind !== 'absent') await buildPath(step, options, verified, absent.has(step.path), stamp);
    durable.add(`${options.dest}/${step.path}`); // a removal is recorded by its folder
    await tick();
  }
  onProgress?.(total, total);
  await durable.flush();
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}

/** lstat, or undefined when nothing is there (or a parent is not a folder). */
export async function lstatOrUndefined(path: string): Promise<import('node:fs').Stats | undefined> {
  return lstatIfThere(path);
}

/** lstat (synchronous), or undefined when nothing is there (or a parent is not a folder). */
function lstatIfThere(path: string): import('node:fs').Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    // ENAMETOOLONG: a path longer than the system allows cannot exist, so nothing is there (and an
    // undo has nothing to put back: a commit naming such a path must not block the host forever).
    const code = errorCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG') return undefined;
    throw error;
  }
}

/** Every component of `relDir` below DEST must be a real directory (not a symlink). */
function assertRealDirs(dest: string, relDir: string, verified: Set<string>): void {
  if (verified.has(relDir)) return;
  assertRealDirs(dest, parentOf(relDir), verified);
  const info = lstatIfThere(join(dest, relDir));
  if (info === undefined || !info.isDirectory()) {
    throw new HostsyncError(
      `Refusing to write under ${join(dest, relDir)}: it is ${info === undefined ? 'missing' : info.isSymbolicLink() ? 'a symlink' : 'not a directory'} where the commit has a folder. Nothing outside DEST was touched; run hostsync again to re-plan.`,
    );
  }
  verified.add(relDir);
}

/**
 * Pass one: remove whatever is at the path if it is not the kind the state wants. Returns true when
 * nothing is at the path afterwards (the build pass then writes it without looking again).
 */
function clearPath(step: ReconcileStep, options: ReconcileOptions, verified: Set<string>, parents: Map<string, boolean>): boolean {
  const full = `${options.dest}/${step.path}`;
  const parent = parentOf(step.path);
  if (parent !== '') {
    let isDir = parents.get(parent);
    if (isDir === undefined) parents.set(parent, (isDir = lstatIfThere(`${options.dest}/${parent}`)?.isDirectory() === true));
    // Nothing can be beneath a missing folder or a non-folder (the build pass makes the folder real first).
    if (!isDir) return true;
  }
  const info = lstatIfThere(full);
  if (info === undefined) return true;
  const want = step.state.kind;
  const is = info.isDirectory() ? 'dir' : info.isSymbolicLink() ? 'symlink' : info.isFile() ? 'file' : 'other';
  if (want === is) return false;
  assertRealDirs(options.dest, parent, verified);
  if (is === 'dir') {
    try {
      rmdirSync(full);
      verified.delete(step.path);
      parents.delete(step.path);
      return true;
    } catch (error) {
      if (errorCode(error) !== 'ENOTEMPTY' && errorCode(error) !== 'EEXIST') throw error;
      // Unmanaged content keeps a folder the commit dropped; anything else needs the path.
      if (want !== 'absent') throw new HostsyncError(`Cannot replace folder ${full}: it still holds files hostsync does not manage. Move them away (or use --prune) and run again.`);
      return false;
    }
  }
  unlinkSync(full);
  return true;
}

/**
 * Pass two: make the path what the state says. `empty`: the clear pass left nothing there. Files
 * written get `stamp` (seconds since the epoch) as mtime and atime ({@link STAMP_BACKDATE_MS}).
 */
async function buildPath(step: ReconcileStep, options: ReconcileOptions, verified: Set<string>, empty: boolean, stamp: number): Promise<void> {
  const full = `${options.dest}/${step.path}`;
  const parent = parentOf(step.path);
  assertRealDirs(options.dest, parent, verified);
  const state = step.state;
  if (state.kind === 'dir') {
    const info = empty ? undefined : lstatIfThere(full);
    if (info?.isDirectory()) return;
    if (info !== undefined) unlinkSync(full);
    mkdirSync(full, { mode: 0o755 });
    chmodSync(full, 0o755);
    setOwner(full, options);
    verified.add(step.path);
    return;
  }
  if (state.kind === 'absent') return;
  if (state.kind === 'file' && step.chmodOnly === true) {
    const info = lstatIfThere(full);
    if (info?.isFile()) {
      chmodSync(full, state.mode === '100755' ? 0o755 : 0o644);
      return;
    }
  }
  if (!empty && (await alreadyThere(full, state, options.store))) {
    // An undo (or a recovery) passes over paths the interrupted pass never reached: leave them be,
    // so an immutable or read-only file that never needed a change cannot fail the undo.
    if (state.kind === 'file') setOwner(full, options);
    return;
  }
  // A path known to be empty gets its content directly (nothing to replace atomically; a torn
  // file after a crash is rewritten by the journal's replay, which checks content by hash).
  const tmp = empty && state.kind === 'file' ? full : parent === '' ? `${options.dest}/${tempName()}` : `${options.dest}/${parent}/${tempName()}`;
  let created = false;
  try {
    if (state.kind === 'symlink') {
      // Bytes, not text: a target need not be UTF-8.
      const target = options.store.readSmall(state.sha, `the store (symlink ${full})`) ?? readFileSync(options.store.pathOf(state.sha));
      symlinkSync(target, tmp);
    } else {
      const mode = state.mode === '100755' ? 0o755 : 0o644;
      // Checked on the way out of the store: content that rotted since it was checked never lands.
      const data = options.store.readSmall(state.sha, `the object store (for ${full})`);
      const fd = openSync(tmp, 'wx', mode);
      created = true;
      try {
        if (data !== undefined) for (let offset = 0; offset < data.length; ) offset += writeSync(fd, data, offset, data.length - offset);
        else await copyVerified(options.store, state.sha, fd, full);
        fchmodSync(fd, mode); // the umask must not decide git's modes
        if (options.uid !== undefined || options.gid !== undefined) fchownSync(fd, options.uid ?? -1, options.gid ?? -1);
        futimesSync(fd, stamp, stamp);
      } finally {
        closeSync(fd);
      }
    }
    if (tmp !== full) {
      try {
        renameSync(tmp, full);
      } catch (error) {
        // A folder in the way that the clear pass could not see (a race): replace an empty one.
        if (errorCode(error) !== 'EISDIR' && errorCode(error) !== 'ENOTEMPTY' && errorCode(error) !== 'EEXIST') throw error;
        rmdirSync(full);
        renameSync(tmp, full);
      }
    }
  } catch (error) {
    // Only what this step created goes: a file that appeared at an empty path meanwhile is not ours.
    if (tmp !== full || created) {
      try {
        unlinkSync(tmp);
      } catch {
        // never created
      }
    }
    throw error;
  }
}

/** Bytes read and written at a time by {@link copyVerified}. */
const COPY_CHUNK = 1 << 20;
/** Chunks copied between turns of the event loop (signals, progress). */
const CHUNKS_PER_YIELD = 16;
/** The one buffer large copies go through: a 50 MiB file leaves no garbage behind (memory stays flat). */
let copyBuffer: Buffer | undefined;

/**
 * Copy an object out of the store into `out` (an open file), hashing the bytes on their way to DEST:
 * content that rotted in the store since it was checked never lands (the caller's undo puts the path
 * back). Synchronous reads and writes through one reused buffer, with a turn for the event loop now
 * and then.
 */
async function copyVerified(store: ObjectStore, sha: string, out: number, full: string): Promise<void> {
  const source = store.pathOf(sha);
  const input = openSync(source, 'r');
  let actual: string;
  try {
    const size = fstatSync(input).size;
    const hasher = createBlobHasher(size);
    const buffer = (copyBuffer ??= Buffer.allocUnsafe(COPY_CHUNK));
    for (let chunks = 1; ; chunks++) {
      const read = readSync(input, buffer, 0, buffer.length, null);
      if (read === 0) break;
      const data = buffer.subarray(0, read);
      hasher.update(data);
      for (let offset = 0; offset < read; ) offset += writeSync(out, data, offset, read - offset);
      if (chunks % CHUNKS_PER_YIELD === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    try {
      actual = hasher.digest();
    } catch {
      actual = 'content of another size';
    }
  } finally {
    closeSync(input);
  }
  if (actual !== sha) {
    await unlink(source).catch(() => undefined); // never again: the next run fetches it anew
    throw new IntegrityError(sha, actual, `the object store (for ${full}); the object was removed, run hostsync again to fetch it anew`);
  }
}

/** Whether the path already holds exactly this file (content and mode) or symlink. */
async function alreadyThere(full: string, state: Extract<PathState, { kind: 'file' | 'symlink' }>, store: ObjectStore): Promise<boolean> {
  const info = lstatIfThere(full);
  if (info === undefined) return false;
  if (state.kind === 'symlink') {
    if (!info.isSymbolicLink()) return false;
    try {
      return Buffer.compare(readlinkSync(full, { encoding: 'buffer' }), readFileSync(store.pathOf(state.sha))) === 0;
    } catch {
      return false;
    }
  }
  if (!info.isFile() || (info.mode & 0o777) !== (state.mode === '100755' ? 0o755 : 0o644)) return false;
  let object: import('node:fs').Stats;
  try {
    object = statSync(store.pathOf(state.sha));
  } catch {
    return false;
  }
  if (object.size !== info.size) return false;
  if (info.size <= WHOLE_FILE_LIMIT) {
    try {
      return hashBlob(readFileSync(full)) === state.sha;
    } catch {
      return false;
    }
  }
  return (await hashBlobFile(full).catch(() => undefined)) === state.sha;
}

function setOwner(path: string, options: ReconcileOptions): void {
  if (options.uid === undefined && options.gid === undefined) return;
  chownSync(path, options.uid ?? -1, options.gid ?? -1);
}

/** Remove temp files an interrupted apply left in the given folders of DEST. */
export async function removeTempFiles(dest: string, dirs: Iterable<string>): Promise<void> {
  for (const dir of new Set(dirs)) {
    let names: string[];
    try {
      names = await readdir(join(dest, dir));
    } catch {
      continue;
    }
    for (const name of names) if (TEMP_NAME.test(name)) await unlink(join(dest, dir, name)).catch(() => undefined);
  }
}
