/**
 * Reading SSH wire format (RFC 4251 §5): `uint32`, `string` and `mpint`, as used by key blobs and
 * by sshsig (PROTOCOL.sshsig). A reader over one buffer that throws `SshFormatError` naming what it
 * was reading when the bytes run out, so a truncated blob never reads past its end.
 */
import { SshFormatError } from './errors.js';

/** A cursor over SSH wire-format bytes. */
export interface SshReader {
  /** A big-endian uint32. */
  uint32(what: string): number;
  /** A length-prefixed byte string (a view into the buffer, not a copy). */
  bytes(what: string): Buffer;
  /** A length-prefixed string decoded as UTF-8. */
  text(what: string): string;
  /** A length-prefixed mpint as unsigned big-endian magnitude without leading zero bytes; refuses negatives. */
  mpint(what: string): Buffer;
  /** `n` raw bytes. */
  raw(n: number, what: string): Buffer;
  /** Bytes not read yet. */
  remaining(): number;
  /** Throw unless every byte was read: trailing data is refused, as OpenSSH does. */
  end(what: string): void;
}

/** Start reading `buffer`; `context` names the structure in error messages ("the SSH signature"). */
export function sshReader(buffer: Buffer, context: string): SshReader {
  let offset = 0;
  const need = (n: number, what: string): void => {
    if (offset + n > buffer.length) {
      throw new SshFormatError(`${context} is truncated: ${what} needs ${n} bytes at offset ${offset}, only ${buffer.length - offset} remain.`);
    }
  };
  const reader: SshReader = {
    uint32(what) {
      need(4, what);
      const value = buffer.readUInt32BE(offset);
      offset += 4;
      return value;
    },
    raw(n, what) {
      need(n, what);
      const out = buffer.subarray(offset, offset + n);
      offset += n;
      return out;
    },
    bytes(what) {
      const length = reader.uint32(`the length of ${what}`);
      return reader.raw(length, what);
    },
    text(what) {
      return reader.bytes(what).toString('utf8');
    },
    mpint(what) {
      const value = reader.bytes(what);
      const first = value[0];
      if (first !== undefined && first >= 0x80) throw new SshFormatError(`${context} holds a negative mpint as ${what}.`);
      let start = 0;
      while (start < value.length && value[start] === 0) start += 1;
      return value.subarray(start);
    },
    remaining: () => buffer.length - offset,
    end(what) {
      if (offset !== buffer.length) throw new SshFormatError(`${context} has ${buffer.length - offset} bytes of trailing data after ${what}.`);
    },
  };
  return reader;
}

/** Encode a byte string with its uint32 length prefix. */
export function sshString(value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}
