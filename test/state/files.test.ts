/**
 * State files (src/state/files.ts): readJson reads a regular file, says undefined for a missing one,
 * and refuses anything else without waiting on it — a FIFO where a cache should be must not hang a
 * timer run past its signals. A cache loader then treats it as "not known".
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCapabilityMemo } from '../../src/state/capabilities.js';
import { loadRefCache } from '../../src/state/etags.js';
import { readJson } from '../../src/state/files.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hostsync-files-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readJson', () => {
  it('parses a file, says undefined for a missing one, and refuses a FIFO at once', async () => {
    await writeFile(join(dir, 'a.json'), '{"a":1}\n');
    expect(await readJson(join(dir, 'a.json'))).toEqual({ a: 1 });
    expect(await readJson(join(dir, 'missing.json'))).toBeUndefined();
    const fifo = join(dir, 'fifo.json');
    await promisify(execFile)('mkfifo', [fifo]);
    await expect(readJson(fifo)).rejects.toThrow(/is not a regular file/);
    // The caches built on it take such a file for "not known".
    expect(await loadRefCache(fifo)).toEqual({});
    expect((await loadCapabilityMemo(fifo, 'https://h/r.git', Date.now)).known).toBeUndefined();
  }, 5000);
});
