/**
 * The fixed parts of a pack: the 12-byte header (`PACK`, version 2 or 3, object count) and each
 * entry's header (type and inflated size as a varint, then for OFS_DELTA the negative distance to
 * the base, for REF_DELTA the base's 20-byte id). Pure parsing of bytes already buffered.
 * @see https://git-scm.com/docs/gitformat-pack#_pack_pack_files_have_the_following_format
 */
import { PackError } from './errors.js';
import { idFromBytes, type ObjectType } from './objects.js';

/** Bytes of the pack header. */
export const PACK_HEADER_SIZE = 12;
/** Bytes of the SHA-1 trailer. */
export const PACK_TRAILER_SIZE = 20;
/** Longest entry header: a 64-bit size varint (10 bytes) plus a 20-byte base id. */
export const MAX_ENTRY_HEADER = 32;

/** What the pack header says. */
export interface PackHeader {
  readonly version: 2 | 3;
  readonly objects: number;
}

/**
 * Parse the 12-byte pack header.
 * @throws {PackError} on a wrong signature or an unsupported version.
 */
export function parsePackHeader(bytes: Buffer): PackHeader {
  if (bytes.length < PACK_HEADER_SIZE) throw new PackError(`The pack is ${bytes.length} bytes long, shorter than its 12-byte header`);
  const signature = bytes.toString('latin1', 0, 4);
  if (signature !== 'PACK') throw new PackError(`The data does not start with "PACK" (got ${JSON.stringify(signature)}); it is not a pack`, 0);
  const version = bytes.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw new PackError(`Pack version ${version} is not supported (git writes 2 and reads 2 and 3)`, 4);
  return { version, objects: bytes.readUInt32BE(8) };
}

/** An entry's header. */
export type EntryHeader =
  | { readonly kind: 'whole'; readonly type: ObjectType; readonly size: number; readonly length: number }
  | { readonly kind: 'ofs-delta'; readonly size: number; readonly baseOffset: number; readonly length: number }
  | { readonly kind: 'ref-delta'; readonly size: number; readonly baseSha: string; readonly length: number };

const WHOLE_TYPES: Readonly<Record<number, ObjectType>> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' };

/**
 * Parse the entry header at pack offset `at` from `bytes` (which start there). `length` in the
 * result is the header's size in bytes. `undefined` means `bytes` stop inside the header.
 * @throws {PackError} on an unknown type, a size over 2^53, or an OFS_DELTA base outside the pack.
 */
export function parseEntryHeader(bytes: Buffer, at: number): EntryHeader | undefined {
  let pos = 0;
  let byte = bytes[pos++];
  if (byte === undefined) return undefined;
  const typeCode = (byte >> 4) & 7;
  let size = byte & 0x0f;
  for (let shift = 4; (byte & 0x80) !== 0; shift += 7) {
    if (shift > 49) throw new PackError('An object header declares a size of more than 2^53 bytes', at);
    byte = bytes[pos++];
    if (byte === undefined) return undefined;
    size += (byte & 0x7f) * 2 ** shift;
  }
  const type = WHOLE_TYPES[typeCode];
  if (type !== undefined) return { kind: 'whole', type, size, length: pos };
  if (typeCode === 6) {
    byte = bytes[pos++];
    if (byte === undefined) return undefined;
    let distance = byte & 0x7f;
    while ((byte & 0x80) !== 0) {
      byte = bytes[pos++];
      if (byte === undefined) return undefined;
      // Each continuation adds one before shifting, so every distance has a single encoding.
      distance = (distance + 1) * 128 + (byte & 0x7f);
      if (distance > Number.MAX_SAFE_INTEGER / 256) throw new PackError('An OFS_DELTA base distance is out of range', at);
    }
    const baseOffset = at - distance;
    if (distance === 0 || baseOffset < PACK_HEADER_SIZE) {
      throw new PackError(`An OFS_DELTA points ${distance} bytes back, to offset ${baseOffset}, outside the objects before it`, at);
    }
    return { kind: 'ofs-delta', size, baseOffset, length: pos };
  }
  if (typeCode === 7) {
    if (bytes.length < pos + 20) return undefined;
    return { kind: 'ref-delta', size, baseSha: idFromBytes(bytes.subarray(pos, pos + 20)), length: pos + 20 };
  }
  throw new PackError(`An object has type ${typeCode}, which is not a pack object type (1–4, 6, 7)`, at);
}
