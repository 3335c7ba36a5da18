/**
 * One file across the kept generations: `hostsync history --file PATH` lists its versions, and
 * `hostsync restore PATH --to COMMIT` (./restore-file.ts) puts one of them back. Reads the
 * generations' manifests (src/apply/history.ts) and asks the object store whether each version's
 * content is still there; offline, writes nothing.
 */
import { listHistory, loadGeneration, type Generation } from '../apply/history.js';
import { HostsyncError, UsageError } from '../errors.js';
import type { GitMode, ManifestEntry } from '../model.js';
import type { DestPaths } from '../state/layout.js';
import type { ObjectStore } from '../state/objects.js';

/** What happened to the file in a generation, against the one before it. */
export type FileChange = 'added' | 'modified' | 'mode' | 'type' | 'deleted' | 'unchanged' | 'absent';

/** The file in one generation. */
export interface FileVersion {
  readonly generation: number;
  readonly appliedAt: string;
  readonly kind: Generation['kind'];
  readonly commit: string;
  readonly change: FileChange;
  /** The file's entry at this generation; null when it is absent. */
  readonly mode: GitMode | null;
  readonly sha: string | null;
  readonly size: number | null;
  /** Whether the object store holds its content: what `restore` needs. */
  readonly stored: boolean;
}

/**
 * The path relative to DEST: given relative, or absolute inside DEST (as a shell completes it).
 * Refuses `..`, an absolute path elsewhere, and DEST itself.
 */
export function relativeToDest(given: string, dest: string): string {
  let path = given;
  if (path.startsWith('/')) {
    const root = dest.replace(/\/+$/, '');
    if (!path.startsWith(`${root}/`)) throw new UsageError(`${given} is not inside DEST (${dest}); give the path relative to DEST, e.g. flake.nix.`);
    path = path.slice(root.length + 1);
  }
  path = path.replace(/^\.\/+/, '').replace(/\/+$/, '').replace(/\/{2,}/g, '/');
  if (path === '' || path.split('/').some((part) => part === '..' || part === '.')) throw new UsageError(`'${given}' is not a file path inside DEST; give it relative to DEST, e.g. hosts/alpha/configuration.nix.`);
  return path;
}

/** How `entry` differs from `before` (either may be absent). Pure. */
export function changeOf(before: ManifestEntry | undefined, entry: ManifestEntry | undefined): FileChange {
  if (entry === undefined) return before === undefined ? 'absent' : 'deleted';
  if (before === undefined) return 'added';
  if ((before.mode === '120000') !== (entry.mode === '120000')) return 'type';
  if (before.sha !== entry.sha) return 'modified';
  return before.mode !== entry.mode ? 'mode' : 'unchanged';
}

/** The file's versions in every kept generation, oldest first (pruned generations left out). */
export async function fileHistory(paths: DestPaths, store: ObjectStore, path: string): Promise<FileVersion[]> {
  const history = await listHistory(paths);
  const versions: FileVersion[] = [];
  let before: ManifestEntry | undefined;
  for (const generation of history) {
    const manifest = await loadGeneration(paths, generation.id);
    if (manifest === undefined) continue;
    const entry = manifest.entries.find((candidate) => candidate.path === path);
    if (entry !== undefined && (entry.mode === '040000' || entry.mode === '160000')) {
      throw new UsageError(`${path} is a folder at ${generation.commit.slice(0, 12)}; --file takes a file or symlink (a whole commit: hostsync history, hostsync rollback).`);
    }
    versions.push({
      generation: generation.id,
      appliedAt: generation.appliedAt,
      kind: generation.kind,
      commit: generation.commit,
      change: changeOf(before, entry),
      mode: entry?.mode ?? null,
      sha: entry?.sha ?? null,
      size: entry?.size ?? null,
      stored: entry === undefined ? false : await store.has(entry.sha),
    });
    before = entry;
  }
  return versions;
}

/** The newest kept version of the file at a commit given as a SHA prefix. */
export function versionAt(versions: readonly FileVersion[], to: string, path: string): FileVersion {
  if (!/^[0-9a-fA-F]{4,40}$/.test(to)) throw new UsageError(`--to '${to}' is not a commit SHA (4 to 40 hex digits). 'hostsync history --file ${path}' lists the commits that hold the file.`);
  const found = [...versions].reverse().find((version) => version.commit.startsWith(to.toLowerCase()));
  if (found === undefined) throw new HostsyncError(`No kept generation has commit ${to}. 'hostsync history --file ${path}' lists the ones that do.`);
  return found;
}
