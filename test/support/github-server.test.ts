import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { x as tarExtract } from 'tar';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { git, gitBuffer } from './git-cli.js';
import { startGitHubServer, type FakeGitHub, type RequestInfo } from './github-server.js';
import { loadGitHubSchemas, type GitHubSchemas } from './openapi-schema.js';
import { compareTrees, createRepo, extractGitArchive, type TestRepo } from './repo.js';
import { pseudoRandomBytes } from './sample-content.js';

const TOKEN = 'ghp_testtoken0000000000000000000000000001';

interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** Body bytes as they came over the wire (still gzipped if content-encoding says so). */
  readonly raw: Buffer;
  /** Body after content decoding. */
  readonly body: Buffer;
  readonly text: string;
  json(): unknown;
}

/** A GET with node:http, so tests see exact wire headers and bytes (fetch hides both). */
function get(url: string, headers: Record<string, string> = {}, timeoutMs?: number): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('response aborted')));
      res.on('end', () => {
        if (!res.complete) return reject(new Error('response incomplete'));
        const raw = Buffer.concat(chunks);
        const body = res.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        const text = body.toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, raw, body, text, json: () => JSON.parse(text) as unknown });
      });
    });
    if (timeoutMs !== undefined) req.setTimeout(timeoutMs, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end();
  });
}

const auth = { authorization: `Bearer ${TOKEN}` };
const field = (value: unknown, key: string): unknown => (value as Record<string, unknown>)[key];

let gh: FakeGitHub;
let repo: TestRepo;
let empty: TestRepo;
let schemas: GitHubSchemas;
const c: Record<'first' | 'second' | 'feature', string> = { first: '', second: '', feature: '' };
let api: (path: string) => string;

beforeAll(async () => {
  const schemasLoading = loadGitHubSchemas();
  repo = await createRepo();
  await repo.write('README.md', '# Test\n');
  await repo.write('bin/run.sh', '#!/bin/sh\necho run\n');
  await repo.chmod('bin/run.sh', true);
  await repo.write('etc/app/config.nix', '{ }\n');
  await repo.write('etc/app/old name.txt', 'to be renamed\n');
  await repo.write('data/blob.bin', pseudoRandomBytes(300_000, 7));
  await repo.write('docs/ünï côdé.md', 'unicode\n');
  await repo.write('win.txt', 'a\r\nb\r\n');
  await repo.write('empty', '');
  await repo.symlink('link', 'etc/app/config.nix');
  c.first = await repo.commit('first');
  await repo.tag('v1');
  await repo.tag('v1-annotated', 'annotated tag');
  await repo.branch('feature');
  await repo.write('README.md', '# Test\n\nMore.\n');
  await repo.remove('win.txt');
  await repo.move('etc/app/old name.txt', 'etc/app/new name.txt');
  c.second = await repo.commit('second');
  await repo.checkout('feature');
  await repo.write('feature.txt', 'feature\n');
  c.feature = await repo.commit('feature work');
  await repo.checkout('main');
  empty = await createRepo();
  gh = await startGitHubServer({ tokens: [TOKEN] });
  await gh.addRepo('octo/fleet', repo.dir);
  await gh.addRepo('octo/secret', repo.dir, { private: true });
  await gh.addRepo('octo/empty', empty.dir);
  api = (path) => `${gh.apiUrl}${path}`;
  schemas = await schemasLoading;
});

afterAll(async () => {
  await gh?.close();
  await repo?.cleanup();
  await empty?.cleanup();
});

beforeEach(() => {
  gh.faults = [];
  gh.rateLimit.remaining = 5000;
  gh.rateLimit.disabled = false;
  gh.rateLimit.exceededStatus = 403;
  gh.latencyMs = 0;
  gh.bandwidthBytesPerSec = 0;
  gh.treeEntryLimit = 100_000;
  gh.maxBlobBytes = 100 * 1024 * 1024;
  gh.resetLog();
});

