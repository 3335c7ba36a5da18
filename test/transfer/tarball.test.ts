import { existsSync } from 'node:fs';
import { lstat, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostsyncError, IntegrityError } from '../../src/errors.js';
import type { GitHubClient } from '../../src/github/types.js';
import type { WantedBlob } from '../../src/model.js';
import { createTarballStrategy, TarballIntegrityError } from '../../src/transfer/tarball.js';
import type { TransferProgress } from '../../src/transfer/types.js';
import { startGitHubServer, type FakeGitHub } from '../support/github-server.js';
import { createRepo, sampleRepo, type TestRepo } from '../support/repo.js';
import { pseudoRandomBytes } from '../support/sample-content.js';
import { buildTarball, catFile, commitBlobs, listFiles, tempStore, testClient, type TarEntry } from './helpers.js';

/** Buffer equality without vitest's per-byte deep diff (slow on megabytes). */
const sameBytes = (a: Buffer, b: Buffer): boolean => a.equals(b);
const isCodeload = (req: { path: string }): boolean => req.path.startsWith('/_codeload/');

let server: FakeGitHub;
let sample: { repo: TestRepo; commit: string };
let big: { repo: TestRepo; commit: string };
let blobs: WantedBlob[];

beforeAll(async () => {
  server = await startGitHubServer({ tokens: ['tok-private'] });
  const made = await sampleRepo();
  sample = { repo: made.repo, commit: made.commit };
  await server.addRepo('acme/fleet', sample.repo.dir);
  blobs = await commitBlobs(sample.repo.dir, sample.commit);
  // One incompressible file: a bit flipped anywhere in the gzip stream lands inside it.
  const repo = await createRepo();
  await repo.write('disk.img', pseudoRandomBytes(1 << 20, 7));
  big = { repo, commit: await repo.commit('one big file') };
  await server.addRepo('acme/big', repo.dir, { private: true });
});

afterAll(async () => {
  await server.close();
  await sample.repo.cleanup();
  await big.repo.cleanup();
});

/** Run the strategy against a fresh store; resolves the store and the result or the error. */
async function run(fullName: string, commit: string, wanted: readonly WantedBlob[], opts: { token?: string; root?: string; retries?: number } = {}) {
  const temp = await tempStore();
  const client = testClient(server.apiUrl, fullName, opts.token);
  const progress: TransferProgress[] = [];
  const logs: string[] = [];
  const strategy = createTarballStrategy({ client, commit, root: opts.root, retries: opts.retries ?? 1 });
  try {
    const result = await strategy.fetch(wanted, { store: temp.store, onProgress: (p) => progress.push(p), log: (_level, message) => logs.push(message) }).then(
      (value) => ({ value, error: undefined }),
      (error: unknown) => ({ value: undefined, error }),
    );
    return { ...result, temp, progress, logs, strategy };
  } finally {
    await client.close();
  }
}

