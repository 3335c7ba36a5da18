/**
 * An unchanged poll — what a timer runs every few minutes on every host — is one conditional request on
 * node:http (src/github/ref-request.ts). It must not load the HTTP stack of transfers (undici, ~150 ms of
 * start-up and ~17 MB) or the REST client (Octokit): those are imported on the first request that needs
 * them. Node's own module debug log (NODE_DEBUG=esm,module) of the spawned CLI says what was loaded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixture, type Fixture } from '../support/fixture.js';

let fx: Fixture;

beforeAll(async () => {
  fx = await createFixture();
  await fx.repo.write('hosts/alpha.nix', '{ alpha }\n');
  await fx.repo.commit('one');
  await fx.sync();
});

afterAll(async () => {
  await fx.close();
});

/** The packages under node_modules a spawned run loaded, by name. */
function packagesLoaded(debugLog: string): string[] {
  const names = new Set<string>();
  for (const match of debugLog.matchAll(/node_modules\/((?:@[^/]+\/)?[^/"'\s]+)/g)) names.add(match[1]!);
  return [...names].sort();
}

describe('an unchanged poll', () => {
  it('loads neither undici nor Octokit; a run that transfers loads undici', async () => {
    const poll = await fx.run(['sync', '--json'], { spawn: true, env: { NODE_DEBUG: 'esm,module' } });
    expect(poll.code, poll.stderr.slice(-2000)).toBe(0);
    expect(JSON.parse(poll.stdout)).toMatchObject({ apiRequests: 1, blobsDownloaded: 0, pending: false });
    const loaded = packagesLoaded(poll.stderr);
    expect(loaded).toContain('cac'); // the log does show packages
    expect(loaded.filter((name) => name === 'undici' || name.startsWith('@octokit/'))).toEqual([]);

    // The control: a commit to fetch brings undici in (the git transport and the REST client use it).
    await fx.repo.write('hosts/beta.nix', '{ beta }\n');
    await fx.repo.commit('two');
    const update = await fx.run(['sync', '--json'], { spawn: true, env: { NODE_DEBUG: 'esm,module' } });
    expect(update.code, update.stderr.slice(-2000)).toBe(0);
    expect(packagesLoaded(update.stderr)).toContain('undici');
  });
});
