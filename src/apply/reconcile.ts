/**
 * The only code that writes the target tree. `reconcile` drives a list of paths to desired states
 * in two passes — clear (deepest first: remove what is in the way) then build (shallowest first:
 * directories, then files by temp file + rename, one durable point at the end) — and is idempotent, so the same call
 * completes an interrupted apply and, with the states swapped, undoes one.
 *
 * Never writes through a symlink: every parent is lstat'ed from DEST down and must be a real
 * directory; a symlink where a file goes is replaced by rename (which does not follow it).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, chown, lstat, mkdir, readFile, readdir, readlink, rename, rmdir, stat, symlink, unlink } from 'node:fs/promises';
import { createBlobHasher, hashBlobFile } from '../local/hash.js';
import { Transform } from 'node:stream';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
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
}

/** Prefix of temp files placed beside their targets during an apply; recovery removes leftovers. */
export const TEMP_PREFIX = '.hostsync-tmp-';

/** Exactly the names hostsync generates (a commit may not use the prefix: see plan/remote.ts). */
const TEMP_NAME = /^\.hostsync-tmp-[0-9a-f]{12}$/;

const depth = (path: string): number => path.split('/').length;

/** Drive every step's path to its state. Safe to run again after a crash at any point. */
export async function reconcile(steps: readonly ReconcileStep[], options: ReconcileOptions): Promise<void> {
  const verified = new Set<string>(['']);
  // One durable point for the whole pass (decision 0009): no fsync per file. Until it is reached a
  // crash leaves the journal in place, and its replay checks every path's content by hash.
  const durable = createDurableBatch();
  const clearing = [...steps].sort((a, b) => depth(b.path) - depth(a.path) || (a.path < b.path ? 1 : -1));
  for (const step of clearing) {
    await clearPath(step, options, verified);
  }
  const building = [...steps].sort((a, b) => depth(a.path) - depth(b.path) || (a.path < b.path ? -1 : 1));
  for (const step of building) {
    if (step.state.kind === 'absent') {
      durable.add(join(options.dest, step.path)); // its folder records the removal
      continue;
    }
    await buildPath(step, options, verified);
    durable.add(join(options.dest, step.path));
  }
  await durable.flush();
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}

/** lstat, or undefined when nothing is there (or a parent is not a folder). */
export async function lstatOrUndefined(path: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    // ENAMETOOLONG: a path longer than the system allows cannot exist, so nothing is there (and an
    // undo has nothing to put back: a commit naming such a path must not block the host forever).
    const code = errorCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG') return undefined;
    throw error;
  }
}

/** Every component of `relDir` below DEST must be a real directory (not a symlink). */
async function assertRealDirs(dest: string, relDir: string, verified: Set<string>): Promise<void> {
  if (verified.has(relDir)) return;
  await assertRealDirs(dest, parentOf(relDir), verified);
  const info = await lstatOrUndefined(join(dest, relDir));
  if (info === undefined || !info.isDirectory()) {
    throw new HostsyncError(
      `Refusing to write under ${join(dest, relDir)}: it is ${info === undefined ? 'missing' : info.isSymbolicLink() ? 'a symlink' : 'not a directory'} where the commit has a folder. Nothing outside DEST was touched; run hostsync again to re-plan.`,
    );
  }
  verified.add(relDir);
}

/** Pass one: remove whatever is at the path if it is not the kind the state wants. */
async function clearPath(step: ReconcileStep, options: ReconcileOptions, verified: Set<string>): Promise<void> {
  const full = join(options.dest, step.path);
  const parent = parentOf(step.path);
  const parentInfo = parent === '' ? undefined : await lstatOrUndefined(join(options.dest, parent));
  if (parent !== '' && (parentInfo === undefined || !parentInfo.isDirectory())) return; // nothing beneath a non-dir
  const info = await lstatOrUndefined(full);
  if (info === undefined) return;
  const want = step.state.kind;
  const is = info.isDirectory() ? 'dir' : info.isSymbolicLink() ? 'symlink' : info.isFile() ? 'file' : 'other';
  if (want === is) return;
  await assertRealDirs(options.dest, parent, verified);
  if (is === 'dir') {
    try {
      await rmdir(full);
      verified.delete(step.path);
    } catch (error) {
      if (errorCode(error) !== 'ENOTEMPTY' && errorCode(error) !== 'EEXIST') throw error;
      // Unmanaged content keeps a folder the commit dropped; anything else needs the path.
      if (want !== 'absent') throw new HostsyncError(`Cannot replace folder ${full}: it still holds files hostsync does not manage. Move them away (or use --prune) and run again.`);
    }
  } else {
    await unlink(full);
  }
}

