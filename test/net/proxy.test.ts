/**
 * Every request of a sync through a real forward proxy (Debian's tinyproxy): the REST poll (undici's
 * ProxyAgent when a proxy is set), the wire protocol, blobs, the tarball and its codeload redirect,
 * and the git CLI fallback (http.proxy). Counted on both sides: tinyproxy's log against the fake
 * GitHub's. HTTPS goes through CONNECT to a TLS front signed by a private CA (caFile).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseJson } from '../support/cli.js';
import { createFixture, type Fixture } from '../support/fixture.js';
import { startTinyproxy, TINYPROXY, type Tinyproxy } from '../support/tinyproxy.js';
import { createTestPki, startTlsFront } from '../support/tls.js';
import { writeHostTree } from '../support/repo.js';

let fx: Fixture;
let proxy: Tinyproxy;

async function content(): Promise<string> {
  await writeHostTree(fx.repo);
  return fx.repo.commit('A');
}

/** What the fake GitHub served, as the proxy logs a forwarded request: METHOD absolute-URL. */
const served = (): string[] => fx.server.requests.map((r) => `${r.method} ${fx.server.apiUrl}${r.path}`);
const proxied = async (): Promise<string[]> => (await proxy.requests()).map((r) => `${r.method} ${r.target}`);
const sorted = (list: string[]): string[] => [...list].sort();

async function resetLogs(): Promise<void> {
  fx.server.resetLog();
  await proxy.resetLog();
}

describe.skipIf(TINYPROXY === undefined)('through a forward proxy (tinyproxy)', () => {
  beforeEach(async () => {
    fx = await createFixture();
    proxy = await startTinyproxy();
  });
  afterEach(async () => {
    await proxy.close();
    await fx.close();
  });

  it('first install, update and unchanged poll (HTTP_PROXY): DEST exact, every request counted by the proxy and the server alike', async () => {
    const env = { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url };
    const first = await content();
    await resetLogs();
    const install = parseJson(await fx.run(['sync', '--json'], { env }));
    expect(install).toMatchObject({ ok: true, commit: first, source: 'wire' });
    await fx.expectSameAsCommit(first);
    expect(fx.server.requests.length).toBeGreaterThanOrEqual(3); // the ref, the capabilities, the pack
    expect(sorted(await proxied())).toEqual(sorted(served()));

    await fx.repo.write('hosts/web/configuration.nix', '{ web, v2 }\n');
    const second = await fx.repo.commit('B');
    await resetLogs();
    const update = parseJson(await fx.run(['sync', '--json'], { env }));
    expect(update).toMatchObject({ ok: true, commit: second, changes: { modified: ['hosts/web/configuration.nix'] } });
    await fx.expectSameAsCommit(second);
    expect(sorted(await proxied())).toEqual(sorted(served()));
    expect(served().length).toBeGreaterThanOrEqual(2);

    await resetLogs();
    const poll = parseJson(await fx.run(['sync', '--json'], { env }));
    expect(poll).toMatchObject({ ok: true, commit: second, pending: false, apiRequests: 1 });
    await fx.expectSameAsCommit(second);
    expect(fx.server.requests.map((r) => r.status)).toEqual([304]);
    expect(await proxied()).toEqual(served());
  });

  it('the REST path too: blobs, and the tarball with its codeload redirect', async () => {
    const env = { HTTP_PROXY: proxy.url };
    const commit = await content();
    await resetLogs();
    const run = parseJson(await fx.run(['sync', '--json', '--transport', 'rest', '--force-full'], { env }));
    expect(run).toMatchObject({ ok: true, strategy: 'tarball' });
    await fx.expectSameAsCommit(commit);
    expect(fx.server.requests.some((r) => r.kind === 'codeload')).toBe(true);
    expect(sorted(await proxied())).toEqual(sorted(served()));

    await fx.repo.write('hosts/db/configuration.nix', '{ db, v2 }\n');
    const second = await fx.repo.commit('B');
    await resetLogs();
    expect(parseJson(await fx.run(['sync', '--json', '--transport', 'rest'], { env }))).toMatchObject({ commit: second, strategy: 'blobs' });
    await fx.expectSameAsCommit(second);
    expect(sorted(await proxied())).toEqual(sorted(served()));
  });

  it('the git CLI fallback (quota spent) goes through the proxy as http.proxy', async () => {
    const env = { http_proxy: proxy.url };
    await content();
    await fx.run(['sync', '--json', '--transport', 'rest'], { env });
    await fx.repo.write('hosts/db/configuration.nix', '{ db, v3 }\n');
    const commit = await fx.repo.commit('C');
    fx.server.rateLimit.remaining = 0;
    await resetLogs();
    const run = await fx.run(['sync', '--json', '--transport', 'rest'], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(parseJson(run)).toMatchObject({ source: 'git', commit });
    await fx.expectSameAsCommit(commit);
    expect(fx.server.requests.filter((r) => r.kind === 'git').length).toBeGreaterThan(0);
    expect(sorted(await proxied())).toEqual(sorted(served()));
  });

  it('noProxy (curl syntax) sends matching hosts direct: the proxy sees nothing', async () => {
    const commit = await content();
    await resetLogs();
    const run = parseJson(await fx.run(['sync', '--json'], { env: { HTTP_PROXY: proxy.url, NO_PROXY: 'example.com, 127.0.0.0/8' } }));
    expect(run).toMatchObject({ ok: true, commit });
    expect(served().length).toBeGreaterThan(0);
    expect(await proxy.requests()).toEqual([]);
  });

  it('a proxy that cannot be reached fails with one line naming it', async () => {
    await content();
    const run = await fx.run(['sync', '--proxy', 'http://127.0.0.1:9'], { timing: { retryMinMs: 0, retryMaxMs: 0, sleep: async () => undefined } });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/refused|ECONNREFUSED/);
    expect(fx.server.requests).toEqual([]);
  });
});

