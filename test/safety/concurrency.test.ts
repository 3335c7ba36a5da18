/**
 * Two (or more) runs on the same DEST. The lock is an abstract Unix socket (`@hostsync-<key>` in
 * /proc/net/unix), so a test can see exactly when the first run holds it. Without a timeout the
 * second run exits 4 naming the holder's PID; with `--lock-timeout 30` it waits and then succeeds;
 * any number of runs racing to different commits leave DEST exactly the commit the manifest names,
 * with a history whose generations chain one after the other.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { destKey } from '../../src/state/layout.js';
import { createFixture, type Fixture } from '../support/fixture.js';
import { exists, pollFor, runCliWith, spawnCli, stagingLeftovers, type SpawnedCli } from '../support/safety-helpers.js';

let fx: Fixture;
beforeEach(async () => {
  fx = await createFixture();
});
afterEach(async () => {
  await fx.close();
});

const isBlobRequest = (req: { path: string }): boolean => /\/git\/blobs\//.test(req.path);

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

/** Start a run that holds the lock for a while: its first blob download answers after `holdMs`. */
async function startHolder(ref: string, holdMs: number): Promise<SpawnedCli> {
  fx.server.faults = [{ match: isBlobRequest, times: 1, action: { delayMs: holdMs } }];
  const holder = spawnCli(args('--ref', ref, '--json'), { env: fx.env });
  expect(await lockHeld(fx.dest)).toBe(true);
  return holder;
}

describe('two runs on one DEST', () => {
  it('without --lock-timeout the second exits 4 at once, naming the holder PID; DEST ends as the holder left it', async () => {
    const { b } = await commits();
    const holder = await startHolder(b, 3000);
    const second = await runCliWith(args('--ref', b), { env: fx.env });
    expect(second.code).toBe(4);
    expect(second.stderr).toContain(`PID ${holder.child.pid}`);
    expect(second.stderr).toMatch(/--lock-timeout/);
    const rollback = await runCliWith(['rollback', '--dest', fx.dest, '--state-dir', fx.stateDir], { env: fx.env });
    expect(rollback.code, 'a rollback takes the same lock').toBe(4);
    expect((await holder.done).code).toBe(0);
    await fx.expectSameAsCommit(b);
  });

  it('with --lock-timeout 30 the second waits for the first, then applies its own commit; the history shows both, in order', async () => {
    const { b, c } = await commits();
    const holder = await startHolder(b, 2000);
    const second = spawnCli(args('--ref', c, '--lock-timeout', '30', '--json'), { env: fx.env });
    const [first, waited] = await Promise.all([holder.done, second.done]);
    expect(first.code, first.stderr).toBe(0);
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.stderr).toContain(`Waiting up to 30 s for another hostsync run (PID ${holder.child.pid})`);
    await fx.expectSameAsCommit(c);
    const history = JSON.parse((await runCliWith(['history', '--json', '--dest', fx.dest, '--state-dir', fx.stateDir], { env: fx.env })).stdout) as { generations: { commit: string; previousCommit: string | null }[] };
    expect(history.generations.map((g) => g.commit).slice(-2)).toEqual([b, c]);
    expect(history.generations.at(-1)?.previousCommit).toBe(b);
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
