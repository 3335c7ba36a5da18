/**
 * Resilience end to end: faults injected by the GitHub-compatible server. Every case ends with
 * DEST compared to `git archive` of the expected commit (or shown untouched), and nothing retries
 * forever.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FAST_TIMING } from '../support/io.js';
import { blobRequests, createFixture, type Fixture } from '../support/fixture.js';
import { parseJson } from '../support/cli.js';

let fx: Fixture;
beforeEach(async () => {
  fx = await createFixture({ transport: 'rest' });
});
afterEach(async () => {
  await fx.close();
});

const isBlob = (req: { path: string }): boolean => req.path.includes('/git/blobs/');
const isTree = (req: { path: string }): boolean => req.path.includes('/git/trees/');
const isTarball = (req: { path: string }): boolean => req.path.includes('/tarball/') || req.path.includes('/_codeload/');

/** A synced repository and a second commit that edits three files (blobs will be chosen). */
async function syncedThenEdited(): Promise<{ first: string; second: string }> {
  for (let i = 0; i < 40; i++) await fx.repo.write(`f/${i}.nix`, `file ${i}\n${'.'.repeat(2000)}\n`);
  const first = await fx.repo.commit('first');
  await fx.sync();
  for (const i of [1, 2, 3]) await fx.repo.write(`f/${i}.nix`, `edited ${i}\n`);
  const second = await fx.repo.commit('second');
  fx.server.resetLog();
  return { first, second };
}

describe('faults', () => {
  it('survives 502/503 bursts on every kind of request', async () => {
    const { second } = await syncedThenEdited();
    fx.server.faults = [
      { match: (r) => r.path.includes('/commits/'), times: 2, action: { status: 502 } },
      { match: isTree, times: 1, action: { status: 503 } },
      { match: isBlob, times: 3, action: { status: 502 } },
    ];
    const result = await fx.sync();
    await fx.expectSameAsCommit(second);
    expect(result['strategy']).toBe('blobs');
    expect(fx.server.requests.filter((r) => r.status >= 500).length).toBe(6);
  });

  it('restarts a blob download whose connection drops mid-body', async () => {
    const { second } = await syncedThenEdited();
    fx.server.faults = [{ match: isBlob, times: 2, action: { dropMidBody: true, afterBytes: 10 } }];
    await fx.sync();
    await fx.expectSameAsCommit(second);
  });

  it('never lets a blob served corrupt every time reach DEST: a verified fallback serves it', async () => {
    const { second } = await syncedThenEdited();
    fx.server.faults = [{ match: isBlob, action: { corrupt: true } }];
    const result = await fx.sync();
    await fx.expectSameAsCommit(second);
    expect(result['strategy']).toBe('tarball');
    expect(String(result['strategyReason'])).toMatch(/fell back after blobs failed/);
  });

  it('fails with DEST exactly as before when every path (blobs, tarball, git) serves corrupt content', async () => {
    const { first } = await syncedThenEdited();
    fx.server.faults = [{ match: (r) => isBlob(r) || isTarball(r) || r.path.includes('.git/'), action: { corrupt: true } }];
    const result = await fx.run(['sync']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/hashed to|damaged|corrupt|integrity|No way to fetch/i);
    await fx.expectSameAsCommit(first);
    const tmp = join(fx.stateDir, 'objects', 'tmp');
    expect(await readdir(tmp).catch(() => [])).toEqual([]);
  });

  it('honours a secondary rate limit retry-after, then completes', async () => {
    const { second } = await syncedThenEdited();
    fx.server.faults = [{ match: isBlob, times: 1, action: { secondaryRateLimit: { retryAfterSec: 1 } } }];
    const waits: number[] = [];
    const result = await fx.run(['sync', '--json', '--verbose'], { timing: { ...FAST_TIMING, sleep: async (ms) => void waits.push(ms) } });
    expect(result.code, result.stderr).toBe(0);
    // Once: at least what retry-after asked for, plus up to as much again of jitter (a fleet told the same spreads out).
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThanOrEqual(1000);
    expect(waits[0]).toBeLessThanOrEqual(2000);
    expect(result.stderr).toMatch(/secondary rate limit/);
    await fx.expectSameAsCommit(second);
  });

  it('walks subtrees when GitHub truncates the recursive tree', async () => {
    for (let d = 0; d < 6; d++) for (let i = 0; i < 8; i++) await fx.repo.write(`d${d}/sub/f${i}.txt`, `${d}/${i}\n`);
    const commit = await fx.repo.commit('many');
    fx.server.treeEntryLimit = 20;
    await fx.sync();
    await fx.expectSameAsCommit(commit);
    await fx.sync('--path', 'd3');
    expect(fx.server.requests.filter(isTree).length).toBeGreaterThan(2);
  });

  it('takes a path that needs no per-blob quota when the quota cannot cover the blobs', async () => {
    for (let i = 0; i < 30; i++) await fx.repo.write(`m/${i}.nix`, `${i}\n`);
    const commit = await fx.repo.commit('thirty');
    fx.server.rateLimit.remaining = 20;
    const result = await fx.sync();
    await fx.expectSameAsCommit(commit);
    expect(result['strategy']).toBe('tarball');
    expect(blobRequests(fx.server)).toHaveLength(0);
    expect((result['rateLimit'] as { remaining: number }).remaining).toBeLessThan(20);
  });

  it('falls back when the quota runs out in the middle of blob downloads', async () => {
    const { second } = await syncedThenEdited();
    fx.server.faults = [{ match: isBlob, action: { status: 403, body: { message: 'API rate limit exceeded for installation ID 1.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api' }, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600) } } }];
    const result = await fx.sync();
    await fx.expectSameAsCommit(second);
    expect(result['strategy']).toBe('tarball');
  });

  it('works against GitHub Enterprise Server with rate limits off', async () => {
    await fx.repo.write('a', 'a\n');
    const commit = await fx.repo.commit('a');
    fx.server.rateLimit.disabled = true;
    const result = await fx.sync();
    await fx.expectSameAsCommit(commit);
    expect(result['rateLimit']).toBeNull();
  });

  it('follows a renamed repository', async () => {
    await fx.repo.write('a', 'a\n');
    const commit = await fx.repo.commit('a');
    await fx.run(['sync', '--check-only']);
    fx.server.renameRepo('acme/hypervisor', 'acme/hv');
    await fx.sync();
    await fx.expectSameAsCommit(commit);
  });
});