describe.skipIf(TINYPROXY === undefined)('a proxy that wants credentials', () => {
  const auth = { user: 'hostsync', password: 'pr0xy-Secret-9f8e7d' };
  beforeEach(async () => {
    fx = await createFixture();
    proxy = await startTinyproxy({ auth });
  });
  afterEach(async () => {
    await proxy.close();
    await fx.close();
  });

  it('sends them from the proxy URL; the password is never printed; a wrong one is refused (named as the proxy\'s through CONNECT)', async () => {
    const commit = await content();
    await resetLogs();
    const good = await fx.run(['sync', '--json', '--verbose', '--proxy', proxy.url]);
    expect(good.code, good.stderr).toBe(0);
    await fx.expectSameAsCommit(commit);
    expect(sorted(await proxied())).toEqual(sorted(served()));
    expect(good.stdout + good.stderr).not.toContain(auth.password);

    const wrong = `http://${auth.user}:wrong-Password-123@127.0.0.1:${proxy.port}`;
    await fx.repo.write('flake.nix', '{ v2 }\n');
    await fx.repo.commit('B');
    const refused = await fx.run(['sync', '--verbose', '--proxy', wrong]);
    expect(refused.code).toBe(1);
    // tinyproxy answers a forwarded request with 401 (not 407, as RFC 9110 has it): indistinguishable from the server's own.
    expect(refused.stderr).toMatch(/401|407/);
    expect(refused.stdout + refused.stderr).not.toContain('wrong-Password-123');

    // Through CONNECT (https://), the refusal is the proxy's for sure, and named so.
    const pki = await createTestPki();
    const front = await startTlsFront(fx.server.apiUrl, pki.server);
    try {
      const tunnel = await fx.run(['sync', '--proxy', wrong, '--ca-file', pki.caFile], { env: { GITHUB_API_URL: front.origin, GITHUB_SERVER_URL: front.origin } });
      expect(tunnel.code).toBe(1);
      expect(tunnel.stderr).toMatch(/The proxy (answered 407|refused to connect)/);
      expect(tunnel.stdout + tunnel.stderr).not.toContain('wrong-Password-123');
    } finally {
      await front.close();
      await pki.close();
    }
  });
});

describe.skipIf(TINYPROXY === undefined)('HTTPS through the proxy: CONNECT, a private CA', () => {
  it('tunnels every request with CONNECT; TLS is checked against caFile end to end', async () => {
    fx = await createFixture();
    proxy = await startTinyproxy();
    const pki = await createTestPki();
    const front = await startTlsFront(fx.server.apiUrl, pki.server);
    try {
      const commit = await content();
      const env = { HTTPS_PROXY: proxy.url, GITHUB_API_URL: front.origin, GITHUB_SERVER_URL: front.origin };
      await resetLogs();
      const untrusted = await fx.run(['sync'], { env });
      expect(untrusted.code).toBe(1);
      expect(untrusted.stderr).toMatch(/TLS error talking to 127\.0\.0\.1:\d+ \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\): .* set caFile/);

      await resetLogs();
      const trusted = await fx.run(['sync', '--json', '--ca-file', pki.caFile], { env });
      expect(trusted.code, trusted.stderr).toBe(0);
      await fx.expectSameAsCommit(commit);
      const tunnels = await proxy.requests();
      expect(tunnels.length).toBeGreaterThan(0);
      expect(tunnels.every((r) => r.method === 'CONNECT' && r.target === `127.0.0.1:${front.port}`)).toBe(true);
      expect(front.requests).toBe(fx.server.requests.length);

      // The unchanged poll: one conditional request, through the tunnel.
      await resetLogs();
      const poll = parseJson(await fx.run(['sync', '--json', '--ca-file', pki.caFile], { env }));
      expect(poll).toMatchObject({ pending: false, apiRequests: 1 });
      expect(fx.server.requests.map((r) => r.status)).toEqual([304]);
      expect(await proxy.requests()).toEqual([{ method: 'CONNECT', target: `127.0.0.1:${front.port}` }]);
    } finally {
      await front.close();
      await pki.close();
      await proxy.close();
      await fx.close();
    }
  });
});
