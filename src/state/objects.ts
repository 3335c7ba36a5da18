/**
 * The content-addressed object store in the state dir (`objects/ab/cdef…`, keyed by git blob SHA).
 * Every byte that may reach DEST passes through `put`, which hashes while writing and refuses
 * content that does not match its SHA: the single point of verification for all strategies.
 * Objects become durable in batches (`flush`, before the journal that names them).
 * Identical content is stored once; previous generations stay here for offline rollback.
 */
import { createReadStream } from 'node:fs';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, open, readdir, stat, unlink, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errorCode, IntegrityError, LocalStorageError } from '../errors.js';
import { createBlobHasher, hashBlob, hashBlobFile } from '../local/hash.js';
import { processTag, tagAlive } from './owner-process.js';
import { createDurableBatch } from './durable.js';

export interface ObjectStore {
  readonly dir: string;
  /** Whether an object file exists (its content is not looked at: see {@link ObjectStore.holds}). */
  has(sha: string): Promise<boolean>;
  /**
   * Whether the store holds `sha` with the right content: objects this store instance wrote or
   * already checked are trusted; any other is hashed once, and removed when it does not match
   * (rot, tampering), so the caller fetches it again. Decision: docs/decisions/0006-store-integrity.md.
   */
  holds(sha: string): Promise<boolean>;
  /** mtime in ms of an object, undefined when absent (garbage collection's grace period). */
  modifiedAt(sha: string): Promise<number | undefined>;
  /** Remove temp files of runs that no longer live (a download killed mid-way). */
  sweepTemp(): Promise<number>;
  /** Where an object lives; it may not exist. */
  pathOf(sha: string): string;
  /**
   * Stream `body` into the store as object `sha`. `size` (from the tree) lets the hash be checked
   * while writing; the object becomes visible only once verified and fsynced.
   * Throws IntegrityError on a mismatch, leaving nothing behind.
   */
  put(sha: string, size: number | undefined, body: Readable, where: string): Promise<number>;
  /**
   * A writer for one object whose SHA is learnt at the end (a blob streamed out of a pack): bytes
   * are hashed as they are written, and `finish(sha)` makes the object visible only when they hash
   * to `sha` (and are `size` bytes); `abort` discards them.
   */
  openWriter(size: number, where: string): ObjectWriter;
  /**
   * The content of a small object (up to 4 MiB), checked: from memory when this instance wrote it
   * moments ago, else read and hashed. Undefined for a large object (stream it from `pathOf`).
   * Throws IntegrityError (and removes the object) when it no longer matches its SHA.
   */
  readSmall(sha: string, where: string): Buffer | undefined;
  /** Copy a local file into the store after checking it hashes to `sha`. */
  importFile(sha: string, file: string): Promise<void>;
  /**
   * Make every object written since the last flush durable (one barrier for the batch: decision
   * 0008). Call before anything durable points at them (the journal, a manifest).
   */
  flush(): Promise<void>;
  /** Every SHA in the store. */
  list(): Promise<string[]>;
  remove(sha: string): Promise<void>;
}

/** One object on its way into the store (see {@link ObjectStore.openWriter}). */
export interface ObjectWriter {
  write(chunk: Buffer): Promise<void>;
  finish(sha: string): Promise<void>;
  abort(): Promise<void>;
}

const SHA = /^[0-9a-f]{40}$/;

/** Objects up to this size are written with one call; larger ones are streamed. */
const WHOLE_OBJECT_LIMIT = 4 * 1024 * 1024;
/** Bytes of just-written objects kept in memory for the apply that follows. */
const RECENT_BYTES = 16 * 1024 * 1024;

let suffixBase: string | undefined;
let suffixCount = 0;

/** A suffix unique in this process without a random draw per object. */
function uniqueSuffix(): string {
  suffixBase ??= randomBytes(4).toString('hex');
  suffixCount += 1;
  return `${suffixBase}${suffixCount.toString(16)}`;
}

