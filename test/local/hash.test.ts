import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { HostsyncError } from '../../src/errors.js';
import {
  BlobSizeMismatchError,
  HASH_CHUNK_SIZE,
  createBlobHasher,
  hashBlob,
  hashBlobFile,
  hashSymlinkTarget,
} from '../../src/local/hash.js';
import { gitHashObject, gitHashStdin, gitIndexEntry, tempDir } from './helpers.js';

/** Deterministic pseudo-random bytes (sha1 in counter mode), so failures are reproducible. */
function bytes(length: number, seed: string): Buffer {
  const out = Buffer.alloc(length);
  for (let offset = 0, counter = 0; offset < length; counter++) {
    offset += createHash('sha1').update(`${seed}:${counter}`).digest().copy(out, offset);
  }
  return out;
}

const contents: ReadonlyArray<readonly [string, Buffer]> = [
  ['empty', Buffer.alloc(0)],
  ['text', Buffer.from('hello, hostsync\n')],
  ['text without final newline', Buffer.from('no newline')],
  ['CRLF', Buffer.from('line one\r\nline two\r\n')],
  ['UTF-8', Buffer.from('grüße — 日本語 🚀\n')],
  ['binary (every byte value, NULs included)', Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256))],
  ['2 MiB', bytes(2 * 1024 * 1024, '2mib')],
  ['exactly one read chunk', bytes(HASH_CHUNK_SIZE, 'chunk')],
  ['one byte over a read chunk', bytes(HASH_CHUNK_SIZE + 1, 'chunk+1')],
  ['three chunks minus one byte', bytes(3 * HASH_CHUNK_SIZE - 1, 'chunk*3-1')],
];

describe('git blob ids agree with git hash-object', () => {
  it.each(contents)('%s', async (name, content) => {
    const dir = await tempDir();
    const file = join(dir, 'blob');
    await writeFile(file, content);
    const [expected] = await gitHashObject(dir, [file]);
    expect(expected).toMatch(/^[0-9a-f]{40}$/);

    expect(await hashBlobFile(file), `hashBlobFile(${name})`).toBe(expected);
    expect(await hashBlobFile(file, content.length)).toBe(expected);
    expect(hashBlob(content)).toBe(expected);

    // Incremental, in uneven chunks (1 byte, then 7, then the rest).
    const hasher = createBlobHasher(content.length);
    for (const [start, end] of [
      [0, 1],
      [1, 8],
      [8, content.length],
    ] as const) {
      hasher.update(content.subarray(Math.min(start, content.length), Math.min(end, content.length)));
    }
    expect(hasher.bytesHashed).toBe(content.length);
    expect(hasher.digest()).toBe(expected);
  });

  it('hashes a string as its UTF-8 bytes', async () => {
    const dir = await tempDir();
    const text = 'naïve café\r\n';
    expect(hashBlob(text)).toBe(await gitHashStdin(dir, Buffer.from(text, 'utf8')));
  });
});

describe('symlink targets', () => {
  it.each([
    ['relative file target', 'target.txt'],
    ['relative directory target with ..', '../outside/dir'],
    ['absolute target', '/etc/hostname'],
    ['dangling target with spaces and unicode', 'nowhere/ünï cødé'],
  ])('%s hashes like git stores the link', async (_name, target) => {
    const dir = await tempDir();
    await symlink(target, join(dir, 'link'));
    const readBack = await readlink(join(dir, 'link'), { encoding: 'buffer' });

    const index = await gitIndexEntry(dir, 'link');
    expect(index.mode).toBe('120000');
    expect(hashSymlinkTarget(readBack)).toBe(index.sha);
    expect(hashSymlinkTarget(target)).toBe(index.sha);
    expect(await gitHashStdin(dir, Buffer.from(target))).toBe(index.sha);
  });
});

describe('createBlobHasher', () => {
  it('rejects content shorter than declared', () => {
    const hasher = createBlobHasher(10);
    hasher.update(Buffer.from('123456789'));
    expect(() => hasher.digest()).toThrow(BlobSizeMismatchError);
    try {
      hasher.digest();
    } catch (error) {
      expect(error).toBeInstanceOf(HostsyncError);
      expect((error as BlobSizeMismatchError).expectedSize).toBe(10);
      expect((error as BlobSizeMismatchError).actualSize).toBe(9);
    }
  });

  it('rejects content longer than declared', () => {
    const hasher = createBlobHasher(3);
    hasher.update(Buffer.from('ab'));
    hasher.update(Buffer.from('cd'));
    expect(hasher.bytesHashed).toBe(4);
    expect(() => hasher.digest()).toThrow(/4 bytes but 3 were declared/);
  });

  it('rejects a declared size that is not a non-negative integer', () => {
    for (const size of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => createBlobHasher(size)).toThrow(TypeError);
    }
  });

  it('accepts the exact size', () => {
    const hasher = createBlobHasher(0);
    expect(hasher.digest()).toBe('e69de29bb2d1d6434b8b29ae775ad8c2e48c5391');
  });
});

describe('hashBlobFile refuses what is not a regular file', () => {
  it('does not follow a symlink', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'real'), 'content');
    await symlink('real', join(dir, 'link'));
    await expect(hashBlobFile(join(dir, 'link'))).rejects.toThrow(/symbolic link/);
  });

  it('rejects a directory', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'sub'));
    await expect(hashBlobFile(join(dir, 'sub'))).rejects.toThrow(HostsyncError);
  });

  it('rejects a FIFO without blocking on it', async () => {
    const dir = await tempDir();
    await promisify(execFile)('mkfifo', [join(dir, 'fifo')]);
    await expect(hashBlobFile(join(dir, 'fifo'))).rejects.toThrow(/not a regular file/);
  });

  it('rejects a missing file with its path', async () => {
    const dir = await tempDir();
    await expect(hashBlobFile(join(dir, 'absent'))).rejects.toThrow(/Could not read .*absent/);
  });

  it('rejects a file whose size is not the size it was listed with', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'f'), 'four');
    await expect(hashBlobFile(join(dir, 'f'), 5)).rejects.toThrow(/is 4 bytes but was listed at 5/);
  });
});

describe('hashBlobFile and a file that changes while it is read', () => {
  /** Run `change` on every turn of the event loop until the returned stop function is called. */
  function keepChanging(change: () => void): () => void {
    let running = true;
    const tick = (): void => {
      if (!running) return;
      change();
      setImmediate(tick);
    };
    setImmediate(tick);
    return () => {
      running = false;
    };
  }

  const changes: ReadonlyArray<readonly [string, (file: string, fd: number) => void]> = [
    ['grows', (file) => appendFileSync(file, 'more\n')],
    // Same size: only the before/after fstat can notice.
    ['is rewritten in place', (_file, fd) => void writeSync(fd, 'x', 0)],
  ];
  it.each(changes)('gives up with a clear error when the file keeps changing (it %s)', async (_name, change) => {
    const dir = await tempDir();
    const file = join(dir, 'busy.bin');
    // Big enough that one read spans many clock ticks, so each change shows in mtime/ctime.
    await writeFile(file, Buffer.alloc(32 * HASH_CHUNK_SIZE + 17, 'busy'));
    const fd = openSync(file, 'r+');
    const stop = keepChanging(() => change(file, fd));
    try {
      await expect(hashBlobFile(file)).rejects.toThrow(/kept changing while hostsync hashed it/);
    } finally {
      stop();
      closeSync(fd);
    }
  });
});