describe('commits: ref resolution', () => {
  it.each([
    ['main', 'second'],
    ['heads/main', 'second'],
    ['feature', 'feature'],
    ['v1', 'first'],
    ['v1-annotated', 'first'],
    ['HEAD', 'second'],
  ] as const)('resolves %s', async (ref, which) => {
    const res = await get(api(`/repos/octo/fleet/commits/${ref}`), auth);
    expect(res.status).toBe(200);
    expect(field(res.json(), 'sha')).toBe(c[which]);
  });

  it('resolves full and abbreviated SHAs', async () => {
    for (const ref of [c.first, c.first.slice(0, 7)]) {
      expect(field((await get(api(`/repos/octo/fleet/commits/${ref}`), auth)).json(), 'sha')).toBe(c.first);
    }
  });

  it('answers 422 for an unknown ref, 409 for an empty repository, 404 for an unknown repository', async () => {
    const unknown = await get(api('/repos/octo/fleet/commits/nope'), auth);
    expect(unknown.status).toBe(422);
    expect(unknown.json()).toEqual({ message: 'No commit found for SHA: nope', documentation_url: 'https://docs.github.com/rest/commits/commits#get-a-commit', status: '422' });
    expect(schemas.validate('/repos/{owner}/{repo}/commits/{ref}', 422, unknown.json())).toEqual([]);
    const revision = await get(api('/repos/octo/fleet/commits/main~1'), auth);
    expect(revision.status).toBe(422);
    const emptyRes = await get(api('/repos/octo/empty/commits/HEAD'), auth);
    expect(emptyRes.status).toBe(409);
    expect(field(emptyRes.json(), 'message')).toBe('Git Repository is empty.');
    expect(schemas.validate('/repos/{owner}/{repo}/commits/{ref}', 409, emptyRes.json())).toEqual([]);
    const missing = await get(api('/repos/octo/nope/commits/main'), auth);
    expect(missing.status).toBe(404);
    expect(missing.json()).toEqual({ message: 'Not Found', documentation_url: 'https://docs.github.com/rest/commits/commits#get-a-commit', status: '404' });
  });

  it('reports parents, tree, files and verification as GitHub does', async () => {
    gh.verifiedCommits.add(c.second);
    const body = (await get(api(`/repos/octo/fleet/commits/${c.second}`), auth)).json();
    expect(schemas.validate('/repos/{owner}/{repo}/commits/{ref}', 200, body)).toEqual([]);
    const commit = field(body, 'commit');
    expect(field(field(commit, 'tree'), 'sha')).toBe(await repo.git('rev-parse', `${c.second}^{tree}`));
    expect(field(field(commit, 'verification'), 'verified')).toBe(true);
    expect(field(field(commit, 'verification'), 'reason')).toBe('valid');
    expect((field(body, 'parents') as Array<{ sha: string }>).map((p) => p.sha)).toEqual([c.first]);
    const files = field(body, 'files') as Array<{ filename: string; status: string; previous_filename?: string }>;
    expect(files.map((f) => [f.filename, f.status]).sort()).toEqual([
      ['README.md', 'modified'],
      ['etc/app/new name.txt', 'renamed'],
      ['win.txt', 'removed'],
    ]);
    const unsigned = (await get(api(`/repos/octo/fleet/commits/${c.first}`), auth)).json();
    expect(field(field(field(unsigned, 'commit'), 'verification'), 'reason')).toBe('unsigned');
  });
});

