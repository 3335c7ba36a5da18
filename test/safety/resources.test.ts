/**
 * Resource failures while applying: a full disk (DEST or the state dir on a 1 MiB tmpfs) and a
 * read-only DEST (read-only bind mount). Whatever the failure:
 * exit 1, a message naming the cause and the fix, DEST exactly the previous commit, no staging
 * leftovers (`.hostsync-tmp-*` in DEST, `objects/tmp/*` in the state dir), and once the cause is
 * gone the next sync converges to the new commit.
 *
 * Needs root (mount). Each case skips itself when the kernel refuses the setup.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFixture, type Fixture } from '../support/fixture.js';
import { exists, mountTmpfs, sh, stagingLeftovers, type ScratchMount } from '../support/safety-helpers.js';
import { pseudoRandomBytes } from '../support/sample-content.js';

let fx: Fixture;
let mounts: ScratchMount[] = [];
let cleanups: (() => Promise<unknown>)[] = [];

beforeEach(async () => {
  fx = await createFixture();
  mounts = [];
  cleanups = [];
});
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  for (const mount of mounts) await mount.release();
  await fx.close();
});

/** Commit A (a few small files, a folder, a symlink, an executable), synced with these extra args. */
async function commitA(): Promise<string> {
  for (let i = 0; i < 20; i++) await fx.repo.write(`conf/c${String(i).padStart(2, '0')}.nix`, `# conf ${i}\n`.repeat(20));
  await fx.repo.write('olddir/x.txt', 'a folder that becomes a file\n');
  await fx.repo.write('bin/run.sh', '#!/bin/sh\n');
  await fx.repo.chmod('bin/run.sh', true);
  await fx.repo.write('zz-old.nix', 'deleted by B\n');
  await fx.repo.symlink('current', 'conf');
  return fx.repo.commit('A');
}

/** Commit B: edits, a deletion, a dir → file change, a mode change, and a 3 MiB file that does not fit a 1 MiB disk. */
async function commitB(big = true): Promise<string> {
  for (let i = 0; i < 20; i += 2) await fx.repo.write(`conf/c${String(i).padStart(2, '0')}.nix`, `# conf ${i} edited\n`.repeat(30));
  await fx.repo.remove('olddir');
  await fx.repo.write('olddir', 'now a file\n');
  await fx.repo.chmod('bin/run.sh', false);
  await fx.repo.remove('zz-old.nix');
  if (big) await fx.repo.write('m-big/firmware.bin', pseudoRandomBytes(3 * 1024 * 1024, 3));
  await fx.repo.write('new.nix', 'added by B\n');
  return fx.repo.commit('B');
}

const syncArgs = (dest: string, stateDir: string, ...extra: string[]): string[] => ['sync', '--repo', 'acme/hypervisor', '--dest', dest, '--state-dir', stateDir, ...extra];

async function tryMount(size: string): Promise<ScratchMount | undefined> {
  const mount = await mountTmpfs(size, fx.tmp);
  mounts.push(mount);
  return mount.mounted ? mount : undefined;
}

describe('a full disk', () => {
  it('DEST on a full file system: exit 1 naming ENOSPC and the fix, DEST exactly A, no temp files; after growing the disk the next sync converges', async (ctx) => {
    const mount = await tryMount('1m');
    if (mount === undefined) return ctx.skip();
    const dest = join(mount.dir, 'dest');
    const a = await commitA();
    await fx.run(syncArgs(dest, fx.stateDir), { bare: true }).then((r) => expect(r.code, r.stderr).toBe(0));
    await fx.expectSameAsCommit(a, undefined, dest);
    const b = await commitB();

    const failed = await fx.run(syncArgs(dest, fx.stateDir), { bare: true });
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toMatch(/no space left on the device: free some space/);
    expect(failed.stderr).toMatch(/DEST was put back as it was/);
    await fx.expectSameAsCommit(a, undefined, dest);
    expect(await stagingLeftovers(dest, fx.stateDir)).toEqual([]);
    expect(await exists(join(fx.stateDir, 'dests'))).toBe(true);

    await sh('mount', ['-o', 'remount,size=16m', mount.dir]);
    const retry = await fx.run(syncArgs(dest, fx.stateDir), { bare: true });
    expect(retry.code, retry.stderr).toBe(0);
    await fx.expectSameAsCommit(b, undefined, dest);
    expect(await stagingLeftovers(dest, fx.stateDir)).toEqual([]);
  });

  it('the state dir (object store) on a full file system: exit 1 naming ENOSPC, DEST exactly A, objects/tmp empty', async (ctx) => {
    const mount = await tryMount('1m');
    if (mount === undefined) return ctx.skip();
    const stateDir = join(mount.dir, 'state');
    const a = await commitA();
    await fx.run(syncArgs(fx.dest, stateDir), { bare: true }).then((r) => expect(r.code, r.stderr).toBe(0));
    const b = await commitB();

    const failed = await fx.run(syncArgs(fx.dest, stateDir), { bare: true });
    expect(failed.code, failed.stderr).toBe(1);
    // The cause is named; the fix is not, and it is reported as an internal error (see the safety report).
    expect(failed.stderr).toMatch(/no space left/i);
    await fx.expectSameAsCommit(a);
    expect(await stagingLeftovers(fx.dest, stateDir)).toEqual([]);

    await sh('mount', ['-o', 'remount,size=16m', mount.dir]);
    const retry = await fx.run(syncArgs(fx.dest, stateDir), { bare: true });
    expect(retry.code, retry.stderr).toBe(0);
    await fx.expectSameAsCommit(b);
  });
});

describe('a read-only DEST', () => {
  it('read-only bind mount: exit 1 naming the read-only file system and the fix, DEST exactly A; read-write again, the next sync converges', async (ctx) => {
    const a = await commitA();
    await fx.sync();
    const b = await commitB(false);
    try {
      await sh('mount', ['--bind', fx.dest, fx.dest]);
    } catch {
      return ctx.skip();
    }
    cleanups.push(() => sh('umount', [fx.dest]));
    await sh('mount', ['-o', 'remount,bind,ro', fx.dest]);

    const failed = await fx.run(['sync']);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toMatch(/the file system is read-only: remount it read-write/);
    await fx.expectSameAsCommit(a);
    expect(await stagingLeftovers(fx.dest, fx.stateDir)).toEqual([]);

    await sh('umount', [fx.dest]);
    cleanups = [];
    await fx.sync();
    await fx.expectSameAsCommit(b);
  });
});
