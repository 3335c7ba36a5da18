/**
 * Git's pkt-line framing: four hex digits giving the length of the line including themselves,
 * then the payload; `0000` flush, `0001` delim and `0002` response-end are the special packets of
 * protocol v2. Lengths 0003 and over 65520, and anything but hex digits, are refused.
 * @see https://git-scm.com/docs/gitprotocol-common#_pkt_line_format
 * @see https://git-scm.com/docs/gitprotocol-v2#_packet_line_framing
 */
import { ByteReader } from './byte-reader.js';
import { GitServerError, PktLineError } from './errors.js';

/** Largest pkt-line git allows, its 4 length bytes included. */
export const MAX_PKT_LENGTH = 65520;
/** Largest payload of one pkt-line. */
export const MAX_PKT_PAYLOAD = MAX_PKT_LENGTH - 4;

/** `0000`: end of a message. */
export const FLUSH_PKT: Buffer = Buffer.from('0000', 'latin1');
/** `0001`: separates the sections of a v2 message. */
export const DELIM_PKT: Buffer = Buffer.from('0001', 'latin1');
/** `0002`: end of a response on a stateless connection. */
export const RESPONSE_END_PKT: Buffer = Buffer.from('0002', 'latin1');

/** One decoded packet. */
export type PktLine =
  | { readonly kind: 'data'; readonly data: Buffer }
  | { readonly kind: 'flush' }
  | { readonly kind: 'delim' }
  | { readonly kind: 'response-end' };

const FLUSH = { kind: 'flush' } as const;
const DELIM = { kind: 'delim' } as const;
const RESPONSE_END = { kind: 'response-end' } as const;

/**
 * Frame `payload` as one pkt-line. Strings are UTF-8 encoded as given: a text line should end in
 * "\n", which the caller adds (binary payloads must not get one).
 * @throws {PktLineError} when the payload is empty or longer than {@link MAX_PKT_PAYLOAD}.
 */
export function encodePktLine(payload: string | Uint8Array): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  // git says an empty pkt-line SHOULD NOT be sent; "0004" also reads as nothing to many servers.
  if (data.length === 0) throw new PktLineError('Refusing to encode an empty pkt-line ("0004").');
  if (data.length > MAX_PKT_PAYLOAD) {
    throw new PktLineError(`A pkt-line payload holds at most ${MAX_PKT_PAYLOAD} bytes, got ${data.length}.`);
  }
  const out = Buffer.allocUnsafe(data.length + 4);
  out.write((data.length + 4).toString(16).padStart(4, '0'), 0, 'latin1');
  out.set(data, 4);
  return out;
}

const HEX_LENGTH = /^[0-9a-fA-F]{4}$/;

/** Parse the 4-byte length prefix; `offset` is only for the message. */
function parseLength(header: Buffer, offset: number): number {
  const text = header.toString('latin1');
  if (!HEX_LENGTH.test(text)) {
    throw new PktLineError(`Invalid pkt-line length ${JSON.stringify(text)} at byte ${offset}: expected 4 hex digits.`);
  }
  const length = Number.parseInt(text, 16);
  if (length === 3) throw new PktLineError(`Invalid pkt-line length 0003 at byte ${offset}: no such special packet.`);
  if (length > MAX_PKT_LENGTH) {
    throw new PktLineError(`Invalid pkt-line length ${length} at byte ${offset}: the maximum is ${MAX_PKT_LENGTH}.`);
  }
  return length;
}

/** A packet whose payload has not been read yet (see {@link PktLineReader.nextHeader}). */
export type PktHeader =
  | { readonly kind: 'data'; readonly length: number; readonly offset: number }
  | { readonly kind: 'flush' | 'delim' | 'response-end' };

/**
 * Decodes packets from a byte stream as they arrive. `next()` returns whole packets; a caller
 * streaming large payloads (the pack) uses `nextHeader()` then `pieces()`, which hands out views
 * of the received chunks: a payload that straddles two network reads is never copied.
 */