describe('errors a user can act on: one line, exit 1, DEST untouched, no retries', () => {
  it.each([
    ['401', { status: 401, body: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' } }, /rejected the token from GITHUB_TOKEN/],
    ['404', { status: 404, body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' } }, /not found .* or not visible with the token from GITHUB_TOKEN/],
    ['422', { status: 422, body: { message: 'No commit found for SHA: main', documentation_url: 'https://docs.github.com/rest', status: '422' } }, /Unknown ref 'HEAD'/],
  ])('%s', async (_code, action, message) => {
    const { first } = await syncedThenEdited();
    fx.server.faults = [{ match: (r) => r.path.includes('/commits/'), action }];
    const result = await fx.run(['sync']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(fx.server.requests.filter((r) => r.path.includes('/commits/'))).toHaveLength(1);
    await fx.expectSameAsCommit(first);
  });

  it('a server that stops answering: a timeout, retried a bounded number of times, then a clear error', async () => {
    const { first } = await syncedThenEdited();
    fx.server.faults = [{ match: (r) => r.path.includes('/commits/'), action: { hang: true } }];
    const started = Date.now();
    const result = await fx.run(['sync', '--timeout-sec', '1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/stopped answering|timed out/);
    expect(Date.now() - started).toBeLessThan(45_000);
    await fx.expectSameAsCommit(first);
  });

  it('a ref answer that trickles a byte now and then is bounded as a whole: a timeout, not a wait for ever', async () => {
    const { first } = await syncedThenEdited();
    fx.server.faults = [{ match: (r) => r.path.includes('/commits/'), action: { trickle: { bytes: 1, everyMs: 300 } } }];
    const started = Date.now();
    const result = await fx.run(['sync', '--timeout-sec', '1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/stopped answering|timed out/);
    expect(Date.now() - started).toBeLessThan(45_000);
    await fx.expectSameAsCommit(first);
  });

  it('a connection refused names the host', async () => {
    const result = await fx.run(['sync', '--api-url', 'http://127.0.0.1:1', '--timeout-sec', '1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/127\.0\.0\.1:1/);
    await expect(stat(fx.dest)).rejects.toThrow();
  });

  it('reports rateLimit in --json', async () => {
    await fx.repo.write('a', 'a\n');
    await fx.repo.commit('a');
    const json = parseJson(await fx.run(['sync', '--json']));
    expect(json['rateLimit']).toMatchObject({ remaining: expect.any(Number), reset: expect.any(Number) });
  });
});

describe('clone fallback', () => {
  it('with the quota nearly spent, a fresh install completes through git clone, verified, without API blob downloads', async () => {
    for (let i = 0; i < 30; i++) await fx.repo.write(`m/${i}.nix`, `${i}\n`);
    await fx.repo.symlink('link', 'm/1.nix');
    const commit = await fx.repo.commit('thirty');
    fx.server.rateLimit.remaining = 4;
    const result = await fx.sync();
    await fx.expectSameAsCommit(commit);
    expect(result['strategy']).toBe('clone');
    expect(blobRequests(fx.server)).toHaveLength(0);
    expect(fx.server.requests.some((r) => r.kind === 'git')).toBe(true);
  });

  it('--force-full fetches through the tarball and clone when the tarball is damaged', async () => {
    await fx.repo.write('a.nix', 'a\n');
    const commit = await fx.repo.commit('a');
    fx.server.faults = [{ match: isTarball, action: { corrupt: true } }];
    const result = await fx.sync('--force-full');
    await fx.expectSameAsCommit(commit);
    expect(result['strategy']).toBe('clone');
    expect(blobRequests(fx.server)).toHaveLength(0);
  });
});
