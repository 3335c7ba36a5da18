import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { parseCapabilityLines, readCapabilities } from '../../src/git/capabilities.js';
import { GitProtocolError, GitServerError, ProtocolVersionError } from '../../src/git/errors.js';
import { fetchPack } from '../../src/git/fetch-pack.js';
import { createGitHttpTransport } from '../../src/git/http-transport.js';
import { MemoryObjectStore } from '../../src/git/memory-store.js';
import { DELIM_PKT, encodePktLine, FLUSH_PKT, pktText, readPktLines } from '../../src/git/pkt-line.js';
import { readFetchResponse } from '../../src/git/fetch-response.js';
import { buildFetchRequest, buildLsRefsRequest, readLsRefsResponse, type FetchRequest } from '../../src/git/upload-pack.js';
import { gitBuffer } from '../support/git-cli.js';
import { createRepo, type TestRepo } from '../support/repo.js';
import { chunked, packObjects } from './helpers.js';

const GIT_CAPS = parseCapabilityLines(['agent=git/2.39.5', 'ls-refs=unborn', 'fetch=shallow wait-for-done filter', 'server-option', 'object-format=sha1', 'object-info']);
const context = { capabilities: GIT_CAPS, agent: 'hostsync/0.1.0' };
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

let repo: TestRepo;
let head: string;
beforeAll(async () => {
  repo = await createRepo();
  await repo.write('README', 'hello\n');
  await repo.commit('one');
  await repo.write('README', 'hello again\n');
  head = await repo.commit('two');
  await repo.tag('v1', 'annotated');
});
afterAll(async () => {
  await repo.cleanup();
});

/** Let the real `git upload-pack` (v2, stateless as behind http-backend) answer a request body. */
function upload(body: Buffer): Promise<Buffer> {
  return gitBuffer(['-c', 'uploadpack.allowFilter=true', 'upload-pack', '--stateless-rpc', '.'], { cwd: repo.dir, input: body, env: { GIT_PROTOCOL: 'version=2' } });
}

async function textLines(body: Buffer): Promise<string[]> {
  const out: string[] = [];
  for await (const line of readPktLines(chunked(body, 100))) out.push(line.kind === 'data' ? pktText(line.data) : `<${line.kind}>`);
  return out;
}

describe('request bodies', () => {
  it('builds an ls-refs request that git upload-pack answers', async () => {
    const body = buildLsRefsRequest({ refPrefixes: ['HEAD', 'refs/tags/'] }, context);
    expect(await textLines(body)).toEqual(['command=ls-refs', 'agent=hostsync/0.1.0', 'object-format=sha1', '<delim>', 'peel', 'symrefs', 'unborn', 'ref-prefix HEAD', 'ref-prefix refs/tags/', '<flush>']);
    const refs = await readLsRefsResponse(chunked(await upload(body), 64));
    expect(refs.map((r) => r.name)).toEqual(['HEAD', 'refs/tags/v1']);
    expect(refs[0]?.oid).toBe(head);
  });

  it('builds a fetch request that git upload-pack answers with a pack', async () => {
    const request: FetchRequest = { wants: [head], deepen: 1, filter: 'blob:none' };
    const body = buildFetchRequest(request, context);
    expect(await textLines(body)).toEqual([
      'command=fetch', 'agent=hostsync/0.1.0', 'object-format=sha1', '<delim>',
      'thin-pack', 'ofs-delta', 'no-progress', 'deepen 1', 'filter blob:none', `want ${head}`, 'done', '<flush>',
    ]);
    const response = await readFetchResponse(chunked(await upload(body), 1000));
    expect(response.shallow).toEqual([head]);
    const bytes: Buffer[] = [];
    for await (const chunk of response.pack ?? []) bytes.push(chunk);
    expect(Buffer.concat(bytes).subarray(0, 4).toString()).toBe('PACK');
  });

  it('leaves out agent and object-format when the server does not advertise them', async () => {
    const bare = parseCapabilityLines(['ls-refs', 'fetch=shallow']);
    expect(await textLines(buildFetchRequest({ wants: [A], haves: [B], shallow: [B], deepen: 2, includeTag: true, progress: true, thinPack: false, ofsDelta: false }, { capabilities: bare, agent: 'x' }))).toEqual([
      'command=fetch', '<delim>', 'include-tag', `shallow ${B}`, 'deepen 2', `want ${A}`, `have ${B}`, 'done', '<flush>',
    ]);
  });

  it.each<[string, FetchRequest, RegExp]>([
    ['no want', { wants: [] }, /at least one `want`/],
    ['a short id', { wants: ['abc'] }, /40-digit/],
    ['an uppercase id', { wants: [A.toUpperCase()] }, /40-digit/],
    ['a zero depth', { wants: [A], deepen: 0 }, /positive integer, got 0/],
    ['a filter with a space', { wants: [A], filter: 'blob:none x' }, /filter spec/],
  ])('refuses %s', (_name, request, message) => {
    expect(() => buildFetchRequest(request, context)).toThrow(UsageError);
    expect(() => buildFetchRequest(request, context)).toThrow(message);
  });

  it('refuses features the server did not advertise, and a sha256-only server', () => {
    const noFilter = parseCapabilityLines(['fetch=shallow', 'ls-refs']);
    expect(() => buildFetchRequest({ wants: [A], filter: 'blob:none' }, { capabilities: noFilter, agent: 'x' })).toThrow(/does not advertise the fetch feature "filter"/);
    const noShallow = parseCapabilityLines(['fetch', 'ls-refs']);
    expect(() => buildFetchRequest({ wants: [A], deepen: 1 }, { capabilities: noShallow, agent: 'x' })).toThrow(/"shallow"/);
    const sha256 = parseCapabilityLines(['fetch', 'object-format=sha256']);
    expect(() => buildFetchRequest({ wants: [A] }, { capabilities: sha256, agent: 'x' })).toThrow(/not sha1/);
    expect(() => buildLsRefsRequest({}, { capabilities: parseCapabilityLines(['fetch']), agent: 'x' })).toThrow(/command "ls-refs"/);
  });
});

