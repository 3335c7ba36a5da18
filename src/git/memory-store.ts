/**
 * An in-memory object store that is both a {@link PackObjectSink} and a {@link BaseProvider}: for
 * tests, and for callers that want a small pack's objects as Buffers.
 */
import { ObjectFormatError } from './errors.js';
import { hashObject, type ObjectType } from './objects.js';
import type { BaseProvider, BlobWriter, PackObjectSink, StoredObject, WholeObject } from './object-sink.js';

/** One stored object. */
export interface MemoryObject {
  readonly type: ObjectType;
  readonly data: Buffer;
}

export class MemoryObjectStore implements PackObjectSink, BaseProvider {
  /** Everything stored, by id. */
  readonly objects = new Map<string, MemoryObject>();
  /** Blob writers aborted so far (for tests of failure paths). */
  aborted = 0;
  /** How many `get` calls were answered, per id (tests check which bases were asked for). */
  readonly lookups = new Map<string, number>();

  /** Store an object the caller already has (a thin pack's base); resolves its id. */
  add(type: ObjectType, data: Buffer): string {
    const sha = hashObject(type, data);
    this.objects.set(sha, { type, data });
    return sha;
  }

  object(object: WholeObject): void {
    this.objects.set(object.sha, { type: object.type, data: object.data });
  }

  blob(size: number): BlobWriter {
    const parts: Buffer[] = [];
    return {
      write: (chunk) => {
        parts.push(chunk);
      },
      finish: (sha) => {
        const data = Buffer.concat(parts);
        // The reader computed `sha`; checking again here keeps the test double honest.
        if (data.length !== size || hashObject('blob', data) !== sha) {
          throw new ObjectFormatError(`Blob finished as ${sha} with ${data.length} of ${size} bytes that do not hash to it.`);
        }
        this.objects.set(sha, { type: 'blob', data });
      },
      abort: () => {
        this.aborted += 1;
      },
    };
  }

  get(sha: string): StoredObject | undefined {
    const found = this.objects.get(sha);
    if (found === undefined) return undefined;
    this.lookups.set(sha, (this.lookups.get(sha) ?? 0) + 1);
    const { type, data } = found;
    return { type, size: data.length, read: (offset, length) => data.subarray(offset, offset + length) };
  }
}
