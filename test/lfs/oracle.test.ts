/**
 * Git LFS end to end, with Debian's git-lfs as the oracle: a repository made with `git lfs track`
 * (a few pointers, one 20 MiB object, an executable LFS file, two paths sharing one object), its
 * objects uploaded to the test server with `git lfs push`, and the reference checkout made by
 * `git clone` + `git lfs pull` through the same server. hostsync's DEST must equal it byte for
 * byte over every transport: git's wire protocol, the REST API's blobs, its tarball, and git clone.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareTrees } from '../support/repo.js';
import { createFixture, TOKEN, type Fixture } from '../support/fixture.js';
import { hasGitLfs, lfsCheckout, pushLfs, trackLfs } from '../support/lfs.js';
import { pseudoRandomBytes } from '../support/sample-content.js';

const REPO = 'acme/hypervisor';
const BIG = 20 << 20;

let fx: Fixture;
let commit: string;
let oracle: string;

beforeAll(async () => {
  if (!(await hasGitLfs())) throw new Error('git-lfs is not installed: apt-get install git-lfs (.ci/run does).');
  fx = await createFixture();
  await trackLfs(fx.repo, '*.bin', 'images/**');
  await fx.repo.write('flake.nix', '{ outputs = _: {}; }\n');
  await fx.repo.write('hosts/web/configuration.nix', '{ web }\n');
  await fx.repo.write('assets/disk.img.bin', pseudoRandomBytes(BIG, 1));
  await fx.repo.write('assets/firmware.bin', pseudoRandomBytes(3000, 2));
  await fx.repo.write('assets/copy-of-firmware.bin', pseudoRandomBytes(3000, 2));
  await fx.repo.write('images/logo.png', pseudoRandomBytes(700, 3));
  await fx.repo.write('tools/flash.bin', '#!/bin/sh\necho flash\n');
  await fx.repo.chmod('tools/flash.bin', true);
  commit = await fx.repo.commit('LFS files');
  await fx.serve();
  await pushLfs(fx.repo, fx.server, REPO, TOKEN);
  oracle = await lfsCheckout(fx.server, REPO, commit);
}, 120_000);

afterAll(async () => {
  await rm(oracle, { recursive: true, force: true });
  await fx.close();
});

async function fresh(): Promise<void> {
  await rm(fx.dest, { recursive: true, force: true });
  await rm(fx.stateDir, { recursive: true, force: true });
  fx.server.resetLog();
  fx.server.lfs.log.length = 0;
  fx.server.faults = [];
}

describe('DEST equals git clone + git lfs pull', () => {
  it('the oracle itself has the content, not pointers', async () => {
    expect(await fx.repo.git('show', `${commit}:assets/firmware.bin`)).toMatch(/^version https:\/\/git-lfs\.github\.com\/spec\/v1\noid sha256:[0-9a-f]{64}\nsize 3000$/);
    expect(await compareTrees(oracle, oracle)).toEqual([]);
  });

  it.each([
    ['wire', 'pack', []],
    ['rest (blobs)', 'blobs', ['--transport', 'rest']],
    ['rest (tarball)', 'tarball', ['--transport', 'rest', '--force-full']],
  ] as const)('over %s', async (_name, strategy, args) => {
    await fresh();
    const result = await fx.sync(...args);
    expect(result['strategy']).toBe(strategy);
    expect(await compareTrees(oracle, fx.dest)).toEqual([]);
    // Five LFS files, four objects (two paths share one), the 20 MiB one among them.
    expect(result['lfs']).toMatchObject({ mode: 'auto', files: 5, objects: 4 });
    expect((result['lfs'] as { bytes: number }).bytes).toBeGreaterThanOrEqual(BIG);
    const downloads = fx.server.lfs.log.filter((entry) => entry.kind === 'download');
    expect(downloads.map((entry) => entry.oids[0]).sort()).toEqual([...new Set(downloads.map((entry) => entry.oids[0]))].sort());
    expect(downloads).toHaveLength(4);
  });

  it('over git clone (the tarball refused)', async () => {
    await fresh();
    fx.server.faults = [{ match: (req) => req.path.startsWith('/_codeload/') || /\/tarball\//.test(req.path), action: { status: 502 } }];
    const run = await fx.run(['sync', '--json', '--transport', 'rest', '--force-full']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)['strategy']).toBe('clone');
    expect(await compareTrees(oracle, fx.dest)).toEqual([]);
  });
});
