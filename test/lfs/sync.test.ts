/**
 * Git LFS behaviour end to end against the test server's LFS side (objects uploaded by git-lfs):
 * updates fetch only what changed, a corrupt or missing object never reaches DEST, rollback is
 * offline, `lfs: off`, `--path`, `--check-only`, resumed downloads (bytes counted), expired links,
 * 429 with Retry-After, `.lfsconfig`'s lfs.url (no token there), content DEST already holds.
 */
import { createHash } from 'node:crypto';
import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseJson } from '../support/cli.js';
import { createFixture, TOKEN, type Fixture } from '../support/fixture.js';
import { startGitHubServer } from '../support/github-server.js';
import { pushLfs, smudgeArchives, trackLfs } from '../support/lfs.js';
import { fingerprint } from '../support/safety-helpers.js';
import { pseudoRandomBytes } from '../support/sample-content.js';

const REPO = 'acme/hypervisor';
const MIB = 1 << 20;

let fx: Fixture;
beforeEach(async () => {
  fx = await createFixture();
});
afterEach(async () => {
  await fx.close();
});

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const lfsLog = (kind: string) => fx.server.lfs.log.filter((entry) => entry.kind === kind);
/** Body bytes the server sent for object downloads (headers included, a few hundred bytes each). */
const objectBytes = (): number => fx.server.requests.filter((r) => r.kind === 'lfs' && r.path.startsWith('/_lfs/objects/')).reduce((sum, r) => sum + r.bytesSent, 0);

/** A repository with three LFS files (one of `bigBytes`) and two plain ones, its objects on the server. */
async function lfsRepo(bigBytes = 4 * MIB): Promise<string> {
  await trackLfs(fx.repo, '*.bin');
  await fx.repo.write('flake.nix', '{ outputs = _: {}; }\n');
  await fx.repo.write('hosts/web/configuration.nix', '{ web }\n');
  await fx.repo.write('assets/disk.bin', pseudoRandomBytes(bigBytes, 1));
  await fx.repo.write('assets/firmware.bin', pseudoRandomBytes(3000, 2));
  await fx.repo.write('hosts/web/logo.bin', pseudoRandomBytes(900, 3));
  const commit = await fx.repo.commit('A');
  await push();
  return commit;
}

async function push(): Promise<void> {
  await fx.serve();
  await pushLfs(fx.repo, fx.server, REPO, TOKEN);
  fx.server.lfs.log.length = 0;
  fx.server.resetLog();
}

async function expectContent(path: string, data: Buffer): Promise<void> {
  expect(sha256(await readFile(join(fx.dest, path)))).toBe(sha256(data));
}