describe('tarball strategy', () => {
  it('brings exactly the wanted blobs, byte-identical to git, with one API request', async () => {
    const wanted = blobs.filter((blob) => blob.path.startsWith('hosts/') || blob.path.startsWith('assets/') || blob.path === 'empty.txt');
    server.resetLog();
    const { value, error, temp, progress } = await run('acme/fleet', sample.commit, wanted);
    try {
      expect(error).toBeUndefined();
      const shas = [...new Set(wanted.map((blob) => blob.sha))].sort();
      expect(await temp.store.list()).toEqual(shas);
      for (const sha of shas) expect(sameBytes(await readFile(temp.store.pathOf(sha)), await catFile(sample.repo.dir, sha)), sha).toBe(true);
      expect(value).toEqual({ blobs: shas.length, bytes: wanted.reduce((sum, b) => sum + (b.size ?? 0), 0) });
      expect(progress.at(-1)).toMatchObject({ doneBlobs: shas.length, totalBlobs: shas.length });
      expect(server.requests.filter((r) => r.kind === 'api')).toHaveLength(1);
      expect(server.requests.filter((r) => r.kind === 'codeload')).toHaveLength(1);
      expect(await listFiles(temp.root)).toEqual(shas.map((sha) => `objects/${sha.slice(0, 2)}/${sha.slice(2)}`));
    } finally {
      await temp.cleanup();
    }
  });

  it('stores symlinks as their target bytes and a SHA shared by several paths once', async () => {
    const repo = await createRepo();
    await repo.write('a/one.conf', 'same\n');
    await repo.write('b/two.conf', 'same\n');
    await repo.symlink('etc/passwd-link', '../../../etc/passwd');
    const commit = await repo.commit('dups and links');
    await server.addRepo('acme/dups', repo.dir);
    const wanted = await commitBlobs(repo.dir, commit);
    expect(new Set(wanted.map((b) => b.sha)).size).toBe(2);
    const { value, error, temp } = await run('acme/dups', commit, wanted);
    try {
      expect(error).toBeUndefined();
      expect(value?.blobs).toBe(2);
      const link = wanted.find((b) => b.path === 'etc/passwd-link');
      expect(await readFile(temp.store.pathOf(link?.sha ?? ''), 'utf8')).toBe('../../../etc/passwd');
      for (const file of await listFiles(temp.root)) expect((await lstat(`${temp.root}/${file}`)).isFile()).toBe(true);
    } finally {
      await temp.cleanup();
      await repo.cleanup();
    }
  });

  it('maps paths of a synced subfolder (`root`) and skips what the store already has', async () => {
    const wanted = await commitBlobs(sample.repo.dir, sample.commit, 'modules');
    const first = await run('acme/fleet', sample.commit, wanted.slice(0, 3), { root: 'modules' });
    try {
      expect(first.error).toBeUndefined();
      server.resetLog();
      const second = await createTarballStrategy({ client: testClient(server.apiUrl, 'acme/fleet'), commit: sample.commit, root: 'modules' }).fetch(wanted.slice(0, 3), {
        store: first.temp.store,
      });
      expect(second).toEqual({ blobs: 0, bytes: 0 });
      expect(server.requests).toHaveLength(0);
    } finally {
      await first.temp.cleanup();
    }
  });

  it('reads a private repository through the codeload token, never naming that token', async () => {
    const wanted = await commitBlobs(big.repo.dir, big.commit);
    const { error, temp } = await run('acme/big', big.commit, wanted, { token: 'tok-private' });
    try {
      expect(error).toBeUndefined();
      expect(await temp.store.list()).toEqual(wanted.map((b) => b.sha));
    } finally {
      await temp.cleanup();
    }
  });

  it('retries the whole tarball after a dropped connection and succeeds', async () => {
    server.faults = [{ match: isCodeload, times: 1, action: { dropMidBody: true, afterBytes: 300_000 } }];
    server.resetLog();
    const { error, temp, logs } = await run('acme/fleet', sample.commit, blobs, { retries: 2 });
    server.faults = [];
    try {
      expect(error).toBeUndefined();
      expect(await temp.store.list()).toEqual([...new Set(blobs.map((b) => b.sha))].sort());
      expect(server.requests.filter((r) => r.kind === 'codeload')).toHaveLength(2);
      expect(logs.some((line) => line.startsWith('Retrying the tarball'))).toBe(true);
      expect((await listFiles(temp.root)).filter((file) => file.startsWith('objects/tmp/'))).toEqual([]);
    } finally {
      await temp.cleanup();
    }
  });

  it('fails a corrupted body with an IntegrityError and stores nothing', async () => {
    server.faults = [{ match: isCodeload, action: { corrupt: true } }];
    const wanted = await commitBlobs(big.repo.dir, big.commit);
    const { error, temp } = await run('acme/big', big.commit, wanted, { token: 'tok-private', retries: 1 });
    server.faults = [];
    try {
      expect(error).toBeInstanceOf(IntegrityError);
      expect(error).toBeInstanceOf(TarballIntegrityError);
      // gzip's CRC tells transit damage from an export-subst mismatch, whatever the bit flip hit.
      expect((error as Error).message).toMatch(/^The tarball of [0-9a-f]{40} from http:\/\/127\.0\.0\.1:\d+\/_codeload\/acme\/big\/legacy\.tar\.gz\/[0-9a-f]{40} is damaged/);
      expect(await listFiles(temp.root)).toEqual([]);
      expect((error as Error).message).not.toMatch(/token=/);
    } finally {
      await temp.cleanup();
    }
  });

  it('keeps only verified objects when a corrupted body damages a later entry', async () => {
    server.faults = [{ match: isCodeload, action: { corrupt: true } }];
    const { error, temp } = await run('acme/fleet', sample.commit, blobs, { retries: 0 });
    server.faults = [];
    try {
      expect(error).toBeInstanceOf(TarballIntegrityError);
      expect((error as Error).message).toMatch(/is damaged/);
      const stored = await temp.store.list();
      expect(stored.length).toBeLessThan(new Set(blobs.map((b) => b.sha)).size);
      for (const sha of stored) expect(sameBytes(await readFile(temp.store.pathOf(sha)), await catFile(sample.repo.dir, sha)), sha).toBe(true);
      expect((await listFiles(temp.root)).filter((file) => file.startsWith('objects/tmp/'))).toEqual([]);
    } finally {
      await temp.cleanup();
    }
  });

  it('names export-subst when a tarball entry does not match the tree, and export-ignore when one is missing', async () => {
    const repo = await createRepo();
    await repo.write('.gitattributes', 'version.txt export-subst\nsecret.txt export-ignore\n');
    await repo.write('version.txt', 'commit $Format:%H$\n');
    await repo.write('secret.txt', 'left out of archives\n');
    await repo.write('plain.txt', 'plain\n');
    const commit = await repo.commit('attributes');
    await server.addRepo('acme/attrs', repo.dir);
    const wanted = await commitBlobs(repo.dir, commit);
    const pick = (path: string): WantedBlob[] => wanted.filter((b) => b.path === path);
    try {
      const subst = await run('acme/attrs', commit, pick('version.txt'));
      expect(subst.error).toBeInstanceOf(TarballIntegrityError);
      expect((subst.error as Error).message).toMatch(/export-subst/);
      expect(await subst.temp.store.list()).toEqual([]);
      await subst.temp.cleanup();

      const ignored = await run('acme/attrs', commit, [...pick('plain.txt'), ...pick('secret.txt')]);
      expect(ignored.error).toBeInstanceOf(HostsyncError);
      expect((ignored.error as Error).message).toMatch(/lacks 1 wanted file\(s\): 'secret\.txt'.*export-ignore/);
      await ignored.temp.cleanup();
    } finally {
      await repo.cleanup();
    }
  });
});

