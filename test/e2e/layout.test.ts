/** `layout: "symlink"`: DEST switches atomically between complete generation directories. */
import { lstat, readFile, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFixture, type Fixture } from '../support/fixture.js';

let fx: Fixture;
beforeEach(async () => {
  fx = await createFixture();
});
afterEach(async () => {
  await fx.close();
});

describe('layout symlink', () => {
  it('builds each commit as a generation beside DEST and switches the symlink; the old generation stays intact', async () => {
    const config = join(fx.tmp, 'config.json');
    await writeFile(config, JSON.stringify({ layout: 'symlink', preserve: ['local/**'] }));
    await fx.repo.write('a.nix', 'one\n');
    await fx.repo.write('run.sh', '#!/bin/sh\n');
    await fx.repo.chmod('run.sh', true);
    const one = await fx.repo.commit('one');
    await fx.sync('--config', config);
    expect((await lstat(fx.dest)).isSymbolicLink()).toBe(true);
    const firstDir = await realpath(fx.dest);
    await fx.expectSameAsCommit(one, undefined, firstDir);

    await writeFile(join(firstDir, 'notes.txt'), 'unmanaged\n');
    await fx.repo.write('a.nix', 'two\n');
    await fx.repo.chmod('run.sh', false);
    const two = await fx.repo.commit('two');
    await fx.sync('--config', config);
    const secondDir = await realpath(fx.dest);
    expect(secondDir).not.toBe(firstDir);
    await fx.expectSameAsCommit(two, undefined, secondDir, ['notes.txt']);
    expect(await readFile(join(secondDir, 'notes.txt'), 'utf8')).toBe('unmanaged\n');
    // A reader still in the old generation sees the old commit, whole: the mode change did not leak through the hard link.
    await fx.expectSameAsCommit(one, undefined, firstDir, ['notes.txt']);

    const back = await fx.run(['rollback', '--config', config, '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
    expect(back.code, back.stderr).toBe(0);
    await fx.expectSameAsCommit(one, undefined, await realpath(fx.dest), ['notes.txt']);
  });

  it('refuses a DEST that is a real directory with layout symlink (exit 2)', async () => {
    await fx.repo.write('a', 'a\n');
    await fx.repo.commit('a');
    await fx.sync();
    const result = await fx.run(['sync', '--config', await writeConfig(fx)]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/must be a symlink/);
  });
});

async function writeConfig(fixture: Fixture): Promise<string> {
  const file = join(fixture.tmp, 'symlink.json');
  await writeFile(file, JSON.stringify({ layout: 'symlink' }));
  return file;
}
