/**
 * The stat cache: relative path → the lstat data a file had when it was hashed, plus its blob id.
 * A file whose lstat still matches (size, mtime and ctime, inode, st_mode) is not read again. It
 * lives in the state dir, written atomically; any problem reading it means "no cache" (one re-hash),
 * never a failed run.
 *
 * Format (version 2, docs/decisions/0014-big-repositories.md): a little-endian binary file — a header,
 * five float64 per entry (mtime, ctime, inode, size, st_mode), the paths and blob ids as one UTF-8
 * run of NUL-terminated strings, and a SHA-1 of all of it. 100,000 entries load in ~25 ms where the
 * JSON of version 1 (bigints as strings) took ~300 ms and most of a poll's garbage.
 *
 * Timestamps are Node's float milliseconds. Two times that differ by less than their last bit
 * (~240 ns today) compare equal, but that cannot hide a change: an entry is only recorded when its
 * mtime is older than the scan by the racy margin, and any later write moves the ctime — which no
 * one can set — to the present, far more than that away.
 *
 * Racy entries (git's "racy git" problem, https://git-scm.com/docs/racy-git): a file rewritten
 * within the filesystem's timestamp granularity of when it was stat'ed keeps the same mtime, so its
 * stat data proves nothing. Like git, an entry is only trusted when its mtime is strictly older than
 * a reference time — the cache's write time when loaded, the scan's start when scanning — minus a
 * margin ({@link racyMarginOf}), because file timestamps come from the kernel's coarse clock (they
 * can lag the wall clock by a tick) and some filesystems keep whole or even 2-second timestamps.
 */

import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import { readFile, rm } from 'node:fs/promises';
import { HostsyncError, errorCode, errorMessage } from '../errors.js';
import { writeFileAtomic } from '../state/files.js';
import type { FileStat } from './walk.js';

/** What a file looked like when it was hashed. */
export interface StatCacheEntry extends FileStat {
  readonly sha: string;
}

/** Relative POSIX path → {@link StatCacheEntry}. Regular files only. */
export interface StatCache {
  readonly entries: ReadonlyMap<string, StatCacheEntry>;
  /** The racy margin of DEST's file system in ms ({@link racyMarginOf}); the wide default when unknown. */
  readonly marginMs?: number | undefined;
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
   * Wall-clock milliseconds since the epoch, recorded as the cache's write time.
   * @default Date.now
   */
  readonly clock?: () => number;
}

/**
 * An entry whose mtime is within this of the reference time is racy. 2 s covers coarse kernel
 * clocks and 1 s / 2 s (FAT) timestamp filesystems; the cost is one extra hash of files modified in
 * the two seconds before a scan or cache write.
 */
export const RACY_MARGIN_MS = 2000;

/**
 * The margin on a file system with sub-second timestamps: files are stamped from the kernel's
 * coarse clock, at most one tick (≤ 10 ms at HZ=100) behind the wall clock; 100 ms is that with room.
 */
export const FINE_RACY_MARGIN_MS = 100;

/**
 * The racy margin for files with these mtimes: the fine one when any has a sub-second part (the
 * file system keeps fractions of a second), else the wide one (whole-second or 2-second timestamps:
 * FAT, some network file systems). A wide margin costs only re-hashes; a fine one lets a large
 * apply's files be trusted at the next poll.
 */
export function racyMarginOf(mtimesMs: Iterable<number>): number {
  for (const mtime of mtimesMs) if (mtime % 1000 !== 0) return FINE_RACY_MARGIN_MS;
  return RACY_MARGIN_MS;
}

const MAGIC = 0x43535348; // "HSSC" little-endian
const FORMAT_VERSION = 2;
const HEADER_BYTES = 32;
const NUMBERS_PER_ENTRY = 5;
const CHECKSUM_BYTES = 20;

/** The numbers are little-endian in the file: on such a host a Float64Array reads and writes them as they are. */
const NATIVE_LE = endianness() === 'LE';

/** The entries' numbers as a Float64Array (a copy when `data` is not 8-byte aligned or the host is big-endian). */
function numbersOf(data: Buffer, at: number, count: number): Float64Array {
  const offset = data.byteOffset + at;
  if (NATIVE_LE && offset % 8 === 0) return new Float64Array(data.buffer, offset, count);
  const numbers = new Float64Array(count);
  for (let i = 0; i < count; i++) numbers[i] = data.readDoubleLE(at + i * 8);
  return numbers;
}

/** A cache with no entries. */
export function emptyStatCache(): StatCache {
  return { entries: new Map() };
}

/** True when a file with this mtime cannot be trusted by a cache taken at `referenceMs`. */
export function isRacy(mtimeMs: number, referenceMs: number, marginMs: number = RACY_MARGIN_MS): boolean {
  // A whole-second mtime may come from a file system with coarse timestamps inside DEST (a mount):
  // it gets the wide margin whatever DEST's margin is (on a fine one, 1 file in ~10⁶ pays a re-hash).
  return mtimeMs >= referenceMs - (mtimeMs % 1000 === 0 ? Math.max(marginMs, RACY_MARGIN_MS) : marginMs);
}

/** The cache entry recording `stats` and the blob id. */
export function statCacheEntry(stats: FileStat, sha: string): StatCacheEntry {
  return { size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, ino: stats.ino, mode: stats.mode, sha };
}

/** True when the file still has the stat data the entry was recorded with. */
export function matchesStat(entry: StatCacheEntry, stats: FileStat): boolean {
  return entry.mtimeMs === stats.mtimeMs && entry.ctimeMs === stats.ctimeMs && entry.ino === stats.ino && entry.size === stats.size && entry.mode === stats.mode;
}

