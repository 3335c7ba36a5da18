import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostsyncError } from '../../src/errors.js';
import { parseCapabilityLines } from '../../src/git/capabilities.js';
import { GitHttpError, GitServerError } from '../../src/git/errors.js';
import { fetchPack, lsRefs } from '../../src/git/fetch-pack.js';
import { createGitHttpTransport, type GitHttpTransport } from '../../src/git/http-transport.js';
import { MemoryObjectStore } from '../../src/git/memory-store.js';
import { parseTree, serializeTree } from '../../src/git/tree.js';
import { hashObject } from '../../src/git/objects.js';
import { git, gitBuffer } from '../support/git-cli.js';
import { startGitHubServer, type FakeGitHub } from '../support/github-server.js';
import { createRepo, type TestRepo } from '../support/repo.js';
import { pseudoRandomBytes } from '../support/sample-content.js';
import { basicAuth, catObjects, objectsOfCommit, storeMatches } from './helpers.js';

const TOKEN = 'ghs_GitWireTestToken0123456789abcdefXYZ';

let server: FakeGitHub;
let repo: TestRepo;
let sub: TestRepo;
let empty: TestRepo;
const c = { first: '', second: '', tag: '' };

beforeAll(async () => {
  server = await startGitHubServer({ tokens: [TOKEN] });
  sub = await createRepo({ prefix: 'hostsync-sub-' });
  await sub.write('lib.txt', 'submodule content\n');
  const subCommit = await sub.commit('sub');

  repo = await createRepo();
  for (let i = 0; i < 40; i++) await repo.write(`src/mod${i % 4}/file${i}.ts`, `export const value${i} = ${i};\n`.repeat(60));
  await repo.write('README.md', '# demo\n');
  await repo.write('bin/run.sh', '#!/bin/sh\necho run\n');
  await repo.chmod('bin/run.sh', true);
  await repo.symlink('current', 'src/mod0/file0.ts');
  await repo.write('data/random.bin', pseudoRandomBytes(300_000, 11));
  await repo.write('docs/ünï côdé.md', 'unicode name\n');
  await repo.git('add', '-A');
  // A submodule: an index entry of mode 160000 pointing at a commit of another repository.
  await repo.git('update-index', '--add', '--cacheinfo', `160000,${subCommit},vendor/sub`);
  c.first = await repo.git('commit-tree', await repo.git('write-tree'), '-m', 'first');
  await repo.git('reset', '-q', '--soft', c.first);
  await repo.git('tag', '-a', '-m', 'release 1', 'v1');
  c.tag = await repo.git('rev-parse', 'v1');
  for (let i = 0; i < 40; i += 5) await repo.write(`src/mod${i % 4}/file${i}.ts`, `export const value${i} = ${i};\n`.repeat(60) + `// edited\n`);
  await repo.write('data/random.bin', Buffer.concat([pseudoRandomBytes(300_000, 11), Buffer.from('appended')]));
  await repo.git('add', '-A', '--', 'src', 'data');
  c.second = await repo.git('commit-tree', await repo.git('write-tree'), '-p', c.first, '-m', 'second');
  await repo.git('reset', '-q', '--soft', c.second);

  empty = await createRepo({ prefix: 'hostsync-empty-' });
  await server.addRepo('acme/demo', repo.dir);
  await server.addRepo('acme/private', repo.dir, { private: true });
  await server.addRepo('acme/empty', empty.dir);
});

afterAll(async () => {
  await server.close();
  await Promise.all([repo.cleanup(), sub.cleanup(), empty.cleanup()]);
});

function transportFor(name: string, headers: Record<string, string> = {}): GitHttpTransport {
  return createGitHttpTransport({ url: `${server.serverUrl}/${name}.git`, headers });
}

