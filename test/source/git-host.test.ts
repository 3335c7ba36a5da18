/**
 * A repository on a plain git host — Debian's lighttpd running git's own git-http-backend, with no
 * REST API and no fake GitHub running at all — synced by URL (`--repo http://127.0.0.1:PORT/…/x.git`):
 * the ref by ls-refs, content over the wire protocol, the downgrade guard and --check-only as on
 * GitHub. lighttpd's access log shows every request that reached the host.
 */
import { readFile, realpath, writeFile } from 'node:fs/promises';
import { destPaths } from '../../src/state/layout.js';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseJson } from '../support/cli.js';
import { createHostFixture, type HostFixture } from '../support/host-fixture.js';
import { LIGHTTPD, startGitHttpHost, type GitHttpHost } from '../support/git-http-host.js';
import { fingerprint } from '../support/safety-helpers.js';
import { pseudoRandomBytes } from '../support/sample-content.js';
import { writeHostTree } from '../support/repo.js';

const TOKEN = 'gitea_testTokenValue0123456789abcdef';

let fx: HostFixture;
let host: GitHttpHost;
let url: string;

async function content(): Promise<string> {
  await writeHostTree(fx.repo, { symlink: true });
  return fx.repo.commit('A');
}

describe.skipIf(LIGHTTPD === undefined)('a plain git host: lighttpd + git-http-backend, no REST server', () => {
  beforeEach(async () => {
    fx = await createHostFixture();
    host = await startGitHttpHost();
  });
  afterEach(async () => {
    await host.close();
    await fx.close();
  });

  const requests = async (): Promise<string[]> => (await host.requests()).map((r) => `${r.method} ${r.path.replace(/^\/git\/acme\/hypervisor\.git/, '')} ${r.status}`);

  it('first install, update and an unchanged poll: DEST exact, every request the git host saw', async () => {
    const first = await content();
    url = await host.serve('acme/hypervisor.git', fx.repo.dir);
    await host.resetLog();

    const install = await fx.sync(url);
    expect(install).toMatchObject({ ok: true, source: 'wire', commit: first, apiRequests: 0, repo: url });
    await fx.expectSameAsCommit(first);
    // ls-refs (advertisement + command), then one fetch on the same advertisement.
    expect(await requests()).toEqual(['GET /info/refs?service=git-upload-pack 200', 'POST /git-upload-pack 200', 'POST /git-upload-pack 200']);

    await fx.repo.write('hosts/web/configuration.nix', '{ web, v2 }\n');
    await fx.repo.remove('hosts/db');
    const second = await fx.repo.commit('B');
    await host.update('acme/hypervisor.git');
    await host.resetLog();
    const update = await fx.sync(url);
    expect(update).toMatchObject({ ok: true, commit: second, previousCommit: first, changes: { modified: ['hosts/web/configuration.nix'], deleted: ['hosts/db/configuration.nix'] } });
    await fx.expectSameAsCommit(second);
    // The new commit's parent is the applied one: the downgrade guard needs no extra request. The
    // advertisement is remembered from the install: ls-refs and fetch go out without the GET.
    expect(await requests()).toEqual(['POST /git-upload-pack 200', 'POST /git-upload-pack 200']);

    await host.resetLog();
    const unchanged = await fx.sync(url);
    expect(unchanged).toMatchObject({ ok: true, commit: second, pending: false, blobsDownloaded: 0 });
    await fx.expectSameAsCommit(second);
    // The poll: ls-refs only (the tree comes from the manifest): one request.
    expect(await requests()).toEqual(['POST /git-upload-pack 200']);
  });

  it('the downgrade guard and --check-only work without the host offering partial clone (filter)', async () => {
    const first = await content();
    url = await host.serve('acme/hypervisor.git', fx.repo.dir);
    await fx.sync(url);
    // Three commits on: the guard walks history back to the applied commit.
    for (const n of [1, 2, 3]) {
      await fx.repo.write('hosts/web/configuration.nix', `{ web, v${n} }\n`);
      await fx.repo.commit(`v${n}`);
    }
    await host.update('acme/hypervisor.git');
    const before = await fingerprint(fx.stateDir, { identity: true });
    const check = await fx.run(['sync', '--check-only', '--json', '--repo', url]);
    expect(check.code, check.stderr).toBe(3);
    expect(parseJson(check)['changes']).toMatchObject({ modified: ['hosts/web/configuration.nix'] });
    expect(await fingerprint(fx.stateDir, { identity: true })).toEqual(before);
    const third = await fx.repo.head();
    expect(await fx.sync(url)).toMatchObject({ commit: third, previousCommit: expect.any(String) });
    await fx.expectSameAsCommit(third);

    // A force-push back to A is refused, DEST untouched; --allow-downgrade applies it.
    await fx.repo.git('reset', '-q', '--hard', first);
    await host.update('acme/hypervisor.git');
    const refused = await fx.run(['sync', '--json', '--repo', url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/Refusing commit .* not its descendant .*--allow-downgrade/);
    await fx.expectSameAsCommit(third);
    expect(await fx.sync(url, ['--allow-downgrade'])).toMatchObject({ commit: first });
    await fx.expectSameAsCommit(first);
  });

  it('remembered capabilities the host no longer stands by (filter, here) cost one fresh advertisement, for --check-only and the guard alike', async () => {
    await content();
    url = await host.serve('acme/hypervisor.git', fx.repo.dir);
    await fx.sync(url);
    // As if the host had offered partial clone when the memo was written, and turned it off since.
    const memo = join(destPaths(fx.stateDir, await realpath(fx.dest)).root, 'git-capabilities.json');
    const claimFilter = async (): Promise<void> => {
      const saved = JSON.parse(await readFile(memo, 'utf8')) as Record<string, { lines: string[]; at: number }>;
      for (const entry of Object.values(saved)) entry.lines = entry.lines.map((line) => (line.startsWith('fetch=') && !line.includes('filter') ? `${line} filter` : line));
      await writeFile(memo, JSON.stringify(saved));
    };
    await claimFilter();
    for (const n of [1, 2]) {
      await fx.repo.write('hosts/web/configuration.nix', `{ web, v${n} }\n`);
      await fx.repo.commit(`v${n}`);
    }
    await host.update('acme/hypervisor.git');
    await host.resetLog();
    const check = await fx.run(['sync', '--check-only', '--json', '--repo', url]);
    expect(check.code, check.stderr).toBe(3);
    expect((await requests()).filter((line) => line.startsWith('GET '))).toEqual(['GET /info/refs?service=git-upload-pack 200']);
    // --check-only writes nothing: the memo still claims filter, and the sync (guard walk included) copes the same way.
    await host.resetLog();
    const head = await fx.repo.head();
    expect(await fx.sync(url)).toMatchObject({ commit: head });
    await fx.expectSameAsCommit(head);
    expect((await requests()).filter((line) => line.startsWith('GET '))).toEqual(['GET /info/refs?service=git-upload-pack 200']);
    // The sync remembered what the host offers now: the next run asks no GET.
    expect(await readFile(memo, 'utf8')).not.toContain('filter');
  });

  it('without partial clone, big files edited over several commits: --check-only and the history walk resolve in-pack deltas', async () => {
    await content();
    const firmware = pseudoRandomBytes(3 << 20, 21);
    await fx.repo.write('assets/firmware.bin', firmware);
    await fx.repo.commit('firmware');
    url = await host.serve('acme/hypervisor.git', fx.repo.dir);
    await fx.sync(url);
    for (const n of [1, 2, 3]) {
      pseudoRandomBytes(4096, 100 + n).copy(firmware, n << 20);
      await fx.repo.write('assets/firmware.bin', firmware);
      await fx.repo.commit(`firmware v${n}`);
    }
    await host.update('acme/hypervisor.git');
    const before = await fingerprint(fx.stateDir, { identity: true });
    const check = await fx.run(['sync', '--check-only', '--json', '--repo', url]);
    expect(check.code, check.stderr).toBe(3);
    expect(await fingerprint(fx.stateDir, { identity: true })).toEqual(before);
    const head = await fx.repo.head();
    const run = await fx.run(['sync', '--json', '--repo', url]);
    expect(run.code, run.stderr).toBe(0);
    expect(parseJson(run)).toMatchObject({ commit: head, changes: { modified: ['assets/firmware.bin'] } });
    await fx.expectSameAsCommit(head);
  });

  it('with partial clone on, --check-only asks for no blobs (filter blob:none)', async () => {
    await content();
    url = await host.serve('acme/hypervisor.git', fx.repo.dir);
    await host.allowFilter('acme/hypervisor.git');
    await fx.repo.write('big.bin', Buffer.alloc(1 << 20, 7));
    await fx.repo.commit('big');
    await host.update('acme/hypervisor.git');
    const check = await fx.run(['sync', '--check-only', '--json', '--repo', url]);
    expect(check.code, check.stderr).toBe(3);
    expect(parseJson(check)['bytesReceived']).toBeLessThan(64 * 1024);
  });

  it('a branch and a tag by name, over ls-refs with ref-prefix', async () => {
    await content();
    await fx.repo.branch('staging');
    await fx.repo.checkout('staging');
    await fx.repo.write('hosts/web/configuration.nix', '{ staging }\n');
    const staging = await fx.repo.commit('staging');
    await fx.repo.tag('v1.0', 'release');
    await fx.repo.checkout('main');
    url = await host.serve('acme/hypervisor.git', fx.repo.dir);
    expect(await fx.sync(url, ['--ref', 'staging'])).toMatchObject({ commit: staging, ref: 'staging' });
    expect(await fx.sync(url, ['--ref', 'v1.0'])).toMatchObject({ commit: staging });
    const missing = await fx.run(['sync', '--repo', url, '--ref', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Unknown ref 'nope'/);
  });

  it('transport rest and requireSigned are refused for a git URL, before any request', async () => {
    await content();
    url = await host.serve('acme/hypervisor.git', fx.repo.dir);
    await host.resetLog();
    const rest = await fx.run(['sync', '--repo', url, '--transport', 'rest']);
    expect(rest.code).toBe(2);
    expect(rest.stderr).toMatch(/transport 'rest' reads GitHub's REST API/);
    const signed = await fx.run(['sync', '--repo', url, '--require-signed']);
    expect(signed.code).toBe(2);
    expect(await host.requests()).toEqual([]);
  });
});

describe.skipIf(LIGHTTPD === undefined)('a git host that wants credentials (HTTP Basic, gitUser)', () => {
  beforeEach(async () => {
    fx = await createHostFixture();
    host = await startGitHttpHost({ auth: { user: 'oauth2', password: TOKEN } });
  });
  afterEach(async () => {
    await host.close();
    await fx.close();
  });

  it('sends the token as Basic <gitUser>:<token>; a wrong user name is refused with a clear line, the token never printed', async () => {
    const commit = await content();
    url = await host.serve('acme/hypervisor.git', fx.repo.dir);
    const tokenFile = join(fx.tmp, 'token');
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const refused = await fx.run(['sync', '--repo', url, '--token-file', tokenFile, '--verbose']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/answered 401: authentication is required or the token was refused/);
    expect(refused.stderr + refused.stdout).not.toContain(TOKEN);
    expect(refused.stderr + refused.stdout).not.toContain(Buffer.from(`x-access-token:${TOKEN}`).toString('base64'));

    await host.resetLog();
    expect(await fx.sync(url, ['--token-file', tokenFile, '--git-user', 'oauth2'])).toMatchObject({ ok: true, commit });
    await fx.expectSameAsCommit(commit);
    const requests = await host.requests();
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((r) => r.user !== 'oauth2' || r.status !== 200)).toEqual([]);
  });
});
