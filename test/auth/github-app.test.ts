/**
 * `createAppTokenProvider` against the fake GitHub: minting, installation lookup, the token cache
 * across runs, expiry, and the failures a user can fix — with messages that never carry a secret.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AppAuthError } from '../../src/auth/errors.js';
import { createAppTokenProvider, type AppTokenProviderOptions } from '../../src/auth/github-app.js';
import { HostsyncError } from '../../src/errors.js';
import { createRedactor, type Redactor } from '../../src/redact.js';
import { APP_ID, INSTALLATION_ID, rsaKeyPair, startAppWorld, type AppWorld } from './support.js';

let world: AppWorld;
let dir: string;
let redact: Redactor;
/** Every message thrown in this file, scanned for secrets at the end. */
const thrown: string[] = [];
/** Every token handed out in this file. */
const handedOut: string[] = [];

beforeAll(async () => {
  world = await startAppWorld();
});

afterAll(async () => {
  await world.close();
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hostsync-app-state-'));
  redact = createRedactor();
  world.gh.apps.clockOffsetMs = 0;
  world.gh.apps.tokenLifetimeSec = 3600;
  world.gh.faults = [];
  world.gh.resetLog();
  return () => rm(dir, { recursive: true, force: true });
});

const cacheFile = (): string => join(dir, 'auth', 'github-app-token.json');

function provider(overrides: Partial<AppTokenProviderOptions> = {}) {
  return createAppTokenProvider({
    appId: String(APP_ID),
    privateKey: world.key.privatePem,
    keySource: '/run/credentials/hostsync.service/github-app-key',
    installationId: INSTALLATION_ID,
    owner: 'acme',
    repo: 'hypervisor',
    apiUrl: world.gh.apiUrl,
    cacheFile: cacheFile(),
    redact,
    retry: { retries: 2, minTimeoutMs: 0, maxTimeoutMs: 0 },
    ...overrides,
  });
}

async function token(p: ReturnType<typeof provider>) {
  const t = await p.token();
  handedOut.push(t.value);
  return t;
}

/** The error `run` fails with, recorded for the secret scan. */
async function failure(run: () => Promise<unknown>): Promise<AppAuthError> {
  try {
    await run();
  } catch (error) {
    thrown.push(error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error));
    expect(error).toBeInstanceOf(AppAuthError);
    return error as AppAuthError;
  }
  throw new Error('expected a failure');
}

const mints = (): number => world.gh.apps.minted.length;
const lookups = (): number => world.gh.requests.filter((r) => r.path === '/repos/acme/hypervisor/installation').length;

describe('minting', () => {
  it('mints a token for the configured installation, scoped to the repository and read-only, that reads the private repository', async () => {
    const before = mints();
    const t = await token(provider());
    expect(t).toMatchObject({ source: 'github-app', installationId: INSTALLATION_ID });
    expect(t.value).toMatch(/^ghs_/);
    expect(Date.parse(t.expiresAt) - Date.now()).toBeGreaterThan(59 * 60_000);
    expect(mints()).toBe(before + 1);
    expect(lookups()).toBe(0);
    const minted = world.gh.apps.minted.at(-1);
    expect(minted?.repos).toEqual(['acme/hypervisor']);
    expect(minted?.permissions).toEqual({ contents: 'read', metadata: 'read' });
    const response = await fetch(`${world.gh.apiUrl}/repos/acme/hypervisor`, { headers: { authorization: `Bearer ${t.value}` } });
    expect(response.status).toBe(200);
  });

  it('looks the installation up from the repository when none is configured', async () => {
    const t = await token(provider({ installationId: undefined }));
    expect(t.installationId).toBe(INSTALLATION_ID);
    expect(lookups()).toBe(1);
    expect(world.gh.apps.minted.at(-1)?.installationId).toBe(INSTALLATION_ID);
  });

  it('registers the key, the JWT and the token with the redactor', async () => {
    const t = await token(provider({ installationId: undefined }));
    const keyLine = world.key.privatePem.split('\n')[1] ?? '';
    expect(redact(`token ${t.value} key ${keyLine}`)).toBe('token *** key ***');
    expect(redact(Buffer.from(`x-access-token:${t.value}`).toString('base64'))).toBe('***');
  });

  it('mints once for concurrent callers', async () => {
    const before = mints();
    const p = provider();
    const all = await Promise.all([p.token(), p.token(), p.token()]);
    expect(new Set(all.map((t) => t.value)).size).toBe(1);
    expect(mints()).toBe(before + 1);
  });

  it('retries a 502 from GitHub', async () => {
    world.gh.faults = [{ match: (r) => r.path.endsWith('/access_tokens'), times: 1, action: { status: 502 } }];
    const before = mints();
    await token(provider());
    expect(mints()).toBe(before + 1);
  });
});

