/**
 * A file-backed object store for tests and measurements: blobs are streamed to files named by
 * their id and read back with positional reads, as hostsync's own store does; commits, trees and
 * tags stay in memory. Both a PackObjectSink and a BaseProvider.
 */
import { open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hashObject, type ObjectType } from '../../src/git/objects.js';
import type { BaseProvider, BlobWriter, PackObjectSink, StoredObject, WholeObject } from '../../src/git/object-sink.js';

export class FileObjectStore implements PackObjectSink, BaseProvider {
  readonly dir: string;
  readonly whole = new Map<string, { type: ObjectType; data: Buffer }>();
  readonly blobs = new Set<string>();
  #temp = 0;

  constructor(dir: string) {
    this.dir = dir;
  }

  object(object: WholeObject): void {
    this.whole.set(object.sha, { type: object.type, data: object.data });
  }

  async blob(size: number): Promise<BlobWriter> {
    const temp = join(this.dir, `tmp-${this.#temp++}`);
    const handle = await open(temp, 'w');
    let written = 0;
    return {
      write: async (chunk) => {
        await handle.write(chunk);
        written += chunk.length;
      },
      finish: async (sha) => {
        await handle.close();
        if (written !== size) throw new Error(`blob ${sha}: ${written} of ${size} bytes`);
        await rename(temp, join(this.dir, sha));
        this.blobs.add(sha);
      },
      abort: async () => {
        await handle.close().catch(() => undefined);
        await rm(temp, { force: true });
      },
    };
  }

  /** Add a blob the caller already has. */
  async addBlob(data: Buffer): Promise<string> {
    const writer = await this.blob(data.length);
    await writer.write(data);
    const sha = hashObject('blob', data);
    await writer.finish(sha);
    return sha;
  }

  async get(sha: string): Promise<StoredObject | undefined> {
    const whole = this.whole.get(sha);
    if (whole !== undefined) {
      const { type, data } = whole;
      return { type, size: data.length, read: (offset, length) => data.subarray(offset, offset + length) };
    }
    if (!this.blobs.has(sha)) return undefined;
    const path = join(this.dir, sha);
    const { size } = await stat(path);
    const handle = await open(path, 'r');
    return {
      type: 'blob',
      size,
      read: async (offset, length) => {
        const buffer = Buffer.allocUnsafe(length);
        const { bytesRead } = await handle.read(buffer, 0, length, offset);
        return buffer.subarray(0, bytesRead);
      },
      close: () => handle.close(),
    };
  }
}