describe('updates', () => {
  it('an update that changes one LFS object downloads only that object; an unchanged poll asks the LFS server nothing', async () => {
    await lfsRepo();
    const first = await fx.sync();
    expect(first['lfs']).toMatchObject({ files: 3, objects: 3 });
    expect(lfsLog('download')).toHaveLength(3);

    await fx.repo.write('assets/firmware.bin', pseudoRandomBytes(3000, 22));
    await fx.repo.write('flake.nix', '{ outputs = _: { v = 2; }; }\n');
    await fx.repo.commit('B');
    await push();
    const run = await fx.run(['sync', '--json']);
    expect(run.code, run.stderr).toBe(0);
    // The thin pack's bases: the trees rebuilt from the manifest (LFS files as their pointers) hash right.
    expect(run.stderr).not.toMatch(/again without them|trees in full/);
    const second = parseJson(run);
    expect(second['source']).toBe('wire');
    expect(second['changes']).toMatchObject({ modified: ['assets/firmware.bin', 'flake.nix'] });
    expect(second['lfs']).toMatchObject({ files: 3, objects: 1, bytes: 3000 });
    const batches = lfsLog('batch');
    expect(batches).toHaveLength(1);
    expect(batches[0]?.oids).toEqual([sha256(pseudoRandomBytes(3000, 22))]);
    expect(lfsLog('download').map((entry) => entry.oids[0])).toEqual([sha256(pseudoRandomBytes(3000, 22))]);
    await expectContent('assets/firmware.bin', pseudoRandomBytes(3000, 22));
    await expectContent('assets/disk.bin', pseudoRandomBytes(4 * MIB, 1));

    fx.server.lfs.log.length = 0;
    const third = await fx.sync();
    expect(third['pending']).toBe(false);
    expect(fx.server.lfs.log).toEqual([]);
  });

  it("a folder's tree holding LFS files, rebuilt from the manifest with their pointers, serves as the thin pack's delta base", async () => {
    await lfsRepo();
    for (let i = 0; i < 300; i++) await fx.repo.write(`assets/conf-${i}.nix`, `{ n = ${i}; }\n`);
    await fx.repo.commit('B');
    await push();
    await fx.sync();
    await fx.repo.write('assets/conf-7.nix', '{ n = 7; changed = true; }\n');
    const commit = await fx.repo.commit('C');
    const run = await fx.run(['sync', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/again without them|trees in full/);
    expect(parseJson(run)['changes']).toMatchObject({ modified: ['assets/conf-7.nix'] });
    await fx.expectSameAsCommit(commit, undefined, fx.dest, ['assets/*.bin', 'hosts/web/logo.bin']);
    await expectContent('assets/disk.bin', pseudoRandomBytes(4 * MIB, 1));
  });

  it('a pointer seen before (a revert) needs no request at all; a moved LFS file is copied, not downloaded', async () => {
    await lfsRepo();
    await fx.sync();
    await fx.repo.write('assets/firmware.bin', pseudoRandomBytes(3000, 22));
    await fx.repo.commit('B');
    await push();
    await fx.sync();
    await fx.repo.write('assets/firmware.bin', pseudoRandomBytes(3000, 2));
    await fx.repo.move('assets/disk.bin', 'images/disk.bin');
    await fx.repo.commit('C: revert, move');
    await push();
    const result = await fx.sync();
    expect(fx.server.lfs.log).toEqual([]);
    expect(result['lfs']).toMatchObject({ objects: 0 });
    await expectContent('assets/firmware.bin', pseudoRandomBytes(3000, 2));
    await expectContent('images/disk.bin', pseudoRandomBytes(4 * MIB, 1));
  });

  it('content DEST already holds (an existing git lfs checkout) is adopted by its SHA-256, not downloaded', async () => {
    await lfsRepo();
    await fx.sync();
    const copy = join(fx.tmp, 'copy');
    await cp(fx.dest, copy, { recursive: true });
    await rm(fx.dest, { recursive: true });
    await rm(fx.stateDir, { recursive: true });
    await cp(copy, fx.dest, { recursive: true });
    fx.server.lfs.log.length = 0;
    const result = await fx.sync();
    expect(result['pending']).toBe(false);
    expect(fx.server.lfs.log).toEqual([]);
  });

  it('the REST path and the wire path agree; a file whose text only looks like a pointer elsewhere is content too', async () => {
    await lfsRepo();
    // A pointer committed outside any filter=lfs path: git lfs pull replaces it by content as well.
    await fx.repo.write('docs/pointer.txt', (await fx.repo.git('show', 'HEAD:assets/firmware.bin')) + '\n');
    // A pointer to the empty object: no request, empty content.
    await fx.repo.write('docs/empty.txt', `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(Buffer.alloc(0))}\nsize 0\n`);
    await fx.repo.commit('B');
    await push();
    await fx.sync('--transport', 'rest');
    await expectContent('docs/pointer.txt', pseudoRandomBytes(3000, 2));
    expect(await readFile(join(fx.dest, 'docs/empty.txt'))).toEqual(Buffer.alloc(0));
    const rest = await fingerprint(fx.dest);
    await rm(fx.dest, { recursive: true });
    await rm(fx.stateDir, { recursive: true });
    await fx.sync();
    expect(await fingerprint(fx.dest)).toEqual(rest);
  });
});

describe('nothing unverified reaches DEST', () => {
  it('a corrupt download (every copy) fails the run with exit 1, a clear message, DEST and the store unchanged', async () => {
    const a = await lfsRepo();
    await fx.sync();
    const before = await fingerprint(fx.dest);
    await fx.repo.write('assets/firmware.bin', pseudoRandomBytes(3000, 22));
    await fx.repo.commit('B');
    await push();
    fx.server.faults = [{ match: (req) => req.path.startsWith('/_lfs/objects/'), action: { corrupt: true } }];
    const run = await fx.run(['sync']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`LFS object ${sha256(pseudoRandomBytes(3000, 22))} for assets/firmware\\.bin .* arrived with SHA-256 [0-9a-f]{64}, not what the pointer in the commit names; it was discarded and nothing was applied`));
    expect(await fingerprint(fx.dest)).toEqual(before);
    // Tried twice (a proxy may damage one copy), then given up.
    expect(lfsLog('download')).toHaveLength(2);
    const manifest = JSON.parse(await readFile(join(fx.stateDir, 'dests', (await readdir(join(fx.stateDir, 'dests')))[0]!, 'manifest.json'), 'utf8')) as { commit: string };
    expect(manifest.commit).toBe(a);
  });

  it('an object damaged on the server (right size, wrong bytes) is refused; one corrupt copy on the way is retried', async () => {
    await lfsRepo();
    const oid = sha256(pseudoRandomBytes(3000, 2));
    fx.server.faults = [{ match: (req) => req.path.includes(`/_lfs/objects/`) && req.path.includes(oid), times: 1, action: { corrupt: true } }];
    await fx.sync();
    await expectContent('assets/firmware.bin', pseudoRandomBytes(3000, 2));

    await rm(fx.dest, { recursive: true });
    await rm(fx.stateDir, { recursive: true });
    await writeFile(fx.server.lfsObjectPath(REPO, oid), pseudoRandomBytes(3000, 99));
    const run = await fx.run(['sync']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/push it again \(git lfs push --all\), or set lfs to off/);
    expect(await readdir(fx.dest).catch(() => [])).toEqual([]);
  });

  it('an object missing on the server (404 in the batch answer) names the path and the fix', async () => {
    await lfsRepo();
    await rm(fx.server.lfsObjectPath(REPO, sha256(pseudoRandomBytes(900, 3))));
    const run = await fx.run(['sync']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/LFS object [0-9a-f]{12}… \(900 bytes\) of hosts\/web\/logo\.bin is not on the LFS server http:\/\/127\.0\.0\.1:\d+\/acme\/hypervisor\.git\/info\/lfs \(404: Object does not exist\): it was never pushed\. Push it \(git lfs push --all origin\)/);
    expect(await readdir(fx.dest).catch(() => [])).toEqual([]);
  });
});

