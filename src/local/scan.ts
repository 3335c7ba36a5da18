/**
 * What DEST holds now, in git terms: every path (except preserved ones) with its kind and git mode,
 * and the blob id of the files the caller asked about and of every symlink. Files whose lstat
 * matches the stat cache are not read; the rest of the interesting files are hashed in parallel.
 *
 * Git mode of a file follows git itself: 100755 when the owner-execute bit (0o100) is set,
 * 100644 otherwise — group/other execute bits alone do not make a file executable to git.
 */

import { lstatSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { HostsyncError, UsageError, errorCode, errorMessage } from '../errors.js';
import type { GitMode, LocalEntry } from '../model.js';
import { hashBlobFile, hashSymlinkTarget } from './hash.js';
import {
  emptyStatCache,
  FINE_RACY_MARGIN_MS,
  isRacy,
  RACY_MARGIN_MS,
  matchesStat,
  racyMarginOf,
  statCacheEntry,
  type StatCache,
  type StatCacheEntry,
} from './stat-cache.js';
import { fileStatOf, inspectPath, lstatIfPresent, walkTree, type FileStat, type WalkedFile, type WalkResult } from './walk.js';

/** Hash a regular file as a git blob; `size` is the size it was listed with. */
export type HashFile = (absPath: string, size: number) => Promise<string>;

/** Options of {@link scanDestination}. */
export interface ScanOptions {
  /** Relative paths whose blob id the caller needs; other files are only lstat'ed. */
  readonly interest: ReadonlySet<string>;
  /**
   * Paths to leave alone: neither listed nor hashed; a preserved directory is not descended into.
   * @default nothing is preserved
   */
  readonly isPreserved?: (relPath: string) => boolean;
  /** @default an empty cache */
  readonly statCache?: StatCache;
  /**
   * Files hashed at once.
   * @default 8
   */
  readonly concurrency?: number;
  /** @default hashBlobFile */
  readonly hashFile?: HashFile;
  /** DEST as {@link walkDestination} listed it moments ago (so the listing can overlap a request). */
  readonly walked?: WalkedDestination | undefined;
  /**
   * Wall-clock milliseconds since the epoch; the scan's start is the racy reference for new entries.
   * @default Date.now
   */
  readonly clock?: () => number;
}

/** Counts of one scan. */
export interface ScanStats {
  /** Regular files found (hashed or not). */
  readonly files: number;
  readonly dirs: number;
  /** Files read and hashed. */
  readonly hashed: number;
  /** Interesting files whose blob id came from the stat cache. */
  readonly cacheHits: number;
  readonly bytesHashed: number;
}

/** The result of {@link scanDestination}. */
export interface ScanResult {
  /** Relative POSIX path → entry, sorted by path. DEST itself is not an entry. */
  readonly entries: ReadonlyMap<string, LocalEntry>;
  readonly stats: ScanStats;
  /**
   * The cache to save for next time: every file seen whose blob id is known and not racy.
   * Files gone, changed or preserved since the previous cache are dropped.
   */
  readonly statCache: StatCache;
  /** Names that are not valid UTF-8, escaped: reported as unmanaged, never touched. */
  readonly undecodable: readonly string[];
}

const DEFAULT_CONCURRENCY = 8;
/** Times a file that changes while hashed is looked at again before the scan fails. */
const MAX_HASH_ATTEMPTS = 3;

/** DEST listed (undefined: absent), with the time the listing started, the racy reference. */
export interface WalkedDestination {
  readonly walk: WalkResult | undefined;
  readonly startedAtMs: number;
}

/**
 * List DEST without following symlinks or hashing anything: the part of a scan that needs no
 * tree, so a sync can do it while the ref request is in flight.
 * @throws {UsageError} when DEST exists but is not a directory.
 */
export async function walkDestination(dest: string, options: { readonly isPreserved?: ((relPath: string) => boolean) | undefined; readonly clock?: (() => number) | undefined }): Promise<WalkedDestination> {
  const startedAtMs = (options.clock ?? Date.now)();
  if (!(await isDirectoryIfPresent(dest))) return { walk: undefined, startedAtMs };
  return { walk: await walkTree(dest, options.isPreserved ?? (() => false)), startedAtMs };
}

/**
 * Scan DEST without following symlinks. A missing DEST is an empty result (first install).
 * @throws {UsageError} when DEST exists but is not a directory.
 */
export async function scanDestination(dest: string, options: ScanOptions): Promise<ScanResult> {
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new TypeError(`Expected \`concurrency\` to be a positive integer, got ${String(concurrency)}.`);
  }
  const hashFile = options.hashFile ?? hashBlobFile;
  const previous = options.statCache ?? emptyStatCache();
  const listed = options.walked ?? (await walkDestination(dest, options));
  const referenceMs = listed.startedAtMs;
  const entries = new Map<string, LocalEntry>();
  const cache = new Map<string, StatCacheEntry>();
  const stats = { files: 0, dirs: 0, hashed: 0, cacheHits: 0, bytesHashed: 0 };
  const walked = listed.walk;
  if (walked === undefined) return { entries, stats, statCache: { entries: cache }, undecodable: [] };

  const marginMs = racyMarginOf(walked.files.map((file) => file.stats.mtimeMs));
  stats.files = walked.files.length;
  stats.dirs = walked.dirs.length;
  for (const path of walked.dirs) entries.set(path, { path, kind: 'dir', mode: '040000', size: 0 });
  for (const path of walked.others) entries.set(path, { path, kind: 'other', mode: undefined, size: 0 });
  for (const { path, target } of walked.symlinks) entries.set(path, symlinkEntry(path, target));

  const toHash: WalkedFile[] = [];
  for (const file of walked.files) {
    const cached = previous.entries.get(file.path);
    const trusted =
      cached !== undefined && matchesStat(cached, file.stats) && !isRacy(cached.mtimeMs, referenceMs, marginMs)
        ? cached
        : undefined;
    if (trusted !== undefined) cache.set(file.path, trusted);
    if (!options.interest.has(file.path)) {
      entries.set(file.path, fileEntry(file.path, file.stats, undefined));
    } else if (trusted !== undefined) {
      stats.cacheHits++;
      entries.set(file.path, fileEntry(file.path, file.stats, trusted.sha));
    } else {
      toHash.push(file);
    }
  }

  const base = dest.endsWith('/') ? dest : `${dest}/`;
  await forEachLimited(toHash, concurrency, async (file) => {
    const hashed = await hashListedFile(base + file.path, file.stats, hashFile);
    stats.hashed++;
    stats.bytesHashed += Number(hashed.stats.size);
    entries.set(file.path, fileEntry(file.path, hashed.stats, hashed.sha));
    if (!isRacy(hashed.stats.mtimeMs, referenceMs, marginMs)) cache.set(file.path, statCacheEntry(hashed.stats, hashed.sha));
  });

  return { entries: sortedByPath(entries), stats, statCache: { entries: cache, marginMs }, undecodable: walked.undecodable.sort() };
}