describe('commits: sha media type and conditional requests', () => {
  const shaAccept = { ...auth, accept: 'application/vnd.github.sha' };

  it('returns the bare SHA with a strong ETag, and a free 304 when authenticated', async () => {
    const res = await get(api('/repos/octo/fleet/commits/main'), shaAccept);
    expect(res.text).toBe(c.second);
    expect(res.headers['etag']).toBe(`"${c.second}"`);
    expect(res.headers['x-github-media-type']).toBe('github.v3; param=sha');
    const before = gh.rateLimit.remaining;
    const again = await get(api('/repos/octo/fleet/commits/main'), { ...shaAccept, 'if-none-match': `"${c.second}"` });
    expect(again.status).toBe(304);
    expect(again.raw.length).toBe(0);
    expect(again.headers['x-ratelimit-remaining']).toBe(String(before));
    expect(gh.requests.at(-1)?.quotaCost).toBe(0);
  });

  it('counts a 304 against an unauthenticated client', async () => {
    const first = await get(api('/repos/octo/fleet/commits/main'), { accept: 'application/vnd.github.sha' });
    const remaining = Number(first.headers['x-ratelimit-remaining']);
    const again = await get(api('/repos/octo/fleet/commits/main'), { accept: 'application/vnd.github.sha', 'if-none-match': `"${c.second}"` });
    expect(again.status).toBe(304);
    expect(Number(again.headers['x-ratelimit-remaining'])).toBe(remaining - 1);
    expect(gh.requests.at(-1)?.quotaCost).toBe(1);
  });

  it('gives JSON weak ETags that revalidate', async () => {
    const res = await get(api('/repos/octo/fleet'), auth);
    const etag = String(res.headers['etag']);
    expect(etag).toMatch(/^W\/"[0-9a-f]{64}"$/);
    expect((await get(api('/repos/octo/fleet'), { ...auth, 'if-none-match': etag })).status).toBe(304);
  });
});

describe('git/trees', () => {
  it('lists a recursive tree exactly like git ls-tree -r -t', async () => {
    const body = (await get(api('/repos/octo/fleet/git/trees/main?recursive=1'), auth)).json();
    expect(schemas.validate('/repos/{owner}/{repo}/git/trees/{tree_sha}', 200, body)).toEqual([]);
    const out = (await gitBuffer(['ls-tree', '-r', '-t', '-l', '-z', 'main'], { cwd: repo.dir })).toString('utf8');
    const expected = out.split('\0').filter(Boolean).map((line) => {
      const [meta = '', path] = line.split('\t');
      const [mode, type, sha, size] = meta.split(/ +/);
      return size === '-' ? { path, mode, type, sha } : { path, mode, type, sha, size: Number(size) };
    });
    const tree = field(body, 'tree') as Array<Record<string, unknown>>;
    expect(tree.map(({ url: _url, ...rest }) => rest)).toEqual(expected);
    expect(field(body, 'truncated')).toBe(false);
    expect(tree.find((e) => e.path === 'etc')?.['mode']).toBe('040000');
    expect(tree.find((e) => e.path === 'link')?.['mode']).toBe('120000');
    expect(tree.find((e) => e.path === 'bin/run.sh')?.['mode']).toBe('100755');
  });

  it('accepts tree, commit and ref, and treats any recursive value as on', async () => {
    const treeSha = await repo.git('rev-parse', 'main^{tree}');
    const topLevel = (await repo.git('ls-tree', 'main')).split('\n').length;
    for (const id of [treeSha, c.second, 'main']) {
      const body = (await get(api(`/repos/octo/fleet/git/trees/${id}`), auth)).json();
      expect(field(body, 'sha')).toBe(treeSha);
      expect((field(body, 'tree') as unknown[]).length).toBe(topLevel);
    }
    const zero = (await get(api('/repos/octo/fleet/git/trees/main?recursive=0'), auth)).json();
    expect((field(zero, 'tree') as unknown[]).length).toBeGreaterThan(topLevel);
  });

  it('truncates past treeEntryLimit', async () => {
    gh.treeEntryLimit = 3;
    const body = (await get(api('/repos/octo/fleet/git/trees/main?recursive=1'), auth)).json();
    expect((field(body, 'tree') as unknown[]).length).toBe(3);
    expect(field(body, 'truncated')).toBe(true);
  });

  it('answers 404 for an unknown tree and 409 for an empty repository', async () => {
    const res = await get(api(`/repos/octo/fleet/git/trees/${'0'.repeat(40)}`), auth);
    expect(res.status).toBe(404);
    expect(schemas.validate('/repos/{owner}/{repo}/git/trees/{tree_sha}', 404, res.json())).toEqual([]);
    expect((await get(api('/repos/octo/empty/git/trees/main'), auth)).status).toBe(409);
  });
});

