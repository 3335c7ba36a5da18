/**
 * The stat cache: relative path → the lstat data a file had when it was hashed, plus its blob id.
 * A file whose lstat still matches (size, mtime and ctime to the nanosecond, inode, st_mode) is not
 * read again. It lives in the state dir as JSON, written atomically; any problem reading it means
 * "no cache", never a failed run.
 *
 * Racy entries (git's "racy git" problem, https://git-scm.com/docs/racy-git): a file rewritten
 * within the filesystem's timestamp granularity of when it was stat'ed keeps the same mtime, so its
 * stat data proves nothing. Like git, an entry is only trusted when its mtime is strictly older than
 * a reference time — the cache's write time when loaded, the scan's start when scanning — minus
 * {@link RACY_MARGIN_NS}, because file timestamps come from the kernel's coarse clock (they can lag
 * the wall clock by a tick) and some filesystems keep whole or even 2-second timestamps.
 */

import { randomBytes } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HostsyncError, errorCode, errorMessage } from '../errors.js';

/** What a file looked like when it was hashed. */
export interface StatCacheEntry {
  readonly size: number;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly ino: bigint;
  /** The full st_mode (type and permission bits). */
  readonly mode: number;
  readonly sha: string;
}

/** Relative POSIX path → {@link StatCacheEntry}. Regular files only. */
export interface StatCache {
  readonly entries: ReadonlyMap<string, StatCacheEntry>;
  /** The racy margin of DEST's file system ({@link racyMarginOf}); the wide default when unknown. */
  readonly marginNs?: bigint | undefined;
}

/** A cache read from disk, with what happened while reading it. */
export interface LoadedStatCache extends StatCache {
  /** `missing`: no file yet; `invalid`: unreadable or corrupt, ignored. */
  readonly status: 'loaded' | 'missing' | 'invalid';
  /** Entries left out because they were racy when the cache was written. */
  readonly racy: number;
}

/** Options of {@link saveStatCache}. */
export interface SaveStatCacheOptions {
  /**
   * Wall-clock time in nanoseconds since the epoch, recorded as the cache's write time.
   * @default system clock
   */
  readonly clock?: () => bigint;
}

/**
 * An entry whose mtime is within this of the reference time is racy. 2 s covers coarse kernel
 * clocks and 1 s / 2 s (FAT) timestamp filesystems; the cost is one extra hash of files modified in
 * the two seconds before a scan or cache write.
 */
export const RACY_MARGIN_NS = 2_000_000_000n;

/**
 * The margin on a file system with nanosecond timestamps: files are stamped from the kernel's
 * coarse clock, at most one tick (≤ 10 ms at HZ=100) behind the wall clock; 100 ms is that with room.
 */
export const FINE_RACY_MARGIN_NS = 100_000_000n;

/**
 * The racy margin for files with these mtimes: the fine one when any has a sub-second part (the
 * file system keeps nanoseconds), else the wide one (whole-second or 2-second timestamps: FAT, some
 * network file systems). A wide margin costs only re-hashes; a fine one lets a large apply's files
 * be trusted at the next poll.
 */
export function racyMarginOf(mtimesNs: Iterable<bigint>): bigint {
  for (const mtime of mtimesNs) if (mtime % 1_000_000_000n !== 0n) return FINE_RACY_MARGIN_NS;
  return RACY_MARGIN_NS;
}

const FORMAT_VERSION = 1;
const SHA_PATTERN = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;
/** Timestamps before 1970 are negative. */
const INTEGER_PATTERN = /^-?(?:0|[1-9][0-9]*)$/;

/** A cache with no entries. */
export function emptyStatCache(): StatCache {
  return { entries: new Map() };
}

/** The system wall clock in nanoseconds since the epoch (millisecond resolution). */
export function systemClockNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** True when a file with this mtime cannot be trusted by a cache taken at `referenceNs`. */
export function isRacy(mtimeNs: bigint, referenceNs: bigint, marginNs: bigint = RACY_MARGIN_NS): boolean {
  return mtimeNs >= referenceNs - marginNs;
}

/** The cache entry recording `stats` (from `lstat(path, { bigint: true })`) and the blob id. */
export function statCacheEntry(stats: BigIntStats, sha: string): StatCacheEntry {
  return {
    size: Number(stats.size),
    mtimeNs: stats.mtimeNs,
    ctimeNs: stats.ctimeNs,
    ino: stats.ino,
    mode: Number(stats.mode),
    sha,
  };
}

