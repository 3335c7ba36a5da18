import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PktLineError } from '../../src/git/errors.js';
import { DELIM_PKT, encodePktLine, encodeTextLines, FLUSH_PKT, MAX_PKT_PAYLOAD, pktText, readPktLines, RESPONSE_END_PKT, type PktLine } from '../../src/git/pkt-line.js';
import { gitBuffer } from '../support/git-cli.js';
import { createRepo, type TestRepo } from '../support/repo.js';
import { chunked } from './helpers.js';

async function decode(bytes: Buffer, chunkSize: number | { seed: number; max: number } = 4096): Promise<PktLine[]> {
  const lines: PktLine[] = [];
  for await (const line of readPktLines(chunked(bytes, chunkSize))) lines.push(line);
  return lines;
}

/** Re-encode decoded packets: special packets as themselves, data lines framed again. */
function encode(lines: readonly PktLine[]): Buffer {
  return Buffer.concat(
    lines.map((line) => {
      if (line.kind === 'flush') return FLUSH_PKT;
      if (line.kind === 'delim') return DELIM_PKT;
      if (line.kind === 'response-end') return RESPONSE_END_PKT;
      return line.data.length === 0 ? Buffer.from('0004') : encodePktLine(line.data);
    }),
  );
}

let repo: TestRepo;
beforeAll(async () => {
  repo = await createRepo();
  await repo.write('a', 'a\n');
  await repo.commit('one');
  await repo.tag('v1', 'annotated');
});
afterAll(async () => {
  await repo.cleanup();
});

describe('pkt-line framing', () => {
  it('encodes git\'s examples', () => {
    expect(encodePktLine('a\n').toString()).toBe('0006a\n');
    expect(encodePktLine('a').toString()).toBe('0005a');
    expect(encodePktLine('foobar\n').toString()).toBe('000bfoobar\n');
    expect(encodeTextLines(['x', 'yz']).toString()).toBe('0006x\n0007yz\n0000');
    expect(pktText(Buffer.from('done\n'))).toBe('done');
    expect(pktText(Buffer.from('done'))).toBe('done');
  });

  it('round-trips what git upload-pack writes, whatever the chunking', async () => {
    const advertisement = await gitBuffer(['upload-pack', '--advertise-refs', '.'], { cwd: repo.dir });
    const v2 = await gitBuffer(['upload-pack', '--advertise-refs', '.'], { cwd: repo.dir, env: { GIT_PROTOCOL: 'version=2' } });
    for (const bytes of [advertisement, v2]) {
      const whole = await decode(bytes);
      expect(encode(whole).equals(bytes)).toBe(true);
      expect(await decode(bytes, 1)).toEqual(whole);
      expect(await decode(bytes, { seed: 3, max: 7 })).toEqual(whole);
    }
    const first = (await decode(v2))[0];
    expect(first?.kind === 'data' ? pktText(first.data) : first).toBe('version 2');
  });

  it('decodes the special packets and the empty line', async () => {
    expect(await decode(Buffer.from('0000000100020004'))).toEqual([{ kind: 'flush' }, { kind: 'delim' }, { kind: 'response-end' }, { kind: 'data', data: Buffer.alloc(0) }]);
  });

  it('accepts the largest pkt-line and refuses to encode a larger or empty one', async () => {
    const max = encodePktLine(Buffer.alloc(MAX_PKT_PAYLOAD, 0x61));
    expect(max.subarray(0, 4).toString()).toBe('fff0');
    expect(await decode(max, 1000)).toEqual([{ kind: 'data', data: Buffer.alloc(MAX_PKT_PAYLOAD, 0x61) }]);
    expect(() => encodePktLine(Buffer.alloc(MAX_PKT_PAYLOAD + 1))).toThrow(PktLineError);
    expect(() => encodePktLine('')).toThrow(PktLineError);
  });

  it.each([
    ['0003', /length 0003/],
    ['fff1xxxx', /length 65521 .* maximum is 65520/],
    ['ffff', /length 65535/],
    ['zzzz', /"zzzz" .* 4 hex digits/],
    ['00 6a\n', /4 hex digits/],
    ['+006', /4 hex digits/],
    ['000', /ended inside a pkt-line length/],
    ['000aabc', /3 of 6 payload bytes/],
    ['0008ab', /2 of 4 payload bytes/],
    ['0009', /0 of 5 payload bytes/],
  ])('refuses the hostile input %j with a PktLineError', async (input, message) => {
    const error = await decode(Buffer.from(input, 'latin1')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PktLineError);
    expect((error as Error).message).toMatch(message);
  });

  it('yields the good packets before a bad one', async () => {
    const lines: PktLine[] = [];
    const error = await (async () => {
      for await (const line of readPktLines(chunked(Buffer.from('0006a\n0000zzzz'), 2))) lines.push(line);
    })().catch((e: unknown) => e);
    expect(lines).toEqual([{ kind: 'data', data: Buffer.from('a\n') }, { kind: 'flush' }]);
    expect(error).toBeInstanceOf(PktLineError);
  });
});