/** A response body from pkt-lines: strings are text lines, Buffers raw payloads. */
function response(...parts: (string | Buffer | 'flush' | 'delim')[]): Buffer {
  return Buffer.concat(parts.map((part) => (part === 'flush' ? FLUSH_PKT : part === 'delim' ? DELIM_PKT : encodePktLine(typeof part === 'string' ? `${part}\n` : part))));
}
const band = (n: number, text: string | Buffer): Buffer => Buffer.concat([Buffer.from([n]), Buffer.from(text)]);

async function drain(body: Buffer, onProgress?: (t: string) => void): Promise<{ pack: Buffer; shallow: readonly string[]; unshallow: readonly string[] }> {
  const parsed = await readFetchResponse(chunked(body, 5), onProgress === undefined ? {} : { onProgress });
  const chunks: Buffer[] = [];
  for await (const chunk of parsed.pack ?? []) chunks.push(chunk);
  return { pack: Buffer.concat(chunks), shallow: parsed.shallow, unshallow: parsed.unshallow };
}

describe('fetch responses', () => {
  it('reads sections and demultiplexes the side-band', async () => {
    const progress: string[] = [];
    const got = await drain(response('shallow-info', `shallow ${A}`, `unshallow ${B}`, 'delim', 'wanted-refs', `${A} refs/heads/main`, 'delim', 'packfile', band(2, 'Counting\r'), band(1, 'PA'), band(1, 'CK'), band(2, ''), 'flush'), (t) => progress.push(t));
    expect(got).toEqual({ pack: Buffer.from('PACK'), shallow: [A], unshallow: [B] });
    expect(progress).toEqual(['Counting\r']);
  });

  it('reads negotiation acknowledgments without a pack', async () => {
    const parsed = await readFetchResponse(chunked(response('acknowledgments', `ACK ${A}`, 'ready', 'flush'), 3));
    expect(parsed.acknowledgments).toEqual({ acks: [A], nak: false, ready: true });
    expect(parsed.pack).toBeUndefined();
  });

  it('throws the text of side-band 3 and of ERR lines', async () => {
    await expect(drain(response('packfile', band(1, 'PACK'), band(3, 'fatal: out of memory\n'), 'flush'))).rejects.toThrow(GitServerError);
    await expect(drain(response('packfile', band(3, 'fatal: out of memory\n')))).rejects.toThrow(/side-band 3\): fatal: out of memory/);
    await expect(drain(response('ERR upload-pack: not our ref ' + A))).rejects.toThrow(`not our ref ${A}`);
    await expect(drain(response('packfile', 'ERR disk full'))).rejects.toThrow(/disk full/);
  });

  it.each<[string, Buffer, RegExp]>([
    ['an unknown band', response('packfile', band(4, 'x'), 'flush'), /side-band 4/],
    ['a body cut inside the pack', response('packfile', band(1, 'PACK')), /ended inside the packfile section/],
    ['an unknown section', response('bogus', 'flush'), /Unknown section "bogus"/],
    ['an empty body', Buffer.alloc(0), /response is empty.*protocol v2/],
    ['a malformed shallow line', response('shallow-info', 'shallow xyz', 'flush'), /Malformed shallow-info/],
  ])('refuses %s', async (_name, body, message) => {
    const error = await drain(body).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitProtocolError);
    expect((error as Error).message).toMatch(message);
  });

  it('recognizes a v0/v1 answer', async () => {
    await expect(drain(response('NAK', band(1, 'PACK'), 'flush'))).rejects.toThrow(ProtocolVersionError);
    await expect(drain(response(`shallow ${A}`, 'flush'))).rejects.toThrow(/protocol v0\/v1/);
  });
});

