/**
 * A streaming pack reader: objects are parsed, inflated, resolved and handed to a sink as the pack
 * arrives, with no pack file and no index written. Checked throughout: the header, the object
 * count, each entry's declared size, every delta's bounds, and the SHA-1 trailer over the whole
 * pack; each object's id is computed over `"<type> <size>\0" + content`.
 *
 * Delta bases: an OFS_DELTA's base is an earlier entry of the pack; a REF_DELTA's is an entry of
 * the pack or, in a thin pack, an object the caller has (the {@link BaseProvider}). A delta whose
 * base is not known yet waits (in memory) until the base turns up; bases that never do are reported
 * together in a {@link MissingBasesError} — nothing is skipped.
 * @see https://git-scm.com/docs/gitformat-pack
 */
import { createHash } from 'node:crypto';
import { ByteReader } from './byte-reader.js';
import { bufferBase, DeltaApplier, type DeltaBase } from './delta.js';
import { MissingBasesError, PackError } from './errors.js';
import { BlobCache, BlobOutput, MAX_DELIVERIES, writeBlob } from './blob-output.js';
import { inflateStreaming, inflateWhole, WHOLE_INFLATE_LIMIT } from './inflate.js';
import type { BaseProvider, PackObjectSink, StoredObject } from './object-sink.js';
import { hashObject, type ObjectType } from './objects.js';
import { MAX_ENTRY_HEADER, PACK_HEADER_SIZE, PACK_TRAILER_SIZE, parseEntryHeader, parsePackHeader, type EntryHeader } from './pack-format.js';

/** Memory allowed for inflated deltas waiting for a base that comes later in the pack. */
const MAX_PENDING_DELTA_BYTES = 128 << 20;

/** Options of {@link readPack}. */
export interface ReadPackOptions {
  /** Receives every resolved object. */
  readonly sink: PackObjectSink;
  /** Objects the caller has (thin-pack bases) and, through the sink's store, blobs already delivered. */
  readonly bases?: BaseProvider;
  /** Memory for recently resolved small blobs kept as delta bases (saves provider reads). @default 8 MiB */
  readonly baseCacheBytes?: number;
  readonly signal?: AbortSignal;
}

/** How many objects of each kind the pack held. */
export interface PackCounts {
  readonly commit: number;
  readonly tree: number;
  readonly blob: number;
  readonly tag: number;
  /** Entries stored as OFS_DELTA / REF_DELTA (also counted under their resolved type). */
  readonly ofsDelta: number;
  readonly refDelta: number;
  /** REF_DELTAs whose base came from the {@link BaseProvider} (a thin pack). */
  readonly externalBases: number;
}

/** What {@link readPack} found. */
export interface PackSummary {
  readonly version: 2 | 3;
  readonly objects: number;
  readonly counts: PackCounts;
  /** Bytes of the pack, trailer included. */
  readonly packBytes: number;
  /** The pack's SHA-1 trailer (verified). */
  readonly checksum: string;
}

/** An object resolved from the pack. */
interface Resolved {
  readonly type: ObjectType;
  readonly sha: string;
  readonly size: number;
}

/** A delta waiting for its base, with its instructions inflated. */
interface PendingDelta {
  readonly offset: number;
  readonly header: Extract<EntryHeader, { kind: 'ofs-delta' | 'ref-delta' }>;
  readonly delta: Buffer;
}

type Counts = { -readonly [K in keyof PackCounts]: number };

/**
 * Read a whole pack from `source`, delivering each object to `options.sink` as it is resolved.
 * Resolves once the trailer has been verified and the source is exhausted.
 * @throws {PackError} for anything wrong with the pack ({@link MissingBasesError} for thin-pack
 * bases nobody has); errors thrown by the source (a server error, an abort) pass through as they are.
 */
export async function readPack(source: AsyncIterable<Uint8Array>, options: ReadPackOptions): Promise<PackSummary> {
  const reader = new ByteReader(source);
  try {
    return await new PackReader(reader, options).read();
  } finally {
    await reader.close().catch(() => undefined);
  }
}