/** True when the file still has the stat data the entry was recorded with. */
export function matchesStat(entry: StatCacheEntry, stats: BigIntStats): boolean {
  return (
    entry.mtimeNs === stats.mtimeNs &&
    entry.ctimeNs === stats.ctimeNs &&
    entry.ino === stats.ino &&
    entry.size === Number(stats.size) &&
    entry.mode === Number(stats.mode)
  );
}

/** Serialize a cache; `writtenAtNs` is the reference time that entries are judged racy against. */
export function serializeStatCache(cache: StatCache, writtenAtNs: bigint): string {
  const paths = [...cache.entries.keys()].sort();
  // Object.fromEntries defines own properties, so a file named `__proto__` is stored like any other.
  const entries = Object.fromEntries(
    paths.map((path) => {
      const entry = cache.entries.get(path) as StatCacheEntry;
      return [
        path,
        {
          size: entry.size,
          mtimeNs: entry.mtimeNs.toString(),
          ctimeNs: entry.ctimeNs.toString(),
          ino: entry.ino.toString(),
          mode: entry.mode,
          sha: entry.sha,
        },
      ];
    }),
  );
  const margin = cache.marginNs === undefined ? {} : { marginNs: cache.marginNs.toString() };
  return `${JSON.stringify({ version: FORMAT_VERSION, writtenAtNs: writtenAtNs.toString(), ...margin, entries })}\n`;
}

/**
 * Parse a serialized cache, leaving out entries that were racy at its write time.
 * Returns undefined when the text is not a valid cache of this version.
 */
export function parseStatCache(text: string): { readonly cache: StatCache; readonly racy: number } | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(data) || data['version'] !== FORMAT_VERSION) return undefined;
  const writtenAtNs = parseBigInt(data['writtenAtNs']);
  const marginNs = data['marginNs'] === undefined ? RACY_MARGIN_NS : parseBigInt(data['marginNs']);
  const raw = data['entries'];
  if (writtenAtNs === undefined || marginNs === undefined || marginNs < 0n || !isRecord(raw)) return undefined;
  const entries = new Map<string, StatCacheEntry>();
  let racy = 0;
  for (const [path, value] of Object.entries(raw)) {
    const entry = parseEntry(value);
    if (entry === undefined) return undefined;
    if (isRacy(entry.mtimeNs, writtenAtNs, marginNs)) racy++;
    else entries.set(path, entry);
  }
  return { cache: { entries, marginNs }, racy };
}

/** Read the cache at `file`; a missing, unreadable or corrupt file gives an empty cache. */
export async function loadStatCache(file: string): Promise<LoadedStatCache> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const status = errorCode(error) === 'ENOENT' ? 'missing' : 'invalid';
    return { entries: new Map(), status, racy: 0 };
  }
  const parsed = parseStatCache(text);
  if (parsed === undefined) return { entries: new Map(), status: 'invalid', racy: 0 };
  return { entries: parsed.cache.entries, marginNs: parsed.cache.marginNs, status: 'loaded', racy: parsed.racy };
}

/**
 * Write the cache to `file` atomically (temp file in the same directory, fsync, rename, fsync of
 * the directory), creating the directory if needed. Records the current time as the write time.
 */
export async function saveStatCache(file: string, cache: StatCache, options: SaveStatCacheOptions = {}): Promise<void> {
  const clock = options.clock ?? systemClockNs;
  const dir = dirname(file);
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await mkdir(dir, { recursive: true });
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(serializeStatCache(cache, clock()));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new HostsyncError(
      `Could not save the stat cache to ${file}: ${errorMessage(error)}. Check that the state directory is writable.`,
      undefined,
      { cause: error },
    );
  }
  await syncDirectory(dir);
}

/** fsync a directory so a rename in it survives a crash; best effort (not every platform allows it). */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // The cache is an optimisation: losing the rename on a crash only costs a rehash.
  }
}

function parseEntry(value: unknown): StatCacheEntry | undefined {
  if (!isRecord(value)) return undefined;
  const { size, mode, sha } = value;
  const mtimeNs = parseBigInt(value['mtimeNs']);
  const ctimeNs = parseBigInt(value['ctimeNs']);
  const ino = parseBigInt(value['ino']);
  if (
    typeof size !== 'number' ||
    !Number.isSafeInteger(size) ||
    size < 0 ||
    typeof mode !== 'number' ||
    !Number.isInteger(mode) ||
    typeof sha !== 'string' ||
    !SHA_PATTERN.test(sha) ||
    mtimeNs === undefined ||
    ctimeNs === undefined ||
    ino === undefined
  ) {
    return undefined;
  }
  return { size, mtimeNs, ctimeNs, ino, mode, sha };
}

function parseBigInt(value: unknown): bigint | undefined {
  return typeof value === 'string' && INTEGER_PATTERN.test(value) ? BigInt(value) : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
