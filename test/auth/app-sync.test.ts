/**
 * Syncs authenticated as a GitHub App, end to end and in-process against the test server (which
 * mints and checks App JWTs and installation tokens as GitHub does): over git's wire protocol, over
 * the REST API and through the git clone fallback; the token minted once and reused from the cache
 * by the next run, replaced when it expired, minted again once when GitHub refuses it (revoked),
 * never in a loop; the failures a user can fix, with their exit codes; and no secret in any output.
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { secretForms } from '../../src/redact.js';
import { parseJson, type CliResult } from '../support/cli.js';
import { createFixture, TOKEN, type Fixture, type RunOptions } from '../support/fixture.js';
import { FAST_TIMING } from '../support/io.js';
import { startTinyproxy, TINYPROXY } from '../support/tinyproxy.js';
import { APP_ID, INSTALLATION_ID, rsaKeyPair, type KeyPair } from './support.js';

const key: KeyPair = rsaKeyPair();
const otherKey: KeyPair = rsaKeyPair();
const REPO = 'acme/hypervisor';

let fx: Fixture;
let keyFile: string;
/** Every output of every run of a test, scanned for secrets after it. */
let outputs: string[];

beforeEach(async () => {
  // The fixture's own repository is served public under another name; the App's is private.
  fx = await createFixture({ repoName: 'acme/public-mirror' });
  await fx.server.addRepo(REPO, fx.repo.dir, { private: true });
  await fx.server.addRepo('acme/other', fx.repo.dir, { private: true });
  fx.server.addApp(APP_ID, key.publicPem, [{ id: INSTALLATION_ID, repos: [REPO] }]);
  keyFile = join(fx.tmp, 'github-app.pem');
  await writeFile(keyFile, key.privatePem, { mode: 0o600 });
  outputs = [];
});

afterEach(async () => {
  // Neither the key nor any token minted, in any form it takes on the wire, was ever printed.
  const secrets = [...fx.server.apps.minted.map((t) => t.token), ...key.privatePem.split('\n').filter((line) => line.length > 40)];
  const printed = outputs.join('\n');
  for (const secret of secrets) for (const form of secretForms(secret)) expect(printed.includes(form), 'a secret was printed').toBe(false);
  await fx.close();
});

/** `hostsync <args>` as the App on acme/hypervisor, without any token in the environment. */
async function run(args: readonly string[], options: RunOptions & { readonly repo?: string; readonly appArgs?: readonly string[] } = {}): Promise<CliResult> {
  const appArgs = options.appArgs ?? ['--app-id', String(APP_ID), '--app-private-key-file', keyFile];
  const result = await fx.run([...args, '--repo', options.repo ?? REPO, '--dest', fx.dest, '--state-dir', fx.stateDir, ...appArgs], {
    ...options,
    bare: true,
    env: { GITHUB_TOKEN: '', ...options.env },
  });
  outputs.push(result.stdout, result.stderr);
  return result;
}

async function sync(...args: string[]): Promise<Record<string, unknown>> {
  const result = await run(['sync', '--json', '--verbose', ...args]);
  if (result.code !== 0) throw new Error(`sync failed (${result.code}):\n${result.stderr}\n${result.stdout}`);
  return parseJson(result);
}

const minted = (): number => fx.server.apps.minted.length;
const tokenOf = (n: number): string => fx.server.apps.minted[n]?.token ?? 'none';
/** The App's own requests (a JWT, not a token). */
const isAppRequest = (path: string): boolean => path.startsWith('/app/') || /^\/repos\/[^/]+\/[^/]+\/installation$/.test(path);
/** The tokens the git or REST requests of the log carried, refused ones (401) left out (undefined: no token). */
const usedTokens = (kind: 'api' | 'git'): Set<string | undefined> => new Set(fx.server.requests.filter((r) => r.kind === kind && r.status !== 401 && !isAppRequest(r.path)).map((r) => r.token));

async function commit(name: string, content: string): Promise<string> {
  await fx.repo.write(name, content);
  return fx.repo.commit(name);
}

