/**
 * A pull-based byte queue over an async iterable of chunks: the one buffer under the pkt-line
 * decoder and the pack reader. It never asks the source for more than the caller needs next, so a
 * slow consumer holds the network back instead of growing memory, and it hands out views of the
 * chunks it holds instead of copies wherever the bytes asked for sit in one chunk.
 */

/** Called with every byte range consumed, in order (the pack reader hashes them). */
export type ConsumeObserver = (bytes: Buffer) => void;

export class ByteReader {
  readonly #source: AsyncIterator<Uint8Array>;
  readonly #chunks: Buffer[] = [];
  /** Offset of the first unconsumed byte in `#chunks[0]`. */
  #head = 0;
  #buffered = 0;
  #position = 0;
  #ended = false;
  #observer: ConsumeObserver | undefined;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  /** Bytes consumed so far: the offset of the next byte in the stream. */
  get position(): number {
    return this.#position;
  }

  /** Bytes received and not yet consumed. */
  get buffered(): number {
    return this.#buffered;
  }

  /** True once the source is exhausted (bytes may still be buffered). */
  get sourceEnded(): boolean {
    return this.#ended;
  }

  /** Observe consumed bytes from now on (one observer at a time). */
  observe(observer: ConsumeObserver | undefined): void {
    this.#observer = observer;
  }

  /** Take one more chunk from the source; resolves false when it is exhausted. */
  async pull(): Promise<boolean> {
    while (!this.#ended) {
      const next = await this.#source.next();
      if (next.done === true) {
        this.#ended = true;
        return false;
      }
      const value = next.value;
      if (value.length === 0) continue;
      this.#chunks.push(Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.length));
      this.#buffered += value.length;
      return true;
    }
    return false;
  }

  /** Buffer at least `n` bytes; resolves false when the source ends first (what arrived stays buffered). */
  async fill(n: number): Promise<boolean> {
    while (this.#buffered < n) {
      if (!(await this.pull())) return false;
    }
    return true;
  }

  /**
   * A contiguous view of the first `min(n, buffered)` bytes, without consuming them. Bytes spread
   * over several chunks are copied once into one buffer of exactly that size, which replaces them
   * in the queue (the rest of the last chunk stays a view), so peeking again costs nothing.
   */
  peek(n: number): Buffer {
    const want = Math.min(n, this.#buffered);
    const first = this.#chunks[0];
    if (first === undefined || want === 0) return Buffer.alloc(0);
    if (first.length - this.#head >= want) return first.subarray(this.#head, this.#head + want);
    const merged = Buffer.allocUnsafe(want);
    let have = first.copy(merged, 0, this.#head);
    let used = 1;
    let rest: Buffer | undefined;
    while (have < want) {
      const chunk = this.#chunks[used++];
      if (chunk === undefined) break;
      const take = Math.min(chunk.length, want - have);
      have += chunk.copy(merged, have, 0, take);
      if (take < chunk.length) rest = chunk.subarray(take);
    }
    this.#chunks.splice(0, used, ...(rest === undefined ? [merged] : [merged, rest]));
    this.#head = 0;
    return merged;
  }

  /** A view of the rest of the first buffered chunk (at most `max` bytes); empty when nothing is buffered. */
  firstChunk(max: number): Buffer {
    const first = this.#chunks[0];
    if (first === undefined) return Buffer.alloc(0);
    return first.subarray(this.#head, Math.min(first.length, this.#head + max));
  }

  /**
   * Consume and return a view of the next bytes, at most `max`, from one received chunk (no copy);
   * `undefined` when the source is exhausted.
   */
  async take(max: number): Promise<Buffer | undefined> {
    if (this.#buffered === 0 && !(await this.pull())) return undefined;
    const bytes = this.firstChunk(max);
    this.skip(bytes.length);
    return bytes;
  }

  /** Consume `n` buffered bytes (the caller has made sure they are buffered). */
  skip(n: number): void {
    if (n > this.#buffered) throw new RangeError(`Cannot skip ${n} bytes, only ${this.#buffered} are buffered.`);
    let left = n;
    while (left > 0) {
      const first = this.#chunks[0];
      if (first === undefined) break;
      const available = first.length - this.#head;
      const take = Math.min(available, left);
      this.#observer?.(first.subarray(this.#head, this.#head + take));
      left -= take;
      if (take === available) {
        this.#chunks.shift();
        this.#head = 0;
      } else {
        this.#head += take;
      }
    }
    this.#buffered -= n;
    this.#position += n;
  }

  /**
   * Read exactly `n` bytes. Resolves `undefined` when the stream ends cleanly before the first of
   * them; throws the value `truncated()` builds when it ends part-way.
   */
  async readExactly(n: number, truncated: (got: number) => Error): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) {
      if (this.#buffered === 0) return undefined;
      throw truncated(this.#buffered);
    }
    const bytes = this.peek(n);
    this.skip(n);
    return bytes;
  }

  /** Stop reading: lets the source release its resources (an HTTP body, a generator). */
  async close(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    await this.#source.return?.();
  }
}
