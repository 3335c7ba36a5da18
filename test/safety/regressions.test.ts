/**
 * Regressions of bugs the safety suite found (undo rewriting untouched paths, a full object store
 * taken for a download failure, umask-decided folder modes, non-UTF-8 symlink targets, an endless
 * tree walk, recovery ignoring owner/group, a repointed symlinked DEST). Each failed before its fix.
 */
import { lstat, readdir, readlink, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFixture, type Fixture } from '../support/fixture.js';
import { exists, mountTmpfs, runCliWith, sh } from '../support/safety-helpers.js';
import { pseudoRandomBytes } from '../support/sample-content.js';

let fx: Fixture;
let cleanups: (() => Promise<unknown>)[] = [];
beforeEach(async () => {
  fx = await createFixture({ transport: 'rest' });
  cleanups = [];
});
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await fx.close();
});

const journalOf = async (stateDir: string): Promise<boolean> => {
  const keys = await readdir(join(stateDir, 'dests')).catch(() => []);
  for (const key of keys) if (await exists(join(stateDir, 'dests', key, 'journal.json'))) return true;
  return false;
};

async function commitsAB(): Promise<{ a: string; b: string }> {
  for (let i = 0; i < 10; i++) await fx.repo.write(`conf/c${i}.nix`, `# ${i}\n`);
  await fx.repo.write('olddir/x.txt', 'x\n');
  await fx.repo.write('zz-old.nix', 'old\n');
  const a = await fx.repo.commit('A');
  await fx.sync();
  for (let i = 0; i < 10; i++) await fx.repo.write(`conf/c${i}.nix`, `# ${i} edited\n`);
  await fx.repo.remove('olddir');
  await fx.repo.write('olddir', 'file now\n');
  await fx.repo.remove('zz-old.nix');
  const b = await fx.repo.commit('B');
  return { a, b };
}

describe('undo leaves paths that never changed alone', () => {
  it('an immutable file (chattr +i) B modifies: exit 1, DEST exactly A, no journal left', async () => {
    const { a } = await commitsAB();
    const target = join(fx.dest, 'conf/c5.nix');
    await sh('chattr', ['+i', target]);
    cleanups.push(() => sh('chattr', ['-i', target]));
    const failed = await fx.run(['sync']);
    expect(failed.code).toBe(1);
    await fx.expectSameAsCommit(a); // olddir/x.txt and zz-old.nix were deleted by the clear pass and must be restored
    expect(await journalOf(fx.stateDir)).toBe(false);
    expect(failed.stderr).toMatch(/DEST was put back as it was/);
  });

  it('a read-only bind mount: the apply is undone cleanly (nothing changed), no journal left', async () => {
    const { a } = await commitsAB();
    await sh('mount', ['--bind', fx.dest, fx.dest]);
    cleanups.push(() => sh('umount', [fx.dest]));
    await sh('mount', ['-o', 'remount,bind,ro', fx.dest]);
    const failed = await fx.run(['sync']);
    expect(failed.code).toBe(1);
    await fx.expectSameAsCommit(a);
    expect(failed.stderr).toMatch(/DEST was put back as it was/); // before the fix: "and undoing it failed too"
    expect(await journalOf(fx.stateDir)).toBe(false);
  });
});

describe('a full state dir is a final, named failure', () => {
  it('ENOSPC while writing the object store: no fallback downloads, one line naming the state dir, the cause and the fix', async () => {
    const mount = await mountTmpfs('1m', fx.tmp);
    cleanups.push(() => mount.release());
    const stateDir = join(mount.dir, 'state');
    const args = ['sync', '--repo', 'acme/hypervisor', '--dest', fx.dest, '--state-dir', stateDir];
    await fx.repo.write('a', 'a\n');
    await fx.repo.commit('A');
    expect((await fx.run(args, { bare: true })).code).toBe(0);
    await fx.repo.write('big', pseudoRandomBytes(3 << 20, 1));
    await fx.repo.commit('B');
    const failed = await fx.run(args, { bare: true });
    expect(failed.code).toBe(1);
    expect(failed.stderr).not.toMatch(/internal error/);
    expect(failed.stderr).not.toMatch(/trying the next strategy/);
    expect(failed.stderr).not.toMatch(/Network failure .*ENOSPC/);
    expect(failed.stderr).toMatch(/no space left on the device: free some space/);
    expect(failed.stderr).toContain(stateDir);
  });
});

describe('umask 077 does not decide folder modes', () => {
  it('DEST created by hostsync is 0755', async () => {
    await fx.repo.write('a', 'a\n');
    await fx.repo.commit('A');
    await fx.run(['sync', '--check-only']);
    const result = await runCliWith(['sync', '--repo', 'acme/hypervisor', '--dest', fx.dest, '--state-dir', fx.stateDir], { env: fx.env, umask: '077' });
    expect(result.code).toBe(0);
    expect(((await lstat(fx.dest)).mode & 0o777).toString(8)).toBe('755'); // before the fix: 700
  });

  it('layout symlink: generation folders, their copied sub-folders and <DEST>.generations are 0755', async () => {
    const config = join(fx.tmp, 'c.json');
    await writeFile(config, JSON.stringify({ layout: 'symlink' }));
    await fx.repo.write('sub/a', 'a\n');
    await fx.repo.commit('A');
    await fx.run(['sync', '--check-only']);
    const args = ['sync', '--repo', 'acme/hypervisor', '--dest', fx.dest, '--state-dir', fx.stateDir, '--config', config];
    expect((await runCliWith(args, { env: fx.env, umask: '077' })).code).toBe(0);
    await fx.repo.write('b', 'b\n');
    await fx.repo.commit('B');
    expect((await runCliWith(args, { env: fx.env, umask: '077' })).code).toBe(0);
    const gen = await realpath(fx.dest);
    const modes = [gen, join(gen, 'sub'), `${fx.dest}.generations`].map(async (p) => ((await lstat(p)).mode & 0o777).toString(8));
    expect(await Promise.all(modes)).toEqual(['755', '755', '755']); // before the fix: 700 700 700
  });
});

