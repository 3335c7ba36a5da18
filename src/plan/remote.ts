/**
 * From a GitHub tree to the entries hostsync will place, relative to the synced folder (`--path`).
 * Every path is checked here, before anything is planned or written: a hostile or broken tree
 * (absolute paths, `..`, `.git`, NUL, backslashes, duplicates, orphans) fails the run naming the path.
 */
import { HostsyncError } from '../errors.js';
import type { RemoteEntry } from '../model.js';
import type { GitTreeEntry } from '../github/types.js';

/** Longest file name Linux file systems take (NAME_MAX), in bytes. */
export const NAME_MAX = 255;
/** Longest path below DEST hostsync writes: PATH_MAX (4096) less room for DEST and temp names. */
export const MAX_PATH_BYTES = 3800;

/** Why one name (a path component) may not be written, or undefined when it is fine. */
export function unsafeNameReason(name: string): string | undefined {
  if (name === '') return 'has an empty component';
  if (name === '.' || name === '..') return `has a '${name}' component`;
  if (name.includes('\0')) return 'contains NUL';
  if (name.includes('\\')) return 'contains a backslash';
  if (name.includes('/')) return 'has a name with a slash';
  if (name.length >= 4 && name.toLowerCase() === '.git') return "has a '.git' component";
  if (name.startsWith('.hostsync-tmp-')) return "uses the '.hostsync-tmp-' prefix hostsync reserves for its temp files";
  if (name.length * 3 > NAME_MAX && Buffer.byteLength(name) > NAME_MAX) return `has a name of ${Buffer.byteLength(name)} bytes, more than file systems allow (${NAME_MAX})`;
  return undefined;
}

/** Why a single path may not be written, or undefined when it is fine. */
export function unsafePathReason(path: string): string | undefined {
  if (path === '') return 'empty path';
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) return `is ${Buffer.byteLength(path)} bytes long, more than a path under DEST can be (${MAX_PATH_BYTES}, from PATH_MAX)`;
  if (path.includes('\0')) return 'contains NUL';
  if (path.includes('\\')) return 'contains a backslash';
  if (path.startsWith('/')) return 'is absolute';
  for (const part of path.split('/')) {
    const reason = unsafeNameReason(part);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

/**
 * Select the entries under `subPath` ('' for all), strip the prefix, and validate the structure:
 * unique paths, every parent present as a directory entry. Throws HostsyncError on the first
 * offending path. When `subPath` names no directory in the tree, that is an error too.
 */
export function remoteEntriesFromTree(tree: readonly GitTreeEntry[], subPath: string, commit: string): RemoteEntry[] {
  const prefix = subPath === '' ? '' : `${subPath}/`;
  const result: RemoteEntry[] = [];
  const dirs = new Set<string>(['']);
  const seen = new Set<string>();
  let foundRoot = subPath === '';
  const sorted = [...tree].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const entry of sorted) {
    const reason = unsafePathReason(entry.path);
    if (reason !== undefined) throw hostile(entry.path, reason, commit);
    if (entry.path === subPath) {
      if (entry.type !== 'tree') throw new HostsyncError(`--path '${subPath}' is a file in commit ${commit.slice(0, 12)}, not a folder. Name a folder of the repository.`, 2);
      foundRoot = true;
      continue;
    }
    if (!entry.path.startsWith(prefix)) continue;
    const path = entry.path.slice(prefix.length);
    if (seen.has(path)) throw hostile(entry.path, 'appears twice', commit);
    seen.add(path);
    const slash = path.lastIndexOf('/');
    const parent = slash === -1 ? '' : path.slice(0, slash);
    if (!dirs.has(parent)) throw hostile(entry.path, 'has no parent directory entry in the tree', commit);
    if ((entry.type === 'tree') !== (entry.mode === '040000')) throw hostile(entry.path, `has type ${entry.type} with mode ${entry.mode}`, commit);
    if (entry.type === 'tree') dirs.add(path);
    result.push(entry.size === undefined ? { path, mode: entry.mode, sha: entry.sha } : { path, mode: entry.mode, sha: entry.sha, size: entry.size });
  }
  if (!foundRoot) {
    throw new HostsyncError(`--path '${subPath}' does not exist in commit ${commit.slice(0, 12)}. Check the folder name (case matters).`, 2);
  }
  return result;
}

/** The error refusing a commit for one of its entries. */
export function unsafeEntry(path: string, reason: string, commit: string): HostsyncError {
  return hostile(path, reason, commit);
}

function hostile(path: string, reason: string, commit: string): HostsyncError {
  return new HostsyncError(
    `Refusing commit ${commit.slice(0, 12)}: tree entry ${JSON.stringify(path)} ${reason}. Nothing was written; check the repository (or the server answering as GitHub).`,
  );
}
