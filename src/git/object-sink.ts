/**
 * What the pack reader hands objects to, and where it reads delta bases it does not hold: the two
 * edges through which a caller's object store plugs in (an in-memory one is in memory-store.ts).
 */
import type { ObjectType } from './objects.js';

/** A commit, tree or tag, delivered whole once its id is known. */
export interface WholeObject {
  readonly type: Exclude<ObjectType, 'blob'>;
  readonly sha: string;
  readonly data: Buffer;
}

/**
 * One blob on its way in: `write` is called with its bytes in order, then exactly one of `finish`
 * (with the id the reader computed over `"blob <size>\0" + bytes`, all `size` bytes received) or
 * `abort` (the pack failed part-way; discard what was written).
 */
export interface BlobWriter {
  write(chunk: Buffer): void | Promise<void>;
  finish(sha: string): void | Promise<void>;
  abort(reason: unknown): void | Promise<void>;
}

/**
 * Receives every object of a pack as it is resolved. Several blob writers may be open at once (the
 * reader keeps up to 16 small-blob writes in flight while it reads on); each writer's own calls
 * come in order, and `readPack` settles only once every writer has finished or aborted.
 */
export interface PackObjectSink {
  /** A commit, tree or tag. */
  object(object: WholeObject): void | Promise<void>;
  /** Open a writer for a blob of `size` bytes; its bytes follow, streamed. */
  blob(size: number): BlobWriter | Promise<BlobWriter>;
}

/** An object readable at random, to serve as a delta base. */
export interface StoredObject {
  readonly type: ObjectType;
  readonly size: number;
  /** Exactly `length` bytes at `offset` (never asked past `size`). */
  read(offset: number, length: number): Buffer | Promise<Buffer>;
  /** Called once the reader is done with the object (close a file handle). */
  close?(): void | Promise<void>;
}

/**
 * Objects the caller already has. Asked for the bases of a thin pack's REF_DELTAs, and for blobs of
 * this very pack used as bases after they went to the sink — so it must see what the sink stored.
 */
export interface BaseProvider {
  get(sha: string): StoredObject | undefined | Promise<StoredObject | undefined>;
}