describe('git/blobs', () => {
  const blobSha = (path: string): Promise<string> => repo.git('rev-parse', `main:${path}`);

  it('returns base64 in 60-character lines equal to git cat-file', async () => {
    const sha = await blobSha('data/blob.bin');
    const body = (await get(api(`/repos/octo/fleet/git/blobs/${sha}`), auth)).json();
    expect(schemas.validate('/repos/{owner}/{repo}/git/blobs/{file_sha}', 200, body)).toEqual([]);
    const content = String(field(body, 'content'));
    const lines = content.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.slice(0, -1).every((l) => l.length === 60)).toBe(true);
    const expected = await gitBuffer(['cat-file', 'blob', sha], { cwd: repo.dir });
    expect(Buffer.from(content, 'base64').equals(expected)).toBe(true);
    expect(field(body, 'size')).toBe(expected.length);
    expect(field(body, 'encoding')).toBe('base64');
    const emptyBody = (await get(api(`/repos/octo/fleet/git/blobs/${await blobSha('empty')}`), auth)).json();
    expect(field(emptyBody, 'content')).toBe('');
  });

  it('streams raw bytes for the raw media types', async () => {
    const sha = await blobSha('data/blob.bin');
    const expected = await gitBuffer(['cat-file', 'blob', sha], { cwd: repo.dir });
    for (const accept of ['application/vnd.github.raw', 'application/vnd.github.raw+json', 'application/vnd.github.v3.raw']) {
      const res = await get(api(`/repos/octo/fleet/git/blobs/${sha}`), { ...auth, accept });
      expect(res.body.equals(expected)).toBe(true);
      expect(res.headers['content-type']).toBe('application/vnd.github.raw');
      expect(res.headers['content-length']).toBe(String(expected.length));
    }
    const link = await get(api(`/repos/octo/fleet/git/blobs/${await blobSha('link')}`), { ...auth, accept: 'application/vnd.github.raw' });
    expect(link.text).toBe('etc/app/config.nix');
  });

  it('refuses blobs over maxBlobBytes with GitHub too_large error', async () => {
    gh.maxBlobBytes = 1000;
    const res = await get(api(`/repos/octo/fleet/git/blobs/${await blobSha('data/blob.bin')}`), auth);
    expect(res.status).toBe(403);
    expect(field(res.json(), 'errors')).toEqual([{ resource: 'Blob', field: 'data', code: 'too_large' }]);
    expect(schemas.validate('/repos/{owner}/{repo}/git/blobs/{file_sha}', 403, res.json())).toEqual([]);
  });

  it('answers 422 for a malformed SHA, 404 for a missing blob, 409 for an empty repository', async () => {
    const bad = await get(api('/repos/octo/fleet/git/blobs/abc123'), auth);
    expect(bad.status).toBe(422);
    expect(schemas.validate('/repos/{owner}/{repo}/git/blobs/{file_sha}', 422, bad.json())).toEqual([]);
    const missing = await get(api(`/repos/octo/fleet/git/blobs/${'1'.repeat(40)}`), auth);
    expect(missing.status).toBe(404);
    expect(schemas.validate('/repos/{owner}/{repo}/git/blobs/{file_sha}', 404, missing.json())).toEqual([]);
    const emptyRes = await get(api(`/repos/octo/empty/git/blobs/${'1'.repeat(40)}`), auth);
    expect(emptyRes.status).toBe(409);
    expect(schemas.validate('/repos/{owner}/{repo}/git/blobs/{file_sha}', 409, emptyRes.json())).toEqual([]);
  });
});