/**
 * Look at one path under DEST on demand, hashing it if it is a file or symlink; undefined when
 * nothing is there or a parent is not a real directory (a path under a symlinked directory does
 * not exist in git terms, and it is not followed).
 */
export async function hashLocalPath(
  dest: string,
  relPath: string,
  options: { readonly hashFile?: HashFile } = {},
): Promise<LocalEntry | undefined> {
  const segments = relPath.split('/');
  if (relPath === '' || segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw new TypeError(`Expected \`relPath\` to be a relative POSIX path without '.' or '..', got '${relPath}'.`);
  }
  if (!(await isDirectoryIfPresent(dest))) return undefined;
  let abs = dest.endsWith('/') ? dest.slice(0, -1) : dest;
  for (const [index, segment] of segments.entries()) {
    abs = `${abs}/${segment}`;
    const found = await inspectPath(abs);
    if (found === undefined) return undefined;
    if (index < segments.length - 1) {
      if (found.kind !== 'dir') return undefined;
      continue;
    }
    switch (found.kind) {
      case 'dir':
        return { path: relPath, kind: 'dir', mode: '040000', size: 0 };
      case 'other':
        return { path: relPath, kind: 'other', mode: undefined, size: 0 };
      case 'symlink':
        return symlinkEntry(relPath, found.target);
      case 'file': {
        const hashed = await hashListedFile(abs, found.stats, options.hashFile ?? hashBlobFile);
        return fileEntry(relPath, hashed.stats, hashed.sha);
      }
    }
  }
  return undefined;
}

