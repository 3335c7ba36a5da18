import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  RACY_MARGIN_NS,
  isRacy,
  loadStatCache,
  parseStatCache,
  saveStatCache,
  serializeStatCache,
  type StatCache,
  type StatCacheEntry,
} from '../../src/local/stat-cache.js';
import { tempDir } from './helpers.js';

const WRITTEN_AT = 1_700_000_000_000_000_000n;
const SHA = 'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391';

function entry(mtimeNs: bigint, overrides: Partial<StatCacheEntry> = {}): StatCacheEntry {
  return { size: 3, mtimeNs, ctimeNs: mtimeNs + 5n, ino: 42n, mode: 0o100644, sha: SHA, ...overrides };
}

function cacheOf(entries: Record<string, StatCacheEntry>): StatCache {
  return { entries: new Map(Object.entries(entries)) };
}

describe('isRacy', () => {
  it.each([
    ['mtime equal to the reference', WRITTEN_AT, true],
    ['mtime after the reference', WRITTEN_AT + 1n, true],
    ['mtime inside the margin', WRITTEN_AT - RACY_MARGIN_NS + 1n, true],
    ['mtime exactly the margin before', WRITTEN_AT - RACY_MARGIN_NS, true],
    ['mtime older than the margin', WRITTEN_AT - RACY_MARGIN_NS - 1n, false],
    ['mtime long ago', 0n, false],
  ])('%s', (_name, mtimeNs, racy) => {
    expect(isRacy(mtimeNs, WRITTEN_AT)).toBe(racy);
  });
});

describe('save and load', () => {
  it('round-trips entries, with full bigint precision and awkward paths', async () => {
    const dir = await tempDir();
    const file = join(dir, 'state', 'nested', 'stat-cache.json');
    const old = WRITTEN_AT - 3_600_000_000_000n;
    const cache = cacheOf({
      'a.txt': entry(old),
      'dir/with space/ünï.txt': entry(old + 123n, { size: 0, mode: 0o100755 }),
      ['__proto__']: entry(old, { ino: 2n ** 63n + 7n }),
      'pre-1970': entry(-1_000_000_123n),
    });
    await saveStatCache(file, cache, { clock: () => WRITTEN_AT });

    const loaded = await loadStatCache(file);
    expect(loaded.status).toBe('loaded');
    expect(loaded.racy).toBe(0);
    expect(new Map(loaded.entries)).toEqual(new Map(cache.entries));
    expect(loaded.entries.get('__proto__')?.ino).toBe(2n ** 63n + 7n);

    const raw = JSON.parse(await readFile(file, 'utf8')) as { writtenAtNs: string };
    expect(raw.writtenAtNs).toBe(WRITTEN_AT.toString());
    // Atomic write: nothing but the cache itself is left in the directory.
    expect(await readdir(join(dir, 'state', 'nested'))).toEqual(['stat-cache.json']);
  });

  it('leaves out entries that were racy when the cache was written', async () => {
    const dir = await tempDir();
    const file = join(dir, 'stat-cache.json');
    const cache = cacheOf({
      old: entry(WRITTEN_AT - RACY_MARGIN_NS - 1n),
      'same-time': entry(WRITTEN_AT),
      'just-before': entry(WRITTEN_AT - 1_000_000n),
      newer: entry(WRITTEN_AT + 1_000_000_000n),
    });
    await saveStatCache(file, cache, { clock: () => WRITTEN_AT });
    const loaded = await loadStatCache(file);
    expect([...loaded.entries.keys()]).toEqual(['old']);
    expect(loaded.racy).toBe(3);
  });

  it('replaces an existing cache file', async () => {
    const dir = await tempDir();
    const file = join(dir, 'stat-cache.json');
    await saveStatCache(file, cacheOf({ first: entry(0n) }), { clock: () => WRITTEN_AT });
    await saveStatCache(file, cacheOf({ second: entry(0n) }), { clock: () => WRITTEN_AT });
    expect([...(await loadStatCache(file)).entries.keys()]).toEqual(['second']);
  });

  it('a missing file is an empty cache', async () => {
    const dir = await tempDir();
    const loaded = await loadStatCache(join(dir, 'absent.json'));
    expect(loaded.status).toBe('missing');
    expect(loaded.entries.size).toBe(0);
  });

  const valid = serializeStatCache(cacheOf({ a: entry(0n) }), WRITTEN_AT);
  it.each([
    ['not JSON', 'garbage{'],
    ['truncated', valid.slice(0, valid.length - 10)],
    ['empty', ''],
    ['an array', '[]'],
    ['another version', valid.replace('"version":1', '"version":2')],
    ['no write time', valid.replace(/"writtenAtNs":"\d+",/, '')],
    ['a bad sha', valid.replace(SHA, 'not-a-sha')],
    ['a number where a bigint string belongs', valid.replace(/"ino":"42"/, '"ino":42')],
    ['a negative size', valid.replace('"size":3', '"size":-3')],
  ])('a corrupt file (%s) is an empty cache', async (_name, text) => {
    expect(parseStatCache(valid)?.cache.entries.size).toBe(1);
    const dir = await tempDir();
    const file = join(dir, 'stat-cache.json');
    await writeFile(file, text);
    const loaded = await loadStatCache(file);
    expect(loaded.status).toBe('invalid');
    expect(loaded.entries.size).toBe(0);
  });
});
