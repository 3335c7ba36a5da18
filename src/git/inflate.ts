/**
 * Inflating the zlib stream of one pack entry where it starts at the head of a {@link ByteReader},
 * consuming exactly its compressed bytes: a pack does not say how long each compressed entry is,
 * only how long the inflated object is, so the end of each stream is found by inflating it.
 *
 * Two paths, both on Node's own zlib (decision 0004 has the measurements):
 * - small entries: one `inflateSync(window, { info: true })` on a window that covers the whole
 *   stream; `engine.bytesWritten` says how many input bytes the stream used. No per-object thread
 *   pool round trip, which is what makes a 20,000-object pack fast.
 * - large entries: a streaming `Inflate` fed slice by slice, its output handed on as it comes, so a
 *   50 MiB blob is never held; where the stream stopped is again `bytesWritten`.
 */
import { createInflate, inflateSync, type Inflate } from 'node:zlib';
import type { ByteReader } from './byte-reader.js';
import { PackError } from './errors.js';

/** Objects up to this declared size are inflated whole, in one synchronous call. */
export const WHOLE_INFLATE_LIMIT = 1 << 20;
/** Compressed bytes fed to a streaming inflater at a time: bounds the output held per step. */
const STREAM_SLICE = 64 << 10;
/** Size of each output buffer of the streaming inflater. */
const STREAM_OUTPUT_CHUNK = 16 << 10;

interface InflateInfo {
  readonly buffer: Buffer;
  readonly engine: { readonly bytesWritten: number };
}

/**
 * zlib's deflateBound for a zlib-wrapped stream: no stream zlib writes for `size` bytes is longer,
 * so a window this long holds the whole entry on the first try.
 */
function deflateBound(size: number): number {
  return size + Math.floor(size / 4096) + Math.floor(size / 16384) + Math.floor(size / 33554432) + 13 + 6;
}

function zlibCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}

function corrupt(error: unknown, what: string, at: number): PackError {
  if (error instanceof PackError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new PackError(`The compressed data of ${what} is corrupt (zlib: ${detail})`, at, { cause: error });
}

/**
 * Inflate the entry at the reader's head into one Buffer of exactly `size` bytes and consume its
 * compressed bytes. `what` and `at` (pack offset) name the entry in errors.
 * @throws {PackError} when the data is truncated, corrupt, or inflates to another size than `size`.
 */
export async function inflateWhole(reader: ByteReader, size: number, what: string, at: number): Promise<Buffer> {
  await reader.fill(deflateBound(size));
  let window = Math.min(reader.buffered, deflateBound(size));
  for (;;) {
    const input = reader.peek(window);
    let result: InflateInfo;
    try {
      // maxOutputLength: a stream that inflates past the declared size stops there, not at 4 GiB.
      // chunkSize: zlib's output buffer; the result is a view of it, so a default 16 KiB buffer
      // would pin 16 KiB behind every small object kept (trees, cached bases). One byte spare lets
      // zlib report the end of the stream without asking for a second buffer.
      result = inflateSync(input, { info: true, maxOutputLength: Math.max(1, size), chunkSize: Math.max(64, size + 1) }) as unknown as InflateInfo;
    } catch (error) {
      const code = zlibCode(error);
      if (code === 'ERR_BUFFER_TOO_LARGE') throw new PackError(`${what} inflates to more than the ${size} bytes its header declares`, at);
      if (code !== 'Z_BUF_ERROR') throw corrupt(error, what, at);
      // The stream goes on past the window (a deflater less tight than zlib, or more than was buffered).
      if (window < reader.buffered) {
        window = Math.min(reader.buffered, window * 2);
        continue;
      }
      if (!(await reader.fill(reader.buffered * 2 + STREAM_SLICE)) && reader.buffered === window) {
        throw new PackError(`The pack ends inside the compressed data of ${what}`, at);
      }
      window = reader.buffered;
      continue;
    }
    if (result.buffer.length !== size) {
      throw new PackError(`${what} inflates to ${result.buffer.length} bytes but its header declares ${size}`, at);
    }
    reader.skip(result.engine.bytesWritten);
    return result.buffer;
  }
}

/**
 * Inflate the entry at the reader's head, handing each piece of output to `onData` (awaited
 * before more input is fed), and consume its compressed bytes.
 * @throws {PackError} when the data is truncated, corrupt, or inflates to another size than `size`.
 */
export async function inflateStreaming(
  reader: ByteReader,
  size: number,
  onData: (chunk: Buffer) => void | Promise<void>,
  what: string,
  at: number,
): Promise<void> {
  // Output in zlib's default 16 KiB pieces: measured on a 50 MiB blob, 64 KiB output buffers
  // raised peak RSS by ~10 MB (freed buffers of that size are reused less by malloc) for no speed.
  const inflate = createInflate({ chunkSize: STREAM_OUTPUT_CHUNK });
  const output: Buffer[] = [];
  let ended = false;
  let failure: unknown;
  let produced = 0;
  inflate.on('data', (chunk: Buffer) => {
    produced += chunk.length;
    // Checked here, not when handed on: one slice of a zip bomb could otherwise queue ~64 MiB.
    if (produced > size) inflate.destroy(new PackError(`${what} inflates to more than the ${size} bytes its header declares`, at));
    else output.push(chunk);
  });
  let failed: (error: unknown) => void = () => undefined;
  // After an error, zlib may never call back the write in progress: that write waits on this too.
  const errored = new Promise<unknown>((resolve) => {
    failed = resolve;
  });
  const endSeen = new Promise<void>((resolve) => {
    inflate.once('end', () => {
      ended = true;
      resolve();
    });
    inflate.once('error', (error) => {
      failure = error;
      failed(error);
      resolve();
    });
  });
  const drain = async (): Promise<void> => {
    while (output.length > 0) {
      const chunk = output.shift() ?? Buffer.alloc(0);
      const handled = onData(chunk);
      if (handled instanceof Promise) await handled;
    }
  };
  try {
    let fed = 0;
    for (;;) {
      if (reader.buffered === 0 && !(await reader.pull())) {
        // No more input: a stream that ended exactly at the last byte fed still needs its end seen.
        inflate.end();
        await endSeen;
        if (failure instanceof PackError) throw failure;
        if (failure !== undefined || !ended) throw new PackError(`The pack ends inside the compressed data of ${what}`, at);
        break;
      }
      const slice = reader.firstChunk(STREAM_SLICE);
      const writeError = await Promise.race([write(inflate, slice), errored]);
      if (writeError !== undefined) throw corrupt(writeError, what, at);
      const used = inflate.bytesWritten - fed;
      fed = inflate.bytesWritten;
      reader.skip(used);
      await drain();
      // Input left over means zlib reached the end of the stream inside this slice.
      if (used < slice.length || ended) {
        await endSeen;
        if (failure !== undefined) throw corrupt(failure, what, at);
        break;
      }
    }
    await drain();
  } finally {
    inflate.destroy();
  }
  if (produced !== size) throw new PackError(`${what} inflates to ${produced} bytes but its header declares ${size}`, at);
}

/** Write to the inflater and wait until zlib has processed the bytes; resolves its error, if any. */
function write(inflate: Inflate, chunk: Buffer): Promise<unknown> {
  return new Promise((resolve) => {
    inflate.write(chunk, (error) => resolve(error ?? undefined));
  });
}
