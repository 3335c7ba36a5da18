/**
 * An unchanged poll — what a timer runs every few minutes on every host — is one conditional request on
 * node:http (src/github/ref-request.ts). It must not load undici (~65–150 ms of start-up and ~17 MB) or the
 * REST client (Octokit): those are imported on the first request that needs them. An update over git's
 * wire protocol without a proxy does not need them either (src/net/direct-request.ts). Node's own module
 * debug log (NODE_DEBUG=esm,module) of the spawned CLI says what was loaded.
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
  it('loads neither undici nor Octokit, nor does an update over the wire protocol; the REST path loads undici', async () => {
    const poll = await fx.run(['sync', '--json'], { spawn: true, env: { NODE_DEBUG: 'esm,module' } });
    expect(poll.code, poll.stderr.slice(-2000)).toBe(0);
    expect(JSON.parse(poll.stdout)).toMatchObject({ apiRequests: 1, blobsDownloaded: 0, pending: false });
    const loaded = packagesLoaded(poll.stderr);
    expect(loaded).toContain('cac'); // the log does show packages
    expect(loaded.filter((name) => name === 'undici' || name.startsWith('@octokit/'))).toEqual([]);

    await fx.repo.write('hosts/beta.nix', '{ beta }\n');
    await fx.repo.commit('two');
    const update = await fx.run(['sync', '--json'], { spawn: true, env: { NODE_DEBUG: 'esm,module' } });
    expect(update.code, update.stderr.slice(-2000)).toBe(0);
    expect(JSON.parse(update.stdout)).toMatchObject({ source: 'wire', strategy: 'pack', blobsDownloaded: 1 });
    expect(packagesLoaded(update.stderr).filter((name) => name === 'undici' || name.startsWith('@octokit/'))).toEqual([]);

    // The control: REST blob downloads bring undici in.
    await fx.repo.write('hosts/gamma.nix', '{ gamma }\n');
    await fx.repo.commit('three');
    const rest = await fx.run(['sync', '--json', '--transport', 'rest'], { spawn: true, env: { NODE_DEBUG: 'esm,module' } });
    expect(rest.code, rest.stderr.slice(-2000)).toBe(0);
    expect(packagesLoaded(rest.stderr)).toContain('undici');
  });
});
