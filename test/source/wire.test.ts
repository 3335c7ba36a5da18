/**
 * The wire-protocol source end to end, in-process, against the test server's git http-backend (git's
 * own server, protocol v2): what a sync moves, which requests it makes and what they cost, the host's
 * objects as delta bases (store, DEST, rebuilt trees), the fallbacks (bases missing, a server that
 * does not speak v2, damaged packs), the downgrade guard without the API, and hostile trees made of
 * real git objects. Every DEST is compared with `git archive`.
 */
import { rm, symlink, mkdtemp, writeFile, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseJson } from '../support/cli.js';
import { createFixture, type Fixture } from '../support/fixture.js';
import { fingerprint } from '../support/safety-helpers.js';
import { gitBuffer } from '../support/git-cli.js';
import { pseudoRandomBytes } from '../support/sample-content.js';
import { writeHostTree } from '../support/repo.js';

let fx: Fixture;
beforeEach(async () => {
  fx = await createFixture();
});
afterEach(async () => {
  await fx.close();
});

const api = (): string[] => fx.server.requests.filter((r) => r.kind === 'api').map((r) => r.path);
const git = (): string[] => fx.server.requests.filter((r) => r.kind === 'git').map((r) => r.path);
const quota = (): number => fx.server.requests.reduce((sum, r) => sum + r.quotaCost, 0);
const wireBytes = (): number => fx.server.requests.reduce((sum, r) => sum + r.bytesSent, 0);

async function tree(): Promise<string> {
  await writeHostTree(fx.repo, { symlink: true });
  await fx.repo.write('assets/firmware.bin', pseudoRandomBytes(2 << 20, 11));
  return fx.repo.commit('A');
}

