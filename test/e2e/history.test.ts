/**
 * History, offline rollback, the hold after a rollback, the downgrade guard, --require-signed,
 * and the per-destination lock — end to end with the real CLI.
 */
import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFixture, type Fixture } from '../support/fixture.js';
import { BIN, parseJson } from '../support/cli.js';

let fx: Fixture;
beforeEach(async () => {
  fx = await createFixture();
});
afterEach(async () => {
  await fx.close();
});

async function threeCommits(): Promise<string[]> {
  const shas: string[] = [];
  await fx.repo.write('conf/a.nix', 'a1\n');
  await fx.repo.write('bin/run.sh', '#!/bin/sh\n');
  await fx.repo.chmod('bin/run.sh', true);
  await fx.repo.symlink('link', 'conf/a.nix');
  shas.push(await fx.repo.commit('one'));
  await fx.sync();
  await fx.repo.write('conf/a.nix', 'a2\n');
  await fx.repo.write('conf/b.nix', 'b2\n');
  await fx.repo.chmod('bin/run.sh', false);
  shas.push(await fx.repo.commit('two'));
  await fx.sync();
  await fx.repo.remove('conf');
  await fx.repo.write('conf', 'now a file\n');
  await fx.repo.remove('link');
  await fx.repo.write('link/inside', 'dir now\n');
  shas.push(await fx.repo.commit('three'));
  await fx.sync();
  return shas;
}

describe('history and rollback', () => {
  it('lists generations and rolls back byte for byte with the server stopped', async () => {
    const [one, two, three] = await threeCommits();
    const history = parseJson(await fx.run(['history', '--json', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true }));
    const generations = history['generations'] as { commit: string; kind: string }[];
    expect(generations.map((g) => g.commit)).toEqual([one, two, three]);

    await fx.server.close(); // rollback never uses the network
    const back = await fx.run(['rollback', '--json', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
    expect(back.code, back.stderr).toBe(0);
    await fx.expectSameAsCommit(two!);
    const further = await fx.run(['rollback', '--to', one!.slice(0, 10), '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
    expect(further.code, further.stderr).toBe(0);
    await fx.expectSameAsCommit(one!);
    const text = await fx.run(['history', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
    expect(text.stdout).toMatch(/rollback/);
  });

  it('holds a rollback until the ref moves, then applies the new commit', async () => {
    const [, two, three] = await threeCommits();
    const back = await fx.run(['rollback', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
    expect(back.code, back.stderr).toBe(0);
    const poll = await fx.run(['sync', '--json']);
    expect(poll.code, poll.stderr).toBe(0);
    expect(poll.stderr).toMatch(/rolled back from/);
    await fx.expectSameAsCommit(two!);
    expect(three).toBeDefined();
    await fx.repo.write('new.nix', 'new\n');
    const four = await fx.repo.commit('four');
    await fx.sync();
    await fx.expectSameAsCommit(four);
  });

  it('refuses an unknown --to and a rollback with nothing before', async () => {
    await fx.repo.write('a', 'a\n');
    await fx.repo.commit('a');
    await fx.sync();
    const none = await fx.run(['rollback', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/No earlier generation/);
    const bad = await fx.run(['rollback', '--to', 'zz', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
    expect(bad.code).toBe(2);
  });
});

describe('trust', () => {
  it('refuses a force-pushed (non-descendant) commit unless --allow-downgrade', async () => {
    await fx.repo.write('a', '1\n');
    const first = await fx.repo.commit('1');
    await fx.repo.write('a', '2\n');
    const second = await fx.repo.commit('2');
    await fx.sync('--ref', 'main');
    await fx.repo.git('reset', '-q', '--hard', first);
    await fx.repo.write('a', 'rewritten\n');
    const rewritten = await fx.repo.commit('rewritten');
    const refused = await fx.run(['sync', '--ref', 'main']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--allow-downgrade/);
    await fx.expectSameAsCommit(second);
    await fx.sync('--ref', 'main', '--allow-downgrade');
    await fx.expectSameAsCommit(rewritten);
  });

  it('--require-signed refuses an unverified commit and takes a verified one', async () => {
    await fx.repo.write('a', '1\n');
    const commit = await fx.repo.commit('1');
    const refused = await fx.run(['sync', '--require-signed']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/not report it as verified \(reason: unsigned\)/);
    fx.server.verifiedCommits.add(commit);
    await fx.sync('--require-signed');
    await fx.expectSameAsCommit(commit);
  });
});

describe('lock', () => {
  it('a second run on the same DEST exits 4 naming the holder PID', async () => {
    await fx.repo.write('a', '1\n');
    await fx.repo.commit('1');
    fx.server.latencyMs = 1500; // keep the first run busy
    const args = [BIN, 'sync', '--repo', 'acme/hypervisor', '--dest', fx.dest, '--state-dir', fx.stateDir];
    await fx.run(['sync', '--check-only']); // serve the repo before racing
    // The first run takes the lock before it asks the server anything: once its first request has
    // arrived, it holds the lock (a fixed sleep lost the race on a loaded machine).
    const arrived = new Promise<void>((resolve) => (fx.server.onRequest = () => resolve()));
    const first = spawn(process.execPath, args, { env: { ...fx.env, PATH: process.env['PATH'] ?? '' }, stdio: 'ignore' });
    await arrived;
    fx.server.onRequest = undefined;
    const second = await fx.run(['sync']);
    expect(second.code).toBe(4);
    expect(second.stderr).toContain(`PID ${first.pid}`);
    const firstCode = await new Promise((resolve) => first.on('close', resolve));
    expect(firstCode).toBe(0);
  });
});