/** Serialize a cache; `writtenAtMs` is the reference time that entries are judged racy against. */
export function serializeStatCache(cache: StatCache, writtenAtMs: number): Buffer {
  const paths = [...cache.entries.keys()];
  // A scan's map is already in order: sort only when it is not.
  for (let i = 1; i < paths.length; i++) {
    if ((paths[i - 1] as string) > (paths[i] as string)) {
      paths.sort();
      break;
    }
  }
  const texts: string[] = [];
  const numbers = new Float64Array(paths.length * NUMBERS_PER_ENTRY);
  let n = 0;
  for (const path of paths) {
    const entry = cache.entries.get(path) as StatCacheEntry;
    texts.push(path, entry.sha);
    numbers[n++] = entry.mtimeMs;
    numbers[n++] = entry.ctimeMs;
    numbers[n++] = entry.ino;
    numbers[n++] = entry.size;
    numbers[n++] = entry.mode;
  }
  const text = texts.length === 0 ? '' : `${texts.join('\0')}\0`;
  const textBytes = Buffer.byteLength(text);
  const numbersAt = HEADER_BYTES;
  const textAt = numbersAt + numbers.length * 8;
  const out = Buffer.alloc(textAt + textBytes + CHECKSUM_BYTES);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(FORMAT_VERSION, 4);
  out.writeDoubleLE(writtenAtMs, 8);
  out.writeDoubleLE(cache.marginMs ?? RACY_MARGIN_MS, 16);
  out.writeUInt32LE(paths.length, 24);
  out.writeUInt32LE(textBytes, 28);
  if (NATIVE_LE) Buffer.from(numbers.buffer, numbers.byteOffset, numbers.byteLength).copy(out, numbersAt);
  else for (let i = 0; i < numbers.length; i++) out.writeDoubleLE(numbers[i] as number, numbersAt + i * 8);
  out.write(text, textAt, 'utf8');
  createHash('sha1').update(out.subarray(0, out.length - CHECKSUM_BYTES)).digest().copy(out, out.length - CHECKSUM_BYTES);
  return out;
}

/**
 * Parse a serialized cache, leaving out entries that were racy at its write time.
 * Returns undefined when the bytes are not a valid cache of this version.
 */
export function parseStatCache(data: Buffer): { readonly cache: StatCache; readonly racy: number } | undefined {
  if (data.length < HEADER_BYTES + CHECKSUM_BYTES || data.readUInt32LE(0) !== MAGIC || data.readUInt32LE(4) !== FORMAT_VERSION) return undefined;
  const writtenAtMs = data.readDoubleLE(8);
  const marginMs = data.readDoubleLE(16);
  const count = data.readUInt32LE(24);
  const textBytes = data.readUInt32LE(28);
  const textAt = HEADER_BYTES + count * NUMBERS_PER_ENTRY * 8;
  if (textAt + textBytes + CHECKSUM_BYTES !== data.length || !Number.isFinite(writtenAtMs) || !(marginMs >= 0)) return undefined;
  const sum = createHash('sha1').update(data.subarray(0, data.length - CHECKSUM_BYTES)).digest();
  if (!sum.equals(data.subarray(data.length - CHECKSUM_BYTES))) return undefined;
  const texts = data.toString('utf8', textAt, textAt + textBytes).split('\0');
  if (texts.length !== count * 2 + 1) return undefined;
  const entries = new Map<string, StatCacheEntry>();
  let racy = 0;
  const numbers = numbersOf(data, HEADER_BYTES, count * NUMBERS_PER_ENTRY);
  for (let i = 0, at = 0; i < count; i++, at += NUMBERS_PER_ENTRY) {
    const mtimeMs = numbers[at] as number;
    const ctimeMs = numbers[at + 1] as number;
    const ino = numbers[at + 2] as number;
    const size = numbers[at + 3] as number;
    const mode = numbers[at + 4] as number;
    const path = texts[2 * i] as string;
    const sha = texts[2 * i + 1] as string;
    if (!Number.isSafeInteger(size) || size < 0 || !Number.isInteger(mode) || (sha.length !== 40 && sha.length !== 64) || path === '') return undefined;
    if (isRacy(mtimeMs, writtenAtMs, marginMs)) racy++;
    else entries.set(path, { size, mtimeMs, ctimeMs, ino, mode, sha });
  }
  return { cache: { entries, marginMs }, racy };
}

/** Read the cache at `file`; a missing, unreadable or corrupt file gives an empty cache. */
export async function loadStatCache(file: string): Promise<LoadedStatCache> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (error) {
    const status = errorCode(error) === 'ENOENT' ? 'missing' : 'invalid';
    return { entries: new Map(), status, racy: 0 };
  }
  const parsed = parseStatCache(data);
  if (parsed === undefined) return { entries: new Map(), status: 'invalid', racy: 0 };
  return { entries: parsed.cache.entries, marginMs: parsed.cache.marginMs, status: 'loaded', racy: parsed.racy };
}

/**
 * Write the cache to `file` atomically (state/files.ts), creating the directory if needed.
 * Records the current time as the write time.
 */
export async function saveStatCache(file: string, cache: StatCache, options: SaveStatCacheOptions = {}): Promise<void> {
  const clock = options.clock ?? Date.now;
  try {
    // Not fsync'ed: the checksum finds a torn file, and a lost or stale cache only costs a re-hash.
    await writeFileAtomic(file, serializeStatCache(cache, clock()), 0o600, false);
    // The JSON cache of hostsync before version 2 of the format.
    await rm(`${file}.json`, { force: true });
  } catch (error) {
    throw new HostsyncError(
      `Could not save the stat cache to ${file}: ${errorMessage(error)}. Check that the state directory is writable.`,
      undefined,
      { cause: error },
    );
  }
}
