/**
 * Offline rollback with `layout: "symlink"` across type changes and symlinks: folder ↔ file,
 * symlink ↔ folder, file ↔ symlink, symlinks leaving DEST, mode changes. With the server stopped,
 * every rollback (and the roll forward again) makes DEST exactly the commit, byte for byte; the
 * generation directories of earlier commits are never written through their hard links; nothing
 * outside DEST changes.
 */
import { lstat, mkdir, readdir, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFixture, type Fixture } from '../support/fixture.js';
import { fingerprint } from '../support/safety-helpers.js';

let fx: Fixture;
beforeEach(async () => {
  fx = await createFixture();
});
afterEach(async () => {
  await fx.close();
});

describe('rollback with layout symlink', () => {
  it('across type changes and symlinks, byte for byte, with the server stopped; earlier generations stay intact', async () => {
    const config = join(fx.tmp, 'config.json');
    await writeFile(config, JSON.stringify({ layout: 'symlink', historyLimit: 10 }));
    const outside = join(fx.tmp, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'target'), 'outside\n');
    const outsideBefore = await fingerprint(outside, { identity: true });
    const { repo } = fx;

    await repo.write('conf/a.nix', 'a1\n');
    await repo.write('conf/sub/b.nix', 'b1\n');
    await repo.write('bin/run.sh', '#!/bin/sh\necho 1\n');
    await repo.chmod('bin/run.sh', true);
    await repo.symlink('link', 'conf/a.nix');
    await repo.symlink('escape', '../outside/target');
    await repo.write('flip', 'a file first\n');
    const one = await repo.commit('one');
    const generations: Record<string, string> = {};
    const syncAndCheck = async (commit: string, name: string): Promise<void> => {
      await fx.sync('--config', config);
      generations[name] = await realpath(fx.dest);
      await fx.expectSameAsCommit(commit, undefined, generations[name]);
    };
    await syncAndCheck(one, 'one');

    await repo.remove('conf');
    await repo.write('conf', 'conf is a file now\n'); // dir → file
    await repo.remove('link');
    await repo.write('link/inside.nix', 'link is a folder now\n'); // symlink → dir
    await repo.remove('flip');
    await repo.symlink('flip', join(outside, 'target')); // file → absolute symlink out of DEST
    await repo.chmod('bin/run.sh', false); // mode only
    await repo.remove('escape');
    await repo.write('escape/x', 'escape is a folder\n'); // symlink out of DEST → dir
    const two = await repo.commit('two');
    await syncAndCheck(two, 'two');

    await repo.remove('conf');
    await repo.symlink('conf', 'bin'); // file → symlink to a folder
    await repo.remove('link');
    await repo.symlink('link', join(outside, 'target')); // dir → symlink out of DEST
    await repo.remove('flip');
    await repo.write('flip/deep/er.nix', 'flip is a folder\n'); // symlink → dir
    await repo.write('bin/run.sh', '#!/bin/sh\necho 3\n');
    await repo.chmod('bin/run.sh', true);
    const three = await repo.commit('three');
    await syncAndCheck(three, 'three');

    await fx.server.close(); // a rollback never uses the network
    for (const commit of [two, one, three, one, two]) {
      const back = await fx.run(['rollback', '--config', config, '--to', commit.slice(0, 12), '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
      expect(back.code, back.stderr).toBe(0);
      expect((await lstat(fx.dest)).isSymbolicLink()).toBe(true);
      await fx.expectSameAsCommit(commit, undefined, await realpath(fx.dest));
      expect(await fingerprint(outside, { identity: true })).toEqual(outsideBefore);
    }
    // The generation directories built by the syncs still hold their commits exactly.
    await fx.expectSameAsCommit(one, undefined, generations['one']);
    await fx.expectSameAsCommit(two, undefined, generations['two']);
    await fx.expectSameAsCommit(three, undefined, generations['three']);
    expect((await readdir(`${fx.dest}.generations`)).filter((name) => name.includes('hostsync-tmp'))).toEqual([]);
  });
});