describe('the token cache', () => {
  it('is reused by the next run (another provider) without a second mint, and is mode 0600', async () => {
    const first = await token(provider({ installationId: undefined }));
    const before = mints();
    const lookupsBefore = lookups();
    const second = await token(provider({ installationId: undefined }));
    expect(second.value).toBe(first.value);
    expect(mints()).toBe(before);
    expect(lookups()).toBe(lookupsBefore);
    expect((await stat(cacheFile())).mode & 0o777).toBe(0o600);
    const record = JSON.parse(await readFile(cacheFile(), 'utf8')) as Record<string, unknown>;
    expect(record).toMatchObject({ version: 1, appId: String(APP_ID), installationId: INSTALLATION_ID, repository: 'acme/hypervisor' });
  });

  it('is replaced within 5 minutes of expiry, and kept until then', async () => {
    const first = await token(provider());
    const before = mints();
    const at = (minutes: number) => provider({ now: () => Date.now() + minutes * 60_000 });
    expect((await token(at(54))).value).toBe(first.value);
    expect(mints()).toBe(before);
    const renewed = await token(at(56));
    expect(renewed.value).not.toBe(first.value);
    expect(mints()).toBe(before + 1);
  });

  it('renews a short-lived token at half its life rather than minting on every call', async () => {
    world.gh.apps.tokenLifetimeSec = 240;
    const p = provider();
    const first = await token(p);
    const before = mints();
    expect((await p.token()).value).toBe(first.value);
    expect(mints()).toBe(before);
  });

  it("is not used for another App, installation or repository", async () => {
    const mine = await token(provider());
    const otherApp = rsaKeyPair();
    world.gh.addApp(4242, otherApp.publicPem, [{ id: 4343, repos: ['acme/hypervisor'] }]);
    const before = mints();
    const theirs = await token(provider({ appId: '4242', privateKey: otherApp.privatePem, installationId: 4343 }));
    expect(theirs.value).not.toBe(mine.value);
    expect(mints()).toBe(before + 1);
    // The cache now holds App 4242's token: App 12345 does not take it either.
    const again = await token(provider());
    expect(again.value).not.toBe(theirs.value);
    expect(mints()).toBe(before + 2);
    const record = JSON.parse(await readFile(cacheFile(), 'utf8')) as Record<string, unknown>;
    record['repository'] = 'acme/other';
    await writeFile(cacheFile(), JSON.stringify(record));
    expect((await token(provider())).value).not.toBe(again.value);
    expect(mints()).toBe(before + 3);
  });

  it.each([
    ['not JSON', '{"version": 1, "token": '],
    ['an array', '[]'],
    ['another version', JSON.stringify({ version: 2, appId: String(APP_ID), installationId: INSTALLATION_ID, repository: 'acme/hypervisor', token: 'ghs_x'.padEnd(40, 'x'), expiresAt: '2999-01-01T00:00:00Z', mintedAt: '2024-01-01T00:00:00Z' })],
    ['a token with a newline', JSON.stringify({ version: 1, appId: String(APP_ID), installationId: INSTALLATION_ID, repository: 'acme/hypervisor', token: 'ghs_aaaaaaaa\nX', expiresAt: '2999-01-01T00:00:00Z', mintedAt: '2024-01-01T00:00:00Z' })],
  ])('is ignored when corrupt (%s), then rewritten', async (_name, content) => {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'auth'), { recursive: true });
    await writeFile(cacheFile(), content);
    const before = mints();
    const t = await token(provider());
    expect(t.value).toMatch(/^ghs_[A-Za-z0-9]{36}$/);
    expect(mints()).toBe(before + 1);
    expect(JSON.parse(await readFile(cacheFile(), 'utf8'))).toMatchObject({ token: t.value });
  });

  it('is dropped by invalidate(), here and on disk', async () => {
    const p = provider();
    const first = await token(p);
    await p.invalidate();
    await expect(stat(cacheFile())).rejects.toMatchObject({ code: 'ENOENT' });
    const before = mints();
    const second = await token(p);
    expect(second.value).not.toBe(first.value);
    expect(mints()).toBe(before + 1);
  });

  it('survives a state dir it cannot write, with a warning', async () => {
    const warnings: string[] = [];
    // A regular file where the cache's directory should be (root may write anywhere else).
    await writeFile(join(dir, 'not-a-dir'), '');
    const t = await token(provider({ cacheFile: join(dir, 'not-a-dir', 'token.json'), log: (level, message) => level === 'warn' && warnings.push(message) }));
    expect(t.value).toMatch(/^ghs_/);
    expect(warnings.join('\n')).toMatch(/Cannot keep the GitHub App token/);
  });
});