/** Git mode of a regular file from its st_mode: the owner-execute bit decides, as in git. */
export function fileModeOf(stMode: number | bigint): GitMode {
  return (Number(stMode) & 0o100) !== 0 ? '100755' : '100644';
}

/**
 * Hash a file listed with `listed`, and confirm by a second lstat that the id belongs to that
 * stat data (so it may be cached). A file that changed meanwhile is looked at again.
 */
async function hashListedFile(
  abs: string,
  listed: FileStat,
  hashFile: HashFile,
): Promise<{ readonly stats: FileStat; readonly sha: string }> {
  let stats = listed;
  for (let attempt = 1; ; attempt++) {
    let sha: string | undefined;
    let failure: unknown;
    try {
      sha = await hashFile(abs, Number(stats.size));
    } catch (error) {
      failure = error;
    }
    const found = await lstatIfPresent(abs);
    const now = found?.isFile() === true ? fileStatOf(found) : undefined;
    if (now !== undefined && sameStat(now, stats)) {
      if (sha !== undefined) return { stats, sha };
      throw failure instanceof HostsyncError ? failure : readError(abs, failure);
    }
    if (attempt >= MAX_HASH_ATTEMPTS || now === undefined) {
      throw new HostsyncError(
        `${abs} changed while hostsync hashed it; run again once nothing else writes to the destination.`,
        undefined,
        { cause: failure },
      );
    }
    stats = now;
  }
}

function sameStat(a: FileStat, b: FileStat): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino && a.mode === b.mode;
}

function fileEntry(path: string, stats: FileStat, sha: string | undefined): LocalEntry {
  const mode = fileModeOf(stats.mode);
  return sha === undefined ? { path, kind: 'file', mode, size: stats.size, perm: stats.mode & 0o7777 } : { path, kind: 'file', mode, size: stats.size, perm: stats.mode & 0o7777, sha };
}

function symlinkEntry(path: string, target: Buffer): LocalEntry {
  return { path, kind: 'symlink', mode: '120000', sha: hashSymlinkTarget(target), size: target.byteLength };
}

/** True for a directory (DEST may itself be a symlink to one), false when absent. */
async function isDirectoryIfPresent(dest: string): Promise<boolean> {
  try {
    const found = await stat(dest);
    if (found.isDirectory()) return true;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    if (errorCode(error) !== 'ENOTDIR') throw readError(dest, error);
  }
  throw new UsageError(
    `Destination ${dest} exists but is not a directory; it must be a directory, or absent for a first install. ` +
      'Point the destination at a directory or move that file away.',
  );
}

/** Run `work` over `items`, at most `limit` at a time, stopping at the first failure. */
async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function sortedByPath(entries: Map<string, LocalEntry>): Map<string, LocalEntry> {
  const paths = [...entries.keys()].sort();
  return new Map(paths.map((path) => [path, entries.get(path) as LocalEntry]));
}

function readError(path: string, error: unknown): HostsyncError {
  return new HostsyncError(
    `Could not read ${path}: ${errorMessage(error)}. Check that hostsync may read the destination.`,
    undefined,
    { cause: error },
  );
}

