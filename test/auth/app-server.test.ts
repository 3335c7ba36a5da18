/**
 * The fake GitHub's App side: JWT checks as GitHub makes them, the shapes of its answers (checked
 * against GitHub's OpenAPI description), and minted tokens as credentials (REST and git).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { JWT_MESSAGES } from '../support/github-server/app-routes.js';
import { git } from '../support/git-cli.js';
import { loadGitHubSchemas, type GitHubSchemas } from '../support/openapi-schema.js';
import { APP_ID, goodClaims, INSTALLATION_ID, signJwt, startAppWorld, type AppWorld } from './support.js';

let world: AppWorld;
let schemas: GitHubSchemas;

beforeAll(async () => {
  const loading = loadGitHubSchemas();
  world = await startAppWorld();
  schemas = await loading;
});

afterAll(async () => {
  await world.close();
});

beforeEach(() => {
  world.gh.apps.clockOffsetMs = 0;
  world.gh.apps.tokenLifetimeSec = 3600;
});

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

async function call(path: string, credential: string | undefined, method = 'GET', body?: unknown): Promise<Answer> {
  const response = await fetch(`${world.gh.apiUrl}${path}`, {
    method,
    headers: { accept: 'application/vnd.github+json', ...(credential === undefined ? {} : { authorization: `Bearer ${credential}` }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> };
}

const jwt = (claims: Record<string, unknown> = goodClaims(APP_ID)): string => signJwt(claims, world.key.privatePem);
const mint = (body: unknown = {}, credential = jwt()): Promise<Answer> => call(`/app/installations/${INSTALLATION_ID}/access_tokens`, credential, 'POST', body);

describe('the repository installation', () => {
  it('is found for a repository the App is installed on, in GitHub\'s shape', async () => {
    const answer = await call('/repos/acme/hypervisor/installation', jwt());
    expect(answer.status).toBe(200);
    expect(answer.body['id']).toBe(INSTALLATION_ID);
    expect(answer.body['app_id']).toBe(APP_ID);
    expect(schemas.validate('/repos/{owner}/{repo}/installation', 200, answer.body)).toEqual([]);
  });

  it('is 404 for a repository the App is not installed on', async () => {
    const answer = await call('/repos/acme/other/installation', jwt());
    expect(answer.status).toBe(404);
    expect(answer.body['documentation_url']).toBe('https://docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app');
  });
});

describe('minting an installation token', () => {
  it('answers 201 with a ghs_ token that expires in an hour, in GitHub\'s shape, and counts it', async () => {
    const before = world.gh.apps.minted.length;
    const answer = await mint({ repositories: ['hypervisor'], permissions: { contents: 'read' } });
    expect(answer.status).toBe(201);
    expect(schemas.validate('/app/installations/{installation_id}/access_tokens', 201, answer.body, 'post')).toEqual([]);
    expect(answer.body['token']).toMatch(/^ghs_[A-Za-z0-9]{36}$/);
    const expires = Date.parse(String(answer.body['expires_at']));
    expect(expires - Date.now()).toBeGreaterThan(3590_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(3600_000);
    expect(answer.body['permissions']).toEqual({ contents: 'read', metadata: 'read' });
    expect(world.gh.apps.minted.length).toBe(before + 1);
  });

  it('uses the configured lifetime', async () => {
    world.gh.apps.tokenLifetimeSec = 90;
    const answer = await mint();
    const seconds = (Date.parse(String(answer.body['expires_at'])) - Date.now()) / 1000;
    expect(seconds).toBeGreaterThan(85);
    expect(seconds).toBeLessThanOrEqual(90);
  });

  it.each<[string, Record<string, unknown>, number, RegExp]>([
    ['a repository outside the installation', { repositories: ['other'] }, 422, /not accessible to the parent installation/],
    ['a permission the installation lacks', { permissions: { contents: 'write' } }, 422, /permissions requested are not granted/],
    ['a permission the App does not have at all', { permissions: { issues: 'read' } }, 422, /permissions requested are not granted/],
  ])('refuses %s', async (_name, body, status, message) => {
    const answer = await mint(body);
    expect(answer.status).toBe(status);
    expect(String(answer.body['message'])).toMatch(message);
  });

  it('is 404 for an installation of no App or of another one', async () => {
    expect((await call('/app/installations/999/access_tokens', jwt(), 'POST', {})).status).toBe(404);
  });

  it('is 403 while the installation is suspended', async () => {
    world.gh.apps.suspend(APP_ID, INSTALLATION_ID);
    try {
      const answer = await mint();
      expect(answer.status).toBe(403);
      expect(String(answer.body['message'])).toMatch(/suspended/);
    } finally {
      world.gh.apps.suspend(APP_ID, INSTALLATION_ID, false);
    }
  });
});

describe('JWT checks', () => {
  const now = (): number => Math.floor(Date.now() / 1000);
  it.each<[string, () => string, number, string]>([
    ['exp more than 10 minutes after iat', () => jwt({ iat: now() - 30, exp: now() - 30 + 700, iss: APP_ID }), 401, JWT_MESSAGES.expTooFar],
    ['an iat in the future', () => jwt({ iat: now() + 120, exp: now() + 500, iss: APP_ID }), 401, JWT_MESSAGES.iat],
    ['an expired JWT', () => jwt({ iat: now() - 700, exp: now() - 100, iss: APP_ID }), 401, JWT_MESSAGES.expired],
    ['a non-integer iat', () => jwt({ iat: now() - 0.5, exp: now() + 500, iss: APP_ID }), 401, JWT_MESSAGES.iat],
    ['a tampered payload', () => tamper(jwt()), 401, JWT_MESSAGES.undecodable],
    ['a signature by another key', () => signJwt(goodClaims(APP_ID), world.otherKey.privatePem), 401, JWT_MESSAGES.undecodable],
    ['alg none', () => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(goodClaims(APP_ID))).toString('base64url')}.`, 401, JWT_MESSAGES.undecodable],
    ['HS256', () => signJwt(goodClaims(APP_ID), world.key.privatePem, { alg: 'HS256' }), 401, JWT_MESSAGES.undecodable],
    ['not a JWT', () => 'ghp_notajwt000000000000000000000000000', 401, JWT_MESSAGES.undecodable],
    ['an App id nobody has', () => jwt(goodClaims(999)), 404, JWT_MESSAGES.unknownApp],
  ])('rejects %s', async (_name, credential, status, message) => {
    for (const path of ['/repos/acme/hypervisor/installation', `/app/installations/${INSTALLATION_ID}/access_tokens`]) {
      const answer = await call(path, credential(), path.endsWith('access_tokens') ? 'POST' : 'GET', path.endsWith('access_tokens') ? {} : undefined);
      expect([path, answer.status, answer.body['message']]).toEqual([path, status, message]);
    }
  });

  it('rejects a request without a JWT', async () => {
    expect((await call('/repos/acme/hypervisor/installation', undefined)).status).toBe(401);
  });

  it('accepts iss as a number or a string of digits, and an iat up to a minute ahead', async () => {
    expect((await call('/repos/acme/hypervisor/installation', jwt(goodClaims(String(APP_ID))))).status).toBe(200);
    expect((await call('/repos/acme/hypervisor/installation', jwt({ iat: now() + 50, exp: now() + 50 + 600, iss: APP_ID }))).status).toBe(200);
  });

  it('judges times by its own clock, and says what time it is in the date header', async () => {
    world.gh.apps.clockOffsetMs = 10 * 60_000;
    const response = await fetch(`${world.gh.apiUrl}/repos/acme/hypervisor/installation`, { headers: { authorization: `Bearer ${jwt()}` } });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { message: string }).message).toBe(JWT_MESSAGES.expired);
    expect(Date.parse(response.headers.get('date') ?? '') - Date.now()).toBeGreaterThan(9 * 60_000);
  });
});

function tamper(token: string): string {
  const [head = '', body = '', signature = ''] = token.split('.');
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
  claims['iat'] = Number(claims['iat']) - 1;
  return `${head}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
}

describe('installation tokens as credentials', () => {
  let token = '';
  beforeEach(async () => {
    token = String((await mint({ repositories: ['hypervisor'] })).body['token']);
  });

  it('read the repositories they were minted for over REST, and no other private one', async () => {
    expect((await call('/repos/acme/hypervisor', token)).status).toBe(200);
    expect((await call(`/repos/acme/hypervisor/commits/${world.head}`, token)).status).toBe(200);
    expect((await call('/repos/acme/other', token)).status).toBe(404);
  });

  it('clone over git smart HTTP as x-access-token, for their repositories only', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hostsync-app-clone-'));
    try {
      const url = (name: string): string => {
        const u = new URL(`${world.gh.serverUrl}/acme/${name}.git`);
        u.username = 'x-access-token';
        u.password = token;
        return u.toString();
      };
      await git(['clone', '-q', '--depth', '1', url('hypervisor'), join(dir, 'ok')], { cwd: dir });
      expect(await git(['rev-parse', 'HEAD'], { cwd: join(dir, 'ok') })).toBe(world.head);
      await expect(git(['clone', '-q', url('other'), join(dir, 'no')], { cwd: dir })).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answer 401 once expired, over REST and git', async () => {
    world.gh.apps.clockOffsetMs = 3601_000;
    const answer = await call('/repos/acme/hypervisor', token);
    expect([answer.status, answer.body['message']]).toEqual([401, 'Bad credentials']);
    const response = await fetch(`${world.gh.serverUrl}/acme/hypervisor.git/info/refs?service=git-upload-pack`, {
      headers: { authorization: `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}` },
    });
    expect(response.status).toBe(401);
  });
});