describe('failures say what to fix', () => {
  it('a key of another App: 401, names the key file and the App id', async () => {
    const error = await failure(() => provider({ privateKey: world.otherKey.privatePem }).token());
    expect(error.reason).toBe('key');
    expect(error.status).toBe(401);
    expect(error.message).toMatch(/GitHub rejected the JWT of GitHub App 12345 \(401 A JSON web token could not be decoded\)/);
    expect(error.message).toContain('/run/credentials/hostsync.service/github-app-key does not belong to App 12345');
  });

  it('an App id nobody has', async () => {
    const error = await failure(() => provider({ appId: '999' }).token());
    expect(error.reason).toBe('app');
    expect(error.message).toMatch(/GitHub App 999 does not exist .*Check appId/);
  });

  it('an App not installed on the repository: 404 from the lookup', async () => {
    const error = await failure(() => provider({ installationId: undefined, repo: 'other' }).token());
    expect(error.reason).toBe('installation');
    expect(error.status).toBe(404);
    expect(error.message).toMatch(/GitHub App 12345 is not installed on acme\/other .*Install the App on acme\/other/);
  });

  it('a configured installation that does not cover the repository: 422', async () => {
    const error = await failure(() => provider({ repo: 'other' }).token());
    expect(error.reason).toBe('installation');
    expect(error.message).toMatch(/installation 678 of GitHub App 12345 cannot reach acme\/other/);
  });

  it('an installation id that does not exist: 404', async () => {
    const error = await failure(() => provider({ installationId: 99 }).token());
    expect(error.message).toMatch(/GitHub App 12345 has no installation 99 .*remove it so hostsync looks the installation up/);
  });

  it('an App without Contents: Read', async () => {
    const key = rsaKeyPair();
    world.gh.addApp(5151, key.publicPem, [{ id: 5252, repos: ['acme/hypervisor'], permissions: { metadata: 'read', issues: 'write' } }]);
    const error = await failure(() => provider({ appId: '5151', privateKey: key.privatePem, installationId: 5252 }).token());
    expect(error.reason).toBe('permission');
    expect(error.message).toMatch(/"Contents: Read"/);
  });

  it('a suspended installation', async () => {
    world.gh.apps.suspend(APP_ID, INSTALLATION_ID);
    try {
      const error = await failure(() => provider().token());
      expect(error.reason).toBe('suspended');
    } finally {
      world.gh.apps.suspend(APP_ID, INSTALLATION_ID, false);
    }
  });

  it.each([
    ['ahead of', -10 * 60_000],
    ['behind', 12 * 60_000],
  ])("a host clock %s GitHub's: check the host's clock", async (direction, offset) => {
    world.gh.apps.clockOffsetMs = offset;
    const error = await failure(() => provider({ installationId: undefined }).token());
    expect(error.reason).toBe('clock');
    expect(error.message).toMatch(new RegExp(`this host's clock is 1\\d min ${direction} GitHub's\\. Check the host's clock`));
  });

  it('a key that is not a PEM: exit 2 before any request', () => {
    let error: unknown;
    try {
      provider({ privateKey: 'ghp_this is not a key at all, just a token pasted in the wrong file' });
    } catch (caught) {
      error = caught;
      thrown.push(caught instanceof Error ? caught.message : String(caught));
    }
    expect(error).toBeInstanceOf(AppAuthError);
    expect((error as AppAuthError).exitCode).toBe(2);
    expect((error as AppAuthError).message).toMatch(/GitHub App private key in \/run\/credentials\/hostsync.service\/github-app-key is not a PEM private key/);
  });

  it('an app id that is not a number: exit 2', () => {
    expect(() => provider({ appId: 'Iv1.abcdef' })).toThrow(/numeric App ID/);
  });

  it('a network failure names the host', async () => {
    const { createServer } = await import('node:net');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    let error: unknown;
    try {
      await provider({ apiUrl: `http://127.0.0.1:${port}` }).token();
    } catch (caught) {
      error = caught;
      thrown.push(caught instanceof Error ? caught.message : String(caught));
    }
    expect(error).toBeInstanceOf(HostsyncError);
    expect((error as Error).message).toBe(`Connection to 127.0.0.1:${port} refused. Check --api-url and that the host can reach it.`);
  });

  it('no message or stack of this file carries the key, a JWT or a token', () => {
    expect(thrown.length).toBeGreaterThanOrEqual(10);
    expect(handedOut.length).toBeGreaterThan(5);
    const keyLines = [world.key.privatePem, world.otherKey.privatePem].flatMap((pem) => pem.split('\n').filter((line) => line.length >= 16 && !line.startsWith('-----')));
    const jwtLike = /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/;
    for (const message of thrown) {
      for (const line of keyLines) expect(message).not.toContain(line);
      for (const value of [...handedOut, ...world.gh.apps.minted.map((m) => m.token)]) expect(message).not.toContain(value);
      expect(message).not.toMatch(jwtLike);
      expect(message).not.toMatch(/ghs_[A-Za-z0-9]{10}/);
    }
  });
});