/** A client whose tarball is the given bytes: for archives GitHub would never send. */
function fakeClient(tarball: Buffer): GitHubClient {
  const fail = (): Promise<never> => Promise.reject(new Error('not used'));
  return {
    stats: { apiRequests: 0, notModified: 0, httpRequests: 0, bytesReceived: 0, rateLimit: undefined },
    retry: { minTimeoutMs: 0, maxTimeoutMs: 0 },
    resolveRef: fail,
    getTree: fail,
    getCommit: fail,
    compare: fail,
    openBlob: fail,
    openTarball: async () => ({ body: Readable.from([tarball]), url: 'https://codeload.example/acme/x/legacy.tar.gz/sha?token=SECRET' }),
    close: async () => undefined,
  };
}

describe('tarball strategy against hostile archives', () => {
  const commit = 'a'.repeat(40);
  const top = 'acme-x-aaaaaaa';
  const good = { path: `${top}/ok.txt`, content: 'ok\n' };
  // git hash-object of "ok\n"
  const okSha = '9766475a4185a151dc9d56d614ffb9aaea3bfd42';
  const cases: ReadonlyArray<readonly [string, readonly TarEntry[], RegExp]> = [
    ['a .. component', [{ path: `${top}/`, type: 'Directory' }, good, { path: `${top}/../evil`, content: 'x' }], /'acme-x-aaaaaaa\/\.\.\/evil' has a '\.\.' component/],
    ['an absolute path', [{ path: `${top}/`, type: 'Directory' }, good, { path: '/tmp/hostsync-evil', content: 'x' }], /'\/tmp\/hostsync-evil' has an absolute path/],
    ['a second top-level folder', [{ path: `${top}/`, type: 'Directory' }, good, { path: 'other/evil', content: 'x' }], /outside the archive's single top-level folder/],
    ['a file beside the top-level folder', [{ path: 'evil', content: 'x' }, good], /is not under the top-level folder/],
    ['a hard link', [{ path: `${top}/`, type: 'Directory' }, good, { path: `${top}/hard`, type: 'Link', linkpath: '/etc/shadow' }], /is a hard link \(to '\/etc\/shadow'\)/],
    ['a FIFO', [{ path: `${top}/`, type: 'Directory' }, good, { path: `${top}/pipe`, type: 'FIFO' }], /is a FIFO/],
    ['a device', [{ path: `${top}/`, type: 'Directory' }, good, { path: `${top}/tty`, type: 'CharacterDevice' }], /is a CharacterDevice/],
    [
      'a file below a symlink that escapes',
      [{ path: `${top}/`, type: 'Directory' }, { path: `${top}/etc`, type: 'SymbolicLink', linkpath: '/etc' }, { path: `${top}/etc/cron.d/evil`, content: 'x' }, good],
      /lies below the symlink 'acme-x-aaaaaaa\/etc'/,
    ],
  ];

  it.each(cases)('refuses %s, writing nothing anywhere', async (_name, entries, message) => {
    const temp = await tempStore();
    try {
      const strategy = createTarballStrategy({ client: fakeClient(buildTarball(entries)), commit, retries: 0 });
      const wanted: WantedBlob[] = [
        { sha: okSha, size: 3, path: 'ok.txt' },
        { sha: 'b'.repeat(40), size: 1, path: 'evil' },
      ];
      const error: unknown = await strategy.fetch(wanted, { store: temp.store }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HostsyncError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toMatch(/SECRET/);
      expect(await temp.store.has('b'.repeat(40))).toBe(false);
      expect((await listFiles(temp.root)).filter((file) => !file.startsWith('objects/97/'))).toEqual([]);
      // Where an extractor would have put the hostile entries.
      for (const place of ['/tmp/hostsync-evil', join(dirname(temp.root), 'evil'), join(temp.root, 'evil')]) expect(existsSync(place), place).toBe(false);
    } finally {
      await temp.cleanup();
    }
  });

  it('accepts the same archive without the hostile entry (control)', async () => {
    const temp = await tempStore();
    try {
      const strategy = createTarballStrategy({ client: fakeClient(buildTarball([{ path: `${top}/`, type: 'Directory' }, good])), commit, retries: 0 });
      expect(await strategy.fetch([{ sha: okSha, size: 3, path: 'ok.txt' }], { store: temp.store })).toEqual({ blobs: 1, bytes: 3 });
    } finally {
      await temp.cleanup();
    }
  });
});
