/**
 * Git's delta format, applied as the delta's bytes arrive: two size varints (base, result), then
 * instructions — copy `(offset, size)` from the base (size 0 meaning 0x10000) or insert the next
 * 1–127 literal bytes. The base is read at random through `read(offset, length)` (a buffer, or
 * positional reads of a file), and the result leaves in chunks, so neither a 50 MiB base nor its
 * result is ever held whole. Every bound is checked before a byte is written.
 * @see https://git-scm.com/docs/gitformat-pack#_deltified_representation
 */
import { DeltaError } from './errors.js';

/** Random access to a delta's base object. */
export interface DeltaBase {
  readonly size: number;
  /** Exactly `length` bytes starting at `offset` (the applier never asks past `size`). */
  read(offset: number, length: number): Buffer | Promise<Buffer>;
}

/** Where the result goes. */
export interface DeltaTarget {
  write(chunk: Buffer): void | Promise<void>;
}

/** Largest base read per request while copying: bounds memory for a 16 MiB copy instruction. */
const COPY_READ_SIZE = 1 << 20;
/** Result bytes gathered before one write to the target: tiny copies and inserts are batched. */
const OUTPUT_BATCH = 64 << 10;
/** A size varint longer than this would exceed 2^53. */
const MAX_VARINT_SHIFT = 49;

/** A Buffer as a {@link DeltaBase}. */
export function bufferBase(data: Buffer): DeltaBase {
  return {
    size: data.length,
    read: (offset, length) => data.subarray(offset, offset + length),
  };
}

type Phase = 'source-size' | 'target-size' | 'command' | 'copy-args' | 'insert';

/**
 * Applies one delta fed in chunks. `begin(targetSize)` is called once the header is read, before
 * the first result byte, so the caller can open a sink of the right size.
 */
export class DeltaApplier {
  readonly #base: DeltaBase;
  readonly #begin: (targetSize: number) => DeltaTarget | Promise<DeltaTarget>;
  /** Position of the delta byte being parsed, for messages. */
  #deltaPos = 0;
  #phase: Phase = 'source-size';
  #varint = 0;
  #shift = 0;
  #sourceSize = 0;
  #targetSize = 0;
  #target: DeltaTarget | undefined;
  #written = 0;
  /** Copy command byte and how many of its argument bytes remain. */
  #command = 0;
  #argMask = 0;
  #copyOffset = 0;
  #copySize = 0;
  #insertLeft = 0;
  #out: Buffer[] = [];
  #outBytes = 0;

  constructor(base: DeltaBase, begin: (targetSize: number) => DeltaTarget | Promise<DeltaTarget>) {
    this.#base = base;
    this.#begin = begin;
  }

  /** The result size from the header (0 until the header has been read). */
  get targetSize(): number {
    return this.#targetSize;
  }

