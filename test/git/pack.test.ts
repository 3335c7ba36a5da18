import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MissingBasesError, PackError } from '../../src/git/errors.js';
import { MemoryObjectStore } from '../../src/git/memory-store.js';
import { hashObject } from '../../src/git/objects.js';
import { readPack } from '../../src/git/pack.js';
import { createRepo, type TestRepo } from '../support/repo.js';
import { pseudoRandomBytes } from '../support/sample-content.js';
import { catObjects, chunked, objectsOfCommit, packObjects, storeMatches, verifyPack, type GitObject } from './helpers.js';
import { buildPack, copyOp, delta, fixTrailer, insertOp } from './pack-builder.js';

let repo: TestRepo;
const commits: string[] = [];

/** Text that changes a little from version to version, so git stores it as deltas. */
function versionedText(version: number): string {
  const lines: string[] = [];
  for (let i = 0; i < 400; i++) lines.push(`line ${i} of the configuration ${i % 7 === 0 ? `edited in v${Math.floor(version / (1 + (i % 5)))}` : 'unchanged'}`);
  return `${lines.join('\n')}\n`;
}

beforeAll(async () => {
  repo = await createRepo();
  for (let version = 0; version < 12; version++) {
    await repo.write('etc/chain.conf', versionedText(version));
    await repo.write(`notes/v${version}.txt`, `note ${version}\n`);
    if (version === 0) {
      await repo.write('bin/run.sh', '#!/bin/sh\necho run\n');
      await repo.chmod('bin/run.sh', true);
      await repo.symlink('current', 'etc/chain.conf');
      await repo.write('data/blob.bin', pseudoRandomBytes(200_000, 3));
    }
    if (version === 6) await repo.write('data/blob.bin', Buffer.concat([pseudoRandomBytes(200_000, 3).subarray(0, 150_000), Buffer.from('edited tail')]));
    commits.push(await repo.commit(`version ${version}`));
  }
});

afterAll(async () => {
  await repo.cleanup();
});

/** Read a pack into a fresh memory store (which is also the base provider). */
async function readInto(pack: Buffer, store = new MemoryObjectStore(), chunkSize: number | { seed: number; max: number } = 65515) {
  const summary = await readPack(chunked(pack, chunkSize), { sink: store, bases: store });
  return { summary, store };
}

/** Every object of the whole history, as git has them. */
async function historyObjects(head: string): Promise<Map<string, GitObject>> {
  const list = await repo.git('rev-list', '--objects', head);
  return catObjects(repo.dir, list.split('\n').map((line) => line.slice(0, 40)));
}