describe('rollback', () => {
  it('restores the previous LFS content with the server stopped', async () => {
    await lfsRepo();
    await fx.sync();
    await fx.repo.write('assets/disk.bin', pseudoRandomBytes(4 * MIB, 11));
    await fx.repo.commit('B');
    await push();
    await fx.sync();
    await expectContent('assets/disk.bin', pseudoRandomBytes(4 * MIB, 11));
    await fx.server.close();
    const back = await fx.run(['rollback', '--json', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
    expect(back.code, back.stderr).toBe(0);
    await expectContent('assets/disk.bin', pseudoRandomBytes(4 * MIB, 1));
    const validate = await fx.run(['validate', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
    expect(validate.stdout + validate.stderr).not.toMatch(/drift|differs/i);
  });
});

describe('lfs: off, --path, --check-only', () => {
  it('lfs off keeps the pointers and says so once; back to auto gets the content without a new commit', async () => {
    await lfsRepo();
    const off = await fx.run(['sync', '--json', '--lfs', 'off']);
    expect(off.code, off.stderr).toBe(0);
    expect(await readFile(join(fx.dest, 'assets/firmware.bin'), 'utf8')).toMatch(/^version https:\/\/git-lfs\.github\.com\/spec\/v1\n/);
    expect(off.stderr.match(/Git LFS pointers/g)).toHaveLength(1);
    expect(off.stderr).toMatch(/3 file\(s\) this run writes are Git LFS pointers \(e\.g\. assets\/disk\.bin\); lfs is off/);
    expect(fx.server.lfs.log).toEqual([]);
    const again = await fx.run(['sync', '--lfs', 'off']);
    expect(again.stderr).not.toMatch(/Git LFS pointers/);

    const auto = await fx.sync();
    expect(auto['changes']).toMatchObject({ modified: ['assets/disk.bin', 'assets/firmware.bin', 'hosts/web/logo.bin'] });
    await expectContent('assets/disk.bin', pseudoRandomBytes(4 * MIB, 1));
    const back = await fx.run(['sync', '--json', '--lfs', 'off']);
    expect(parseJson(back)['changes']).toMatchObject({ modified: ['assets/disk.bin', 'assets/firmware.bin', 'hosts/web/logo.bin'] });
  });

  it('--path: only that folder, its LFS files as content', async () => {
    await lfsRepo();
    const result = await fx.sync('--path', 'hosts/web');
    expect(result['lfs']).toMatchObject({ files: 1, objects: 1, bytes: 900 });
    expect((await readdir(fx.dest)).sort()).toEqual(['configuration.nix', 'logo.bin']);
    await expectContent('logo.bin', pseudoRandomBytes(900, 3));
  });

  it.each([['wire', []], ['rest', ['--transport', 'rest']]] as const)('--check-only (%s) reports the LFS objects to download and their sizes, downloading none', async (_name, args) => {
    await lfsRepo();
    const run = await fx.run(['sync', '--check-only', '--json', ...args]);
    expect(run.code, run.stderr).toBe(3);
    expect(parseJson(run)['lfs']).toEqual({ mode: 'auto', files: 3, objects: 3, bytes: 4 * MIB + 3000 + 900 });
    expect(lfsLog('download')).toEqual([]);
    const human = await fx.run(['sync', '--check-only', ...args]);
    expect(human.stdout).toMatch(/would download 3 Git LFS object\(s\), 4\.0 MiB, for 3 files stored with Git LFS/);
  });
});

describe('transfers', () => {
  it('a download cut off mid-way resumes with Range: only the rest crosses the wire', async () => {
    await lfsRepo(10 * MIB);
    const oid = sha256(pseudoRandomBytes(10 * MIB, 1));
    fx.server.faults = [{ match: (req) => req.path.includes(oid), times: 1, action: { dropMidBody: true, afterBytes: 6 * MIB } }];
    const result = await fx.sync();
    await expectContent('assets/disk.bin', pseudoRandomBytes(10 * MIB, 1));
    const gets = lfsLog('download').filter((entry) => entry.oids[0] === oid);
    expect(gets.map((entry) => entry.range ?? null)).toEqual([null, expect.stringMatching(/^bytes=\d+-$/)]);
    // It carries on where the bytes that arrived end (what the server wrote just before the cut may be lost on the way) …
    const start = Number(/^bytes=(\d+)-$/.exec(gets[1]!.range!)![1]);
    expect(start).toBeGreaterThan(2 * MIB);
    // … and only the rest crosses the wire the second time.
    const sent = fx.server.requests.filter((r) => r.kind === 'lfs' && r.path.includes(oid)).map((r) => r.bytesSent);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toBeGreaterThanOrEqual(10 * MIB - start);
    expect(sent[1]).toBeLessThan(10 * MIB - start + 4096);
    expect(result['lfs']).toMatchObject({ objects: 3 });
  });

  it('a run that gives up leaves its partial download; the next run fetches only the rest', async () => {
    await lfsRepo(10 * MIB);
    const oid = sha256(pseudoRandomBytes(10 * MIB, 1));
    // Every attempt of the first run is cut after 1 MiB more.
    fx.server.faults = [{ match: (req) => req.path.includes(oid), times: 5, action: { dropMidBody: true, afterBytes: MIB } }];
    const failed = await fx.run(['sync']);
    expect(failed.code).toBe(1);
    expect(await readdir(join(fx.stateDir, 'lfs', 'partial'))).toEqual([oid]);
    fx.server.resetLog();
    fx.server.lfs.log.length = 0;
    const run = await fx.run(['sync', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const resumedAt = Number(/Resuming LFS object [0-9a-f]{12}… \(assets\/disk\.bin\) at byte (\d+) of 10485760/.exec(run.stderr)?.[1]);
    // Five attempts of 1 MiB each (less what each cut lost on the way).
    expect(resumedAt).toBeGreaterThan(MIB);
    await expectContent('assets/disk.bin', pseudoRandomBytes(10 * MIB, 1));
    // The two small objects the first run got are not downloaded again.
    expect(lfsLog('download').map((entry) => entry.oids[0])).toEqual([oid]);
    expect(objectBytes()).toBeLessThan(10 * MIB - resumedAt + 4096);
    expect(await readdir(join(fx.stateDir, 'lfs', 'partial'))).toEqual([]);
  });

  it('an expired link is renewed before it is used; a link refused early is renewed once', async () => {
    await lfsRepo();
    fx.server.lfs.settings.expiredLinks = 1;
    await fx.sync();
    await expectContent('assets/disk.bin', pseudoRandomBytes(4 * MIB, 1));
    // One batch for all three, then one per object for a fresh link; no download with an expired one.
    expect(lfsLog('batch').map((entry) => entry.oids.length)).toEqual([3, 1, 1, 1]);
    expect(lfsLog('download').map((entry) => entry.status)).toEqual([200, 200, 200]);

    await rm(fx.dest, { recursive: true });
    await rm(fx.stateDir, { recursive: true });
    fx.server.lfs.log.length = 0;
    fx.server.lfs.settings.silentlyExpiredLinks = 1;
    await fx.sync();
    expect(lfsLog('download').filter((entry) => entry.status === 403)).toHaveLength(3);
    expect(lfsLog('download').filter((entry) => entry.status === 200)).toHaveLength(3);
  });

  it('429 with Retry-After (batch API and object) waits what the server asks, then carries on', async () => {
    await lfsRepo();
    const waits: number[] = [];
    fx.server.faults = [
      { match: (req) => req.path.endsWith('/info/lfs/objects/batch'), times: 1, action: { status: 429, headers: { 'retry-after': '3' } } },
      { match: (req) => req.path.startsWith('/_lfs/objects/'), times: 1, action: { status: 429, headers: { 'retry-after': '2' } } },
    ];
    const run = await fx.run(['sync'], { timing: { retryMinMs: 0, retryMaxMs: 0, sleep: async (ms) => void waits.push(ms) } });
    expect(run.code, run.stderr).toBe(0);
    // At least what Retry-After asks (the retry policy adds jitter on top).
    expect(waits.some((ms) => ms >= 3000 && ms < 6000)).toBe(true);
    expect(waits.some((ms) => ms >= 2000 && ms < 4000)).toBe(true);
    await expectContent('assets/disk.bin', pseudoRandomBytes(4 * MIB, 1));
  });

  it("lfs.url from .lfsconfig: objects come from that server, which never gets the token", async () => {
    await trackLfs(fx.repo, '*.bin');
    const other = await startGitHubServer({ tokens: [TOKEN] });
    try {
      await other.addRepo('store/objects', fx.repo.dir);
      await fx.repo.write('.lfsconfig', `[lfs]\n\turl = "${other.serverUrl}/store/objects.git/info/lfs"\n`);
      await fx.repo.write('assets/firmware.bin', pseudoRandomBytes(3000, 2));
      await fx.repo.commit('A');
      await fx.serve();
      await pushLfs(fx.repo, other, 'store/objects', TOKEN);
      other.resetLog();
      await fx.sync('--path', 'assets');
      await expectContent('firmware.bin', pseudoRandomBytes(3000, 2));
      expect(fx.server.requests.filter((r) => r.kind === 'lfs')).toEqual([]);
      const used = other.requests.filter((r) => r.kind === 'lfs');
      expect(used.map((r) => r.method)).toEqual(['POST', 'GET']);
      expect(used.every((r) => !r.authenticated)).toBe(true);
    } finally {
      await other.close();
    }
  });

  it('a private repository: the batch API gets the token as git sends it (Basic x-access-token)', async () => {
    await fx.server.addRepo('acme/private', fx.repo.dir, { private: true });
    await trackLfs(fx.repo, '*.bin');
    await fx.repo.write('assets/firmware.bin', pseudoRandomBytes(3000, 2));
    await fx.repo.commit('A');
    await pushLfs(fx.repo, fx.server, 'acme/private', TOKEN);
    fx.server.resetLog();
    const run = await fx.run(['sync', '--repo', 'acme/private', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
    expect(run.code, run.stderr).toBe(0);
    await expectContent('assets/firmware.bin', pseudoRandomBytes(3000, 2));
    const batch = fx.server.requests.filter((r) => r.kind === 'lfs' && r.method === 'POST');
    expect(batch.map((r) => [r.status, r.authenticated])).toEqual([[200, true]]);
  });

  it('a tarball that carries the LFS content (GitHub\'s "Include Git LFS objects in archives") falls through to another strategy', async () => {
    await lfsRepo();
    await smudgeArchives(fx.repo);
    const run = await fx.run(['sync', '--json', '--transport', 'rest', '--force-full']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/tarball could not fetch the content/);
    await expectContent('assets/disk.bin', pseudoRandomBytes(4 * MIB, 1));
  });
});
