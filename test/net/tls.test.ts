/**
 * A private CA (GitHub Enterprise Server, a git host or a proxy signed by an internal CA): the fake
 * GitHub behind an HTTPS front whose certificate a test CA signed (openssl). Without caFile every
 * path fails with one line naming the certificate problem and the fix; with caFile (read at run
 * time, not NODE_EXTRA_CA_CERTS at startup) the poll, the REST API, the wire protocol and the git
 * CLI fallback (GIT_SSL_CAINFO) all trust it.
 */
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseJson } from '../support/cli.js';
import { createFixture, type Fixture } from '../support/fixture.js';
import { createTestPki, startTlsFront, type TestPki, type TlsFront } from '../support/tls.js';

let fx: Fixture;
let pki: TestPki;
let front: TlsFront;
let env: Record<string, string>;

beforeEach(async () => {
  fx = await createFixture();
  pki = await createTestPki();
  front = await startTlsFront(fx.server.apiUrl, pki.server);
  env = { GITHUB_API_URL: front.origin, GITHUB_SERVER_URL: front.origin };
  await fx.repo.write('flake.nix', '{ outputs = _: {}; }\n');
  await fx.repo.write('hosts/web/configuration.nix', '{ web }\n');
  await fx.repo.commit('A');
});
afterEach(async () => {
  await front.close();
  await pki.close();
  await fx.close();
});

describe('a server signed by a private CA', () => {
  it('without caFile: one line naming UNABLE_TO_VERIFY_LEAF_SIGNATURE and caFile, nothing written', async () => {
    const run = await fx.run(['sync'], { env });
    expect(run.code).toBe(1);
    await expect(stat(fx.dest)).rejects.toThrow();
    expect(run.stderr.trim().split('\n')).toEqual([
      `hostsync: TLS error talking to 127.0.0.1:${front.port} (UNABLE_TO_VERIFY_LEAF_SIGNATURE): the server certificate is signed by a CA this host does not trust (a private CA, or the server does not send its intermediate certificate). If the server uses a private CA, put the CA's certificate (PEM) in a file and set caFile (--ca-file) to it.`,
    ]);
  });

  it('with caFile: first install, update and unchanged poll over HTTPS (poll and git on node:https, the REST API on undici)', async () => {
    const first = await fx.repo.head();
    expect(parseJson(await fx.run(['sync', '--json', '--ca-file', pki.caFile], { env }))).toMatchObject({ ok: true, commit: first, source: 'wire' });
    await fx.expectSameAsCommit(first);
    await fx.repo.write('hosts/web/configuration.nix', '{ web, v2 }\n');
    const second = await fx.repo.commit('B');
    expect(parseJson(await fx.run(['sync', '--json'], { env: { ...env, HOSTSYNC_CA_FILE: pki.caFile } }))).toMatchObject({ commit: second });
    await fx.expectSameAsCommit(second);
    fx.server.resetLog();
    expect(parseJson(await fx.run(['sync', '--json', '--ca-file', pki.caFile], { env }))).toMatchObject({ pending: false, apiRequests: 1 });
    expect(fx.server.requests.map((r) => r.status)).toEqual([304]);
  });

  it('the REST path (blobs, tarball and its redirect) and the git CLI fallback trust caFile too', async () => {
    const first = await fx.repo.head();
    expect(parseJson(await fx.run(['sync', '--json', '--transport', 'rest', '--force-full', '--ca-file', pki.caFile], { env }))).toMatchObject({ commit: first, strategy: 'tarball' });
    await fx.expectSameAsCommit(first);
    await fx.repo.write('flake.nix', '{ v2 }\n');
    const second = await fx.repo.commit('B');
    fx.server.rateLimit.remaining = 0;
    const git = await fx.run(['sync', '--json', '--transport', 'rest', '--ca-file', pki.caFile], { env });
    expect(git.code, git.stderr).toBe(0);
    expect(parseJson(git)).toMatchObject({ source: 'git', commit: second });
    await fx.expectSameAsCommit(second);
  });

  it('a git URL over HTTPS (no REST) trusts caFile', async () => {
    const commit = await fx.repo.head();
    await fx.sync(); // serves the repository
    fx.server.resetLog();
    const url = `${front.origin}/acme/hypervisor.git`;
    const untrusted = await fx.run(['sync', '--repo', url, '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true, env });
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/TLS error talking to 127\.0\.0\.1:\d+ \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
    const run = await fx.run(['sync', '--json', '--repo', url, '--ca-file', pki.caFile, '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true, env });
    expect(run.code, run.stderr).toBe(0);
    expect(parseJson(run)).toMatchObject({ commit, apiRequests: 0 });
    expect(fx.server.requests.filter((r) => r.kind === 'api')).toEqual([]);
  });

  it('a self-signed certificate and a hostname mismatch are named as such', async () => {
    front.use(pki.selfSigned);
    const self = await fx.run(['sync', '--ca-file', pki.caFile], { env });
    expect(self.code).toBe(1);
    expect(self.stderr).toMatch(/\(DEPTH_ZERO_SELF_SIGNED_CERT\): the server certificate is self-signed\. caFile .* does not hold the CA that signed it/);

    front.use(pki.otherName);
    const other = await fx.run(['sync', '--ca-file', pki.caFile], { env });
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/\(ERR_TLS_CERT_ALTNAME_INVALID\): the certificate is not issued for this host name \(hostname mismatch\)/);
  });

  it('an unreadable or empty caFile is a configuration error naming the file', async () => {
    const missing = await fx.run(['sync', '--ca-file', join(fx.tmp, 'nope.pem')], { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/Cannot read caFile .*nope\.pem \(ENOENT\)/);
    const empty = join(fx.tmp, 'empty.pem');
    await writeFile(empty, 'not a certificate\n');
    const bad = await fx.run(['sync', '--ca-file', empty], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/holds no PEM certificate/);
  });

  it('the spawned CLI reads caFile itself (no NODE_EXTRA_CA_CERTS at startup)', async () => {
    const commit = await fx.repo.head();
    const run = await fx.run(['sync', '--json', '--ca-file', pki.caFile], { env, spawn: true });
    expect(run.code, run.stderr).toBe(0);
    expect(parseJson(run)).toMatchObject({ commit });
  });
});