describe('readPack on packs made by git pack-objects', () => {
  it('resolves OFS_DELTA chains: every object equals git cat-file, counts equal verify-pack', async () => {
    const head = commits[commits.length - 1] ?? '';
    const pack = await packObjects(repo.dir, [head], { depth: 50 });
    const entries = await verifyPack(pack);
    // The fixture must really exercise chains of OFS deltas.
    expect(entries.filter((e) => e.storedAs === 6).length).toBeGreaterThan(5);
    expect(Math.max(...entries.map((e) => e.depth))).toBeGreaterThanOrEqual(3);

    const { summary, store } = await readInto(pack);
    const expected = await historyObjects(head);
    expect(store.objects.size).toBe(expected.size);
    storeMatches(store, expected);
    expect(summary.objects).toBe(entries.length);
    expect(summary.counts.ofsDelta).toBe(entries.filter((e) => e.storedAs === 6).length);
    expect(summary.counts.refDelta).toBe(0);
    for (const type of ['commit', 'tree', 'blob', 'tag'] as const) {
      expect(summary.counts[type]).toBe(entries.filter((e) => e.type === type).length);
    }
    expect(summary.packBytes).toBe(pack.length);
    expect(summary.checksum).toBe(pack.subarray(pack.length - 20).toString('hex'));
  });

  it('resolves REF_DELTA packs (no --delta-base-offset) alike', async () => {
    const head = commits[commits.length - 1] ?? '';
    const pack = await packObjects(repo.dir, [head], { ofs: false, depth: 50 });
    const entries = await verifyPack(pack);
    expect(entries.filter((e) => e.storedAs === 7).length).toBeGreaterThan(5);
    const { summary, store } = await readInto(pack);
    storeMatches(store, await historyObjects(head));
    expect(summary.counts.refDelta).toBe(entries.filter((e) => e.storedAs === 7).length);
    expect(summary.counts.externalBases).toBe(0);
  });

  it('gives the same result whatever the chunking of the stream (1–97 byte pieces)', async () => {
    const pack = await packObjects(repo.dir, [commits[3] ?? ''], { depth: 10 });
    const whole = await readInto(pack);
    const pieces = await readInto(pack, new MemoryObjectStore(), { seed: 7, max: 97 });
    expect([...pieces.store.objects.keys()].sort()).toEqual([...whole.store.objects.keys()].sort());
    expect(pieces.summary).toEqual(whole.summary);
  });

  it('completes a thin pack from the base provider, asking it only for objects outside the pack', async () => {
    const old = commits[5] ?? '';
    const head = commits[11] ?? '';
    const pack = await packObjects(repo.dir, [head, `^${old}`], { thin: true, depth: 50 });
    // The caller has the old commit's objects.
    const store = new MemoryObjectStore();
    for (const [, object] of await catObjects(repo.dir, await objectsOfCommit(repo.dir, old))) store.add(object.type, object.data);
    const had = new Set(store.objects.keys());
    const { summary } = await readInto(pack, store);
    expect(summary.counts.externalBases).toBeGreaterThan(0);
    const newObjects = (await repo.git('rev-list', '--objects', head, `^${old}`)).split('\n').map((l) => l.slice(0, 40));
    storeMatches(store, await catObjects(repo.dir, newObjects));
    for (const sha of store.lookups.keys()) {
      // Every base asked for is either an old object or a blob of this pack read back.
      expect(had.has(sha) || newObjects.includes(sha)).toBe(true);
    }
  });

  it('reports every base nobody has in one MissingBasesError, and succeeds once exactly those are provided', async () => {
    const old = commits[5] ?? '';
    const head = commits[11] ?? '';
    const pack = await packObjects(repo.dir, [head, `^${old}`], { thin: true, depth: 50 });
    const error = await readInto(pack).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingBasesError);
    const missing = (error as MissingBasesError).missing;
    expect(missing.length).toBeGreaterThan(0);
    const oldObjects = await catObjects(repo.dir, await objectsOfCommit(repo.dir, old));
    for (const sha of missing) expect(oldObjects.has(sha), `${sha} should be an object of the old commit`).toBe(true);
    expect((error as Error).message).toContain(missing[0]);

    const store = new MemoryObjectStore();
    for (const sha of missing) {
      const object = oldObjects.get(sha);
      if (object !== undefined) store.add(object.type, object.data);
    }
    const { summary } = await readInto(pack, store);
    expect(summary.counts.externalBases).toBeGreaterThan(0);
  });
});

describe('readPack refuses corrupt packs with a PackError', () => {
  let pack: Buffer;
  beforeAll(async () => {
    pack = await packObjects(repo.dir, [commits[4] ?? ''], { depth: 20 });
  });

  it('for a flipped byte anywhere (sampled positions), and never half-reports a blob', async () => {
    const positions = new Set<number>([0, 5, 9, 11, 12, 13, pack.length - 1, pack.length - 20]);
    for (let i = 0; positions.size < 120; i++) positions.add(Math.floor(((i * 7919) % 10007) / 10007 * pack.length));
    for (const position of positions) {
      const bad = Buffer.from(pack);
      bad[position] = (bad[position] ?? 0) ^ 0x55;
      const store = new MemoryObjectStore();
      const error = await readInto(bad, store).catch((e: unknown) => e);
      expect(error, `flipped byte at ${position}`).toBeInstanceOf(PackError);
      for (const [sha, object] of store.objects) expect(hashObject(object.type, object.data)).toBe(sha);
    }
  });

  it('for a pack cut short at any point', async () => {
    for (const length of [0, 4, 11, 12, 13, 40, Math.floor(pack.length / 2), pack.length - 21, pack.length - 20, pack.length - 1]) {
      const error = await readInto(pack.subarray(0, length)).catch((e: unknown) => e);
      expect(error, `cut at ${length}`).toBeInstanceOf(PackError);
    }
  });

  it('for a trailer that does not match, naming both checksums', async () => {
    const bad = Buffer.from(pack);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1;
    await expect(readInto(bad)).rejects.toThrow(/trailing checksum is [0-9a-f]{40}, but its content hashes to [0-9a-f]{40}/);
  });

  it('for data after the trailer', async () => {
    await expect(readInto(Buffer.concat([pack, Buffer.from('x')]))).rejects.toThrow(/More data follows/);
  });

  it('for an object count that does not match the entries (checksum fixed)', async () => {
    const fewer = Buffer.from(pack);
    fewer.writeUInt32BE(fewer.readUInt32BE(8) - 1, 8);
    await expect(readInto(fixTrailer(fewer))).rejects.toThrow(/More data follows.*declares/);
    const more = Buffer.from(pack);
    more.writeUInt32BE(more.readUInt32BE(8) + 1, 8);
    await expect(readInto(fixTrailer(more))).rejects.toBeInstanceOf(PackError);
  });

  it('for a bad signature or version', async () => {
    await expect(readInto(Buffer.concat([Buffer.from('PACX'), pack.subarray(4)]))).rejects.toThrow(/not a pack/);
    const v4 = Buffer.from(pack);
    v4.writeUInt32BE(4, 4);
    await expect(readInto(v4)).rejects.toThrow(/version 4/);
  });
});

