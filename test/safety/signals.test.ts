/**
 * Signals, with the real process as the subject: SIGINT/SIGTERM stop child process groups
 * (rebuild, git), finish or undo the apply step, release the lock and exit 130/143; a rebuild
 * left alive by a SIGKILLed run is never doubled; what a killed run leaves in the state dir is
 * swept by the next one.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFixture, type Fixture } from '../support/fixture.js';
import { exists, pollFor, spawnCli } from '../support/safety-helpers.js';
import { pseudoRandomBytes } from '../support/sample-content.js';

let fx: Fixture;
let cleanups: (() => Promise<unknown> | unknown)[] = [];
beforeEach(async () => {
  fx = await createFixture();
  cleanups = [];
});
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
  await fx.close();
});

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A config whose rebuild records its PID, then sleeps. */
async function rebuildConfig(): Promise<{ config: string; pidFile: string; doneFile: string }> {
  const pidFile = join(fx.tmp, 'rebuild.pid');
  const doneFile = join(fx.tmp, 'rebuild.done');
  const config = join(fx.tmp, 'config.json');
  await writeFile(config, JSON.stringify({ repo: 'acme/hypervisor', dest: fx.dest, stateDir: fx.stateDir, rebuild: { command: `echo $$ > ${pidFile}; sleep 20; touch ${doneFile}`, when: 'always' } }));
  return { config, pidFile, doneFile };
}

async function installed(): Promise<void> {
  await fx.repo.write('flake.nix', '{ }\n');
  await fx.repo.commit('A');
  await fx.run(['sync']); // serves the repository
}

describe('SIGINT and SIGTERM', () => {
  it('Ctrl-C during the rebuild stops its whole process group, releases the lock and exits 130', async () => {
    await installed();
    const { config, pidFile, doneFile } = await rebuildConfig();
    const run = spawnCli(['dev-update', '--config', config], { env: fx.env, cwd: fx.tmp });
    cleanups.push(() => run.child.kill('SIGKILL'));
    const pid = await pollFor(async () => (await exists(pidFile)) ? Number((await readFile(pidFile, 'utf8')).trim()) || undefined : undefined, { intervalMs: 50, timeoutMs: 20_000 });
    expect(pid).toBeDefined();
    run.child.kill('SIGINT');
    const done = await run.done;
    expect(done.code).toBe(130);
    expect(done.stderr).toMatch(/Stopped by SIGINT/);
    await sleep(300);
    expect(alive(pid!)).toBe(false);
    expect(await exists(doneFile)).toBe(false);
    // The lock is free and no rebuild is recorded as running: the next run works at once.
    const again = await fx.run(['dev-update', '--config', config, '--no-rebuild'], { bare: true });
    expect(again.code, again.stderr).toBe(0);
  }, 60_000);

  it('SIGTERM during a download ends the run with 143, DEST as before, nothing left in objects/tmp', async () => {
    await installed();
    const first = await fx.repo.head();
    await fx.repo.write('big.bin', pseudoRandomBytes(256 * 1024, 4));
    await fx.repo.commit('B');
    fx.server.faults = [{ match: (r) => /\/git\/blobs\//.test(r.path), action: { trickle: { bytes: 4096, everyMs: 100 } } }];
    const run = spawnCli(['sync', '--transport', 'rest', '--repo', 'acme/hypervisor', '--dest', fx.dest, '--state-dir', fx.stateDir], { env: fx.env, cwd: fx.tmp });
    cleanups.push(() => run.child.kill('SIGKILL'));
    const tmp = join(fx.stateDir, 'objects', 'tmp');
    expect(await pollFor(async () => ((await readdir(tmp).catch(() => [])).length > 0 ? true : undefined), { intervalMs: 50, timeoutMs: 20_000 })).toBe(true);
    run.child.kill('SIGTERM');
    const done = await run.done;
    expect(done.code).toBe(143);
    expect(await readdir(tmp)).toEqual([]);
    await fx.expectSameAsCommit(first);
  }, 60_000);
});

describe('SIGKILL', () => {
  it('a rebuild that outlived a killed run is not started twice; once it is gone the next run rebuilds', async () => {
    await installed();
    const { config, pidFile } = await rebuildConfig();
    const run = spawnCli(['dev-update', '--config', config], { env: fx.env, cwd: fx.tmp });
    const pid = await pollFor(async () => (await exists(pidFile)) ? Number((await readFile(pidFile, 'utf8')).trim()) || undefined : undefined, { intervalMs: 50, timeoutMs: 20_000 });
    expect(pid).toBeDefined();
    cleanups.push(() => process.kill(-pid!, 'SIGKILL'));
    run.child.kill('SIGKILL');
    await run.done;
    expect(alive(pid!)).toBe(true); // detached: it lives on, as under `systemctl kill -s KILL` of hostsync alone
    const second = await fx.run(['dev-update', '--config', config], { bare: true });
    expect(second.code).toBe(4);
    expect(second.stderr).toMatch(new RegExp(`A rebuild an earlier hostsync run started \\(process group ${pid}.*kill -- -${pid}`));
    process.kill(-pid!, 'SIGKILL');
    await sleep(200);
    await writeFile(config, JSON.stringify({ ...JSON.parse(await readFile(config, 'utf8')), rebuild: { command: 'true', when: 'always' } }));
    const third = await fx.run(['dev-update', '--config', config], { bare: true });
    expect(third.code, third.stderr).toBe(0);
  }, 60_000);

  it('a partial object of a run killed mid-download is swept by the next run', async () => {
    await installed();
    await fx.repo.write('big.bin', pseudoRandomBytes(256 * 1024, 5));
    const second = await fx.repo.commit('B');
    fx.server.faults = [{ match: (r) => /\/git\/blobs\//.test(r.path), action: { trickle: { bytes: 4096, everyMs: 100 } } }];
    const run = spawnCli(['sync', '--transport', 'rest', '--repo', 'acme/hypervisor', '--dest', fx.dest, '--state-dir', fx.stateDir], { env: fx.env, cwd: fx.tmp });
    const tmp = join(fx.stateDir, 'objects', 'tmp');
    expect(await pollFor(async () => ((await readdir(tmp).catch(() => [])).length > 0 ? true : undefined), { intervalMs: 50, timeoutMs: 20_000 })).toBe(true);
    run.child.kill('SIGKILL');
    await run.done;
    expect((await readdir(tmp)).length).toBeGreaterThan(0);
    fx.server.faults = [];
    const next = await fx.run(['sync']);
    expect(next.code, next.stderr).toBe(0);
    expect(await readdir(tmp)).toEqual([]);
    await fx.expectSameAsCommit(second);
  }, 60_000);
});
