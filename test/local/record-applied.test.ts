/**
 * recordApplied (src/local/scan.ts): after an apply the stat cache records what was written — but only
 * for files whose mtime is still the apply's stamp (decision 0016). A file someone changed after the
 * apply wrote it, however long ago that was, is read back and not recorded with the apply's SHA.
 */
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashBlob } from '../../src/local/hash.js';
import { recordApplied } from '../../src/local/scan.js';
import { emptyStatCache } from '../../src/local/stat-cache.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hostsync-record-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('recordApplied', () => {
  it('records a file still carrying the stamp; one changed later in a long apply is read back and dropped', async () => {
    const now = Date.now();
    const stampMs = now - 60_000; // an apply that started a minute ago
    const written = new Map<string, string>();
    for (const name of ['kept', 'changed']) {
      await writeFile(join(root, name), `${name} as applied\n`);
      await utimes(join(root, name), stampMs / 1000, stampMs / 1000);
      written.set(name, hashBlob(Buffer.from(`${name} as applied\n`)));
    }
    // Changed by someone 30 s into the apply, to the same size: long past the racy margin.
    await writeFile(join(root, 'changed'), 'CHANGED as applied\n'.slice(0, 'changed as applied\n'.length));
    await utimes(join(root, 'changed'), (stampMs + 30_000) / 1000, (stampMs + 30_000) / 1000);

    const cache = await recordApplied(emptyStatCache(), root, written, [], { stampMs, clock: () => now });
    expect(cache.entries.get('kept')?.sha).toBe(written.get('kept'));
    expect(cache.entries.has('changed')).toBe(false);
  });

  it('keeps a file changed after the stamp when its content is still what was written', async () => {
    const now = Date.now();
    const stampMs = now - 60_000;
    await writeFile(join(root, 'touched'), 'same content\n');
    await utimes(join(root, 'touched'), (stampMs + 30_000) / 1000, (stampMs + 30_000) / 1000);
    const cache = await recordApplied(emptyStatCache(), root, new Map([['touched', hashBlob(Buffer.from('same content\n'))]]), [], { stampMs, clock: () => now });
    expect(cache.entries.get('touched')?.sha).toBe(hashBlob(Buffer.from('same content\n')));
  });
});
