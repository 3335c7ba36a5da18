/**
 * A tiny pack writer for hostile-input tests: entries with any declared size, any base, any
 * compressed bytes, and a correct trailer unless told otherwise. Real packs come from
 * `git pack-objects`; this only makes the ones git would never write.
 */
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import type { ObjectType } from '../../src/git/objects.js';

const TYPE_CODES: Record<ObjectType, number> = { commit: 1, tree: 2, blob: 3, tag: 4 };

/** One entry to write. */
export type BuilderEntry =
  | { readonly kind: 'whole'; readonly type: ObjectType; readonly data: Buffer; readonly declaredSize?: number; readonly compressed?: Buffer }
  | { readonly kind: 'ofs'; readonly baseIndex: number; readonly delta: Buffer; readonly declaredSize?: number; readonly distanceOverride?: number }
  | { readonly kind: 'ref'; readonly baseSha: string; readonly delta: Buffer; readonly declaredSize?: number };

function entryHeader(typeCode: number, size: number): Buffer {
  const bytes: number[] = [];
  let byte = (typeCode << 4) | (size & 0x0f);
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    bytes.push(byte | 0x80);
    byte = rest & 0x7f;
    rest = Math.floor(rest / 128);
  }
  bytes.push(byte);
  return Buffer.from(bytes);
}

/** git's OFS_DELTA distance encoding. */
function ofsDistance(distance: number): Buffer {
  const bytes = [distance & 0x7f];
  let rest = Math.floor(distance / 128);
  while (rest > 0) {
    rest -= 1;
    bytes.unshift(0x80 | (rest & 0x7f));
    rest = Math.floor(rest / 128);
  }
  return Buffer.from(bytes);
}

/** Size varint of a delta header. */
export function deltaVarint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  do {
    let byte = rest & 0x7f;
    rest = Math.floor(rest / 128);
    if (rest > 0) byte |= 0x80;
    bytes.push(byte);
  } while (rest > 0);
  return Buffer.from(bytes);
}

/** A delta instruction: copy `size` bytes at `offset` of the base. */
export function copyOp(offset: number, size: number): Buffer {
  const args: number[] = [];
  let command = 0x80;
  for (let i = 0; i < 4; i++) {
    const byte = Math.floor(offset / 2 ** (8 * i)) & 0xff;
    if (byte !== 0) {
      command |= 1 << i;
      args.push(byte);
    }
  }
  const encodedSize = size === 0x10000 ? 0 : size;
  for (let i = 0; i < 3; i++) {
    const byte = (encodedSize >> (8 * i)) & 0xff;
    if (byte !== 0) {
      command |= 1 << (4 + i);
      args.push(byte);
    }
  }
  return Buffer.from([command, ...args]);
}

/** Delta instructions inserting `data` literally (split into runs of at most 127 bytes). */
export function insertOp(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let pos = 0; pos < data.length; pos += 127) {
    const run = data.subarray(pos, pos + 127);
    parts.push(Buffer.from([run.length]), run);
  }
  return Buffer.concat(parts);
}

/** A whole delta: header for `sourceSize` → `targetSize`, then the instructions. */
export function delta(sourceSize: number, targetSize: number, ...ops: Buffer[]): Buffer {
  return Buffer.concat([deltaVarint(sourceSize), deltaVarint(targetSize), ...ops]);
}

/** Options of {@link buildPack}. */
export interface BuildPackOptions {
  readonly version?: number;
  /** Object count written in the header (default: the number of entries). */
  readonly count?: number;
  /** Write this trailer instead of the right one. */
  readonly trailer?: Buffer;
}

/** Write a pack. */
export function buildPack(entries: readonly BuilderEntry[], opts: BuildPackOptions = {}): Buffer {
  const header = Buffer.alloc(12);
  header.write('PACK', 0, 'latin1');
  header.writeUInt32BE(opts.version ?? 2, 4);
  header.writeUInt32BE(opts.count ?? entries.length, 8);
  const parts: Buffer[] = [header];
  const offsets: number[] = [];
  let offset = 12;
  for (const entry of entries) {
    offsets.push(offset);
    let bytes: Buffer;
    if (entry.kind === 'whole') {
      bytes = Buffer.concat([entryHeader(TYPE_CODES[entry.type], entry.declaredSize ?? entry.data.length), entry.compressed ?? deflateSync(entry.data)]);
    } else if (entry.kind === 'ofs') {
      const distance = entry.distanceOverride ?? offset - (offsets[entry.baseIndex] ?? 0);
      bytes = Buffer.concat([entryHeader(6, entry.declaredSize ?? entry.delta.length), ofsDistance(distance), deflateSync(entry.delta)]);
    } else {
      bytes = Buffer.concat([entryHeader(7, entry.declaredSize ?? entry.delta.length), Buffer.from(entry.baseSha, 'hex'), deflateSync(entry.delta)]);
    }
    parts.push(bytes);
    offset += bytes.length;
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, opts.trailer ?? createHash('sha1').update(body).digest()]);
}

/** Replace a pack's trailer with the right checksum of its (edited) content. */
export function fixTrailer(pack: Buffer): Buffer {
  const body = pack.subarray(0, pack.length - 20);
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}
