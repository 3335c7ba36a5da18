/**
 * The vocabulary of `hostsync validate`: a check is a small module with an id, a `run` that
 * gathers facts through the injected {@link HostProbe} and evaluates them purely, and an optional
 * `fix` that repairs through the injected {@link Repairer} (which writes DEST only via src/apply).
 */
import type { Manifest } from '../model.js';
import type { DestPaths } from '../state/layout.js';
import type { ScanResult } from '../local/scan.js';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

/** What one check found. */
export interface CheckOutcome {
  readonly status: CheckStatus;
  /** One sentence: what is wrong (naming values) and what to do, or what was verified. */
  readonly message: string;
  /** Paths concerned, sorted (relative to DEST, or absolute outside it). */
  readonly paths: readonly string[];
  /** Whether `--fix` can repair it (false when there is nothing to repair). */
  readonly fixable: boolean;
}

/** A check's outcome as reported: `{id, status, message, paths, fixable, fixed}`. */
export interface CheckResult extends CheckOutcome {
  readonly id: string;
  /** `--fix` repaired this check's problem in this run. */
  readonly fixed: boolean;
}

/** A check, ready to run. */
export interface Check {
  readonly id: string;
  /** The config `type` it was built from. */
  readonly type: string;
  run(context: CheckContext): Promise<CheckOutcome>;
  /** Repair what `run` found; resolves with what was done. Only called when `fixable`. */
  fix?(context: CheckContext, outcome: CheckOutcome): Promise<string>;
  /**
   * Folders inside DEST this check requires (relative, `{hostname}` expanded): expected, so the
   * `unmanaged` check does not report them (nor a `--fix --prune` delete them) when they are empty
   * or hold nothing else.
   */
  expects?(hostname: string): readonly string[];
}

/** Metadata of a file as the checks need it (lstat: symlinks are not followed). */
export interface FileFacts {
  readonly kind: 'file' | 'dir' | 'symlink' | 'char-device' | 'block-device' | 'other';
  /** Permission bits, e.g. 0o755. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/** Free space of the filesystem holding a path. */
export interface SpaceFacts {
  readonly freeBytes: number;
  readonly totalBytes: number;
}

/** Who holds the destination's lock right now. */
export type LockFacts =
  | { readonly state: 'free' }
  | { readonly state: 'self' }
  | { readonly state: 'other'; readonly pid: number | undefined }
  /** A socket file nobody answers on (systems without abstract sockets only). */
  | { readonly state: 'stale'; readonly file: string };

/** An interrupted apply found in the state dir. */
export type JournalFacts =
  | { readonly state: 'none' }
  | { readonly state: 'interrupted'; readonly commit: string; readonly startedAt: string; readonly ops: number }
  | { readonly state: 'unreadable'; readonly message: string };

/** What a command check needs of the exec edge (src/pipeline/exec.ts satisfies it). */
export type RunCommand = (
  command: string,
  options: { readonly env: Readonly<Record<string, string>>; readonly timeoutMs: number; readonly cwd?: string | undefined },
) => Promise<{ readonly code: number | null; readonly signal: string | null; readonly lastLines: readonly string[]; readonly timedOut: boolean; readonly startError?: string | undefined }>;

/** Read-only access to the host. Every fact a check needs comes through here. */
export interface HostProbe {
  /** lstat; undefined when nothing is there. */
  fileFacts(path: string): Promise<FileFacts | undefined>;
  /** stat (follows symlinks; for devices like /dev/kvm); undefined when absent. */
  statFacts(path: string): Promise<FileFacts | undefined>;
  /** statfs of the nearest existing ancestor of `path`. */
  space(path: string): Promise<SpaceFacts | undefined>;
  /** Absolute path of an executable on PATH, or undefined. */
  which(name: string): Promise<string | undefined>;
  /** A file's text; undefined when it does not exist. Other errors throw. */
  readText(path: string): Promise<string | undefined>;
  /** DEST scanned with the manifest's paths hashed (stat cache trusted); memoized. */
  scan(): Promise<ScanResult>;
  lock(): Promise<LockFacts>;
  journal(): Promise<JournalFacts>;
  /** Which of these blob SHAs the object store lacks. */
  missingObjects(shas: readonly string[]): Promise<string[]>;
  /** `/etc/passwd` and `/etc/group` as name → id. */
  accounts(): Promise<Accounts>;
  readonly runCommand: RunCommand;
  readonly hostname: string;
  readonly platform: NodeJS.Platform;
  readonly isRoot: boolean;
  /** The environment commands inherit (and PATH is searched in). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Users and groups by name. */
export interface Accounts {
  readonly users: ReadonlyMap<string, number>;
  readonly groups: ReadonlyMap<string, number>;
}

/** The writes a fix may make. DEST is written only through src/apply. */
export interface Repairer {
  /** Finish or undo an interrupted apply (recoverInterrupted). */
  recoverJournal(): Promise<string>;
  /** Remove a stale lock socket file. */
  clearStaleLock(file: string): Promise<string>;
  /** Create DEST itself. */
  createDest(): Promise<string>;
  /** Restore every entry of the last applied manifest (journaled); `prune` also removes unmanaged paths. */
  restore(prune: boolean): Promise<string>;
  /** Create folders under DEST (relative paths). */
  ensureDirectories(dirs: readonly string[]): Promise<string>;
  /** Set modes/owners of paths under DEST. */
  setAttributes(changes: readonly { path: string; mode?: number | undefined; uid?: number | undefined; gid?: number | undefined }[]): Promise<string>;
}

/** Everything a check runs against. Built afresh for the re-run after fixes. */
export interface CheckContext {
  /** DEST, resolved (with layout "symlink": the link itself). */
  readonly dest: string;
  /** The directory holding DEST's content: DEST, or with layout "symlink" its current generation. */
  readonly root: string;
  readonly paths: DestPaths;
  /** The last applied manifest; undefined before the first sync or when unreadable. */
  readonly manifest: Manifest | undefined;
  /** Why the manifest could not be read, if it could not. */
  readonly manifestError: string | undefined;
  readonly isPreserved: (path: string) => boolean;
  /** Folders the configured checks require (see {@link Check.expects}), with their parent folders. */
  readonly expectedDirs: ReadonlySet<string>;
  /** `--prune`: unmanaged paths may be deleted by `--fix`. */
  readonly prune: boolean;
  /** The config's `owner` and `group` (names or ids). */
  readonly owner: string | undefined;
  readonly group: string | undefined;
  readonly host: HostProbe;
  readonly repair: Repairer;
}
