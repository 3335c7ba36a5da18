import { open, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDelta, bufferBase, DeltaApplier, readDeltaHeader, type DeltaBase } from '../../src/git/delta.js';
import { DeltaError } from '../../src/git/errors.js';
import { createRepo, type TestRepo } from '../support/repo.js';
import { pseudoRandomBytes } from '../support/sample-content.js';
import { catObjects, packObjects, verifyPack } from './helpers.js';
import { copyOp, delta, deltaVarint, insertOp } from './pack-builder.js';

/** Apply `deltaBytes` fed in pieces of `size`, the base read through `base`. */
async function applyInPieces(base: DeltaBase, deltaBytes: Buffer, size: number): Promise<Buffer> {
  const out: Buffer[] = [];
  let declared = -1;
  const applier = new DeltaApplier(base, (targetSize) => {
    declared = targetSize;
    return { write: async (chunk) => void out.push(Buffer.from(chunk)) };
  });
  for (let pos = 0; pos < deltaBytes.length; pos += size) await applier.push(deltaBytes.subarray(pos, pos + size));
  await applier.end();
  const result = Buffer.concat(out);
  expect(result.length).toBe(declared);
  return result;
}

describe('git\'s deltas, taken from packs git pack-objects wrote', () => {
  let repo: TestRepo;
  beforeAll(async () => {
    repo = await createRepo();
    const big = pseudoRandomBytes(300_000, 5);
    for (let v = 0; v < 6; v++) {
      await repo.write('text.txt', Array.from({ length: 500 }, (_, i) => `line ${i} ${i % (v + 2) === 0 ? `v${v}` : ''}`).join('\n'));
      await repo.write('big.bin', Buffer.concat([big.subarray(0, 100_000 + v * 1000), Buffer.from(`v${v}`), big.subarray(100_000 + v * 1000)]));
      await repo.commit(`v${v}`);
    }
  });
  afterAll(async () => {
    await repo.cleanup();
  });

  it('reproduce every delta-stored object exactly, whatever the chunking', async () => {
    const pack = await packObjects(repo.dir, ['HEAD'], { ofs: false, depth: 10 });
    const entries = (await verifyPack(pack)).filter((e) => e.storedAs === 7 && e.base !== undefined);
    expect(entries.length).toBeGreaterThan(5);
    const objects = await catObjects(repo.dir, [...new Set(entries.flatMap((e) => [e.sha, e.base ?? '']))]);
    for (const entry of entries) {
      // Skip the entry header (size varint, then the 20-byte base id) and inflate the delta itself.
      let pos = entry.offset;
      while (((pack[pos] ?? 0) & 0x80) !== 0) pos++;
      const deltaBytes = inflateSync(pack.subarray(pos + 1 + 20));
      const base = objects.get(entry.base ?? '')?.data ?? Buffer.alloc(0);
      const target = objects.get(entry.sha)?.data ?? Buffer.alloc(0);
      expect(readDeltaHeader(deltaBytes)).toMatchObject({ sourceSize: base.length, targetSize: target.length });
      expect((await applyDelta(base, deltaBytes)).equals(target)).toBe(true);
      expect((await applyInPieces(bufferBase(base), deltaBytes, 3)).equals(target)).toBe(true);
    }
  });
});

describe('DeltaApplier', () => {
  const base = pseudoRandomBytes(200_000, 9);

  it('copies, inserts, and reads size 0 as 0x10000', async () => {
    const d = delta(base.length, 0x10000 + 5 + 10, copyOp(1000, 0x10000), insertOp(Buffer.from('hello')), copyOp(0, 10));
    const expected = Buffer.concat([base.subarray(1000, 1000 + 0x10000), Buffer.from('hello'), base.subarray(0, 10)]);
    expect(d.includes(Buffer.from([0x80 | 0x01 | 0x02, 0xe8, 0x03]))).toBe(true);
    expect((await applyDelta(base, d)).equals(expected)).toBe(true);
    expect((await applyInPieces(bufferBase(base), d, 1)).equals(expected)).toBe(true);
  });

  it('reads offsets of all four bytes and sizes of all three (a 40 MiB virtual base, read in pieces)', async () => {
    const size = 40 << 20;
    const reads: number[] = [];
    const virtual: DeltaBase = {
      size,
      read: async (offset, length) => {
        reads.push(length);
        return Buffer.from(Array.from({ length }, (_, i) => (offset + i) % 251));
      },
    };
    const offset = 0x0201_0203;
    const copySize = 0x01_0001 + 0x100;
    const d = delta(size, copySize, copyOp(offset, copySize));
    const result = await applyInPieces(virtual, d, 2);
    expect(result.length).toBe(copySize);
    expect(result.every((byte, i) => byte === (offset + i) % 251)).toBe(true);
    expect(Math.max(...reads)).toBeLessThanOrEqual(1 << 20);
  });

  it('streams from a file base with positional reads', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hostsync-delta-'));
    try {
      const file = join(dir, 'base');
      await writeFile(file, base);
      const handle = await open(file, 'r');
      try {
        const fileBase: DeltaBase = {
          size: base.length,
          read: async (offset, length) => {
            const buffer = Buffer.alloc(length);
            const { bytesRead } = await handle.read(buffer, 0, length, offset);
            return buffer.subarray(0, bytesRead);
          },
        };
        const d = delta(base.length, 150_000 + 3, copyOp(50_000, 100_000), insertOp(Buffer.from('abc')), copyOp(0, 50_000));
        const expected = Buffer.concat([base.subarray(50_000, 150_000), Buffer.from('abc'), base.subarray(0, 50_000)]);
        expect((await applyInPieces(fileBase, d, 4096)).equals(expected)).toBe(true);
      } finally {
        await handle.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each<[string, Buffer, RegExp]>([
    ['a copy beyond the base', delta(100, 20, copyOp(90, 20)), /copies bytes 90–110 of a 100-byte base/],
    ['a result longer than declared', delta(100, 5, copyOp(0, 10)), /past its declared result size of 5/],
    ['a result shorter than declared', delta(100, 20, copyOp(0, 10)), /produced 10 bytes but declared a result of 20/],
    ['the reserved instruction 0', delta(100, 1, Buffer.from([0])), /reserved instruction 0x00/],
    ['a base of another size', delta(99, 1, insertOp(Buffer.from('x'))), /expects a base of 99 bytes, but its base has 100/],
    ['a header cut short', deltaVarint(100).subarray(0, 1), /ends inside its header/],
    ['copy arguments cut short', Buffer.concat([deltaVarint(100), deltaVarint(1), Buffer.from([0x91, 0x00])]), /ends inside an instruction/],
    ['an insert cut short', Buffer.concat([deltaVarint(100), deltaVarint(5), Buffer.from([5, 0x61])]), /ends inside an instruction/],
    ['a size over 2^53', Buffer.concat([Buffer.alloc(9, 0xff), Buffer.from([1])]), /more than 2\^53/],
  ])('refuses %s with a DeltaError', async (_name, d, message) => {
    const error = await applyDelta(Buffer.alloc(100, 1), d).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeltaError);
    expect((error as Error).message).toMatch(message);
  });

  it('never writes a byte past the declared size to its target', async () => {
    const written: number[] = [];
    const applier = new DeltaApplier(bufferBase(base), () => ({ write: (chunk) => void written.push(chunk.length) }));
    await expect(applier.push(delta(base.length, 10, copyOp(0, 0x10000)))).rejects.toThrow(DeltaError);
    expect(written.reduce((a, b) => a + b, 0)).toBe(0);
  });
});
