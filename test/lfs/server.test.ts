/**
 * The test server's LFS side against the spec (git-lfs docs/api/batch.md, basic-transfers.md), so
 * hostsync's tests run against a faithful server: media types, errors per request and per object,
 * signed links that expire and want their header, Range.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGitHubServer, type FakeGitHub } from '../support/github-server.js';
import { createRepo, type TestRepo } from '../support/repo.js';

const TYPE = 'application/vnd.git-lfs+json';
const TOKEN = 'ghp_lfsServerTest';
const DATA = Buffer.from('0123456789abcdefghij'.repeat(100));
const OID = createHash('sha256').update(DATA).digest('hex');

let server: FakeGitHub;
let repo: TestRepo;
beforeAll(async () => {
  server = await startGitHubServer({ tokens: [TOKEN] });
  repo = await createRepo();
  await repo.write('a', 'a\n');
  await repo.commit('A');
  await server.addRepo('acme/pub', repo.dir);
  await server.addRepo('acme/priv', repo.dir, { private: true });
  await server.addLfsObject('acme/pub', DATA);
});
afterAll(async () => {
  await server.close();
  await repo.cleanup();
});

const basic = `Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`;

async function batch(name: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; type: string | null; json: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${server.serverUrl}/${name}.git/info/lfs/objects/batch`, { method: 'POST', headers: { accept: TYPE, 'content-type': TYPE, ...headers }, body: JSON.stringify(body) });
  return { status: response.status, type: response.headers.get('content-type'), json: (await response.json()) as Record<string, unknown>, headers: response.headers };
}

const download = (objects: unknown[]) => ({ operation: 'download', transfers: ['basic'], ref: { name: 'refs/heads/main' }, objects });

describe('the batch API', () => {
  it('answers a download with a basic transfer, an href, its header and expires_in', async () => {
    const answer = await batch('acme/pub', download([{ oid: OID, size: DATA.length }]));
    expect(answer.status).toBe(200);
    expect(answer.type).toBe(TYPE);
    expect(answer.json).toMatchObject({ transfer: 'basic', objects: [{ oid: OID, size: DATA.length, authenticated: true, actions: { download: { href: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/_lfs\/objects\//), header: { Authorization: expect.stringMatching(/^RemoteAuth /) }, expires_in: 3600 } } }] });
  });

  it('gives per-object errors: 404 missing, 422 wrong size or invalid oid', async () => {
    const answer = await batch('acme/pub', download([{ oid: 'f'.repeat(64), size: 1 }, { oid: OID, size: 1 }, { oid: 'nope', size: 1 }]));
    expect(answer.status).toBe(200);
    expect((answer.json['objects'] as { error: { code: number } }[]).map((o) => o.error.code)).toEqual([404, 422, 422]);
  });

  it('refuses a wrong Accept (406), bad JSON or operation (422), and asks for credentials with LFS-Authenticate (401)', async () => {
    const wrong = await fetch(`${server.serverUrl}/acme/pub.git/info/lfs/objects/batch`, { method: 'POST', headers: { accept: 'text/html' }, body: '{}' });
    expect(wrong.status).toBe(406);
    expect((await batch('acme/pub', { operation: 'delete', objects: [] })).status).toBe(422);
    const priv = await batch('acme/priv', download([]));
    expect(priv.status).toBe(401);
    expect(priv.headers.get('lfs-authenticate')).toBe('Basic realm="GitHub"');
    expect(priv.json).toHaveProperty('message');
    expect((await batch('acme/priv', download([]), { authorization: basic })).status).toBe(200);
    expect((await batch('acme/none', download([]), { authorization: basic })).status).toBe(404);
    expect((await batch('acme/pub', { operation: 'upload', transfers: ['basic'], objects: [] })).status).toBe(403);
  });
});

describe('object links', () => {
  async function link(): Promise<{ href: string; header: Record<string, string> }> {
    const answer = await batch('acme/pub', download([{ oid: OID, size: DATA.length }]));
    return (answer.json['objects'] as { actions: { download: { href: string; header: Record<string, string> } } }[])[0]!.actions.download;
  }

  it('serve the object with its header, ranges with 206 and Content-Range, 416 past the end', async () => {
    const { href, header } = await link();
    const whole = await fetch(href, { headers: header });
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer()).equals(DATA)).toBe(true);
    const part = await fetch(href, { headers: { ...header, range: 'bytes=1500-' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 1500-1999/2000`);
    expect(Buffer.from(await part.arrayBuffer()).equals(DATA.subarray(1500))).toBe(true);
    expect((await fetch(href, { headers: { ...header, range: 'bytes=2000-' } })).status).toBe(416);
  });

  it('want their header, and expire', async () => {
    const { href } = await link();
    expect((await fetch(href)).status).toBe(401);
    server.lfs.settings.expiredLinks = 1;
    const answer = await batch('acme/pub', download([{ oid: OID, size: DATA.length }]));
    const expired = (answer.json['objects'] as { actions: { download: { href: string; header: Record<string, string>; expires_at: string } } }[])[0]!.actions.download;
    expect(Date.parse(expired.expires_at)).toBeLessThan(Date.now());
    expect((await fetch(expired.href, { headers: expired.header })).status).toBe(403);
  });
});