/** Open (creating if needed) the store at `dir`. `readOnly` (--check-only): a rotted object is reported missing, not removed. */
export function createObjectStore(dir: string, options: { readonly readOnly?: boolean } = {}): ObjectStore {
  const tmpDir = join(dir, 'tmp');
  /** Objects written and not yet durable: made durable together by `flush`. */
  const batch = createDurableBatch();
  /** Objects whose content this instance wrote or hashed: trusted for the rest of the run. */
  const verified = new Set<string>();
  /**
   * The bytes of small objects this instance just wrote, so an apply right after a download does
   * not read them back (a first install of 20,000 files would open each twice). Bounded.
   */
  const recent = new Map<string, Buffer>();
  let recentBytes = 0;
  const remember = (sha: string, data: Buffer): void => {
    if (data.length > WHOLE_OBJECT_LIMIT || recent.has(sha)) return;
    recent.set(sha, data);
    recentBytes += data.length;
    for (const [old, bytes] of recent) {
      if (recentBytes <= RECENT_BYTES) break;
      recent.delete(old);
      recentBytes -= bytes.length;
    }
  };
  const pathOf = (sha: string): string => {
    if (!SHA.test(sha)) throw new Error(`Not a SHA: ${sha}`);
    return join(dir, sha.slice(0, 2), sha.slice(2));
  };

  // Synchronous stats: a plan asks about thousands of objects, and a thread-pool round trip each
  // costs more than the syscall (measured on 20,000 objects).
  const has = async (sha: string): Promise<boolean> => {
    try {
      return statSync(pathOf(sha)).isFile();
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return false;
      throw error;
    }
  };

  const fanout = new Set<string>();
  /** Move a verified temp file to its place (synchronous: two syscalls, no thread-pool round trips). */
  const commitSync = (tmp: string, sha: string): void => {
    const target = pathOf(sha);
    const prefix = sha.slice(0, 2);
    if (!fanout.has(prefix)) {
      mkdirSync(join(dir, prefix), { recursive: true, mode: 0o700 });
      fanout.add(prefix);
    }
    renameSync(tmp, target);
    batch.add(target);
    placed.add(sha);
  };
  const commit = async (tmp: string, sha: string): Promise<void> => commitSync(tmp, sha);
  let tmpReady = false;
  const ensureTmpDir = (): void => {
    if (tmpReady) return;
    mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
    tmpReady = true;
  };

  const put = async (sha: string, size: number | undefined, body: Readable, where: string): Promise<number> => {
    await mkdir(tmpDir, { recursive: true, mode: 0o700 });
    const tmp = join(tmpDir, `${sha}.${processTag()}.${uniqueSuffix()}`);
    let written = 0;
    try {
      if (size !== undefined) {
        const hasher = createBlobHasher(size);
        const verify = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            written += chunk.length;
            if (written > size) {
              callback(new IntegrityError(sha, `more than ${size} bytes`, where));
              return;
            }
            hasher.update(chunk);
            callback(null, chunk);
          },
        });
        await pipeline(body, verify, await openTemp(tmp));
        if (written !== size) throw new IntegrityError(sha, `${written} of ${size} bytes`, where);
        const actual = hasher.digest();
        if (actual !== sha) throw new IntegrityError(sha, actual, where);
      } else {
        await pipeline(body, await openTemp(tmp));
        const actual = await hashBlobFile(tmp);
        if (actual !== sha) throw new IntegrityError(sha, actual, where);
      }
      await commit(tmp, sha);
      verified.add(sha);
      return written;
    } catch (error) {
      await unlink(tmp).catch(() => undefined);
      throw localStorageError(error, dir) ?? error;
    }
  };

  const openWriter = (size: number, where: string): ObjectWriter => {
    const hasher = createBlobHasher(size);
    // Small objects (nearly all of a pack) are kept whole and written with one call at the end;
    // a large one is streamed to its temp file as it comes.
    const whole = size <= WHOLE_OBJECT_LIMIT;
    const parts: Buffer[] = [];
    const tmp = join(tmpDir, `pack.${processTag()}.${uniqueSuffix()}`);
    let handle: FileHandle | undefined;
    let opening: Promise<FileHandle> | undefined;
    const file = async (): Promise<FileHandle> => {
      if (handle !== undefined) return handle;
      opening ??= (async () => {
        await mkdir(tmpDir, { recursive: true, mode: 0o700 });
        return open(tmp, 'wx', 0o600);
      })();
      handle = await opening;
      return handle;
    };
    const discard = async (): Promise<void> => {
      parts.length = 0;
      await handle?.close().catch(() => undefined);
      handle = undefined;
      await unlink(tmp).catch(() => undefined);
    };
    return {
      async write(chunk) {
        if (hasher.bytesHashed + chunk.length > size) throw new IntegrityError('(a streamed object)', `more than ${size} bytes`, where);
        hasher.update(chunk);
        if (whole) {
          parts.push(chunk);
          return;
        }
        try {
          const target = await file();
          for (let offset = 0; offset < chunk.length; ) offset += (await target.write(chunk, offset, chunk.length - offset)).bytesWritten;
        } catch (error) {
          await discard();
          throw localStorageError(error, dir) ?? error;
        }
      },
      async finish(sha) {
        try {
          const actual = hasher.digest();
          if (actual !== sha) throw new IntegrityError(sha, actual, where);
          if (whole) {
            ensureTmpDir();
            const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
            writeFileSync(tmp, data, { flag: 'wx', mode: 0o600 });
            parts.length = 0;
            remember(sha, data);
          } else {
            await (await file()).close();
            handle = undefined;
          }
          commitSync(tmp, sha);
          verified.add(sha);
        } catch (error) {
          await discard();
          throw localStorageError(error, dir) ?? error;
        }
      },
      abort: discard,
    };
  };

  const readSmall = (sha: string, where: string): Buffer | undefined => {
    const cached = recent.get(sha);
    if (cached !== undefined) return cached;
    const path = pathOf(sha);
    if (statSync(path).size > WHOLE_OBJECT_LIMIT) return undefined;
    const data = readFileSync(path);
    if (verified.has(sha)) return data;
    const actual = hashBlob(data);
    if (actual !== sha) {
      if (options.readOnly !== true) rmSync(path, { force: true }); // never again: the next run fetches it anew
      throw new IntegrityError(sha, actual, `${where}; the object was removed from the store, run hostsync again to fetch it anew`);
    }
    verified.add(sha);
    return data;
  };

  const importFile = async (sha: string, file: string): Promise<void> => {
    if (await holds(sha)) return;
    const info = await stat(file);
    await put(sha, info.size, createReadStream(file, { highWaterMark: 1 << 20 }), file);
  };

  const list = async (): Promise<string[]> => {
    const shas: string[] = [];
    let fanout: string[];
    try {
      fanout = await readdir(dir);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return [];
      throw error;
    }
    for (const prefix of fanout) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      for (const rest of await readdir(join(dir, prefix))) shas.push(prefix + rest);
    }
    return shas.sort();
  };

  /** Objects this instance moved into place: they are there (GC pins keep them) and right. */
  const placed = new Set<string>();
  const holds = async (sha: string): Promise<boolean> => {
    if (placed.has(sha)) return true;
    if (verified.has(sha)) return has(sha);
    if (!(await has(sha))) return false;
    const actual = await hashBlobFile(pathOf(sha)).catch(() => undefined);
    if (actual === sha) {
      verified.add(sha);
      return true;
    }
    // Rotted or tampered: out of the way, so it is fetched again and never copied into DEST.
    if (options.readOnly !== true) await rm(pathOf(sha), { force: true });
    return false;
  };

  const sweepTemp = async (): Promise<number> => {
    let names: string[];
    try {
      names = await readdir(tmpDir);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const name of names) {
      const tag = /^(?:[0-9a-f]{40}|pack)\.(\d+-\d+)\./.exec(name)?.[1];
      // Names of older versions carry no tag: nothing writes them any more.
      if (tag !== undefined && tagAlive(tag)) continue;
      await rm(join(tmpDir, name), { force: true });
      removed++;
    }
    return removed;
  };

  return {
    dir,
    has,
    holds,
    modifiedAt: async (sha) => {
      try {
        return (await stat(pathOf(sha))).mtimeMs;
      } catch {
        return undefined;
      }
    },
    sweepTemp,
    openWriter,
    readSmall,
    flush: () => batch.flush(),
    pathOf,
    put,
    importFile,
    list,
    remove: async (sha) => {
      await rm(pathOf(sha), { force: true });
    },
  };
}

/**
 * Open the temp file before streaming into it: a write stream that opens lazily could create the
 * file after a failed pipeline's cleanup already ran, leaving it behind.
 */
async function openTemp(tmp: string): Promise<NodeJS.WritableStream> {
  const handle = await open(tmp, 'wx', 0o600);
  return handle.createWriteStream();
}

const DISK_CODES: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EIO: 'an I/O error',
};

/** A disk failure of the store as a final, named error (not a download failure to fall back from). */
function localStorageError(error: unknown, dir: string): LocalStorageError | undefined {
  const code = errorCode(error);
  if (code === undefined || !(code in DISK_CODES)) return undefined;
  const fix = code === 'ENOSPC' || code === 'EDQUOT' ? 'free some space' : 'make the state dir writable (or choose another with --state-dir)';
  return new LocalStorageError(`Cannot write the object store ${dir}: ${DISK_CODES[code]}: ${fix}, then run again (${code}). DEST was not touched.`, { cause: error });
}


