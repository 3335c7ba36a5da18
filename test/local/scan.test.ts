import { execFile } from 'node:child_process';
import { appendFile, chmod, lstat, mkdir, rename, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import { ExitCode, HostsyncError, UsageError } from '../../src/errors.js';
import type { LocalEntry } from '../../src/model.js';
import { hashBlob, hashBlobFile } from '../../src/local/hash.js';
import { fileModeOf, hashLocalPath, scanDestination, type HashFile } from '../../src/local/scan.js';
import { loadStatCache, saveStatCache, type StatCache } from '../../src/local/stat-cache.js';
import { gitHashObject, tempDir } from './helpers.js';

/** A clock an hour ahead: files written by the test are old enough to be cached. */
const hourLater = (): number => Date.now() + 3_600_000;

/** hashBlobFile, counting which paths it was asked to hash. */
function countingHasher(): { hashFile: HashFile; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    hashFile: (path, size) => {
      calls.push(path);
      return hashBlobFile(path, size);
    },
  };
}

interface Fixture {
  readonly dest: string;
  readonly files: Record<string, { content: string; mode?: number }>;
}

/** A tree with most of what a DEST can hold. */
async function buildFixture(): Promise<Fixture> {
  const dest = join(await tempDir(), 'dest');
  const files: Record<string, { content: string; mode?: number }> = {
    'README.md': { content: '# readme\n' },
    'src/app/main.ts': { content: 'export {};\n' },
    'src/app/deep/er/leaf.txt': { content: 'leaf\r\n' },
    'bin/run.sh': { content: '#!/bin/sh\necho run\n', mode: 0o755 },
    'bin/owner-only-x': { content: 'x\n', mode: 0o744 },
    'bin/group-x-only': { content: 'g\n', mode: 0o654 },
    'bin/no-x': { content: 'n\n', mode: 0o600 },
    'with space/file name.txt': { content: 'spaces\n' },
    'ünïcødé/日本語.txt': { content: 'unicode\n' },
    'empty.txt': { content: '' },
    'logs/app.log': { content: 'preserved\n' },
    'config/secret.local': { content: 'preserved too\n' },
    'real-dir/inside.txt': { content: 'only reachable through the real dir\n' },
  };
  for (const [path, { content, mode }] of Object.entries(files)) {
    await mkdir(join(dest, path, '..'), { recursive: true });
    await writeFile(join(dest, path), content);
    if (mode !== undefined) await chmod(join(dest, path), mode);
  }
  await mkdir(join(dest, 'empty-dir'));
  await symlink('real-dir', join(dest, 'link-to-dir'));
  await symlink('README.md', join(dest, 'link-to-file'));
  await symlink('does/not/exist', join(dest, 'src/dangling'));
  await promisify(execFile)('mkfifo', [join(dest, 'a-fifo')]);
  return { dest, files };
}

const preserved = picomatch(['logs/**', '**/*.local'], { dot: true });

