/**
 * Git blob hashing: the object id git (and GitHub's tree API) gives a file or symlink is
 * sha1("blob <size>\0" + bytes). Everything hostsync compares — local files, downloaded streams,
 * symlink targets — goes through this module so the header is built in exactly one place.
 * See https://git-scm.com/book/en/v2/Git-Internals-Git-Objects.
 */

import { createHash, type Hash } from 'node:crypto';
import { close, constants, fstat, open, read, type BigIntStats } from 'node:fs';
import { HostsyncError, errorCode, errorMessage } from '../errors.js';

/**
 * Read size used when hashing files. Measured on a 1 GiB file (Node 20, warm page cache, reads
 * double-buffered so the next read overlaps hashing): 64 KiB ≈ 0.95–1.0 s, 256 KiB ≈ 0.72–0.80 s,
 * 1 MiB ≈ 0.66–0.69 s, 4 MiB ≈ 0.64–0.74 s. 1 MiB is the knee; small files get a buffer of their
 * own size instead, so the 1 MiB buffers only exist for files that need them.
 */
export const HASH_CHUNK_SIZE = 1 << 20;

/** How often {@link hashBlobFile} re-reads a file that changed under it before giving up. */
const MAX_HASH_ATTEMPTS = 3;

/**
 * O_NOFOLLOW: a path that turned into a symlink since it was listed must fail, not be hashed
 * through. O_NONBLOCK: a path that turned into a FIFO must not block the open forever (it has no
 * effect on reads of regular files).
 */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** Incremental git blob hasher for content whose size is known up front (from the tree or a stat). */
export interface BlobHasher {
  /** Feed the next bytes of the blob. */
  update(chunk: Uint8Array): void;
  /**
   * The blob id as 40 lowercase hex digits.
   * @throws {BlobSizeMismatchError} when the bytes fed do not add up to the declared size, so a
   * truncated or over-long stream can never produce a usable id.
   */
  digest(): string;
  /** Bytes fed so far; lets a caller abort a stream as soon as it overruns the declared size. */
  readonly bytesHashed: number;
}

/** The content hashed did not have the size the blob header declared. */
export class BlobSizeMismatchError extends HostsyncError {
  readonly expectedSize: number;
  readonly actualSize: number;
  constructor(expectedSize: number, actualSize: number) {
    super(
      `Blob content was ${actualSize} bytes but ${expectedSize} were declared; it was truncated or ` +
        'extended on the way and must not be used.',
    );
    this.name = 'BlobSizeMismatchError';
    this.expectedSize = expectedSize;
    this.actualSize = actualSize;
  }
}

class GitBlobHasher implements BlobHasher {
  readonly #hash: Hash;
  readonly #size: number;
  #seen = 0;

  constructor(size: number) {
    this.#size = size;
    this.#hash = createHash('sha1');
    this.#hash.update(blobHeader(size));
  }

  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.#seen += chunk.byteLength;
  }

  digest(): string {
    if (this.#seen !== this.#size) throw new BlobSizeMismatchError(this.#size, this.#seen);
    return this.#hash.digest('hex');
  }

  get bytesHashed(): number {
    return this.#seen;
  }
}

/** Start hashing a blob of `size` bytes; see {@link BlobHasher}. */
export function createBlobHasher(size: number): BlobHasher {
  assertSize(size, 'size');
  return new GitBlobHasher(size);
}

/** Git blob id of in-memory content; a string is hashed as its UTF-8 bytes. */
export function hashBlob(bytes: Uint8Array | string): string {
  const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  return createHash('sha1').update(blobHeader(data.byteLength)).update(data).digest('hex');
}

/**
 * Git blob id of a symlink: git stores the link's target, byte for byte, as the blob (mode 120000).
 * Pass the Buffer from `readlink(path, { encoding: 'buffer' })` to keep non-UTF-8 targets exact.
 */
export function hashSymlinkTarget(target: string | Uint8Array): string {
  return hashBlob(target);
}

/**
 * Git blob id of a regular file, streamed in {@link HASH_CHUNK_SIZE} reads (memory stays bounded
 * whatever the file size). Symlinks are never followed: a symlink path is an error.
 *
 * The file is checked before and after reading (size, mtime, ctime of the open descriptor) and the
 * byte count must match the size the header was built from; a file that changes while read is
 * re-read, up to 3 times, then reported.
 *
 * @param size the size the caller listed the file with; when given and the file no longer has it,
 * a HostsyncError is thrown, since the caller's view of the file is stale.
 */