describe('capability advertisement', () => {
  it('reads git\'s v2 advertisement, also behind a "# service=" header', async () => {
    const v2 = await gitBuffer(['upload-pack', '--advertise-refs', '.'], { cwd: repo.dir, env: { GIT_PROTOCOL: 'version=2' } });
    for (const body of [v2, Buffer.concat([encodePktLine('# service=git-upload-pack\n'), FLUSH_PKT, v2])]) {
      const caps = await readCapabilities(chunked(body, 9));
      expect(caps.agent).toMatch(/^git\//);
      expect(caps.commands.get('fetch')?.has('shallow')).toBe(true);
      expect(caps.objectFormats).toEqual(['sha1']);
    }
  });

  it('refuses git\'s v0 advertisement and other versions', async () => {
    const v0 = await gitBuffer(['upload-pack', '--advertise-refs', '.'], { cwd: repo.dir });
    await expect(readCapabilities(chunked(v0, 50))).rejects.toThrow(ProtocolVersionError);
    await expect(readCapabilities(chunked(Buffer.concat([encodePktLine('# service=git-upload-pack\n'), FLUSH_PKT, v0]), 50))).rejects.toThrow(/v0\/v1 reference advertisement/);
    await expect(readCapabilities(chunked(response('version 1', 'flush'), 50))).rejects.toThrow(/protocol 1, not 2/);
  });
});

describe('a server that only speaks protocol v0', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    // Replays what git http-backend sends without Git-Protocol: the v0 advertisement and v0 upload-pack.
    const advertisement = Buffer.concat([encodePktLine('# service=git-upload-pack\n'), FLUSH_PKT, await gitBuffer(['upload-pack', '--advertise-refs', '.'], { cwd: repo.dir })]);
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method === 'GET') {
          res.writeHead(200, { 'content-type': 'application/x-git-upload-pack-advertisement' });
          res.end(advertisement);
          return;
        }
        void gitBuffer(['upload-pack', '--stateless-rpc', '.'], { cwd: repo.dir, input: Buffer.concat(chunks) })
          .catch(() => Buffer.alloc(0))
          .then((out) => {
            res.writeHead(200, { 'content-type': 'application/x-git-upload-pack-result' });
            res.end(out);
          });
      });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/acme/old.git`;
  });
  afterAll(async () => {
    await new Promise((done) => server.close(done));
  });

  it('is recognized from its advertisement', async () => {
    const store = new MemoryObjectStore();
    const error = await fetchPack({ transport: createGitHttpTransport({ url }), wants: [head], deepen: 1, sink: store, bases: store }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolVersionError);
    expect((error as Error).message).toMatch(/protocol v0\/v1 reference advertisement, not protocol v2/);
  });

  it('fails clearly when a v2 request is posted to it directly', async () => {
    const store = new MemoryObjectStore();
    const error = await fetchPack({ transport: createGitHttpTransport({ url }), capabilities: GIT_CAPS, wants: [head], deepen: 1, sink: store, bases: store }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitProtocolError);
    expect((error as Error).message).toMatch(/protocol v2/);
  });
});

describe('pack bytes through the response reader', () => {
  it('hands a real pack through side-band 1 unchanged', async () => {
    const pack = await packObjects(repo.dir, [head]);
    const packets: Buffer[] = [];
    for (let pos = 0; pos < pack.length; pos += 1000) packets.push(band(1, pack.subarray(pos, pos + 1000)));
    const got = await drain(response('packfile', ...packets, 'flush'));
    expect(got.pack.equals(pack)).toBe(true);
  });
});