/** Pass two: make the path what the state says. */
async function buildPath(step: ReconcileStep, options: ReconcileOptions, verified: Set<string>): Promise<void> {
  const full = join(options.dest, step.path);
  const parent = parentOf(step.path);
  await assertRealDirs(options.dest, parent, verified);
  const state = step.state;
  if (state.kind === 'dir') {
    const info = await lstatOrUndefined(full);
    if (info?.isDirectory()) return;
    if (info !== undefined) await unlink(full);
    await mkdir(full, { mode: 0o755 });
    await chmod(full, 0o755);
    await setOwner(full, options);
    verified.add(step.path);
    return;
  }
  if (state.kind === 'absent') return;
  if (state.kind === 'file' && step.chmodOnly === true) {
    const info = await lstatOrUndefined(full);
    if (info?.isFile()) {
      await chmod(full, state.mode === '100755' ? 0o755 : 0o644);
      return;
    }
  }
  if (await alreadyThere(full, state, options.store)) {
    // An undo (or a recovery) passes over paths the interrupted pass never reached: leave them be,
    // so an immutable or read-only file that never needed a change cannot fail the undo.
    if (state.kind === 'file') await setOwner(full, options);
    return;
  }
  const tmp = join(options.dest, parent, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}`);
  try {
    if (state.kind === 'symlink') {
      // Bytes, not text: a target need not be UTF-8.
      const target = await readFile(options.store.pathOf(state.sha));
      await symlink(target, tmp);
    } else {
      const mode = state.mode === '100755' ? 0o755 : 0o644;
      const out = createWriteStream(tmp, { flags: 'wx', mode });
      await copyVerified(options.store, state.sha, out, full);
      await chmod(tmp, mode); // the umask must not decide git's modes
      await setOwner(tmp, options);
    }
    const existing = await lstatOrUndefined(full);
    if (existing?.isDirectory()) await rmdir(full);
    await rename(tmp, full);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
}

/**
 * Copy an object out of the store, hashing the bytes on their way to DEST: content that rotted in
 * the store since it was checked never lands (the caller's undo puts the path back).
 */
async function copyVerified(store: ObjectStore, sha: string, out: NodeJS.WritableStream, full: string): Promise<void> {
  const source = store.pathOf(sha);
  const size = (await stat(source)).size;
  const hasher = createBlobHasher(size);
  const verify = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hasher.update(chunk);
      callback(null, chunk);
    },
  });
  await pipeline(createReadStream(source, { highWaterMark: 1 << 20 }), verify, out);
  let actual: string;
  try {
    actual = hasher.digest();
  } catch {
    actual = 'content of another size';
  }
  if (actual !== sha) {
    await unlink(source).catch(() => undefined); // never again: the next run fetches it anew
    throw new IntegrityError(sha, actual, `the object store (for ${full}); the object was removed, run hostsync again to fetch it anew`);
  }
}

/** Whether the path already holds exactly this file (content and mode) or symlink. */
async function alreadyThere(full: string, state: Extract<PathState, { kind: 'file' | 'symlink' }>, store: ObjectStore): Promise<boolean> {
  const info = await lstatOrUndefined(full);
  if (info === undefined) return false;
  if (state.kind === 'symlink') {
    if (!info.isSymbolicLink()) return false;
    const [current, wanted] = await Promise.all([readlink(full, { encoding: 'buffer' }), readFile(store.pathOf(state.sha))]);
    return Buffer.compare(current, wanted) === 0;
  }
  if (!info.isFile() || (info.mode & 0o777) !== (state.mode === '100755' ? 0o755 : 0o644)) return false;
  const object = await stat(store.pathOf(state.sha)).catch(() => undefined);
  if (object === undefined || object.size !== info.size) return false;
  return (await hashBlobFile(full).catch(() => undefined)) === state.sha;
}

async function setOwner(path: string, options: ReconcileOptions): Promise<void> {
  if (options.uid === undefined && options.gid === undefined) return;
  await chown(path, options.uid ?? -1, options.gid ?? -1);
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