describe('symlink targets that are not UTF-8', () => {
  it('are written byte for byte, and the next sync has nothing to do', async () => {
    const blob = join(fx.tmp, 'blob');
    const target = Buffer.from([0x74, 0xff, 0xfe, 0x78]);
    await writeFile(blob, target);
    const sha = await fx.repo.git('hash-object', '-w', blob);
    await fx.repo.write('a', 'a\n');
    await fx.repo.git('add', 'a');
    await fx.repo.git('update-index', '--add', '--cacheinfo', `120000,${sha},weird`);
    await fx.repo.git('commit', '-q', '-m', 'x');
    await fx.sync();
    expect(await readlink(join(fx.dest, 'weird'), { encoding: 'buffer' })).toEqual(target); // before the fix: 74 ef bf bd ef bf bd 78
    const again = await fx.sync();
    expect((again['changes'] as Record<string, string[]>)['modified']).toEqual([]); // before the fix: rewritten on every run
  });
});

describe('a tree walk a hostile server would make endless', () => {
  it('truncated trees that always contain themselves: the run fails instead of recursing forever', async () => {
    await fx.repo.write('hosts/a', 'a\n');
    await fx.repo.commit('A');
    await fx.run(['sync', '--check-only']);
    const api = `${fx.server.apiUrl}/repos/acme/hypervisor`;
    const sha = await fx.repo.git('rev-parse', 'HEAD:hosts');
    const body = { sha, url: `${api}/git/trees/${sha}`, truncated: true, tree: [{ path: 'hosts', mode: '040000', type: 'tree', sha, url: `${api}/git/trees/${sha}` }] };
    fx.server.faults = [{ match: (r) => r.path.includes('/git/trees/'), action: { status: 200, body } }];
    const result = await runCliWith(['sync', '--repo', 'acme/hypervisor', '--dest', fx.dest, '--state-dir', fx.stateDir], { env: fx.env, timeoutMs: 20_000 });
    expect(result.signal).toBeNull(); // before the fix: still requesting trees after 20 s (thousands of requests)
    expect(result.code).toBe(1);
  }, 30_000);
});

describe('crash recovery applies owner/group', () => {
  it('files finished by a recovery belong to the configured owner', async () => {
    const config = join(fx.tmp, 'owner.json');
    await writeFile(config, JSON.stringify({ owner: 'nobody', group: '65534' }));
    await fx.repo.write('conf/a.nix', 'a\n');
    await fx.repo.commit('A');
    await fx.sync('--config', config);
    await fx.repo.write('conf/a.nix', 'b\n');
    await fx.repo.write('conf/new.nix', 'new\n');
    await fx.repo.commit('B');
    await sh('mount', ['--bind', fx.dest, fx.dest]);
    cleanups.push(() => sh('umount', [fx.dest]));
    await sh('mount', ['-o', 'remount,bind,ro', fx.dest]);
    expect((await fx.run(['sync', '--config', config])).code).toBe(1); // an immutable file B modifies
    await sh('umount', [fx.dest]);
    cleanups = [];
    const recovered = await fx.sync('--config', config);
    expect(recovered['recovered']).toBe('completed');
    const owners = await Promise.all(['conf/a.nix', 'conf/new.nix'].map(async (p) => { const i = await lstat(join(fx.dest, p)); return `${p} ${i.uid}:${i.gid}`; }));
    expect(owners).toEqual(['conf/a.nix 65534:65534', 'conf/new.nix 65534:65534']); // before the fix: 0:0
  });
});

describe('layout symlink trusts only its own generations', () => {
  it('DEST repointed outside <DEST>.generations: the sync refuses instead of hard-linking that folder into the new generation', async () => {
    const config = join(fx.tmp, 'c.json');
    await writeFile(config, JSON.stringify({ layout: 'symlink' }));
    await fx.repo.write('a.nix', 'a\n');
    await fx.repo.commit('A');
    await fx.sync('--config', config);
    const outside = join(fx.tmp, 'outside');
    await sh('mkdir', [outside]);
    await writeFile(join(outside, 'secret'), 'secret\n', { mode: 0o600 });
    await sh('rm', [fx.dest]);
    await sh('ln', ['-s', outside, fx.dest]);
    await fx.repo.write('a.nix', 'b\n');
    await fx.repo.commit('B');
    const result = await fx.run(['sync', '--config', config]);
    expect(result.code).toBe(2); // before the fix: 0, and the new generation holds a hard link to outside/secret
    expect((await lstat(join(outside, 'secret'))).nlink).toBe(1);
  });
});
