/**
 * The test server's model of GitHub's limits that a fleet meets: the secondary limits (900 points
 * a minute per endpoint, 100 concurrent requests), one bucket shared by an App installation's
 * tokens, and the server's clock in every answer's `Date`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startGitHubServer, type FakeGitHub } from '../support/github-server.js';
import { endpointOf } from '../support/github-server/secondary-limit.js';
import { createRepo, type TestRepo } from '../support/repo.js';

let server: FakeGitHub | undefined;
let repo: TestRepo | undefined;
afterEach(async () => {
  await server?.close();
  await repo?.cleanup();
});

let clock = Date.parse('2026-06-01T08:00:00Z');

async function serve(options: Parameters<typeof startGitHubServer>[0]): Promise<FakeGitHub> {
  repo = await createRepo();
  await repo.write('a.txt', 'a\n');
  await repo.commit('one');
  server = await startGitHubServer({ now: () => clock, ...options });
  await server.addRepo('acme/x', repo.dir);
  return server;
}

const get = (gh: FakeGitHub, path: string, token: string): Promise<Response> => fetch(`${gh.apiUrl}${path}`, { headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.github.sha' } });

describe('secondary limits', () => {
  it.each([
    ['GET', '/repos/acme/x/commits/main', 'GET /repos/{owner}/{repo}/commits/{id}'],
    ['GET', '/repos/acme/x/commits/canary/hv-1?x=1', 'GET /repos/{owner}/{repo}/commits/{id}'],
    ['GET', '/repos/acme/x/git/blobs/abc', 'GET /repos/{owner}/{repo}/git/blobs/{id}'],
    ['GET', '/repos/acme/x', 'GET /repos/{owner}/{repo}'],
    ['GET', '/rate_limit', 'GET /rate_limit'],
  ])('%s %s is endpoint %s', (method, path, endpoint) => {
    expect(endpointOf(method, path)).toBe(endpointOf(method, path));
    expect(endpointOf(method, path)).toBe(endpoint);
  });

  it('refuses the requests over the points of a minute per endpoint, says when to come back, and lets them in after', async () => {
    const gh = await serve({ tokens: ['t1'], secondaryLimits: { enabled: true, pointsPerMinute: 3 } });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await get(gh, '/repos/acme/x/commits/main', 't1')).status);
      clock += 10_000;
    }
    const refused = await get(gh, '/repos/acme/x/commits/main', 't1');
    expect([...statuses, refused.status]).toEqual([200, 200, 200, 403]);
    expect(refused.headers.get('retry-after')).toBe('30'); // the first of the three leaves the window 30 s from now
    expect(((await refused.json()) as { message: string }).message).toMatch(/^You have exceeded a secondary rate limit/);
    // Another endpoint has its own points.
    expect((await get(gh, '/repos/acme/x', 't1')).status).toBe(200);
    clock += 30_000;
    expect((await get(gh, '/repos/acme/x/commits/main', 't1')).status).toBe(200);
    expect(gh.secondaryLimits.refusals).toBe(1);
  });

  it('refuses a request over the concurrent limit of a bucket', async () => {
    const gh = await serve({ tokens: ['t1', 't2'], latencyMs: 300, secondaryLimits: { enabled: true, concurrent: 2 } });
    const answers = await Promise.all([0, 1, 2].map(() => get(gh, '/repos/acme/x/commits/main', 't1')));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 403]);
    expect(gh.secondaryLimits.peakConcurrent).toBe(2);
  });

  it('is off unless enabled', async () => {
    const gh = await serve({ tokens: ['t1'], secondaryLimits: { pointsPerMinute: 1 } });
    for (let i = 0; i < 3; i++) expect((await get(gh, '/repos/acme/x/commits/main', 't1')).status).toBe(200);
  });
});

describe('an App installation', () => {
  it('shares one bucket among its tokens, and dates every answer by the server clock', async () => {
    const gh = await serve({ tokens: ['host-a', 'host-b', 'other'], quotaGroupOf: (token) => (token.startsWith('host-') ? 'installation' : undefined), rateLimit: { limit: 12_500 } });
    const a = await get(gh, '/repos/acme/x/commits/main', 'host-a');
    const b = await get(gh, '/repos/acme/x/commits/main', 'host-b');
    const other = await get(gh, '/repos/acme/x/commits/main', 'other');
    expect([a, b, other].map((r) => r.headers.get('x-ratelimit-remaining'))).toEqual(['12499', '12498', '12499']);
    expect(a.headers.get('date')).toBe(new Date(clock).toUTCString());
    await Promise.all([a, b, other].map((r) => r.text()));
    await new Promise((resolve) => setTimeout(resolve, 50)); // the log entry is written when the answer has gone out
    expect(gh.requests.map((r) => [r.token, r.at])).toEqual([['host-a', clock], ['host-b', clock], ['other', clock]]);
  });
});
