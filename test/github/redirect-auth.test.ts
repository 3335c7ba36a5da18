/**
 * A redirect to another origin never carries the token. GitHub answers a tarball request with a 302 to
 * codeload.github.com (another origin; a private repository's link holds its own short-lived token): the
 * API's `Authorization` must not follow it. The test server sends the redirect to `localhost` while the
 * API is `127.0.0.1` — two origins, one server — and logs the credential each request came with.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixture, TOKEN, type Fixture } from '../support/fixture.js';

let fx: Fixture;

beforeAll(async () => {
  fx = await createFixture({ codeloadHost: 'localhost' });
  await fx.repo.write('flake.nix', '{ v1 }\n');
  await fx.repo.write('hosts/alpha.nix', '{ alpha }\n');
  await fx.repo.commit('v1');
});

afterAll(async () => {
  await fx.close();
});

describe('the tarball redirect to another origin', () => {
  it('is followed without the token; the API requests before it carried it', async () => {
    const run = await fx.run(['sync', '--json', '--transport', 'rest', '--force-full']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ strategy: 'tarball' });
    const tarball = fx.server.requests.find((r) => r.kind === 'api' && r.path.includes('/tarball/'));
    expect(tarball).toMatchObject({ status: 302, token: TOKEN });
    const codeload = fx.server.requests.filter((r) => r.kind === 'codeload');
    expect(codeload).toHaveLength(1);
    expect(codeload[0]).toMatchObject({ status: 200, authenticated: false });
    expect(codeload[0]!.token).toBeUndefined();
  });
});