export async function hashBlobFile(path: string, size?: number): Promise<string> {
  if (size !== undefined) assertSize(size, 'size');
  for (let attempt = 1; attempt <= MAX_HASH_ATTEMPTS; attempt++) {
    const sha = await hashFileOnce(path, size);
    if (sha !== undefined) return sha;
  }
  throw new HostsyncError(
    `${path} kept changing while hostsync hashed it (${MAX_HASH_ATTEMPTS} attempts); ` +
      'stop whatever is writing to it and run again.',
  );
}

/** One read of the file: its blob id, or undefined when it changed while being read. */
async function hashFileOnce(path: string, expectedSize: number | undefined): Promise<string | undefined> {
  let fd: number;
  try {
    fd = await openFile(path);
  } catch (error) {
    throw readError(path, error);
  }
  try {
    const before = await statFile(fd);
    if (!before.isFile()) {
      throw new HostsyncError(`${path} is not a regular file; only regular files can be hashed as blobs.`);
    }
    const size = Number(before.size);
    if (expectedSize !== undefined && size !== expectedSize) {
      throw new HostsyncError(
        `${path} is ${size} bytes but was listed at ${expectedSize}; it changed while hostsync was ` +
          'reading it. Run again once nothing else writes to it.',
      );
    }
    const hasher = new GitBlobHasher(size);
    if (!(await readExactly(fd, size, hasher))) return undefined;
    const after = await statFile(fd);
    if (after.size !== before.size || after.mtimeNs !== before.mtimeNs || after.ctimeNs !== before.ctimeNs) {
      return undefined;
    }
    return hasher.digest();
  } catch (error) {
    throw error instanceof HostsyncError ? error : readError(path, error);
  } finally {
    await closeFile(fd);
  }
}

/**
 * Feed exactly `size` bytes of the file to the hasher; false when it turned out shorter or longer.
 * Reads are double-buffered: the next read runs on the thread pool while this chunk is hashed.
 * A file that grows by less than a chunk is caught by the caller's size re-check.
 */
async function readExactly(fd: number, size: number, hasher: GitBlobHasher): Promise<boolean> {
  if (size === 0) return true;
  // One byte more than expected for small files, so growth shows up in the read itself.
  const length = Math.min(size + 1, HASH_CHUNK_SIZE);
  let current: Buffer = Buffer.allocUnsafe(length);
  let spare: Buffer | undefined;
  let total = 0;
  let pending = readFile(fd, current, length, 0);
  for (;;) {
    const bytesRead = await pending;
    if (bytesRead === 0) return false;
    total += bytesRead;
    if (total > size) return false;
    const chunk = current;
    if (total < size) {
      spare ??= Buffer.allocUnsafe(length);
      pending = readFile(fd, spare, length, total);
      current = spare;
      spare = chunk;
    }
    hasher.update(chunk.subarray(0, bytesRead));
    if (total === size) return true;
  }
}

// Callback fs wrapped by hand: measured ~2x faster than fs/promises FileHandle for many small files.

function openFile(path: string): Promise<number> {
  return new Promise((resolve, reject) => open(path, OPEN_FLAGS, (error, fd) => (error ? reject(error) : resolve(fd))));
}

function statFile(fd: number): Promise<BigIntStats> {
  return new Promise((resolve, reject) =>
    fstat(fd, { bigint: true }, (error, stats) => (error ? reject(error) : resolve(stats))),
  );
}

function readFile(fd: number, buffer: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) =>
    read(fd, buffer, 0, length, position, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead))),
  );
}

/** Never rejects: a failed close of a read-only descriptor cannot affect what was read. */
function closeFile(fd: number): Promise<void> {
  return new Promise((resolve) => close(fd, () => resolve()));
}

function readError(path: string, error: unknown): HostsyncError {
  const code = errorCode(error);
  if (code === 'ELOOP') {
    return new HostsyncError(`${path} is a symbolic link; it is hashed by its target, not read through.`, undefined, {
      cause: error,
    });
  }
  return new HostsyncError(
    `Could not read ${path} to hash it: ${errorMessage(error)}. Check that it exists and hostsync may read it.`,
    undefined,
    { cause: error },
  );
}

function blobHeader(size: number): string {
  return `blob ${size}\0`;
}

function assertSize(size: number, name: string): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new TypeError(`Expected \`${name}\` to be a non-negative integer, got ${String(size)}.`);
  }
}