describe('scanDestination', () => {
  it('lists every kind of entry, without following symlinks or entering preserved paths', async () => {
    const { dest, files } = await buildFixture();
    const interest = new Set(Object.keys(files));
    const asked: string[] = [];
    const result = await scanDestination(dest, {
      interest,
      isPreserved: (path) => {
        asked.push(path);
        return preserved(path);
      },
    });

    const expectedShas = await gitHashObject(
      dest,
      Object.keys(files).map((path) => join(dest, path)),
    );
    const shaOf = new Map(Object.keys(files).map((path, i) => [path, expectedShas[i]]));
    const file = (path: string, mode: '100644' | '100755'): LocalEntry => ({
      path,
      kind: 'file',
      mode,
      sha: shaOf.get(path),
      size: Buffer.byteLength(files[path]?.content ?? ''),
      perm: files[path]?.mode ?? 0o644,
    });
    const dir = (path: string): LocalEntry => ({ path, kind: 'dir', mode: '040000', size: 0 });
    const link = (path: string, target: string): LocalEntry => ({
      path,
      kind: 'symlink',
      mode: '120000',
      sha: hashBlob(target),
      size: Buffer.byteLength(target),
    });

    const expected: LocalEntry[] = [
      file('README.md', '100644'),
      { path: 'a-fifo', kind: 'other', mode: undefined, size: 0 },
      dir('bin'),
      file('bin/group-x-only', '100644'),
      file('bin/no-x', '100644'),
      file('bin/owner-only-x', '100755'),
      file('bin/run.sh', '100755'),
      dir('config'),
      dir('empty-dir'),
      file('empty.txt', '100644'),
      link('link-to-dir', 'real-dir'),
      link('link-to-file', 'README.md'),
      dir('real-dir'),
      file('real-dir/inside.txt', '100644'),
      dir('src'),
      dir('src/app'),
      dir('src/app/deep'),
      dir('src/app/deep/er'),
      file('src/app/deep/er/leaf.txt', '100644'),
      file('src/app/main.ts', '100644'),
      link('src/dangling', 'does/not/exist'),
      dir('with space'),
      file('with space/file name.txt', '100644'),
      dir('ünïcødé'),
      file('ünïcødé/日本語.txt', '100644'),
    ];
    expect([...result.entries.values()]).toEqual(expected);
    expect([...result.entries.keys()]).toEqual(expected.map((entry) => entry.path));
    // The preserved directory was never descended into.
    expect(asked).toContain('logs');
    expect(asked).not.toContain('logs/app.log');
    expect(result.stats).toEqual({
      files: 11,
      dirs: 10,
      hashed: 11,
      cacheHits: 0,
      bytesHashed: expected.reduce((sum, entry) => sum + (entry.kind === 'file' ? entry.size : 0), 0),
    });
  });

  it('hashes only the files of interest', async () => {
    const { dest } = await buildFixture();
    const { hashFile, calls } = countingHasher();
    const result = await scanDestination(dest, { interest: new Set(['bin/run.sh', 'not/there']), hashFile });
    expect(calls).toEqual([join(dest, 'bin/run.sh')]);
    expect(result.entries.get('bin/run.sh')?.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(result.entries.get('README.md')).toEqual({ path: 'README.md', kind: 'file', mode: '100644', size: 9, perm: 0o644 });
    expect(result.entries.has('not/there')).toBe(false);
    // Unpreserved, so listed:
    expect(result.entries.get('logs/app.log')?.kind).toBe('file');
  });

  it('a missing DEST is empty (first install)', async () => {
    const dest = join(await tempDir(), 'not-yet');
    const result = await scanDestination(dest, { interest: new Set(['a']) });
    expect(result.entries.size).toBe(0);
    expect(result.stats).toEqual({ files: 0, dirs: 0, hashed: 0, cacheHits: 0, bytesHashed: 0 });
  });

  it('a DEST that is a file is a usage error naming it', async () => {
    const dest = join(await tempDir(), 'a-file');
    await writeFile(dest, 'x');
    const failure = scanDestination(dest, { interest: new Set() });
    await expect(failure).rejects.toThrow(UsageError);
    await expect(failure).rejects.toMatchObject({ exitCode: ExitCode.Usage, message: expect.stringContaining(dest) });
  });

  it('a DEST that is a symlink to a directory is scanned as that directory', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'real'));
    await writeFile(join(root, 'real', 'f'), 'f');
    await symlink('real', join(root, 'dest'));
    const result = await scanDestination(join(root, 'dest'), { interest: new Set(['f']) });
    expect([...result.entries.keys()]).toEqual(['f']);
  });

  it('rejects a concurrency that is not a positive integer', async () => {
    const dest = await tempDir();
    for (const concurrency of [0, -1, 1.5]) {
      await expect(scanDestination(dest, { interest: new Set(), concurrency })).rejects.toThrow(
        `Expected \`concurrency\` to be a positive integer, got ${concurrency}.`,
      );
    }
  });

  it('re-hashes a file that changes while it is hashed, and caches the new content', async () => {
    const dest = await tempDir();
    await writeFile(join(dest, 'busy.log'), 'first\n');
    let calls = 0;
    const hashFile: HashFile = async (path, size) => {
      calls++;
      const sha = await hashBlobFile(path, size);
      if (calls === 1) await appendFile(path, 'second\n'); // changed right after it was read
      return sha;
    };
    const result = await scanDestination(dest, { interest: new Set(['busy.log']), hashFile, clock: hourLater });
    expect(calls).toBe(2);
    expect(result.entries.get('busy.log')).toMatchObject({ sha: hashBlob('first\nsecond\n'), size: 13 });
    expect(result.statCache.entries.get('busy.log')?.sha).toBe(hashBlob('first\nsecond\n'));
  });

  it('lists a name that is not valid UTF-8 apart, escaped, and never as an entry', async () => {
    const dest = await tempDir();
    await writeFile(Buffer.concat([Buffer.from(`${dest}/latin1-`), Buffer.from([0xe9]), Buffer.from('.txt')]), 'x');
    await mkdir(join(dest, 'sub'));
    await writeFile(Buffer.concat([Buffer.from(`${dest}/sub/`), Buffer.from([0xff])]), 'y');
    await writeFile(join(dest, 'real-\uFFFD.txt'), 'a real U+FFFD');
    const result = await scanDestination(dest, { interest: new Set() });
    expect(result.undecodable).toEqual(['latin1-\\xe9.txt', 'sub/\\xff']);
    expect([...result.entries.keys()]).toEqual(['real-\uFFFD.txt', 'sub']);
  });

  it('reports a file it cannot read', async () => {
    const dest = await tempDir();
    await writeFile(join(dest, 'f'), 'x');
    const hashFile: HashFile = () => Promise.reject(new Error('EIO: i/o error'));
    await expect(scanDestination(dest, { interest: new Set(['f']), hashFile })).rejects.toThrow(
      new RegExp(`Could not read ${join(dest, 'f')}: EIO`),
    );
  });
});