class PackReader {
  readonly #reader: ByteReader;
  readonly #sink: PackObjectSink;
  readonly #bases: BaseProvider | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #checksum = createHash('sha1');
  readonly #byOffset = new Map<number, Resolved>();
  readonly #bySha = new Map<string, Resolved>();
  /** Commits, trees and tags are small and frequent bases: all of them stay in memory. */
  readonly #wholeData = new Map<string, Buffer>();
  readonly #blobCache: BlobCache;
  readonly #pending = new Map<number, PendingDelta>();
  #pendingBytes = 0;
  readonly #waitingOnOffset = new Map<number, number[]>();
  readonly #waitingOnSha = new Map<string, number[]>();
  readonly #counts: Counts = { commit: 0, tree: 0, blob: 0, tag: 0, ofsDelta: 0, refDelta: 0, externalBases: 0 };
  /** Small blobs being written to the sink while the pack reads on, by id. */
  readonly #deliveries = new Map<string, Promise<void>>();
  #deliveryError: { error: unknown } | undefined;

  constructor(reader: ByteReader, options: ReadPackOptions) {
    this.#reader = reader;
    this.#sink = options.sink;
    this.#bases = options.bases;
    this.#signal = options.signal;
    this.#blobCache = new BlobCache(options.baseCacheBytes ?? 8 << 20);
  }

  /** Read the pack; whatever happens, no sink write is still running when this settles. */
  async read(): Promise<PackSummary> {
    try {
      const summary = await this.#read();
      await this.#settleDeliveries();
      return summary;
    } catch (error) {
      await this.#settleDeliveries().catch(() => undefined);
      throw error;
    }
  }

