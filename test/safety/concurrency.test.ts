/**
 * Two (or more) runs on the same DEST. The lock is an abstract Unix socket (`@hostsync-<key>` in
 * /proc/net/unix) that answers its holder's PID, so a test can see when a run holds it, or hold
 * it itself and release it at a moment of its choosing. Without a timeout a second run exits 4
 * naming the holder's PID; with `--lock-timeout 30` it waits and then succeeds; a SIGKILLed holder
 * leaves no stale lock; any number of real runs racing to different commits leave DEST exactly the
 * commit the manifest names, with a history whose generations chain one after the other.
 */
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { destKey } from '../../src/state/layout.js';
import { createFixture, type Fixture } from '../support/fixture.js';
import { exists, fingerprint, pollFor, runCliWith, spawnCli, stagingLeftovers, type SpawnedCli } from '../support/safety-helpers.js';

let fx: Fixture;
beforeEach(async () => {
  fx = await createFixture();
});
afterEach(async () => {
  await fx.close();
});


/** Resolves once some process holds the lock of `dest` (its abstract socket is listening). */
async function lockHeld(dest: string): Promise<boolean> {
  const name = `@hostsync-${destKey(dest)}`;
  const held = await pollFor(async () => ((await readFile('/proc/net/unix', 'utf8')).includes(name) ? true : undefined), { intervalMs: 5, timeoutMs: 20_000 });
  return held === true;
}

const args = (...extra: string[]): string[] => ['sync', '--repo', 'acme/hypervisor', '--dest', fx.dest, '--state-dir', fx.stateDir, ...extra];

async function commits(): Promise<{ b: string; c: string }> {
  await fx.repo.write('a.nix', 'a\n');
  await fx.repo.commit('A');
  await fx.sync(); // DEST exists (its real path keys the lock) and the repository is served
  for (let i = 0; i < 30; i++) await fx.repo.write(`mods/m${i}.nix`, `b ${i}\n`);
  const b = await fx.repo.commit('B');
  for (let i = 0; i < 30; i += 3) await fx.repo.write(`mods/m${i}.nix`, `c ${i}\n`);
  await fx.repo.remove('a.nix');
  const c = await fx.repo.commit('C');
  return { b, c };
}

/**
 * Hold DEST's lock the way a hostsync run does (a listening abstract socket that answers its
 * PID), from the test process, so the test decides exactly when it is released.
 */
async function holdLock(dest: string): Promise<{ release(): Promise<void> }> {
  const server = createServer((socket) => socket.end(`${process.pid}\n`));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path: `\0hostsync-${destKey(dest)}`, exclusive: true }, resolve);
  });
  return { release: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('two runs on one DEST', () => {
  it('a real run holding the lock: a second run exits 4 at once naming its PID; SIGKILL of the holder frees the lock, nothing is stale', async () => {
    const { b } = await commits();
    // The holder takes the lock, then stays in its first request (whatever the transport asks first).
    fx.server.faults = [{ match: () => true, action: { hang: true } }];
    const holder = spawnCli(args('--ref', b), { env: fx.env });
    expect(await lockHeld(fx.dest)).toBe(true);
    const second = await runCliWith(args('--ref', b), { env: fx.env });
    expect(second.code, second.stderr).toBe(4);
    expect(second.stderr).toContain(`PID ${holder.child.pid}`);
    expect(second.stderr).toMatch(/--lock-timeout/);
    holder.child.kill('SIGKILL');
    await holder.done;
    fx.server.faults = [];
    await fx.sync('--ref', b);
    await fx.expectSameAsCommit(b);
  });

  it('without --lock-timeout, sync and rollback exit 4 naming the holder PID, and change nothing', async () => {
    const { b } = await commits();
    const before = await fingerprint(fx.dest, { identity: true });
    const lock = await holdLock(fx.dest);
    try {
      const sync = await runCliWith(args('--ref', b), { env: fx.env });
      expect(sync.code, sync.stderr).toBe(4);
      expect(sync.stderr).toContain(`Another hostsync run (PID ${process.pid}) is updating ${fx.dest}`);
      const rollback = await runCliWith(['rollback', '--dest', fx.dest, '--state-dir', fx.stateDir], { env: fx.env });
      expect(rollback.code, rollback.stderr).toBe(4);
      expect(rollback.stderr).toContain(`PID ${process.pid}`);
    } finally {
      await lock.release();
    }
    expect(await fingerprint(fx.dest, { identity: true })).toEqual(before);
  });

  it('with --lock-timeout 30 the second run says it waits for the holder, then applies its commit once the lock is free', async () => {
    const { c } = await commits();
    const before = await fingerprint(fx.dest, { identity: true });
    const lock = await holdLock(fx.dest);
    let waiting: SpawnedCli | undefined;
    try {
      waiting = spawnCli(args('--ref', c, '--lock-timeout', '30', '--json'), { env: fx.env });
      const run = waiting;
      const said = await pollFor(async () => (run.stderrSoFar().includes(`Waiting up to 30 s for another hostsync run (PID ${process.pid})`) ? true : undefined), { intervalMs: 20, timeoutMs: 30_000 });
      expect(said, run.stderrSoFar()).toBe(true);
      expect(run.child.exitCode, 'still waiting').toBeNull();
      expect(await fingerprint(fx.dest, { identity: true }), 'nothing written while waiting').toEqual(before);
    } finally {
      await lock.release();
    }
    const result = await waiting.done;
    expect(result.code, result.stderr).toBe(0);
    await fx.expectSameAsCommit(c);
  });

  it('six runs racing between two commits: every one succeeds, DEST is exactly the commit the manifest names, generations chain', async () => {
    const { b, c } = await commits();
    fx.server.latencyMs = 20;
    const runs = [b, c, b, c, b, c].map((ref) => spawnCli(args('--ref', ref, '--lock-timeout', '60', '--json'), { env: fx.env }));
    const results = await Promise.all(runs.map((run) => run.done));
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    const [key] = await readdir(join(fx.stateDir, 'dests'));
    const root = join(fx.stateDir, 'dests', key ?? '');
    const manifest = JSON.parse(await readFile(join(root, 'manifest.json'), 'utf8')) as { commit: string };
    expect([b, c]).toContain(manifest.commit);
    await fx.expectSameAsCommit(manifest.commit);
    expect(await exists(join(root, 'journal.json'))).toBe(false);
    expect(await stagingLeftovers(fx.dest, fx.stateDir)).toEqual([]);
    const history = JSON.parse(await readFile(join(root, 'history.json'), 'utf8')) as { commit: string; previousCommit: string | null }[];
    for (let i = 1; i < history.length; i++) expect(history[i]?.previousCommit).toBe(history[i - 1]?.commit);
    expect(history.at(-1)?.commit).toBe(manifest.commit);
  });
});