describe('scanDestination with a stat cache', () => {
  async function cachedFixture(): Promise<{ dest: string; interest: Set<string>; cache: StatCache }> {
    const { dest, files } = await buildFixture();
    const interest = new Set(Object.keys(files));
    const first = await scanDestination(dest, { interest, isPreserved: preserved, clock: hourLater });
    expect(first.stats.hashed).toBe(11);
    return { dest, interest, cache: first.statCache };
  }

  it('a second scan hashes nothing and gives the same entries', async () => {
    const { dest, interest, cache } = await cachedFixture();
    const first = await scanDestination(dest, { interest, isPreserved: preserved, statCache: cache, clock: hourLater });
    const { hashFile, calls } = countingHasher();
    const second = await scanDestination(dest, { interest, isPreserved: preserved, statCache: cache, hashFile, clock: hourLater });
    expect(calls).toEqual([]);
    expect(second.stats).toMatchObject({ hashed: 0, cacheHits: 11, bytesHashed: 0 });
    expect(second.entries).toEqual(first.entries);
    expect(second.statCache.entries.size).toBe(11);
  });

  it('survives a save and load', async () => {
    const { dest, interest, cache } = await cachedFixture();
    const file = join(await tempDir(), 'stat-cache.json');
    await saveStatCache(file, cache, { clock: hourLater });
    const loaded = await loadStatCache(file);
    const { hashFile, calls } = countingHasher();
    await scanDestination(dest, { interest, isPreserved: preserved, statCache: loaded, hashFile, clock: hourLater });
    expect(calls).toEqual([]);
  });

  it('re-hashes a file replaced by one of the same size with its mtime restored (new inode)', async () => {
    const { dest, interest } = await cachedFixture();
    const path = join(dest, 'src/app/main.ts');
    // Whole seconds, so utimes can restore the mtime exactly.
    await utimes(path, 1_600_000_000, 1_600_000_000);
    const { statCache } = await scanDestination(dest, { interest, isPreserved: preserved, clock: hourLater });
    const before = await lstat(path, { bigint: true });

    await writeFile(`${path}.new`, 'export {}!\n'); // same length as 'export {};\n'
    await rename(`${path}.new`, path);
    await utimes(path, 1_600_000_000, 1_600_000_000);
    const after = await lstat(path, { bigint: true });
    expect(after.size).toBe(before.size);
    expect(after.mtimeNs).toBe(before.mtimeNs);
    expect(after.ino).not.toBe(before.ino);

    const { hashFile, calls } = countingHasher();
    const result = await scanDestination(dest, { interest, isPreserved: preserved, statCache, hashFile, clock: hourLater });
    expect(calls).toEqual([path]);
    expect(result.entries.get('src/app/main.ts')?.sha).toBe(hashBlob('export {}!\n'));
  });

  it('re-hashes a file rewritten in place with its mtime restored (same inode, new ctime)', async () => {
    const { dest, interest } = await cachedFixture();
    const path = join(dest, 'README.md');
    await utimes(path, 1_600_000_000, 1_600_000_000);
    const { statCache } = await scanDestination(dest, { interest, isPreserved: preserved, clock: hourLater });
    const before = await lstat(path, { bigint: true });

    await writeFile(path, '# README\n');
    await utimes(path, 1_600_000_000, 1_600_000_000);
    const after = await lstat(path, { bigint: true });
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeNs).toBe(before.mtimeNs);
    expect(after.ctimeNs).not.toBe(before.ctimeNs);

    const { hashFile, calls } = countingHasher();
    const result = await scanDestination(dest, { interest, isPreserved: preserved, statCache, hashFile, clock: hourLater });
    expect(calls).toEqual([path]);
    expect(result.entries.get('README.md')?.sha).toBe(hashBlob('# README\n'));
  });

  it('re-hashes a file whose permissions changed', async () => {
    const { dest, interest, cache } = await cachedFixture();
    await chmod(join(dest, 'bin/no-x'), 0o700);
    const { hashFile, calls } = countingHasher();
    const result = await scanDestination(dest, { interest, isPreserved: preserved, statCache: cache, hashFile, clock: hourLater });
    expect(calls).toEqual([join(dest, 'bin/no-x')]);
    expect(result.entries.get('bin/no-x')?.mode).toBe('100755');
  });

  it('does not cache files modified just before the scan (racy), so the next scan re-hashes them', async () => {
    const { dest, files } = await buildFixture();
    const interest = new Set(Object.keys(files));
    // Real clock: every file was written within the last two seconds.
    const first = await scanDestination(dest, { interest, isPreserved: preserved });
    expect(first.stats.hashed).toBe(11);
    expect(first.statCache.entries.size).toBe(0);

    const { hashFile, calls } = countingHasher();
    const second = await scanDestination(dest, { interest, isPreserved: preserved, statCache: first.statCache, hashFile });
    expect(calls).toHaveLength(11);
    expect(second.entries).toEqual(first.entries);
  });

  it('does not trust a cached entry that is racy against the scan start', async () => {
    const { dest, interest, cache } = await cachedFixture();
    // A scan starting 10 ms after the first file was written: every file is within any racy margin of
    // it, so no cached entry proves anything (a fixed clock: the real one may be past the 100 ms margin
    // on a busy machine).
    const first = Math.min(...[...cache.entries.values()].map((entry) => entry.mtimeMs));
    const { hashFile, calls } = countingHasher();
    await scanDestination(dest, { interest, isPreserved: preserved, statCache: cache, hashFile, clock: () => first + 10 });
    expect(calls).toHaveLength(11);
  });

  it('does not trust entries that were racy when the cache file was written', async () => {
    const { dest, interest, cache } = await cachedFixture();
    const file = join(await tempDir(), 'stat-cache.json');
    const readme = await stat(join(dest, 'README.md'));
    // Written "at" README's mtime: every entry's mtime is not strictly older than the write time.
    await saveStatCache(file, cache, { clock: () => readme.mtimeMs });
    const loaded = await loadStatCache(file);
    expect(loaded.racy).toBeGreaterThan(0);
    const { hashFile, calls } = countingHasher();
    await scanDestination(dest, { interest, isPreserved: preserved, statCache: loaded, hashFile, clock: hourLater });
    expect(calls).toContain(join(dest, 'README.md'));
  });

  it('a corrupt cache file is ignored: everything is hashed, nothing fails', async () => {
    const { dest, interest } = await cachedFixture();
    const file = join(await tempDir(), 'stat-cache.json');
    await writeFile(file, '{"version":1,"writtenAtNs":"12","entries":{"README.md":{"size":');
    const loaded = await loadStatCache(file);
    expect(loaded.status).toBe('invalid');
    const { hashFile, calls } = countingHasher();
    const result = await scanDestination(dest, { interest, isPreserved: preserved, statCache: loaded, hashFile, clock: hourLater });
    expect(calls).toHaveLength(11);
    expect(result.statCache.entries.size).toBe(11);
  });

  it('drops entries of files that are gone or preserved', async () => {
    const { dest, interest, cache } = await cachedFixture();
    await rename(join(dest, 'empty.txt'), join(dest, 'logs', 'moved.txt'));
    const result = await scanDestination(dest, { interest, isPreserved: preserved, statCache: cache, clock: hourLater });
    expect(result.statCache.entries.has('empty.txt')).toBe(false);
    expect([...result.statCache.entries.keys()].some((path) => path.startsWith('logs/'))).toBe(false);
    expect(result.statCache.entries.size).toBe(10);
  });
});