describe('readPack on hand-made packs', () => {
  const base = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz\n'.repeat(20));

  it('accepts pack version 3', async () => {
    const { store } = await readInto(buildPack([{ kind: 'whole', type: 'blob', data: base }], { version: 3 }));
    expect(store.objects.get(hashObject('blob', base))?.data.equals(base)).toBe(true);
  });

  it('resolves a REF_DELTA whose base comes later in the pack, and a delta on that delta', async () => {
    const middle = Buffer.concat([base.subarray(0, 100), Buffer.from('MIDDLE')]);
    const last = Buffer.concat([Buffer.from('>'), middle]);
    const pack = buildPack([
      { kind: 'ref', baseSha: hashObject('blob', middle), delta: delta(middle.length, last.length, insertOp(Buffer.from('>')), copyOp(0, middle.length)) },
      { kind: 'ref', baseSha: hashObject('blob', base), delta: delta(base.length, middle.length, copyOp(0, 100), insertOp(Buffer.from('MIDDLE'))) },
      { kind: 'whole', type: 'blob', data: base },
    ]);
    const { store, summary } = await readInto(pack);
    expect(store.objects.get(hashObject('blob', last))?.data.equals(last)).toBe(true);
    expect(summary.counts).toMatchObject({ blob: 3, refDelta: 2, externalBases: 0 });
  });

  it('resolves REF_DELTAs whose bases only the provider has, keeping the base\'s type (blob, tree)', async () => {
    const tree = await repo.git('rev-parse', `${commits[0] ?? ''}^{tree}`);
    const [treeObject] = (await catObjects(repo.dir, [tree])).values();
    if (treeObject === undefined) throw new Error('no tree');
    const provider = new MemoryObjectStore();
    const baseSha = provider.add('blob', base);
    provider.add('tree', treeObject.data);
    const newBlob = Buffer.concat([base.subarray(0, 50), Buffer.from('changed')]);
    const newTree = treeObject.data.subarray(0, treeObject.data.length - 1);
    const pack = buildPack([
      { kind: 'ref', baseSha, delta: delta(base.length, newBlob.length, copyOp(0, 50), insertOp(Buffer.from('changed'))) },
      { kind: 'ref', baseSha: tree, delta: delta(treeObject.data.length, newTree.length, copyOp(0, newTree.length)) },
    ]);
    const sink = new MemoryObjectStore();
    const summary = await readPack(chunked(pack, 7), { sink, bases: provider });
    expect(summary.counts).toMatchObject({ blob: 1, tree: 1, refDelta: 2, externalBases: 2 });
    expect(sink.objects.get(hashObject('blob', newBlob))).toEqual({ type: 'blob', data: newBlob });
    expect(sink.objects.get(hashObject('tree', newTree))?.type).toBe('tree');
    expect([...provider.lookups.keys()].sort()).toEqual([baseSha, tree].sort());
  });

  it('refuses an object that inflates to more or fewer bytes than declared', async () => {
    await expect(readInto(buildPack([{ kind: 'whole', type: 'blob', data: base, declaredSize: base.length - 1 }]))).rejects.toThrow(/more than the \d+ bytes/);
    await expect(readInto(buildPack([{ kind: 'whole', type: 'blob', data: base, declaredSize: base.length + 1 }]))).rejects.toThrow(/inflates to \d+ bytes but its header declares/);
  });

  it('stops a zip bomb at its declared size, on both inflate paths', async () => {
    const zeros = Buffer.alloc(64 << 20);
    for (const declaredSize of [10, 2 << 20]) {
      const before = process.memoryUsage().arrayBuffers;
      const error = await readInto(buildPack([{ kind: 'whole', type: 'blob', data: zeros, declaredSize }])).catch((e: unknown) => e);
      expect(error, `declared ${declaredSize}`).toBeInstanceOf(PackError);
      expect((error as Error).message).toMatch(/more than the \d+ bytes its header declares/);
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 << 20);
    }
  });

  it('refuses a delta copying past its base, or producing another size than declared', async () => {
    const copyPast = buildPack([
      { kind: 'whole', type: 'blob', data: base },
      { kind: 'ofs', baseIndex: 0, delta: delta(base.length, 10, copyOp(base.length - 5, 10)) },
    ]);
    await expect(readInto(copyPast)).rejects.toThrow(/copies bytes .* of a \d+-byte base/);
    const short = buildPack([
      { kind: 'whole', type: 'blob', data: base },
      { kind: 'ofs', baseIndex: 0, delta: delta(base.length, 11, copyOp(0, 10)) },
    ]);
    await expect(readInto(short)).rejects.toThrow(/produced 10 bytes but declared a result of 11/);
    const wrongBase = buildPack([
      { kind: 'whole', type: 'blob', data: base },
      { kind: 'ofs', baseIndex: 0, delta: delta(base.length + 1, 10, copyOp(0, 10)) },
    ]);
    await expect(readInto(wrongBase)).rejects.toThrow(/expects a base of \d+ bytes/);
  });

  it('refuses an OFS_DELTA pointing into the middle of an object', async () => {
    const pack = buildPack([
      { kind: 'whole', type: 'blob', data: base },
      { kind: 'ofs', baseIndex: 0, delta: delta(base.length, 10, copyOp(0, 10)), distanceOverride: 10 },
    ]);
    await expect(readInto(pack)).rejects.toThrow(/not the start of an earlier object/);
  });

  it('reports REF_DELTAs that depend on each other in a cycle as missing bases', async () => {
    const a = hashObject('blob', Buffer.from('a'));
    const b = hashObject('blob', Buffer.from('b'));
    const pack = buildPack([
      { kind: 'ref', baseSha: a, delta: delta(1, 1, insertOp(Buffer.from('b'))) },
      { kind: 'ref', baseSha: b, delta: delta(1, 1, insertOp(Buffer.from('a'))) },
    ]);
    const error = await readInto(pack).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingBasesError);
    expect((error as MissingBasesError).missing).toEqual([a, b].sort());
  });

  it('refuses to hold more than 128 MiB of deltas waiting for their bases', async () => {
    const pack = buildPack([{ kind: 'ref', baseSha: hashObject('blob', Buffer.from('nowhere')), delta: delta(7, 1, insertOp(Buffer.from('x'))), declaredSize: 200 << 20 }]);
    await expect(readInto(pack)).rejects.toThrow(/waiting for their bases would take more than 128 MiB/);
  });

  it('refuses corrupt zlib data and names it', async () => {
    const compressed = Buffer.from(buildPack([{ kind: 'whole', type: 'blob', data: base }]).subarray(14, -20));
    compressed[5] = (compressed[5] ?? 0) ^ 0xff;
    await expect(readInto(buildPack([{ kind: 'whole', type: 'blob', data: base, compressed }]))).rejects.toThrow(/compressed data .* is corrupt/);
  });

  it('aborts a streamed blob cut by corruption, and never stores it', async () => {
    const big = pseudoRandomBytes(3 << 20, 17);
    const pack = buildPack([{ kind: 'whole', type: 'blob', data: big }]);
    for (const position of [20, 1 << 20, 2 << 20, pack.length - 30, pack.length - 22]) {
      const bad = Buffer.from(pack);
      bad[position] = (bad[position] ?? 0) ^ 0x10;
      const store = new MemoryObjectStore();
      await expect(readInto(bad, store), `flipped byte at ${position}`).rejects.toBeInstanceOf(PackError);
      expect(store.aborted).toBe(1);
      expect(store.objects.size).toBe(0);
    }
    for (const length of [1 << 20, pack.length - 21]) {
      const store = new MemoryObjectStore();
      await expect(readInto(pack.subarray(0, length), store), `cut at ${length}`).rejects.toThrow(/ends inside the compressed data/);
      expect(store.aborted).toBe(1);
    }
    const good = await readInto(pack);
    expect(good.store.objects.get(hashObject('blob', big))?.data.equals(big)).toBe(true);
  });

  it('passes a sink failure through as it is, after every write in flight has settled', async () => {
    const blobs = Array.from({ length: 40 }, (_, i) => Buffer.from(`blob number ${i}\n`));
    const pack = buildPack(blobs.map((data) => ({ kind: 'whole' as const, type: 'blob' as const, data })));
    let open = 0;
    let finished = 0;
    const diskFull = new Error('ENOSPC: no space left on device');
    const sink = {
      object: () => undefined,
      blob: async () => {
        open += 1;
        await new Promise((resolve) => setTimeout(resolve, 1));
        return {
          write: () => {
            if (finished === 10) throw diskFull;
          },
          finish: () => {
            finished += 1;
            open -= 1;
          },
          abort: () => {
            open -= 1;
          },
        };
      },
    };
    await expect(readPack(chunked(pack, 100), { sink })).rejects.toBe(diskFull);
    expect(open).toBe(0);
  });

  it('stops at an aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    const store = new MemoryObjectStore();
    await expect(readPack(chunked(buildPack([{ kind: 'whole', type: 'blob', data: base }]), 100), { sink: store, signal: controller.signal })).rejects.toThrow(/abort/i);
  });
});