  /** Feed the next bytes of the (inflated) delta. */
  async push(chunk: Buffer): Promise<void> {
    let i = 0;
    while (i < chunk.length) {
      switch (this.#phase) {
        case 'source-size':
        case 'target-size': {
          const byte = chunk[i++] ?? 0;
          this.#deltaPos += 1;
          this.#varint += (byte & 0x7f) * 2 ** this.#shift;
          this.#shift += 7;
          if ((byte & 0x80) !== 0) {
            if (this.#shift > MAX_VARINT_SHIFT) throw new DeltaError('The delta header declares a size of more than 2^53 bytes.');
            break;
          }
          if (this.#phase === 'source-size') {
            this.#sourceSize = this.#varint;
            this.#phase = 'target-size';
          } else {
            this.#targetSize = this.#varint;
            await this.#start();
          }
          this.#varint = 0;
          this.#shift = 0;
          break;
        }
        case 'command': {
          const command = chunk[i++] ?? 0;
          this.#deltaPos += 1;
          if (command === 0) throw new DeltaError(`The delta has the reserved instruction 0x00 at delta byte ${this.#deltaPos - 1}.`);
          if ((command & 0x80) === 0) {
            this.#insertLeft = command;
            this.#phase = 'insert';
          } else {
            this.#command = command;
            this.#argMask = command & 0x7f;
            this.#copyOffset = 0;
            this.#copySize = 0;
            this.#phase = 'copy-args';
            if (this.#argMask === 0) await this.#copy();
          }
          break;
        }
        case 'copy-args': {
          // Argument bytes come for each set bit, lowest first: 4 offset bytes, then 3 size bytes.
          const bit = this.#argMask & -this.#argMask;
          const byte = chunk[i++] ?? 0;
          this.#deltaPos += 1;
          const index = Math.log2(bit);
          if (index < 4) this.#copyOffset += byte * 2 ** (8 * index);
          else this.#copySize += byte * 2 ** (8 * (index - 4));
          this.#argMask &= ~bit;
          if (this.#argMask === 0) await this.#copy();
          break;
        }
        case 'insert': {
          const take = Math.min(this.#insertLeft, chunk.length - i);
          await this.#emit(chunk.subarray(i, i + take));
          i += take;
          this.#deltaPos += take;
          this.#insertLeft -= take;
          if (this.#insertLeft === 0) this.#phase = 'command';
          break;
        }
      }
    }
  }

  /**
   * The delta is complete: flush the result.
   * @throws {DeltaError} when the delta stopped inside its header or an instruction, or produced
   * fewer bytes than it declared.
   */
  async end(): Promise<void> {
    if (this.#phase === 'source-size' || this.#phase === 'target-size') throw new DeltaError(`The delta ends inside its header (${this.#deltaPos} bytes).`);
    if (this.#phase !== 'command') throw new DeltaError(`The delta ends inside an instruction at delta byte ${this.#deltaPos}.`);
    if (this.#written !== this.#targetSize) {
      throw new DeltaError(`The delta produced ${this.#written} bytes but declared a result of ${this.#targetSize}.`);
    }
    await this.#flush();
  }

  async #start(): Promise<void> {
    if (this.#sourceSize !== this.#base.size) {
      throw new DeltaError(`The delta expects a base of ${this.#sourceSize} bytes, but its base has ${this.#base.size}.`);
    }
    this.#target = await this.#begin(this.#targetSize);
    this.#phase = 'command';
  }

  async #copy(): Promise<void> {
    const offset = this.#copyOffset;
    const size = this.#copySize === 0 ? 0x10000 : this.#copySize;
    this.#phase = 'command';
    if (offset + size > this.#base.size) {
      throw new DeltaError(
        `The delta copies bytes ${offset}–${offset + size} of a ${this.#base.size}-byte base (instruction 0x${this.#command.toString(16)} ending at delta byte ${this.#deltaPos}).`,
      );
    }
    for (let done = 0; done < size; ) {
      const length = Math.min(COPY_READ_SIZE, size - done);
      const read = this.#base.read(offset + done, length);
      const bytes = read instanceof Promise ? await read : read;
      if (bytes.length !== length) throw new DeltaError(`Reading ${length} bytes at ${offset + done} of the delta base returned ${bytes.length}.`);
      await this.#emit(bytes);
      done += length;
    }
  }

  async #emit(bytes: Buffer): Promise<void> {
    if (this.#written + bytes.length > this.#targetSize) {
      throw new DeltaError(`The delta writes past its declared result size of ${this.#targetSize} bytes (at delta byte ${this.#deltaPos}).`);
    }
    this.#written += bytes.length;
    this.#out.push(bytes);
    this.#outBytes += bytes.length;
    if (this.#outBytes >= OUTPUT_BATCH) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#outBytes === 0 || this.#target === undefined) return;
    const batch = this.#out.length === 1 ? (this.#out[0] ?? Buffer.alloc(0)) : Buffer.concat(this.#out, this.#outBytes);
    this.#out = [];
    this.#outBytes = 0;
    const written = this.#target.write(batch);
    if (written instanceof Promise) await written;
  }
}

/** Read a delta's header: the base and result sizes, and where the instructions start. Pure. */
export function readDeltaHeader(delta: Uint8Array): { sourceSize: number; targetSize: number; headerLength: number } {
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      if (shift > MAX_VARINT_SHIFT) throw new DeltaError('The delta header declares a size of more than 2^53 bytes.');
      const byte = delta[pos++];
      if (byte === undefined) throw new DeltaError(`The delta ends inside its header (${delta.length} bytes).`);
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
  };
  const sourceSize = varint();
  const targetSize = varint();
  return { sourceSize, targetSize, headerLength: pos };
}

/** Apply a whole delta to a whole base and return the result (for small objects and tests). */
export async function applyDelta(base: Buffer, delta: Buffer): Promise<Buffer> {
  const parts: Buffer[] = [];
  const applier = new DeltaApplier(bufferBase(base), () => ({ write: (chunk) => void parts.push(chunk) }));
  await applier.push(delta);
  await applier.end();
  return Buffer.concat(parts);
}