describe('tarball', () => {
  it('redirects to codeload, whose archive equals git archive', async () => {
    const redirect = await get(api('/repos/octo/fleet/tarball/main'), auth);
    expect(redirect.status).toBe(302);
    const location = String(redirect.headers['location']);
    expect(location).toBe(`${gh.serverUrl}/_codeload/octo/fleet/legacy.tar.gz/${c.second}`);
    const archive = await get(location, { 'accept-encoding': 'gzip' });
    expect(archive.headers['content-type']).toBe('application/x-gzip');
    expect(archive.headers['content-encoding']).toBeUndefined();
    const out = await mkdtemp(join(tmpdir(), 'hostsync-tarball-'));
    try {
      await pipeline(Readable.from([archive.raw]), tarExtract({ cwd: out, strip: 1, preservePaths: true }));
      const expected = await extractGitArchive(repo.dir, c.second);
      expect(await compareTrees(expected, out)).toEqual([]);
      await rm(expected, { recursive: true, force: true });
    } finally {
      await rm(out, { recursive: true, force: true });
    }
    const codeload = gh.requests.find((r) => r.kind === 'codeload');
    expect(codeload?.quotaCost).toBe(0);
  });

  it('names the archive folder {owner}-{repo}-{sha7} and protects private archives with a token', async () => {
    const redirect = await get(api('/repos/octo/secret/tarball/v1'), auth);
    const location = String(redirect.headers['location']);
    expect(location).toMatch(/\?token=[0-9A-F]{32}$/);
    const res = await get(location);
    expect(res.status).toBe(200);
    expect(res.headers['content-disposition']).toBe(`attachment; filename=octo-secret-${c.first.slice(0, 7)}.tar.gz`);
    const names: string[] = [];
    await pipeline(Readable.from([res.raw]), tarExtract({ cwd: tmpdir(), onentry: (e) => names.push(e.path), filter: () => false }));
    expect(names.every((n) => n.startsWith(`octo-secret-${c.first.slice(0, 7)}/`))).toBe(true);
    expect((await get(location.replace(/token=.*/, 'token=WRONG'))).status).toBe(404);
  });
});

describe('compare', () => {
  it.each([
    ['main...feature', 'diverged', 1, 1],
    ['FIRST...main', 'ahead', 1, 0],
    ['main...v1', 'behind', 0, 1],
    ['main...main', 'identical', 0, 0],
  ])('compares %s', async (basehead, status, ahead, behind) => {
    const spec = basehead.replace('FIRST', c.first);
    const body = (await get(api(`/repos/octo/fleet/compare/${spec}`), auth)).json();
    expect(schemas.validate('/repos/{owner}/{repo}/compare/{basehead}', 200, body)).toEqual([]);
    expect([field(body, 'status'), field(body, 'ahead_by'), field(body, 'behind_by')]).toEqual([status, ahead, behind]);
    const [base = '', head = ''] = spec.split('...');
    const count = await git(['rev-list', '--count', `${base}..${head}`], { cwd: repo.dir });
    expect(field(body, 'total_commits')).toBe(Number(count));
    expect((field(body, 'commits') as unknown[]).length).toBe(Number(count));
  });

  it('lists changed files from the merge base and 404s on unknown refs', async () => {
    const body = (await get(api('/repos/octo/fleet/compare/v1...feature'), auth)).json();
    expect((field(body, 'files') as Array<{ filename: string; status: string }>).map((f) => [f.filename, f.status])).toEqual([['feature.txt', 'added']]);
    expect(field(field(body, 'merge_base_commit'), 'sha')).toBe(c.first);
    const missing = await get(api('/repos/octo/fleet/compare/main...nope'), auth);
    expect(missing.status).toBe(404);
    expect(schemas.validate('/repos/{owner}/{repo}/compare/{basehead}', 404, missing.json())).toEqual([]);
  });
});