export class PktLineReader {
  readonly #reader: ByteReader;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#reader = new ByteReader(source);
  }

  /**
   * The next packet's kind and payload length; `undefined` when the stream ends cleanly between
   * packets. A data packet's payload must then be read with {@link payload} or {@link pieces}.
   * @throws {PktLineError} on a bad length or a stream cut inside the length.
   */
  async nextHeader(): Promise<PktHeader | undefined> {
    const offset = this.#reader.position;
    const header = await this.#reader.readExactly(4, (got) => new PktLineError(`The stream ended inside a pkt-line length (${got} of 4 bytes at byte ${offset}).`));
    if (header === undefined) return undefined;
    const length = parseLength(header, offset);
    if (length === 0) return FLUSH;
    if (length === 1) return DELIM;
    if (length === 2) return RESPONSE_END;
    return { kind: 'data', length: length - 4, offset };
  }

  /** The whole payload of the data packet just announced (a copy only if it spans chunks). */
  async payload(header: Extract<PktHeader, { kind: 'data' }>, length = header.length): Promise<Buffer> {
    if (length === 0) return Buffer.alloc(0);
    const data = await this.#reader.readExactly(length, (got) => truncatedPayload(header, got));
    if (data === undefined) throw truncatedPayload(header, 0);
    return data;
  }

  /** The next `length` payload bytes of the data packet just announced, as views, in order. */
  async *pieces(header: Extract<PktHeader, { kind: 'data' }>, length: number): AsyncGenerator<Buffer, void, undefined> {
    for (let left = length; left > 0; ) {
      const piece = await this.#reader.take(left);
      if (piece === undefined) throw truncatedPayload(header, header.length - left);
      left -= piece.length;
      yield piece;
    }
  }

  /** The next packet with its payload read whole; `undefined` at the end of the stream. */
  async next(): Promise<PktLine | undefined> {
    const header = await this.nextHeader();
    if (header?.kind !== 'data') return header;
    return { kind: 'data', data: await this.payload(header) };
  }

  /**
   * Read to the end of the stream after a message's final flush: at most a response-end packet
   * may follow. Reading the body to its end also lets the HTTP connection be reused.
   * @throws {PktLineError} when anything else follows.
   */
  async expectEnd(): Promise<void> {
    let next = await this.nextHeader();
    if (next?.kind === 'response-end') next = await this.nextHeader();
    if (next !== undefined) throw new PktLineError(`Unexpected ${next.kind} packet after the end of the message.`);
  }

  /** Stop reading and release the source. */
  close(): Promise<void> {
    return this.#reader.close();
  }
}

function truncatedPayload(header: Extract<PktHeader, { kind: 'data' }>, got: number): PktLineError {
  return new PktLineError(`The stream ended inside a pkt-line: ${got} of ${header.length} payload bytes arrived (line at byte ${header.offset}).`);
}

/**
 * Decode a stream of bytes into whole packets as they arrive. Ends when the source ends at a
 * packet boundary.
 * @throws {PktLineError} on a bad length or a stream cut inside a packet.
 */
export async function* readPktLines(source: AsyncIterable<Uint8Array>): AsyncGenerator<PktLine, void, undefined> {
  const reader = new PktLineReader(source);
  try {
    for (let line = await reader.next(); line !== undefined; line = await reader.next()) yield line;
  } finally {
    await reader.close();
  }
}


/**
 * A text payload as a string: UTF-8, one trailing LF removed (git says receivers must treat lines
 * with and without it alike).
 */
export function pktText(data: Buffer): string {
  const end = data.length > 0 && data[data.length - 1] === 0x0a ? data.length - 1 : data.length;
  return data.toString('utf8', 0, end);
}

/** Frame a list of text lines ("\n" appended to each) followed by a flush-pkt. */
export function encodeTextLines(lines: readonly string[]): Buffer {
  return Buffer.concat([...lines.map((line) => encodePktLine(`${line}\n`)), FLUSH_PKT]);
}

/**
 * Throw the server's message when `data` is an error packet, `ERR <explanation>`, which git may
 * send wherever a pkt-line is expected. `where` says what the client was waiting for.
 * @see https://git-scm.com/docs/gitprotocol-pack#_pkt_line_format
 * @throws {GitServerError}
 */
export function throwIfErrLine(data: Buffer, where: string): void {
  if (data.length >= 4 && data.toString('latin1', 0, 4) === 'ERR ') throw new GitServerError(pktText(data).slice(4).trim(), where);
}