/** Options of {@link recordApplied}. */
export interface RecordAppliedOptions {
  /**
   * The mtime the apply wrote its files with (ms since the epoch; apply/reconcile.ts). A written file
   * is recorded at once only while its mtime is still that: anything newer was changed by someone
   * after the apply wrote it, and is read back first.
   */
  readonly stampMs: number;
  /** Wall-clock milliseconds since the epoch. @default Date.now */
  readonly clock?: () => number;
}

/**
 * The stat cache after an apply: `before` (the scan's) with every path the apply wrote recorded
 * with its new lstat and the SHA it was written with, and every removed path dropped — so the next
 * poll hashes none of them. `written` maps relative paths to the SHA now there (files only),
 * `removed` lists paths that are gone.
 */
export async function recordApplied(before: StatCache, root: string, written: ReadonlyMap<string, string>, removed: readonly string[], options: RecordAppliedOptions): Promise<StatCache> {
  const clock = options.clock ?? Date.now;
  const entries = new Map(before.entries);
  for (const path of removed) entries.delete(path);
  const base = root.endsWith('/') ? root : `${root}/`;
  let done = 0;
  for (const [path, sha] of written) {
    // Synchronous lstats (one syscall each) with a turn for the event loop now and then.
    const info = lstatSync(base + path, { throwIfNoEntry: false });
    if (info?.isFile() === true) entries.set(path, statCacheEntry(fileStatOf(info), sha));
    else entries.delete(path);
    if (++done % 1024 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const margins = [...entries.values()].map((entry) => entry.mtimeMs);
  // The finer of what DEST showed before (an empty DEST shows nothing: the wide default) and what was written.
  const marginMs = Math.min(before.marginMs ?? RACY_MARGIN_MS, racyMarginOf(margins));
  await settleSuspects(entries, base, written, marginMs, options.stampMs, clock);
  return { entries, marginMs };
}

/**
 * Written files whose recorded SHA is not proven by their stat data: one changed since the apply
 * stamped it (its mtime is newer than the stamp, by any amount — a long apply gives others time),
 * and among those one changed within the racy margin of now (a change in the same clock tick could
 * not be told apart). Each is read back — after waiting out the margin where it is still racy and the
 * margin is the fine one — and recorded only if its content is what was written and its stat did not
 * move while it was read; any other is dropped, so the next run hashes it. On a file system with
 * whole-second mtimes the 2 s wait is not worth it: racy ones are dropped instead.
 */
async function settleSuspects(entries: Map<string, StatCacheEntry>, base: string, written: ReadonlyMap<string, string>, marginMs: number, stampMs: number, clock: () => number): Promise<void> {
  const now = clock();
  const suspects: string[] = [];
  let newestRacy = -Infinity;
  for (const path of written.keys()) {
    const entry = entries.get(path);
    // Still the stamp (1 ms of slack: utimes takes seconds as a float, the kernel keeps nanoseconds):
    // proven, and never racy, the stamp being older than any margin.
    if (entry === undefined || entry.mtimeMs <= stampMs + 1) continue;
    const racy = isRacy(entry.mtimeMs, now, marginMs);
    if (racy && marginMs > FINE_RACY_MARGIN_MS) {
      entries.delete(path);
      continue;
    }
    suspects.push(path);
    if (racy) newestRacy = Math.max(newestRacy, entry.mtimeMs);
  }
  if (suspects.length === 0) return;
  const wait = newestRacy + marginMs + 1 - clock();
  if (wait > 0) await new Promise<void>((resolve) => setTimeout(resolve, Math.min(wait, marginMs + 1)));
  for (const path of suspects) {
    const entry = entries.get(path)!;
    try {
      const sha = await hashBlobFile(base + path, entry.size);
      const after = lstatSync(base + path, { throwIfNoEntry: false });
      const same = after !== undefined && matchesStat(entry, fileStatOf(after));
      if (sha === written.get(path) && same) continue;
    } catch {
      // unreadable or changing: the next run hashes it
    }
    entries.delete(path);
  }
}