describe('auth, privacy and renames', () => {
  it('answers 401 Bad credentials for an unknown token', async () => {
    const res = await get(api('/repos/octo/fleet'), { authorization: 'token nope' });
    expect(res.status).toBe(401);
    expect(res.json()).toEqual({ message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
    expect(gh.requests.at(-1)?.authenticated).toBe(false);
  });

  it('hides private repositories without a valid token and accepts every token form', async () => {
    const hidden = await get(api('/repos/octo/secret'));
    expect(hidden.status).toBe(404);
    expect(hidden.json()).toEqual({ message: 'Not Found', documentation_url: 'https://docs.github.com/rest/repos/repos#get-a-repository', status: '404' });
    expect(schemas.validate('/repos/{owner}/{repo}', 404, hidden.json())).toEqual([]);
    const basic = `Basic ${Buffer.from(`anyone:${TOKEN}`).toString('base64')}`;
    for (const authorization of [`Bearer ${TOKEN}`, `token ${TOKEN}`, basic]) {
      const res = await get(api('/repos/octo/secret'), { authorization });
      expect(res.status).toBe(200);
      expect(schemas.validate('/repos/{owner}/{repo}', 200, res.json())).toEqual([]);
      expect(field(res.json(), 'private')).toBe(true);
    }
    expect(gh.requests.at(-1)?.authenticated).toBe(true);
  });

  it('redirects a renamed repository with 301 to /repositories/{id}', async () => {
    const scratch = await createRepo();
    try {
      await scratch.write('a.txt', 'a\n');
      const sha = await scratch.commit('a');
      const id = await gh.addRepo('octo/old-name', scratch.dir);
      gh.renameRepo('octo/old-name', 'octo/new-name');
      const res = await get(api('/repos/octo/old-name/commits/main?x=1'), auth);
      expect(res.status).toBe(301);
      const location = `${gh.apiUrl}/repositories/${id}/commits/main?x=1`;
      expect(res.headers['location']).toBe(location);
      expect(res.json()).toEqual({ message: 'Moved Permanently', url: location, documentation_url: 'https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects' });
      expect(schemas.validate('/repos/{owner}/{repo}', 301, res.json())).toEqual([]);
      expect(field((await get(location, auth)).json(), 'sha')).toBe(sha);
      const followed = await fetch(api('/repos/OCTO/old-name'), { headers: auth });
      expect(field(await followed.json(), 'full_name')).toBe('octo/new-name');
      // git follows the redirect of the old clone URL too.
      const refs = await git(['ls-remote', `${gh.serverUrl}/octo/old-name.git`, 'refs/heads/main'], { cwd: scratch.dir });
      expect(refs).toBe(`${sha}\trefs/heads/main`);
    } finally {
      await scratch.cleanup();
    }
  });
});

describe('rate limits', () => {
  it('reports x-ratelimit headers and refuses with 403 once exhausted', async () => {
    gh.rateLimit.remaining = 2;
    const first = await get(api('/repos/octo/fleet'), auth);
    expect(first.headers['x-ratelimit-remaining']).toBe('1');
    expect(first.headers['x-ratelimit-limit']).toBe('5000');
    expect(first.headers['x-ratelimit-used']).toBe('4999');
    expect(first.headers['x-ratelimit-resource']).toBe('core');
    expect(Number(first.headers['x-ratelimit-reset'])).toBeGreaterThan(Date.now() / 1000);
    expect((await get(api('/repos/octo/fleet'), auth)).headers['x-ratelimit-remaining']).toBe('0');
    const refused = await get(api('/repos/octo/fleet'), auth);
    expect(refused.status).toBe(403);
    expect(refused.headers['x-ratelimit-remaining']).toBe('0');
    expect(String(field(refused.json(), 'message'))).toMatch(/^API rate limit exceeded for user ID \d+\./);
    expect(field(refused.json(), 'documentation_url')).toBe('https://docs.github.com/rest/overview/rate-limits-for-the-rest-api');
    expect(schemas.validate('/repos/{owner}/{repo}', 403, refused.json())).toEqual([]);
    const limits = await get(api('/rate_limit'), auth);
    expect(limits.status).toBe(200);
    expect(schemas.validate('/rate_limit', 200, limits.json())).toEqual([]);
    expect(field(field(field(limits.json(), 'resources'), 'core'), 'remaining')).toBe(0);
    expect(gh.requests.at(-1)?.quotaCost).toBe(0);
  });

  it('limits unauthenticated clients to 60, can answer 429, and refills at reset', async () => {
    gh.rateLimit.remaining = 0;
    gh.rateLimit.exceededStatus = 429;
    const refused = await get(api('/repos/octo/fleet'));
    expect(refused.status).toBe(429);
    expect(refused.headers['x-ratelimit-limit']).toBe('60');
    expect(String(field(refused.json(), 'message'))).toContain('API rate limit exceeded for 127.0.0.1');
    gh.rateLimit.resetAt = Math.floor(Date.now() / 1000) - 1;
    const after = await get(api('/repos/octo/fleet'));
    expect(after.status).toBe(200);
    expect(after.headers['x-ratelimit-remaining']).toBe('59');
  });

  it('sends no rate limit headers when disabled (GHES)', async () => {
    gh.rateLimit.disabled = true;
    const res = await get(api('/repos/octo/fleet'), auth);
    expect(res.status).toBe(200);
    expect(res.headers['x-ratelimit-limit']).toBeUndefined();
  });

  it('injects secondary rate limits with retry-after', async () => {
    gh.faults = [{ match: (r) => r.path.includes('/commits/'), times: 1, action: { secondaryRateLimit: { retryAfterSec: 3 } } }];
    const res = await get(api('/repos/octo/fleet/commits/main'), auth);
    expect(res.status).toBe(403);
    expect(res.headers['retry-after']).toBe('3');
    expect(String(field(res.json(), 'message'))).toContain('secondary rate limit');
    expect((await get(api('/repos/octo/fleet/commits/main'), auth)).status).toBe(200);
  });
});

describe('faults and link simulation', () => {
  it('answers a burst of 502s, then recovers', async () => {
    gh.faults = [{ match: (r) => r.path === '/repos/octo/fleet', times: 2, action: { status: 502 } }];
    expect((await get(api('/repos/octo/fleet'), auth)).status).toBe(502);
    expect((await get(api('/repos/octo/fleet'), auth)).status).toBe(502);
    expect((await get(api('/repos/octo/fleet'), auth)).status).toBe(200);
    expect(gh.requests.map((r) => r.quotaCost)).toEqual([0, 0, 1]);
  });

  it('drops the connection mid-body', async () => {
    const sha = await repo.git('rev-parse', 'main:data/blob.bin');
    gh.faults = [{ match: (r) => r.path.includes('/git/blobs/'), times: 1, action: { dropMidBody: true } }];
    await expect(get(api(`/repos/octo/fleet/git/blobs/${sha}`), { ...auth, accept: 'application/vnd.github.raw' })).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const logged = gh.requests.at(-1);
    expect(logged?.status).toBe(200);
    expect(logged?.bytesSent).toBeLessThan(300_000);
    expect(logged?.bytesSent).toBeGreaterThan(100_000);
  });

  it('corrupts bytes while keeping status and length', async () => {
    const sha = await repo.git('rev-parse', 'main:data/blob.bin');
    const expected = await gitBuffer(['cat-file', 'blob', sha], { cwd: repo.dir });
    gh.faults = [{ match: (r) => r.path.includes('/git/blobs/'), times: 1, action: { corrupt: true } }];
    const res = await get(api(`/repos/octo/fleet/git/blobs/${sha}`), { ...auth, accept: 'application/vnd.github.raw', 'accept-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(expected.length);
    expect(res.body.equals(expected)).toBe(false);
  });

  it('hangs until the client gives up, and delays', async () => {
    gh.faults = [
      { match: (r) => r.path === '/repos/octo/fleet', times: 1, action: { hang: true } },
      { match: (r) => r.path === '/repos/octo/secret', times: 1, action: { delayMs: 150 } },
    ];
    await expect(get(api('/repos/octo/fleet'), auth, 200)).rejects.toThrow('client timeout');
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(gh.requests.at(-1)).toMatchObject({ path: '/repos/octo/fleet', status: 0, bytesSent: 0 });
    const started = performance.now();
    expect((await get(api('/repos/octo/secret'), auth)).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('adds latency and throttles bandwidth across the server', async () => {
    const sha = await repo.git('rev-parse', 'main:data/blob.bin');
    gh.latencyMs = 60;
    let started = performance.now();
    await get(api('/repos/octo/fleet'), auth);
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
    gh.latencyMs = 0;
    gh.bandwidthBytesPerSec = 1_000_000;
    started = performance.now();
    await Promise.all([0, 1].map(() => get(api(`/repos/octo/fleet/git/blobs/${sha}`), { ...auth, accept: 'application/vnd.github.raw' })));
    // 600 kB at 1 MB/s, minus the small burst allowance.
    expect(performance.now() - started).toBeGreaterThanOrEqual(500);
  });

  it('gzips JSON and raw blobs when asked, and logs wire bytes', async () => {
    const plain = await get(api('/repos/octo/fleet/git/trees/main?recursive=1'), auth);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers['content-length']).toBe(String(plain.raw.length));
    const zipped = await get(api('/repos/octo/fleet/git/trees/main?recursive=1'), { ...auth, 'accept-encoding': 'gzip, deflate' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(String(zipped.headers['vary'])).toContain('Accept-Encoding');
    expect(zipped.body.equals(plain.body)).toBe(true);
    const [a, b] = gh.requests;
    expect(a?.bytesSent).toBeGreaterThan(plain.raw.length);
    expect(b?.bytesSent).toBeGreaterThan(zipped.raw.length);
    expect(b?.bytesSent).toBeLessThan(a?.bytesSent ?? 0);
  });

  it('answers unknown paths with GitHub 404 body', async () => {
    const res = await get(api('/nope'));
    expect(res.json()).toEqual({ message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' });
  });
});

describe('git smart HTTP', () => {
  const clone = async (url: string, args: string[] = []): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'hostsync-clone-'));
    await git(['clone', '-q', ...args, url, join(dir, 'c')], { cwd: dir });
    return join(dir, 'c');
  };

  it('clones a public repository and fetches a single SHA shallowly', async () => {
    const dir = await clone(`${gh.serverUrl}/octo/fleet.git`);
    try {
      expect(await git(['rev-parse', 'HEAD'], { cwd: dir })).toBe(c.second);
      const expected = await extractGitArchive(repo.dir, c.second);
      expect(await compareTrees(expected, dir, { ignore: ['.git'] })).toEqual([]);
      await rm(expected, { recursive: true, force: true });
      await git(['fetch', '-q', '--depth', '1', 'origin', c.feature], { cwd: dir });
      expect(await git(['cat-file', '-t', c.feature], { cwd: dir })).toBe('commit');
    } finally {
      await rm(join(dir, '..'), { recursive: true, force: true });
    }
    const logged = gh.requests.filter((r) => r.kind === 'git');
    expect(logged.length).toBeGreaterThanOrEqual(2);
    expect(logged.every((r) => r.quotaCost === 0 && r.status === 200)).toBe(true);
  });

  it('accepts gzip-compressed upload-pack requests (large negotiations)', async () => {
    const many = await createRepo();
    let gzipped = 0;
    // A rule that never fires, used as a probe of request headers.
    const probe = (r: RequestInfo): boolean => {
      if (r.headers['content-encoding'] === 'gzip') gzipped += 1;
      return false;
    };
    gh.faults = [{ match: probe, action: { status: 500 } }];
    try {
      await many.write('f', 'x\n');
      await many.commit('base');
      // git gzips POST bodies over 1 KiB: 40 distinct wants (one per annotated tag) are enough.
      for (let i = 0; i < 40; i++) await many.tag(`release-${i}`, `release ${i}`);
      await gh.addRepo('octo/many-tags', many.dir);
      const dir = await clone(`${gh.serverUrl}/octo/many-tags.git`);
      expect((await git(['tag'], { cwd: dir })).split('\n')).toHaveLength(40);
      await rm(join(dir, '..'), { recursive: true, force: true });
      expect(gzipped).toBeGreaterThan(0);
    } finally {
      await many.cleanup();
    }
  });

  it('requires a token for a private repository', async () => {
    await expect(clone(`${gh.serverUrl}/octo/secret.git`)).rejects.toThrow();
    expect(gh.requests.some((r) => r.kind === 'git' && r.status === 401)).toBe(true);
    const url = new URL(`${gh.serverUrl}/octo/secret.git`);
    url.username = 'x-access-token';
    url.password = TOKEN;
    const dir = await clone(url.toString(), ['--depth', '1']);
    try {
      expect(await git(['rev-parse', 'HEAD'], { cwd: dir })).toBe(c.second);
    } finally {
      await rm(join(dir, '..'), { recursive: true, force: true });
    }
  });
});
