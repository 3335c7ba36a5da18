/**
 * Git object ids: sha1 of `"<type> <size>\0" + content`, over whole buffers or streamed content of
 * a size known up front; and the strict decoding of names, which in git are bytes, not text.
 * @see https://git-scm.com/book/en/v2/Git-Internals-Git-Objects
 */
import { createHash, type Hash } from 'node:crypto';
import { ObjectFormatError } from './errors.js';

/** The four kinds of object a pack can hold once its deltas are resolved. */
export type ObjectType = 'commit' | 'tree' | 'blob' | 'tag';

/** Every object type, in the order of their pack type numbers 1–4. */
export const OBJECT_TYPES: readonly ObjectType[] = ['commit', 'tree', 'blob', 'tag'];

const OBJECT_ID = /^[0-9a-f]{40}$/;

/** True for a full SHA-1 object id in lowercase hex, as git prints them. */
export function isObjectId(value: string): boolean {
  return OBJECT_ID.test(value);
}

/**
 * @throws {ObjectFormatError} unless `value` is a 40-digit lowercase hex object id; `what` names
 * it in the message (e.g. "want").
 */
export function assertObjectId(value: string, what: string): void {
  if (!isObjectId(value)) {
    throw new ObjectFormatError(`Expected ${what} to be a 40-digit lowercase hex SHA-1, got ${JSON.stringify(value)}.`);
  }
}

/** The header git hashes before an object's content: `"<type> <size>\0"`. */
export function objectHeader(type: ObjectType, size: number): Buffer {
  return Buffer.from(`${type} ${size}\0`, 'latin1');
}

/** The id of an object held whole: sha1(`"<type> <size>\0"` + content). Pure. */
export function hashObject(type: ObjectType, content: Uint8Array): string {
  return createHash('sha1').update(objectHeader(type, content.length)).update(content).digest('hex');
}

/** Incremental hasher for an object whose size is known before its bytes arrive. */
export interface ObjectHasher {
  update(chunk: Uint8Array): void;
  /**
   * The object id.
   * @throws {ObjectFormatError} when the bytes fed do not add up to the declared size.
   */
  digest(): string;
  /** Bytes fed so far. */
  readonly received: number;
}

/**
 * Start hashing a `type` object of `size` bytes.
 * @throws {ObjectFormatError} as soon as more than `size` bytes are fed, and from `digest()` when
 * fewer were: a wrong size can never produce a usable id.
 */
export function createObjectHasher(type: ObjectType, size: number): ObjectHasher {
  const hash: Hash = createHash('sha1').update(objectHeader(type, size));
  let received = 0;
  return {
    update(chunk) {
      received += chunk.length;
      if (received > size) throw new ObjectFormatError(`The ${type} is longer than the ${size} bytes declared (${received} so far).`);
      hash.update(chunk);
    },
    digest() {
      if (received !== size) throw new ObjectFormatError(`The ${type} has ${received} bytes but ${size} were declared.`);
      return hash.digest('hex');
    },
    get received() {
      return received;
    },
  };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decode bytes (a path component, an author name) as UTF-8, refusing what is not valid UTF-8
 * instead of replacing it with U+FFFD, which would silently name a different file.
 * @throws {ObjectFormatError} naming the bytes in hex.
 */
export function decodeUtf8Strict(bytes: Uint8Array, what = 'name'): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new ObjectFormatError(`The ${what} 0x${Buffer.from(bytes).toString('hex')} is not valid UTF-8.`);
  }
}

/** 20 raw id bytes as 40 hex digits. */
export function idFromBytes(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}