describe('fetchPack against git http-backend (protocol v2)', () => {
  it('fetches one commit with deepen 1: exactly its objects, as git cat-file has them, in 2 round trips', async () => {
    const store = new MemoryObjectStore();
    const result = await fetchPack({ transport: transportFor('acme/demo'), wants: [c.second], deepen: 1, sink: store, bases: store, agent: 'hostsync/0.1.0' });
    const expected = await catObjects(repo.dir, await objectsOfCommit(repo.dir, c.second));
    expect(store.objects.size).toBe(expected.size);
    storeMatches(store, expected);
    expect(result.shallow).toEqual([c.second]);
    expect(result.requests).toBe(2);
    expect(result.objectCount).toBe(expected.size);
    expect(result.objects.commit).toBe(1);
    expect(result.packBytes).toBeGreaterThan(0);
    expect(result.bytesReceived).toBeGreaterThan(result.packBytes);
  });

  it('delivers trees that parse like git ls-tree (gitlink, symlink, executable) and re-serialize to their ids', async () => {
    const store = new MemoryObjectStore();
    await fetchPack({ transport: transportFor('acme/demo'), wants: [c.first], deepen: 1, sink: store, bases: store });
    let trees = 0;
    for (const [sha, object] of store.objects) {
      if (object.type !== 'tree') continue;
      trees += 1;
      const entries = parseTree(object.data);
      const listing = (await gitBuffer(['ls-tree', '-z', sha], { cwd: repo.dir })).toString('utf8').split('\0').filter((l) => l !== '');
      expect(entries.map((e) => `${e.mode.padStart(6, '0')} ${e.sha}\t${e.name.toString('utf8')}`)).toEqual(
        listing.map((line) => line.replace(/^(\d+) \w+ /, '$1 ')),
      );
      expect(hashObject('tree', serializeTree([...entries].reverse()))).toBe(sha);
    }
    expect(trees).toBeGreaterThan(3);
    const modes = new Set([...store.objects.values()].filter((o) => o.type === 'tree').flatMap((o) => parseTree(o.data).map((e) => e.mode)));
    expect([...modes].sort()).toEqual(['100644', '100755', '120000', '160000', '40000']);
  });

  it('fetches only what changed with have + shallow, completing REF_DELTAs from the provider (blob and tree bases)', async () => {
    const store = new MemoryObjectStore();
    const transport = transportFor('acme/demo');
    const first = await fetchPack({ transport, wants: [c.first], deepen: 1, sink: store, bases: store });
    store.lookups.clear();
    const second = await fetchPack({ transport, capabilities: first.capabilities, wants: [c.second], haves: [c.first], shallow: [c.first], deepen: 1, sink: store, bases: store });
    expect(second.requests).toBe(1);
    expect(second.objects.refDelta).toBeGreaterThan(0);
    expect(second.objects.externalBases).toBeGreaterThan(0);
    expect(second.objectCount).toBeLessThan(first.objectCount);
    const askedTypes = new Set([...store.lookups.keys()].map((sha) => store.objects.get(sha)?.type));
    expect(askedTypes).toContain('blob');
    expect(askedTypes).toContain('tree');
    // Everything the new commit needs is now in the store, byte for byte.
    storeMatches(store, await catObjects(repo.dir, await objectsOfCommit(repo.dir, c.second)));
  });

  it('works with a POST alone: git http-backend needs no info/refs GET first (v2 is stateless)', async () => {
    const capabilities = parseCapabilityLines(['agent=git/2.39.5', 'ls-refs=unborn', 'fetch=shallow wait-for-done filter', 'object-format=sha1']);
    server.resetLog();
    const store = new MemoryObjectStore();
    const result = await fetchPack({ transport: transportFor('acme/demo'), capabilities, wants: [c.second], deepen: 1, sink: store, bases: store });
    expect(result.requests).toBe(1);
    expect(server.requests.map((r) => `${r.method} ${r.path.split('?')[0] ?? ''} ${r.status}`)).toEqual(['POST /acme/demo.git/git-upload-pack 200']);
    expect(store.objects.has(c.second)).toBe(true);
  });

  it('takes fewer round trips than git fetch --depth 1 of the same SHA', async () => {
    const clone = await createRepo({ prefix: 'hostsync-gitfetch-' });
    try {
      server.resetLog();
      await git(['-c', 'protocol.version=2', 'fetch', '-q', '--depth', '1', `${server.serverUrl}/acme/demo.git`, c.second], { cwd: clone.dir });
      const gitRequests = server.requests.length;
      server.resetLog();
      const store = new MemoryObjectStore();
      const ours = await fetchPack({ transport: transportFor('acme/demo'), wants: [c.second], deepen: 1, sink: store, bases: store });
      expect(ours.requests).toBe(server.requests.length);
      expect(ours.requests).toBeLessThan(gitRequests);
    } finally {
      await clone.cleanup();
    }
  });

  it('applies filters: blob:none leaves out blobs, tree:0 sends the commit alone', async () => {
    const transport = transportFor('acme/demo');
    const noBlobs = new MemoryObjectStore();
    const a = await fetchPack({ transport, wants: [c.second], deepen: 1, filter: 'blob:none', sink: noBlobs, bases: noBlobs });
    expect(a.objects.blob).toBe(0);
    expect(a.objects.tree).toBeGreaterThan(3);
    const commitOnly = new MemoryObjectStore();
    const b = await fetchPack({ transport, capabilities: a.capabilities, wants: [c.second], deepen: 1, filter: 'tree:0', sink: commitOnly, bases: commitOnly });
    expect(b.objectCount).toBe(1);
    expect([...commitOnly.objects.keys()]).toEqual([c.second]);
  });

  it('passes on progress text when asked', async () => {
    const store = new MemoryObjectStore();
    const progress: string[] = [];
    await fetchPack({ transport: transportFor('acme/demo'), wants: [c.second], deepen: 1, progress: true, onProgress: (t) => progress.push(t), sink: store, bases: store });
    expect(progress.join('')).toMatch(/objects/);
  });

  it('gzips a large request body and the server accepts it', async () => {
    const transport = transportFor('acme/demo');
    const haves = Array.from({ length: 60 }, (_, i) => hashObject('blob', Buffer.from(`not on the server ${i}`)));
    const store = new MemoryObjectStore();
    const result = await fetchPack({ transport, wants: [c.second], haves, deepen: 1, sink: store, bases: store });
    expect(result.objectCount).toBeGreaterThan(0);
    // 60 "have" lines are ~3 KiB as text; gzipped they are smaller.
    expect(transport.stats.bytesSent).toBeLessThan(60 * 46);
  });

  it('surfaces the server\'s ERR line for an unknown want', async () => {
    const unknown = hashObject('blob', Buffer.from('never committed'));
    const store = new MemoryObjectStore();
    const error = await fetchPack({ transport: transportFor('acme/demo'), wants: [unknown], deepen: 1, sink: store, bases: store }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitServerError);
    expect((error as Error).message).toContain(`not our ref ${unknown}`);
  });

  it('surfaces a side-band 3 error when the server fails while packing (a repository missing a blob)', async () => {
    const broken = await createRepo({ prefix: 'hostsync-broken-' });
    try {
      await broken.write('a.txt', 'will go missing\n');
      await broken.write('b.txt', 'stays\n');
      const head = await broken.commit('one');
      const blob = await broken.git('rev-parse', 'HEAD:a.txt');
      await unlink(join(broken.dir, '.git', 'objects', blob.slice(0, 2), blob.slice(2)));
      await server.addRepo('acme/broken', broken.dir);
      const store = new MemoryObjectStore();
      const error = await fetchPack({ transport: transportFor('acme/broken'), wants: [head], deepen: 1, sink: store, bases: store }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GitServerError);
      expect((error as Error).message).toMatch(/side-band 3.*(corruption|pack-objects)/);
      expect(store.objects.has(blob)).toBe(false);
    } finally {
      await broken.cleanup();
    }
  });

  it('fails with a typed error, delivering no bad object, when the body is corrupted or cut in transit', async () => {
    for (const action of [{ corrupt: true as const }, { dropMidBody: true as const }]) {
      server.faults.push({ match: (req) => req.method === 'POST', action, times: 1 });
      const store = new MemoryObjectStore();
      const error = await fetchPack({ transport: transportFor('acme/demo'), wants: [c.second], deepen: 1, sink: store, bases: store }).catch((e: unknown) => e);
      expect(error, JSON.stringify(action)).toBeInstanceOf(HostsyncError);
      for (const [sha, object] of store.objects) expect(hashObject(object.type, object.data)).toBe(sha);
    }
  });

  it('stops when the signal aborts', async () => {
    const store = new MemoryObjectStore();
    const controller = new AbortController();
    server.latencyMs = 300;
    try {
      const pending = fetchPack({ transport: transportFor('acme/demo'), wants: [c.second], deepen: 1, sink: store, bases: store, signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      await expect(pending).rejects.toThrow(/abort/i);
    } finally {
      server.latencyMs = 0;
    }
  });
});

describe('authentication and HTTP statuses', () => {
  it('reads a private repository with Basic x-access-token and never puts the token in a message', async () => {
    const store = new MemoryObjectStore();
    const result = await fetchPack({ transport: transportFor('acme/private', basicAuth(TOKEN)), wants: [c.second], deepen: 1, sink: store, bases: store });
    expect(result.objects.commit).toBe(1);
    const refused = await transportFor('acme/private', basicAuth(`${TOKEN}-wrong`)).advertise().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GitHttpError);
    expect((refused as GitHttpError).status).toBe(401);
    expect((refused as Error).message).not.toContain(TOKEN);
    expect(JSON.stringify(refused)).not.toContain(TOKEN);
  });

  it('answers 401 without a token for a private repository, 404 for an unknown one with a token', async () => {
    await expect(transportFor('acme/private').advertise()).rejects.toMatchObject({ name: 'GitHttpError', status: 401 });
    await expect(transportFor('acme/nope', basicAuth(TOKEN)).advertise()).rejects.toMatchObject({ name: 'GitHttpError', status: 404 });
  });

  it('follows a same-origin redirect of a renamed repository, then posts to the new name', async () => {
    await server.addRepo('acme/old-name', repo.dir);
    server.renameRepo('acme/old-name', 'acme/new-name');
    server.resetLog();
    const transport = transportFor('acme/old-name');
    const store = new MemoryObjectStore();
    await fetchPack({ transport, wants: [c.second], deepen: 1, sink: store, bases: store });
    expect(transport.url).toBe(`${server.serverUrl}/acme/new-name.git`);
    expect(server.requests.map((r) => `${r.method} ${r.status} ${r.path.split('?')[0] ?? ''}`)).toEqual([
      'GET 301 /acme/old-name.git/info/refs',
      'GET 200 /acme/new-name.git/info/refs',
      'POST 200 /acme/new-name.git/git-upload-pack',
    ]);
  });

  it('sends every request through the injected dispatcher', async () => {
    const seen: string[] = [];
    class RecordingAgent extends Agent {
      override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
        seen.push(`${options.method} ${options.path.split('?')[0] ?? ''}`);
        return super.dispatch(options, handler);
      }
    }
    const dispatcher = new RecordingAgent();
    try {
      const transport = createGitHttpTransport({ url: `${server.serverUrl}/acme/demo.git`, dispatcher });
      const store = new MemoryObjectStore();
      await fetchPack({ transport, wants: [c.second], deepen: 1, sink: store, bases: store });
      expect(seen).toEqual(['GET /acme/demo.git/info/refs', 'POST /acme/demo.git/git-upload-pack']);
    } finally {
      await dispatcher.close();
    }
  });

  it('refuses a URL carrying credentials', () => {
    expect(() => createGitHttpTransport({ url: `http://x:${TOKEN}@127.0.0.1/a/b.git` })).toThrow(/must not carry credentials/);
  });

  it('names a 5xx', async () => {
    server.faults.push({ match: (req) => req.path.endsWith('/info/refs'), action: { status: 503 }, times: 1 });
    const error = await transportFor('acme/demo').advertise().catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'GitHttpError', status: 503 });
  });
});

