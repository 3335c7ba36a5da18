/**
 * The shared vocabulary of hostsync: what a commit says a directory must hold, what the host
 * holds now, and what was applied last. Types only — every module may import this file.
 */

/** Levels of a log event. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Where every module reports what it does; the CLI renders it (src/cli/output.ts). */
export type Logger = (level: LogLevel, message: string) => void;

/** How DEST holds its content: files renamed in place, or a symlink to complete generations. */
export type Layout = 'inplace' | 'symlink';

/** Git tree entry modes as GitHub reports them (`040000` is a directory). */
export type GitMode = '100644' | '100755' | '120000' | '160000' | '040000';

/** What kind of thing sits at a path, in git terms. */
export type EntryKind = 'file' | 'symlink' | 'dir' | 'submodule';

/**
 * One entry of the target commit's tree, relative to the synced root (`--path`), POSIX separators.
 * `sha` is the git object id: the blob SHA for files and symlinks, the tree SHA for directories,
 * the commit SHA for submodules.
 */
export interface RemoteEntry {
  readonly path: string;
  readonly mode: GitMode;
  readonly sha: string;
  /** Blob size in bytes where the tree reports it (files and symlinks). */
  readonly size?: number | undefined;
  /** A Git LFS file: `sha` and `size` are then the content's, the pointer the commit holds is here (src/lfs). */
  readonly lfs?: LfsLink | undefined;
}

/**
 * The pointer behind a Git LFS file. The entry's `sha`/`size` describe the content (the object the
 * pointer names, as a git blob), so plan, store, apply and rollback work on what DEST holds.
 */
export interface LfsLink {
  /** Blob SHA of the pointer file in the commit's tree. */
  readonly pointer: string;
  /** Bytes of the pointer file. */
  readonly pointerSize: number;
  /** SHA-256 of the content, as the pointer names it. */
  readonly oid: string;
}

/** What hostsync found on the host at a path it cares about. */
export interface LocalEntry {
  readonly path: string;
  /** `other` covers sockets, FIFOs and devices: never written through, always replaced. */
  readonly kind: 'file' | 'symlink' | 'dir' | 'other';
  /** Git mode the entry would have if committed: 100644/100755 for files, 120000, 040000. */
  readonly mode: GitMode | undefined;
  /** Git blob SHA of the content (file bytes, or the symlink's target); absent for dirs and other. */
  readonly sha?: string | undefined;
  readonly size: number;
  /** Permission bits of a file (st_mode & 07777): hostsync places exactly 0644 or 0755. */
  readonly perm?: number | undefined;
}

/** The permission bits hostsync gives a file of a git mode, whatever the umask. */
export function permOfMode(mode: GitMode): number {
  return mode === '100755' ? 0o755 : 0o644;
}

/** An entry of the manifest: what hostsync placed, exactly as the commit said. */
export interface ManifestEntry {
  readonly path: string;
  readonly mode: GitMode;
  readonly sha: string;
  readonly size?: number | undefined;
  /** A Git LFS file: `sha`/`size` are the content's (see {@link LfsLink}). */
  readonly lfs?: LfsLink | undefined;
}

/** The record of the last applied commit for one destination. Lives in the state dir, never in DEST. */
export interface Manifest {
  readonly version: 1;
  readonly repo: string;
  /** The ref the user asked for (branch, tag, SHA, or `HEAD` for the default branch). */
  readonly ref: string;
  /** The synced subfolder of the repository, '' for the whole repository. */
  readonly path: string;
  readonly commit: string;
  readonly appliedAt: string;
  readonly strategy: string;
  readonly entries: readonly ManifestEntry[];
  /** The synced folder's tree SHA at `commit`, when known: lets a thin pack use the host's trees as delta bases. */
  readonly tree?: string | undefined;
  /** With `--path`: the raw tree objects (base64) from the repository root down to the folder's parent. */
  readonly chain?: readonly { readonly sha: string; readonly data: string }[] | undefined;
  /** The `lfs` setting the entries were resolved under: with `auto`, every entry without `lfs` was found not to be a pointer. */
  readonly lfs?: 'auto' | 'off' | undefined;
}

/** A blob the host needs, with one path it appears at (used by tarball/clone to find it). */
export interface WantedBlob {
  readonly sha: string;
  readonly size?: number | undefined;
  /** Path relative to the synced root. */
  readonly path: string;
}

/** Names of the ways content can reach the host (`pack`: git's wire protocol, one pack). */
export type StrategyName = 'none' | 'blobs' | 'tarball' | 'clone' | 'local' | 'pack';

/** Map a git mode to the kind of entry it describes. */
export function kindOfMode(mode: GitMode): EntryKind {
  switch (mode) {
    case '100644':
    case '100755':
      return 'file';
    case '120000':
      return 'symlink';
    case '040000':
      return 'dir';
    case '160000':
      return 'submodule';
  }
}

/**
 * How far the work of a phase has come, for the progress display (src/cli/progress.ts): what is
 * done, and the totals only where they are known in advance — never a guess, so a rate and an ETA
 * derived from them are measured, not made up.
 */
export interface WorkProgress {
  /** Bytes received or read so far in this phase. */
  readonly bytes: number;
  /** Bytes the phase will move, when known in advance (blob sizes from the tree). */
  readonly totalBytes?: number | undefined;
  /** Items done, in `unit`. */
  readonly items: number;
  /** Items the phase will do, when known in advance. */
  readonly totalItems?: number | undefined;
  /** What `items` counts, plural: "blobs", "objects", "paths". */
  readonly unit: string;
}