describe('hashLocalPath', () => {
  it.each([
    ['a file', 'src/app/main.ts', { kind: 'file', mode: '100644', sha: hashBlob('export {};\n'), size: 11 }],
    ['an executable', 'bin/run.sh', { kind: 'file', mode: '100755' }],
    ['a symlink to a directory', 'link-to-dir', { kind: 'symlink', mode: '120000', sha: hashBlob('real-dir') }],
    ['a directory', 'src/app', { kind: 'dir', mode: '040000' }],
    ['a FIFO', 'a-fifo', { kind: 'other', mode: undefined }],
  ])('%s', async (_name, path, expected) => {
    const { dest } = await buildFixture();
    expect(await hashLocalPath(dest, path)).toMatchObject({ path, ...expected });
  });

  it.each([
    ['a missing path', 'nope.txt'],
    ['a path under a symlinked directory', 'link-to-dir/inside.txt'],
    ['a path under a file', 'README.md/x'],
  ])('%s is absent', async (_name, path) => {
    const { dest } = await buildFixture();
    expect(await hashLocalPath(dest, path)).toBeUndefined();
  });

  it.each(['', '/etc/passwd', '../x', 'a/../b', './a', 'a//b', 'a/'])('rejects the path %j', async (path) => {
    const dest = await tempDir();
    await expect(hashLocalPath(dest, path)).rejects.toThrow(TypeError);
  });
});

describe('fileModeOf', () => {
  it.each([
    [0o100644, '100644'],
    [0o100755, '100755'],
    [0o100700, '100755'],
    [0o100744, '100755'],
    [0o100654, '100644'],
    [0o100645, '100644'],
    [0o100600, '100644'],
  ])('%o → %s (the owner-execute bit decides, as in git)', (mode, expected) => {
    expect(fileModeOf(mode)).toBe(expected);
  });
});

it('errors are HostsyncErrors with a path', async () => {
  const dest = await tempDir();
  await writeFile(join(dest, 'f'), 'x');
  const failure = scanDestination(dest, {
    interest: new Set(['f']),
    hashFile: () => Promise.reject(new Error('boom')),
  });
  await expect(failure).rejects.toBeInstanceOf(HostsyncError);
});
