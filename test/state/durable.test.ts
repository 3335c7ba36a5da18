/**
 * One durable point per batch (src/state/durable.ts, decision 0009): a large batch is one `sync -f`
 * per file system, a small one is fsynced path by path without starting a process. A fake `sync` on
 * PATH records each time it is started.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDurableBatch } from '../../src/state/durable.js';

let tmp: string;
let log: string;
const savedPath = process.env['PATH'];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'hostsync-durable-'));
  const bin = join(tmp, 'bin');
  log = join(tmp, 'sync.log');
  await mkdir(bin);
  await writeFile(join(bin, 'sync'), `#!/bin/sh\necho "$@" >> ${log}\n`);
  await chmod(join(bin, 'sync'), 0o755);
  process.env['PATH'] = `${bin}:${savedPath ?? '/usr/bin:/bin'}`;
});

afterAll(async () => {
  process.env['PATH'] = savedPath;
  await rm(tmp, { recursive: true, force: true });
});

async function written(count: number, folder: string): Promise<string[]> {
  await mkdir(join(tmp, folder), { recursive: true });
  const files = Array.from({ length: count }, (_, i) => join(tmp, folder, `f${i}`));
  await Promise.all(files.map((file) => writeFile(file, 'x')));
  return files;
}

const syncRuns = async (): Promise<string[]> => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter((line) => line !== '');

describe('createDurableBatch', () => {
  it('fsyncs a small batch itself, and makes a large one durable with one sync -f', async () => {
    const small = createDurableBatch();
    for (const file of await written(10, 'small')) small.add(file);
    await small.flush();
    expect(await syncRuns()).toEqual([]);
    expect(small.pending).toBe(0);

    const large = createDurableBatch();
    for (const file of await written(100, 'large')) large.add(file);
    await large.flush();
    expect(await syncRuns()).toEqual([`-f ${join(tmp, 'large')}`]);
  });

  it('never opens what a symlink points at: a link to a FIFO neither blocks nor fails the flush', async () => {
    const folder = join(tmp, 'links');
    await mkdir(folder);
    const fifo = join(tmp, 'fifo');
    await promisify(execFile)('mkfifo', [fifo]);
    await symlink(fifo, join(folder, 'to-fifo'));
    await symlink('/dev/null', join(folder, 'to-device'));
    const batch = createDurableBatch();
    batch.add(join(folder, 'to-fifo'));
    batch.add(join(folder, 'to-device'));
    await expect(batch.flush()).resolves.toBeUndefined();
  }, 5000);

  it('a path removed before the flush is no failure', async () => {
    const batch = createDurableBatch();
    const [file] = await written(1, 'gone');
    batch.add(file!);
    await rm(file!);
    await expect(batch.flush()).resolves.toBeUndefined();
  });
});