describe('first install and updates', () => {
  it('a first install is one pack: the ref (1 quota point), the capabilities and one fetch', async () => {
    const commit = await tree();
    await fx.sync(); // serves the repository
    await rm(fx.dest, { recursive: true });
    await rm(fx.stateDir, { recursive: true });
    fx.server.resetLog();
    const result = await fx.sync();
    await fx.expectSameAsCommit(commit);
    expect(result).toMatchObject({ source: 'wire', strategy: 'pack', apiRequests: 1 });
    expect(api()).toEqual([expect.stringMatching(/\/commits\/HEAD$/)]);
    expect(git()).toEqual([expect.stringMatching(/\/info\/refs\?service=git-upload-pack$/), expect.stringMatching(/\/git-upload-pack$/)]);
    expect(quota()).toBe(1);
  });

  it('an edit of 4 KiB inside a 2 MiB binary moves a delta, its base read from the store', async () => {
    await tree();
    await fx.sync();
    const firmware = pseudoRandomBytes(2 << 20, 11);
    pseudoRandomBytes(4096, 99).copy(firmware, 1 << 20);
    await fx.repo.write('assets/firmware.bin', firmware);
    const commit = await fx.repo.commit('patched firmware');
    fx.server.resetLog();
    const result = await fx.sync();
    await fx.expectSameAsCommit(commit);
    expect(result['changes']).toMatchObject({ modified: ['assets/firmware.bin'] });
    expect(wireBytes()).toBeLessThan(32 * 1024); // git's fetch moves about the same; the blob API would move 2 MiB
    expect(quota()).toBe(1);
  });

  it('a delta whose base is only in DEST (not in the store) is resolved from the file, checked first', async () => {
    await tree();
    await fx.sync();
    const base = (await fx.repo.git('rev-parse', 'HEAD:assets/firmware.bin')).trim();
    await rm(join(fx.stateDir, 'objects', base.slice(0, 2), base.slice(2)));
    const firmware = pseudoRandomBytes(2 << 20, 11);
    firmware.write('patched', 4096);
    await fx.repo.write('assets/firmware.bin', firmware);
    const commit = await fx.repo.commit('patched');
    fx.server.resetLog();
    const run = await fx.run(['sync', '--json']);
    expect(run.code, run.stderr).toBe(0);
    await fx.expectSameAsCommit(commit);
    expect(run.stderr).not.toMatch(/fetching the commit again/);
    expect(wireBytes()).toBeLessThan(32 * 1024);
  });

  it('a base the host no longer has makes the fetch run again without it (logged), never a missing object', async () => {
    await tree();
    await fx.sync();
    const base = (await fx.repo.git('rev-parse', 'HEAD:assets/firmware.bin')).trim();
    await rm(join(fx.stateDir, 'objects', base.slice(0, 2), base.slice(2)));
    await writeFile(join(fx.dest, 'assets/firmware.bin'), 'drifted\n'); // DEST cannot serve it either
    const firmware = pseudoRandomBytes(2 << 20, 11);
    firmware.write('patched', 4096);
    await fx.repo.write('assets/firmware.bin', firmware);
    const commit = await fx.repo.commit('patched');
    const run = await fx.run(['sync', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(new RegExp(`named 1 delta base\\(s\\) this host does not hold \\(e\\.g\\. ${base}\\); fetching the commit again without them`));
    await fx.expectSameAsCommit(commit);
  });

  it('--path: only that folder; the chain of trees above it serves as bases the next time', async () => {
    await tree();
    await fx.sync('--path', 'hosts');
    await fx.repo.write('hosts/web/configuration.nix', '{ web, v2 }\n');
    await fx.repo.write('flake.nix', '{ outside = true; }\n');
    const commit = await fx.repo.commit('B');
    fx.server.resetLog();
    const run = await fx.run(['sync', '--json', '--path', 'hosts']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/again without them|trees in full/);
    await fx.expectSameAsCommit(commit, 'hosts');
    expect(parseJson(run)['changes']).toMatchObject({ modified: ['web/configuration.nix'] });
  });

  it('a host installed over REST switches to the wire protocol with a thin fetch at once', async () => {
    await tree();
    await fx.sync('--transport', 'rest');
    await fx.repo.write('hosts/db/configuration.nix', '{ db, v2 }\n');
    const commit = await fx.repo.commit('B');
    fx.server.resetLog();
    const run = await fx.run(['sync', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/again without them|trees in full/);
    await fx.expectSameAsCommit(commit);
    expect(wireBytes()).toBeLessThan(16 * 1024);
  });

  it('--check-only reads trees only (blob:none), writes nothing, exits 3 listing the change', async () => {
    await tree();
    await fx.sync();
    await fx.repo.write('hosts/web/configuration.nix', '{ web, v2 }\n');
    await fx.repo.commit('B');
    const before = await fingerprint(fx.stateDir, { identity: true });
    const run = await fx.run(['sync', '--check-only', '--json']);
    expect(run.code).toBe(3);
    expect(parseJson(run)['changes']).toMatchObject({ modified: ['hosts/web/configuration.nix'] });
    expect(await fingerprint(fx.stateDir, { identity: true })).toEqual(before);
  });
});

describe('no API quota beyond the poll, or none at all', () => {
  it('transport git: ref by ls-refs, content by one pack, not one API request', async () => {
    const commit = await tree();
    fx.server.resetLog();
    const result = await fx.sync('--transport', 'git');
    await fx.expectSameAsCommit(commit);
    expect(api()).toEqual([]);
    expect(quota()).toBe(0);
    expect(result['apiRequests']).toBe(0);
  });

  it('with the API quota spent and no git binary, the run goes over the wire protocol', async () => {
    await tree();
    await fx.sync();
    await fx.repo.write('hosts/db/configuration.nix', '{ db, v3 }\n');
    const commit = await fx.repo.commit('C');
    fx.server.rateLimit.remaining = 0;
    const noGit = await mkdtemp(join(tmpdir(), 'hostsync-nogit-'));
    await symlink(process.execPath, join(noGit, 'node'));
    try {
      const run = await fx.run(['sync', '--json'], { env: { PATH: noGit } });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/rate limit exhausted .* Resolving HEAD with git's ls-refs instead/);
      await fx.expectSameAsCommit(commit);
    } finally {
      await rm(noGit, { recursive: true, force: true });
    }
  });

  it('an empty repository over ls-refs: a clear message, nothing written', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'hostsync-empty-'));
    try {
      await fx.repo.git('init', '-q', '--bare', empty);
      await fx.server.addRepo('acme/empty', empty);
      const run = await fx.run(['sync', '--transport', 'git', '--repo', 'acme/empty', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/acme\/empty has no default branch .*ls-refs lists no HEAD.*empty/);
      await expect(stat(fx.dest)).rejects.toThrow();
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('fallbacks', () => {
  it.each([
    ['a server answering protocol v2 with a v0 advertisement', { status: 200, body: '001e# service=git-upload-pack\n0000', headers: { 'content-type': 'application/x-git-upload-pack-advertisement' } }],
    ['a server without smart HTTP (404)', { status: 404 }],
  ])('%s: one line saying why, then the REST API', async (_name, action) => {
    const commit = await tree();
    fx.server.faults = [{ match: (r) => r.path.includes('.git/'), action }];
    const run = await fx.run(['sync', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr.split('\n').filter((line) => /Using GitHub's REST API for this run instead/.test(line))).toHaveLength(1);
    await fx.expectSameAsCommit(commit);
    expect(parseJson(run)['source']).toBe('rest');
  });

  it.each([
    ['a pack with flipped bytes', { corrupt: true }],
    ['a pack cut off mid-way', { dropMidBody: true }],
  ] as const)('%s: retried, then the REST API; DEST never sees a damaged object', async (_name, action) => {
    const first = await tree();
    await fx.sync();
    await fx.repo.write('assets/firmware.bin', pseudoRandomBytes(1 << 20, 5));
    const commit = await fx.repo.commit('B');
    fx.server.faults = [{ match: (r) => r.path.endsWith('/git-upload-pack'), action }];
    const run = await fx.run(['sync', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/retry 1 of the pack of/);
    await fx.expectSameAsCommit(commit);
    void first;
  });

  it('with transport git there is no fallback: a damaged pack fails the run, DEST exactly as before', async () => {
    const first = await tree();
    await fx.sync();
    await fx.repo.write('assets/firmware.bin', pseudoRandomBytes(1 << 20, 6));
    await fx.repo.commit('B');
    fx.server.faults = [{ match: (r) => r.path.endsWith('/git-upload-pack'), action: { corrupt: true } }];
    const run = await fx.run(['sync', '--transport', 'git']);
    expect(run.code).toBe(1);
    await fx.expectSameAsCommit(first);
    expect(await readdir(join(fx.stateDir, 'objects', 'tmp')).catch(() => [])).toEqual([]);
  });
});

describe('the downgrade guard from the commits themselves', () => {
  it('several commits pushed at once are proven descendants with a commits-only fetch', async () => {
    await tree();
    await fx.sync();
    await fx.repo.write('a.nix', 'a\n');
    await fx.repo.commit('1');
    await fx.repo.write('b.nix', 'b\n');
    await fx.repo.commit('2');
    await fx.repo.write('c.nix', 'c\n');
    const commit = await fx.repo.commit('3');
    fx.server.resetLog();
    const result = await fx.sync();
    await fx.expectSameAsCommit(commit);
    expect(api()).toHaveLength(1); // no compare request: the guard cost no quota
    expect(git().filter((path) => path.endsWith('/git-upload-pack'))).toHaveLength(2); // the content, then the history
    void result;
  });

  it('a force-pushed (non-descendant) commit is refused unless --allow-downgrade', async () => {
    await tree();
    const first = await fx.repo.head();
    await fx.repo.write('a.nix', 'a\n');
    const second = await fx.repo.commit('2');
    await fx.sync();
    await fx.repo.git('reset', '-q', '--hard', first);
    await fx.repo.write('other.nix', 'rewritten\n');
    const rewritten = await fx.repo.commit('rewritten');
    const refused = await fx.run(['sync']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/Refusing commit [0-9a-f]{12}: HEAD moved from the last applied commit [0-9a-f]{12} to one that is not its descendant/);
    await fx.expectSameAsCommit(second);
    const allowed = await fx.run(['sync', '--allow-downgrade']);
    expect(allowed.code, allowed.stderr).toBe(0);
    await fx.expectSameAsCommit(rewritten);
  });
});

describe('hostile trees made of real git objects', () => {
  /** A commit on main whose root tree holds one entry named `name` (bytes), pointing at a real blob. */
  async function hostileCommit(name: Buffer): Promise<string> {
    const sha = (await fx.repo.git('rev-parse', 'HEAD:flake.nix')).trim();
    const entry = Buffer.concat([Buffer.from('100644 '), name, Buffer.from([0]), Buffer.from(sha, 'hex')]);
    const treeSha = (await gitBuffer(['hash-object', '-t', 'tree', '--literally', '-w', '--stdin'], { cwd: fx.repo.dir, input: entry })).toString().trim();
    const commit = (await fx.repo.git('commit-tree', treeSha, '-p', 'HEAD', '-m', 'hostile')).trim();
    await fx.repo.git('update-ref', 'refs/heads/main', commit);
    return commit;
  }

  it.each([
    ['..', Buffer.from('..')],
    ['.git', Buffer.from('.git')],
    ['.GIT (case-folded)', Buffer.from('.GIT')],
  ])('an entry named %s is refused, exit 1, nothing written anywhere', async (_name, name) => {
    await tree();
    await fx.sync();
    const before = await fingerprint(fx.dest, { identity: true });
    await hostileCommit(name);
    const run = await fx.run(['sync']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Refusing commit [0-9a-f]{12}: tree entry .* has a/);
    expect(await fingerprint(fx.dest, { identity: true })).toEqual(before);
  });
});