  async #read(): Promise<PackSummary> {
    const reader = this.#reader;
    reader.observe((bytes) => this.#checksum.update(bytes));
    await reader.fill(PACK_HEADER_SIZE);
    const header = parsePackHeader(reader.peek(PACK_HEADER_SIZE));
    reader.skip(PACK_HEADER_SIZE);
    for (let index = 0; index < header.objects; index++) {
      this.#signal?.throwIfAborted();
      await this.#readEntry(index, header.objects);
    }
    reader.observe(undefined);
    const expected = this.#checksum.digest('hex');
    const at = reader.position;
    const trailer = await reader.readExactly(PACK_TRAILER_SIZE, (got) => new PackError(`The pack ends inside its 20-byte trailing checksum (${got} bytes)`, at));
    if (trailer === undefined) throw new PackError(`The pack ends after its ${header.objects} objects, without the trailing checksum`, at);
    if (await reader.fill(1)) {
      throw new PackError(
        `More data follows what should be the end of the pack: its header declares ${header.objects} objects (count mismatch, or bytes appended after the trailer)`,
        reader.position,
      );
    }
    const actual = trailer.toString('hex');
    if (actual !== expected) throw new PackError(`The pack's trailing checksum is ${actual}, but its content hashes to ${expected}`, at);
    if (this.#pending.size > 0) throw new MissingBasesError(this.#missingBases());
    return { version: header.version, objects: header.objects, counts: { ...this.#counts }, packBytes: reader.position, checksum: actual };
  }

  async #readEntry(index: number, total: number): Promise<void> {
    this.#throwDeliveryError();
    const reader = this.#reader;
    const at = reader.position;
    await reader.fill(MAX_ENTRY_HEADER);
    if (reader.buffered === 0) throw new PackError(`The pack ends after ${index} of the ${total} objects its header declares`, at);
    const header = parseEntryHeader(reader.peek(MAX_ENTRY_HEADER), at);
    if (header === undefined) throw new PackError(`The pack ends inside the header of object ${index + 1} of ${total}`, at);
    reader.skip(header.length);
    if (header.kind === 'whole') {
      this.#record(at, await this.#readWhole(header.type, header.size, at));
      await this.#resolveWaiters(at);
      return;
    }
    if (header.kind === 'ofs-delta') {
      this.#counts.ofsDelta += 1;
      const base = this.#byOffset.get(header.baseOffset);
      if (base !== undefined) {
        this.#record(at, await this.#applyStreamed(header.size, await this.#openBase(base, at), at));
        await this.#resolveWaiters(at);
        return;
      }
      if (!this.#pending.has(header.baseOffset)) {
        throw new PackError(`An OFS_DELTA's base offset ${header.baseOffset} is not the start of an earlier object`, at);
      }
      await this.#defer(at, header, this.#waitingOnOffset, header.baseOffset);
      return;
    }
    this.#counts.refDelta += 1;
    const inPack = this.#bySha.get(header.baseSha);
    if (inPack !== undefined) {
      this.#record(at, await this.#applyStreamed(header.size, await this.#openBase(inPack, at), at));
      await this.#resolveWaiters(at);
      return;
    }
    const external = await this.#bases?.get(header.baseSha);
    if (external !== undefined) {
      this.#counts.externalBases += 1;
      this.#record(at, await this.#applyStreamed(header.size, providedBase(external), at));
      await this.#resolveWaiters(at);
      return;
    }
    await this.#defer(at, header, this.#waitingOnSha, header.baseSha);
  }

  /** Inflate a whole (non-delta) entry and deliver it. */
  async #readWhole(type: ObjectType, size: number, at: number): Promise<Resolved> {
    const what = `the ${type} object`;
    if (size <= WHOLE_INFLATE_LIMIT) return this.#deliver(type, await inflateWhole(this.#reader, size, what, at));
    if (type !== 'blob') {
      const parts: Buffer[] = [];
      await inflateStreaming(this.#reader, size, (chunk) => void parts.push(chunk), what, at);
      return this.#deliver(type, Buffer.concat(parts));
    }
    const blob = await BlobOutput.open(this.#sink, size);
    return blob.run(at, () => inflateStreaming(this.#reader, size, (chunk) => blob.write(chunk), what, at));
  }

  /** Hand a whole object to the sink and remember it. */
  async #deliver(type: ObjectType, data: Buffer): Promise<Resolved> {
    if (type === 'blob') return this.#deliverBlob(data);
    const sha = hashObject(type, data);
    this.#wholeData.set(sha, data);
    await this.#sink.object({ type, sha, data });
    return { type, sha, size: data.length };
  }

  /**
   * Hand a blob held whole to the sink without waiting for the write: the pack reads on while up
   * to {@link MAX_DELIVERIES} blobs are written, which is what keeps a store that writes one file
   * per object (open, write, close, rename) from setting the pace. A failed write is thrown at the
   * next object.
   */
  async #deliverBlob(data: Buffer): Promise<Resolved> {
    this.#throwDeliveryError();
    const sha = hashObject('blob', data);
    if (this.#blobCache.accepts(data.length)) this.#blobCache.set(sha, data);
    while (this.#deliveries.size >= MAX_DELIVERIES) await Promise.race(this.#deliveries.values());
    this.#throwDeliveryError();
    const previous = this.#deliveries.get(sha) ?? Promise.resolve();
    // The same blob twice in one pack: its second write waits for the first.
    const delivery = previous
      .then(() => writeBlob(this.#sink, sha, data))
      .catch((error: unknown) => {
        this.#deliveryError ??= { error };
      })
      .finally(() => {
        if (this.#deliveries.get(sha) === delivery) this.#deliveries.delete(sha);
      });
    this.#deliveries.set(sha, delivery);
    return { type: 'blob', sha, size: data.length };
  }

  #throwDeliveryError(): void {
    if (this.#deliveryError !== undefined) throw this.#deliveryError.error;
  }

  /** Wait for every blob write in flight; throw the first that failed. */
  async #settleDeliveries(): Promise<void> {
    while (this.#deliveries.size > 0) await Promise.all(this.#deliveries.values());
    this.#throwDeliveryError();
  }

  /** Apply the delta entry at the reader's head to `base`, inflating and applying as it arrives. */
  async #applyStreamed(deltaSize: number, base: OpenBase, at: number): Promise<Resolved> {
    const what = 'the delta';
    if (deltaSize <= WHOLE_INFLATE_LIMIT) {
      return this.#applyDelta(base, at, async (applier) => applier.push(await inflateWhole(this.#reader, deltaSize, what, at)));
    }
    return this.#applyDelta(base, at, (applier) => inflateStreaming(this.#reader, deltaSize, (chunk) => applier.push(chunk), what, at));
  }

  /** Run a delta against `base`, then release the base; `feed` pushes the delta's bytes into the applier. */
  async #applyDelta(base: OpenBase, at: number, feed: (applier: DeltaApplier) => Promise<void>): Promise<Resolved> {
    try {
      return await this.#applyDeltaTo(base, at, feed);
    } finally {
      await base.release?.();
    }
  }

  async #applyDeltaTo(base: OpenBase, at: number, feed: (applier: DeltaApplier) => Promise<void>): Promise<Resolved> {
    // Results are gathered whole unless they are blobs too large for that, which stream to the sink.
    const parts: Buffer[] = [];
    let blob: BlobOutput | undefined;
    const applier = new DeltaApplier(base.base, async (targetSize) => {
      if (base.type !== 'blob' || targetSize <= WHOLE_INFLATE_LIMIT) return { write: (chunk) => void parts.push(chunk) };
      blob = await BlobOutput.open(this.#sink, targetSize);
      return blob;
    });
    try {
      await feed(applier);
      await applier.end();
    } catch (error) {
      await blob?.abort(error);
      throw error;
    }
    if (blob !== undefined) return blob.finish(at);
    return this.#deliver(base.type, Buffer.concat(parts));
  }

  /** A resolved object of this pack as a delta base. */
  async #openBase(resolved: Resolved, at: number): Promise<OpenBase> {
    const whole = this.#wholeData.get(resolved.sha);
    if (whole !== undefined) return { type: resolved.type, base: bufferBase(whole) };
    const cached = this.#blobCache.get(resolved.sha);
    if (cached !== undefined) return { type: 'blob', base: bufferBase(cached) };
    // A blob still being written must be complete before the provider can read it back.
    await this.#deliveries.get(resolved.sha);
    this.#throwDeliveryError();
    const stored = await this.#bases?.get(resolved.sha);
    if (stored === undefined || stored.size !== resolved.size) {
      throw new PackError(
        `Blob ${resolved.sha} is the base of a later delta, but the base provider cannot read it back after the sink stored it; give readPack a provider that sees the sink's objects`,
        at,
      );
    }
    return providedBase(stored);
  }

  /** Keep a delta whose base is not known yet, its instructions inflated into memory. */
  async #defer<K>(at: number, header: PendingDelta['header'], waiting: Map<K, number[]>, key: K): Promise<void> {
    // Bounded: a hostile pack of out-of-order deltas must not grow memory without end.
    if (this.#pendingBytes + header.size > MAX_PENDING_DELTA_BYTES) {
      throw new PackError(`The pack's deltas waiting for their bases would take more than ${MAX_PENDING_DELTA_BYTES >> 20} MiB of memory`, at);
    }
    let delta: Buffer;
    if (header.size <= WHOLE_INFLATE_LIMIT) delta = await inflateWhole(this.#reader, header.size, 'the delta', at);
    else {
      const parts: Buffer[] = [];
      await inflateStreaming(this.#reader, header.size, (chunk) => void parts.push(chunk), 'the delta', at);
      delta = Buffer.concat(parts);
    }
    this.#pendingBytes += delta.length;
    this.#pending.set(at, { offset: at, header, delta });
    const list = waiting.get(key);
    if (list === undefined) waiting.set(key, [at]);
    else list.push(at);
  }

  #record(at: number, resolved: Resolved): void {
    this.#byOffset.set(at, resolved);
    if (!this.#bySha.has(resolved.sha)) this.#bySha.set(resolved.sha, resolved);
    this.#counts[resolved.type] += 1;
  }

  /** Resolve every waiting delta whose base just became known, then theirs, and so on. */
  async #resolveWaiters(offset: number): Promise<void> {
    const ready = [offset];
    for (let next = ready.pop(); next !== undefined; next = ready.pop()) {
      const resolved = this.#byOffset.get(next);
      if (resolved === undefined) continue;
      const waiting = [...(this.#waitingOnOffset.get(next) ?? []), ...(this.#waitingOnSha.get(resolved.sha) ?? [])];
      this.#waitingOnOffset.delete(next);
      this.#waitingOnSha.delete(resolved.sha);
      for (const deltaOffset of waiting) {
        const pending = this.#pending.get(deltaOffset);
        if (pending === undefined) continue;
        this.#pending.delete(deltaOffset);
        this.#pendingBytes -= pending.delta.length;
        const base = await this.#openBase(resolved, deltaOffset);
        this.#record(deltaOffset, await this.#applyDelta(base, deltaOffset, async (applier) => applier.push(pending.delta)));
        ready.push(deltaOffset);
      }
    }
  }

  /** The REF_DELTA bases nobody had; deltas waiting on those (OFS chains) are implied. */
  #missingBases(): string[] {
    const missing = new Set<string>();
    for (const pending of this.#pending.values()) {
      if (pending.header.kind === 'ref-delta' && !this.#bySha.has(pending.header.baseSha)) missing.add(pending.header.baseSha);
    }
    return [...missing].sort();
  }
}

/** A delta base with the type its results take. */
interface OpenBase {
  readonly type: ObjectType;
  readonly base: DeltaBase;
  /** Give the base back to its provider once the delta is applied. */
  readonly release?: () => void | Promise<void>;
}

function providedBase(stored: StoredObject): OpenBase {
  return { type: stored.type, base: stored, release: () => stored.close?.() };
}