describe('a sync authenticated as a GitHub App', () => {
  it('over the wire protocol: one token minted for the first run, the next run takes it from the cache', async () => {
    const head = await commit('flake.nix', '{ }\n');
    const first = await sync();
    await fx.expectSameAsCommit(head);
    expect(first).toMatchObject({ source: 'wire', authRequests: 2, auth: { method: 'github-app', appId: String(APP_ID), installationId: INSTALLATION_ID, token: 'minted' } });
    expect(minted()).toBe(1);
    // The installation was looked up, the token scoped to the repository and contents: read.
    expect(fx.server.apps.minted[0]).toMatchObject({ installationId: INSTALLATION_ID, repos: [REPO], permissions: { contents: 'read', metadata: 'read' } });
    expect(usedTokens('git')).toEqual(new Set([tokenOf(0)]));
    expect(usedTokens('api')).toContain(tokenOf(0));
    // App requests cost the installation nothing: the run's quota is its own REST requests.
    expect(first['quotaPoints']).toBe(1);

    // Cached 0600 in the state dir, per App, installation and repository.
    const files = await readdir(join(fx.stateDir, 'auth'));
    expect(files).toEqual([expect.stringMatching(new RegExp(`^github-app-${APP_ID}-[0-9a-f]{16}\\.json$`))]);
    expect((await stat(join(fx.stateDir, 'auth', files[0] ?? ''))).mode & 0o777).toBe(0o600);

    const next = await commit('hosts/web.nix', '{ web }\n');
    fx.server.resetLog();
    const second = await sync();
    await fx.expectSameAsCommit(next);
    expect(second).toMatchObject({ authRequests: 0, auth: { method: 'github-app', token: 'cached' } });
    expect(minted()).toBe(1);
    expect(usedTokens('git')).toEqual(new Set([tokenOf(0)]));
  });

  it('over the REST API (--transport rest), with the installation id given: one App request, then none', async () => {
    const head = await commit('a.nix', 'a\n');
    const first = await sync('--transport', 'rest', '--app-installation-id', String(INSTALLATION_ID));
    await fx.expectSameAsCommit(head);
    expect(first).toMatchObject({ source: 'rest', authRequests: 1, auth: { token: 'minted' } });
    expect(fx.server.requests.some((r) => r.path === `/repos/${REPO}/installation`)).toBe(false);
    expect(usedTokens('api')).toEqual(new Set([tokenOf(0)]));

    const next = await commit('b.nix', 'b\n');
    const second = await sync('--transport', 'rest', '--app-installation-id', String(INSTALLATION_ID));
    await fx.expectSameAsCommit(next);
    expect(second).toMatchObject({ authRequests: 0, auth: { token: 'cached' } });
    expect(minted()).toBe(1);
  });

  it('through the git clone fallback (the tarball damaged): git sends the App token', async () => {
    const head = await commit('c.nix', 'c\n');
    fx.server.faults = [{ match: (r) => r.path.includes('/tarball/') || r.path.includes('/_codeload/'), action: { corrupt: true } }];
    const result = await sync('--transport', 'rest', '--force-full');
    await fx.expectSameAsCommit(head);
    expect(result['strategy']).toBe('clone');
    expect(minted()).toBe(1);
    expect(usedTokens('git')).toEqual(new Set([tokenOf(0)]));
  });

  it('replaces a cached token that expired', async () => {
    await commit('a.nix', 'a\n');
    await sync();
    const head = await commit('b.nix', 'b\n');
    // Two hours later on this host's clock: the cached token (an hour's life) is past its time.
    const later = { ...FAST_TIMING, now: () => Date.now() + 2 * 3600_000 };
    const result = await run(['sync', '--json'], { timing: later });
    expect(result.code, result.stderr).toBe(0);
    await fx.expectSameAsCommit(head);
    expect(parseJson(result)).toMatchObject({ authRequests: 2, auth: { token: 'minted' } });
    expect(minted()).toBe(2);
    expect(usedTokens('git')).toContain(tokenOf(1));
  });

  it.each(['auto', 'rest', 'git'])('mints a new token once when GitHub refuses the cached one (revoked), and goes on (transport %s)', async (transport) => {
    await commit('a.nix', 'a\n');
    await sync('--transport', transport);
    fx.server.apps.revoke(tokenOf(0));
    const head = await commit('b.nix', 'b\n');
    fx.server.resetLog();
    const result = await run(['sync', '--json', '--transport', transport]);
    expect(result.code, result.stderr).toBe(0);
    await fx.expectSameAsCommit(head);
    expect(minted()).toBe(2);
    expect(parseJson(result)).toMatchObject({ auth: { token: 'renewed' } });
    expect(result.stderr).toMatch(/GitHub refused the token of GitHub App 12345 \(installation 678\) kept in .*\(401\): it was revoked/);
    // The refused token was tried once (the poll), then only the new one was sent.
    expect(fx.server.requests.filter((r) => r.status === 401)).toHaveLength(1);
    expect(usedTokens(transport === 'rest' ? 'api' : 'git')).toEqual(new Set([tokenOf(1)]));
    // The next run takes the new token from the cache.
    await sync('--transport', transport);
    expect(minted()).toBe(2);
  });

  it('tries a token GitHub refuses right after minting once more after a pause, as GitHub may not have replicated it', async () => {
    const head = await commit('a.nix', 'a\n');
    fx.server.apps.replicationDelayMs = 800;
    // The pause passes on the server's clock, not the test's.
    const timing = { ...FAST_TIMING, sleep: async (ms: number) => void (fx.server.apps.clockOffsetMs += ms) };
    const result = await run(['sync', '--json'], { timing });
    expect(result.code, result.stderr).toBe(0);
    await fx.expectSameAsCommit(head);
    expect(minted()).toBe(1);
    expect(result.stderr).toMatch(/minted \d+\.\d s ago \(401\); a new token can take GitHub a moment/);
  });

  it('never loops: a refused cached token is replaced once, and a new token refused again fails the run', async () => {
    await commit('a.nix', 'a\n');
    await sync();
    fx.server.apps.revoke(tokenOf(0));
    fx.server.apps.replicationDelayMs = 3_600_000; // no new token is ever accepted
    const result = await run(['sync', '--json']);
    expect(result.code).toBe(1);
    expect(minted()).toBe(2);
    expect(fx.server.requests.filter((r) => r.status === 401).length).toBeLessThanOrEqual(3);
    expect(parseJson(result)).toMatchObject({ ok: false, error: { exitCode: 1, message: expect.stringMatching(/GitHub answered 401 to the installation token of GitHub App 12345 \(installation 678\) minted for this run\. Check that the App is still installed on acme\/hypervisor/) } });
    // The refused token is not kept for the next run.
    expect(await readdir(join(fx.stateDir, 'auth'))).toEqual([]);
  });

  it('wins over a token configured as well, and says the token is not used', async () => {
    const head = await commit('a.nix', 'a\n');
    const tokenFile = join(fx.tmp, 'token');
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const result = await run(['sync', '--json', '--token-file', tokenFile]);
    expect(result.code, result.stderr).toBe(0);
    await fx.expectSameAsCommit(head);
    expect(result.stderr).toContain(`GitHub App ${APP_ID} is configured, so hostsync authenticates as the App and does not use the token in ${tokenFile}.`);
    expect(usedTokens('api')).toEqual(new Set([tokenOf(0)]));
    expect(usedTokens('git')).toEqual(new Set([tokenOf(0)]));
  });

  it('finds the key as the systemd credential github-app-key', async () => {
    const head = await commit('a.nix', 'a\n');
    const credentials = join(fx.tmp, 'credentials');
    await mkdir(credentials, { mode: 0o700 });
    await writeFile(join(credentials, 'github-app-key'), key.privatePem, { mode: 0o600 });
    const result = await run(['sync', '--json'], { appArgs: ['--app-id', String(APP_ID)], env: { CREDENTIALS_DIRECTORY: credentials } });
    expect(result.code, result.stderr).toBe(0);
    await fx.expectSameAsCommit(head);
    expect(minted()).toBe(1);
  });

  it.skipIf(TINYPROXY === undefined)('asks for its token through the proxy of the run, as every other request (tinyproxy)', async () => {
    const head = await commit('a.nix', 'a\n');
    const proxy = await startTinyproxy();
    try {
      fx.server.resetLog();
      const result = await run(['sync', '--json'], { env: { HTTP_PROXY: proxy.url } });
      expect(result.code, result.stderr).toBe(0);
      await fx.expectSameAsCommit(head);
      const served = fx.server.requests.map((r) => `${r.method} ${fx.server.apiUrl}${r.path}`).sort();
      expect(served).toEqual(expect.arrayContaining([`GET ${fx.server.apiUrl}/repos/${REPO}/installation`, `POST ${fx.server.apiUrl}/app/installations/${INSTALLATION_ID}/access_tokens`]));
      expect((await proxy.requests()).map((r) => `${r.method} ${r.target}`).sort()).toEqual(served);
    } finally {
      await proxy.close();
    }
  });

  it('writes the App requests of the run into the metrics file', async () => {
    await commit('a.nix', 'a\n');
    const metrics = join(fx.tmp, 'hostsync.prom');
    expect((await run(['sync', '--metrics-file', metrics])).code).toBe(0);
    const text = await readFile(metrics, 'utf8');
    expect(text).toMatch(/^hostsync_last_run_auth_requests\{dest="[^"]+"\} 2$/m);
  });
});

describe('failures name the problem and the fix', () => {
  beforeEach(async () => {
    await commit('a.nix', 'a\n');
  });

  it('a key of another App: exit 2, naming the key file', async () => {
    await writeFile(keyFile, otherKey.privatePem, { mode: 0o600 });
    const result = await run(['sync']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`GitHub rejected the JWT of GitHub App ${APP_ID} (401 A JSON web token could not be decoded): the private key in ${keyFile} does not belong to App ${APP_ID}.`);
    expect(minted()).toBe(0);
  });

  it('an App that does not exist: exit 1', async () => {
    const result = await run(['sync', '--json'], { appArgs: ['--app-id', '999', '--app-private-key-file', keyFile] });
    expect(result.code).toBe(1);
    expect(parseJson(result)['error']).toMatchObject({ exitCode: 1, message: expect.stringMatching(/^GitHub App 999 does not exist at \S+ \(404 Integration not found\)\. Check appId: the numeric App ID/) });
  });

  it('no installation on the repository: exit 1, saying where to install the App', async () => {
    const result = await run(['sync'], { repo: 'acme/other' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`GitHub App ${APP_ID} is not installed on acme/other (404 from GET /repos/acme/other/installation). Install the App on acme/other`);
    expect(minted()).toBe(0);
  });

  it('a garbled key file: exit 2 at config load, naming the file, before any request', async () => {
    await writeFile(keyFile, '-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----\n', { mode: 0o600 });
    const result = await run(['sync']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`The GitHub App private key in ${keyFile} is not a PEM private key`);
    expect(result.stderr).toContain('point appPrivateKeyFile at it');
    expect(fx.server.requests).toHaveLength(0);
  });

  it('an unreadable key file: exit 2, naming the file and the fix', async () => {
    const missing = join(fx.tmp, 'nope.pem');
    const result = await run(['sync'], { appArgs: ['--app-id', String(APP_ID), '--app-private-key-file', missing] });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`Cannot read the GitHub App private key ${missing}`);
    expect(result.stderr).toContain('Fix appPrivateKeyFile');
  });

  it('an App without a key: exit 2, naming both ways to give it', async () => {
    const result = await run(['sync'], { appArgs: ['--app-id', String(APP_ID)] });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`GitHub App ${APP_ID} (\`--app-id\`) needs its private key: set appPrivateKeyFile`);
    expect(result.stderr).toContain('LoadCredential=github-app-key:');
  });
});
