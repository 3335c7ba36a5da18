/**
 * How blobs leave the pack reader: whole ones through one writer call each, large ones streamed
 * and hashed on the way, and the small recent ones kept as delta bases (git's delta base cache).
 */
import { PackError } from './errors.js';
import { WHOLE_INFLATE_LIMIT } from './inflate.js';
import type { DeltaTarget } from './delta.js';
import type { BlobWriter, PackObjectSink } from './object-sink.js';
import { createObjectHasher, type ObjectHasher } from './objects.js';

/** A blob the reader resolved. */
export interface ResolvedBlob {
  readonly type: 'blob';
  readonly sha: string;
  readonly size: number;
}

/** Blob writes to the sink allowed in flight at once. */
export const MAX_DELIVERIES = 16;

/** Write a whole blob through a new writer; abort it if any step fails. */
export async function writeBlob(sink: PackObjectSink, sha: string, data: Buffer): Promise<void> {
  const writer = await sink.blob(data.length);
  try {
    await writer.write(data);
    await writer.finish(sha);
  } catch (error) {
    try {
      await writer.abort(error);
    } catch {
      // The write's own failure is the one to report.
    }
    throw error;
  }
}

/**
 * One large blob streamed to the sink: hashed as it is written, aborted if anything fails before
 * its last byte. (Blobs small enough to hold go through the reader's deliverBlob instead.)
 */
export class BlobOutput implements DeltaTarget {
  readonly #writer: BlobWriter;
  readonly #hasher: ObjectHasher;
  readonly #size: number;

  private constructor(writer: BlobWriter, size: number) {
    this.#writer = writer;
    this.#hasher = createObjectHasher('blob', size);
    this.#size = size;
  }

  static async open(sink: PackObjectSink, size: number): Promise<BlobOutput> {
    return new BlobOutput(await sink.blob(size), size);
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.#hasher.received + chunk.length > this.#size) {
      throw new PackError(`A blob produced more than the ${this.#size} bytes declared for it`);
    }
    this.#hasher.update(chunk);
    await this.#writer.write(chunk);
  }

  /** All bytes written: verify the count, hand the id to the writer. */
  async finish(at: number): Promise<ResolvedBlob> {
    if (this.#hasher.received !== this.#size) {
      const error = new PackError(`A blob has ${this.#hasher.received} bytes but ${this.#size} were declared`, at);
      await this.abort(error);
      throw error;
    }
    const sha = this.#hasher.digest();
    await this.#writer.finish(sha);
    return { type: 'blob', sha, size: this.#size };
  }

  /** Run `produce` (which writes every byte), then finish; abort the writer if anything fails. */
  async run(at: number, produce: () => Promise<void>): Promise<ResolvedBlob> {
    try {
      await produce();
    } catch (error) {
      await this.abort(error);
      throw error;
    }
    return this.finish(at);
  }

  async abort(reason: unknown): Promise<void> {
    try {
      await this.#writer.abort(reason);
    } catch {
      // The original failure is what the caller needs to see; a failed cleanup adds nothing.
    }
  }
}

/** Least-recently-used blobs up to a byte budget, as git's delta base cache does. */
export class BlobCache {
  readonly #budget: number;
  readonly #entries = new Map<string, Buffer>();
  #bytes = 0;

  constructor(budget: number) {
    this.#budget = budget;
  }

  accepts(size: number): boolean {
    return size <= Math.min(WHOLE_INFLATE_LIMIT, this.#budget);
  }

  get(sha: string): Buffer | undefined {
    const found = this.#entries.get(sha);
    if (found !== undefined) {
      this.#entries.delete(sha);
      this.#entries.set(sha, found);
    }
    return found;
  }

  set(sha: string, data: Buffer): void {
    if (this.#entries.has(sha)) return;
    this.#entries.set(sha, data);
    this.#bytes += data.length;
    for (const [oldest, old] of this.#entries) {
      if (this.#bytes <= this.#budget) break;
      this.#entries.delete(oldest);
      this.#bytes -= old.length;
    }
  }
}