describe('lsRefs', () => {
  it('lists HEAD as a symref and tags peeled, as git show-ref has them', async () => {
    const { refs } = await lsRefs({ transport: transportFor('acme/demo') });
    const head = refs.find((r) => r.name === 'HEAD');
    expect(head).toEqual({ name: 'HEAD', oid: c.second, symrefTarget: 'refs/heads/main' });
    const tag = refs.find((r) => r.name === 'refs/tags/v1');
    expect(tag).toEqual({ name: 'refs/tags/v1', oid: c.tag, peeled: c.first });
    const showRef = (await repo.git('show-ref')).split('\n').map((line) => line.split(' ')).map(([oid, name]) => ({ oid, name }));
    expect(refs.filter((r) => r.name !== 'HEAD').map((r) => ({ oid: r.oid, name: r.name }))).toEqual(showRef);
  });

  it('filters by ref-prefix', async () => {
    const { refs } = await lsRefs({ transport: transportFor('acme/demo'), refPrefixes: ['refs/tags/'] });
    expect(refs.map((r) => r.name)).toEqual(['refs/tags/v1']);
  });

  it('shows an empty repository as an unborn HEAD and no refs', async () => {
    const { refs } = await lsRefs({ transport: transportFor('acme/empty') });
    const target = await empty.git('symbolic-ref', 'HEAD');
    expect(refs).toEqual([{ name: 'HEAD', oid: undefined, symrefTarget: target }]);
    const { refs: withoutUnborn } = await lsRefs({ transport: transportFor('acme/empty'), unborn: false });
    expect(withoutUnborn).toEqual([]);
  });
});
