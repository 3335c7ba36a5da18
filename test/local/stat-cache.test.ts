import { createHash } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FINE_RACY_MARGIN_MS,
  RACY_MARGIN_MS,
  racyMarginOf,
  isRacy,
  loadStatCache,
  parseStatCache,
  saveStatCache,
  serializeStatCache,
  type StatCache,
  type StatCacheEntry,
} from '../../src/local/stat-cache.js';
import { tempDir } from './helpers.js';

const WRITTEN_AT = 1_700_000_000_000.123;
const SHA = 'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391';

function entry(mtimeMs: number, overrides: Partial<StatCacheEntry> = {}): StatCacheEntry {
  return { size: 3, mtimeMs, ctimeMs: mtimeMs + 0.000_5, ino: 42, mode: 0o100644, sha: SHA, ...overrides };
}

function cacheOf(entries: Record<string, StatCacheEntry>): StatCache {
  return { entries: new Map(Object.entries(entries)) };
}

describe('isRacy', () => {
  it.each([
    ['mtime equal to the reference', WRITTEN_AT, true],
    ['mtime after the reference', WRITTEN_AT + 1, true],
    ['mtime inside the margin', WRITTEN_AT - RACY_MARGIN_MS + 1, true],
    ['mtime exactly the margin before', WRITTEN_AT - RACY_MARGIN_MS, true],
    ['mtime older than the margin', WRITTEN_AT - RACY_MARGIN_MS - 1, false],
    ['mtime long ago', 0, false],
  ])('%s', (_name, mtimeMs, racy) => {
    expect(isRacy(mtimeMs, WRITTEN_AT)).toBe(racy);
  });
});

describe('racyMarginOf', () => {
  it.each([
    ['sub-second timestamps: the fine margin', [1_700_000_000_000, 1_700_000_000_000.5], FINE_RACY_MARGIN_MS],
    ['whole seconds only (FAT, some NFS): the wide margin', [1_700_000_000_000, 1_700_000_001_000], RACY_MARGIN_MS],
    ['no files: the wide margin', [], RACY_MARGIN_MS],
  ])('%s', (_name, mtimes, margin) => {
    expect(racyMarginOf(mtimes)).toBe(margin);
  });
});

describe('save and load', () => {
  it('round-trips entries exactly (float timestamps, large inodes, awkward paths, a sha256 id)', async () => {
    const dir = await tempDir();
    const file = join(dir, 'state', 'nested', 'stat-cache');
    const old = WRITTEN_AT - 3_600_000;
    const cache = cacheOf({
      'a.txt': entry(old),
      'dir/with space/ünï.txt': entry(old + 0.000_123, { size: 0, mode: 0o100755 }),
      ['__proto__']: entry(old, { ino: 2 ** 62 + 2 ** 12 }),
      'new\nline\ttab': entry(old, { sha: 'a'.repeat(64) }),
      'pre-1970': entry(-1_000.123),
    });
    await writeFile(`${file}.json`, '{"version":1}').catch(() => undefined);
    await saveStatCache(file, cache, { clock: () => WRITTEN_AT });

    const loaded = await loadStatCache(file);
    expect(loaded.status).toBe('loaded');
    expect(loaded.racy).toBe(0);
    expect(new Map(loaded.entries)).toEqual(new Map(cache.entries));
    expect(loaded.entries.get('__proto__')?.ino).toBe(2 ** 62 + 2 ** 12);
    // Atomic write: nothing but the cache itself is left in the directory.
    expect(await readdir(join(dir, 'state', 'nested'))).toEqual(['stat-cache']);
  });

  it('removes the JSON cache of earlier versions when it saves', async () => {
    const dir = await tempDir();
    const file = join(dir, 'stat-cache');
    await writeFile(`${file}.json`, '{"version":1,"writtenAtNs":"0","entries":{}}\n');
    await saveStatCache(file, cacheOf({ a: entry(0) }), { clock: () => WRITTEN_AT });
    expect(await readdir(dir)).toEqual(['stat-cache']);
  });

  it('leaves out entries that were racy when the cache was written', async () => {
    const dir = await tempDir();
    const file = join(dir, 'stat-cache');
    const cache = cacheOf({
      old: entry(WRITTEN_AT - RACY_MARGIN_MS - 1),
      'same-time': entry(WRITTEN_AT),
      'just-before': entry(WRITTEN_AT - 1),
      newer: entry(WRITTEN_AT + 1000),
    });
    await saveStatCache(file, cache, { clock: () => WRITTEN_AT });
    const loaded = await loadStatCache(file);
    expect([...loaded.entries.keys()]).toEqual(['old']);
    expect(loaded.racy).toBe(3);
  });

  it('replaces an existing cache file', async () => {
    const dir = await tempDir();
    const file = join(dir, 'stat-cache');
    await saveStatCache(file, cacheOf({ first: entry(0) }), { clock: () => WRITTEN_AT });
    await saveStatCache(file, cacheOf({ second: entry(0) }), { clock: () => WRITTEN_AT });
    expect([...(await loadStatCache(file)).entries.keys()]).toEqual(['second']);
  });

  it('a missing file is an empty cache', async () => {
    const dir = await tempDir();
    const loaded = await loadStatCache(join(dir, 'absent.json'));
    expect(loaded.status).toBe('missing');
    expect(loaded.entries.size).toBe(0);
  });

  const valid = serializeStatCache(cacheOf({ a: entry(0) }), WRITTEN_AT);
  /** `valid` with `edit` applied to a copy. */
  const edited = (edit: (copy: Buffer) => void): Buffer => {
    const copy = Buffer.from(valid);
    edit(copy);
    return copy;
  };
  /** `valid` with `edit` applied and the checksum made to match again: only the content checks catch it. */
  const resummed = (edit: (copy: Buffer) => void): Buffer =>
    edited((copy) => {
      edit(copy);
      createHash('sha1').update(copy.subarray(0, copy.length - 20)).digest().copy(copy, copy.length - 20);
    });
  it.each([
    ['not a cache', Buffer.from('garbage{')],
    ['the JSON of version 1', Buffer.from('{"version":1,"writtenAtNs":"12","entries":{}}\n')],
    ['truncated', valid.subarray(0, valid.length - 10)],
    ['empty', Buffer.alloc(0)],
    ['one flipped bit', edited((copy) => { copy[40] = (copy[40] as number) ^ 1; })],
    ['another version', resummed((copy) => { copy.writeUInt32LE(3, 4); })],
    ['a count that disagrees', resummed((copy) => { copy.writeUInt32LE(2, 24); })],
    ['a sha of the wrong length', resummed((copy) => { copy.write('\0', copy.length - 22); })],
    ['a negative size', resummed((copy) => { copy.writeDoubleLE(-3, 32 + 24); })],
  ])('a corrupt file (%s) is an empty cache', async (_name, bytes) => {
    expect(parseStatCache(valid)?.cache.entries.size).toBe(1);
    const dir = await tempDir();
    const file = join(dir, 'stat-cache');
    await writeFile(file, bytes);
    const loaded = await loadStatCache(file);
    expect(loaded.status).toBe('invalid');
    expect(loaded.entries.size).toBe(0);
  });
});
