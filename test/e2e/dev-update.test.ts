/**
 * End to end: `hostsync dev-update` from a config file — the real CLI, real /bin/sh rebuild and
 * hook commands (logging OUTSIDE DEST), the GitHub-compatible server, DEST compared with git archive.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseJson, type CliResult } from '../support/cli.js';
import { createFixture, type Fixture } from '../support/fixture.js';

interface StepJson {
  name: string;
  status: string;
  summary: string;
  changed: string[];
  command?: { rollback?: { ok: boolean; commit?: string } };
}
interface DevUpdateJson {
  ok: boolean;
  exitCode: number;
  commit: string | null;
  previousCommit: string | null;
  error: { message: string; exitCode: number } | null;
  steps: StepJson[];
}

let fx: Fixture;
let rebuildLog: string;
beforeEach(async () => {
  fx = await createFixture();
  rebuildLog = join(fx.tmp, 'rebuild.log');
});
afterEach(async () => {
  await fx.close();
});

/** The rebuild writes one line per run outside DEST: commit, previous commit, changed files. */
const LOGGING_REBUILD = 'echo "rebuilt $HOSTSYNC_COMMIT prev=$HOSTSYNC_PREVIOUS_COMMIT changed=$(tr "\\n" , < "$HOSTSYNC_CHANGED_FILES")" >> "$HOSTSYNC_DEST/../rebuild.log"';

async function writeConfig(fixture: Fixture, extra: Record<string, unknown> = {}): Promise<string> {
  const file = join(fixture.tmp, 'config.json');
  await writeFile(
    file,
    JSON.stringify({
      repo: 'acme/hypervisor',
      ref: 'main',
      dest: fixture.dest,
      stateDir: fixture.stateDir,
      rebuild: { command: LOGGING_REBUILD, when: 'changed', timeoutSec: 60 },
      ...extra,
    }),
  );
  return file;
}

async function devUpdate(fixture: Fixture, config: string, ...args: string[]): Promise<{ result: CliResult; json: DevUpdateJson }> {
  const result = await fixture.run(['dev-update', '--json', '--config', config, ...args], { bare: true });
  return { result, json: parseJson(result) as unknown as DevUpdateJson };
}

const step = (json: DevUpdateJson, name: string): StepJson => {
  const found = json.steps.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no step ${name}`);
  return found;
};

async function logLines(): Promise<string[]> {
  return (await readFile(rebuildLog, 'utf8').catch(() => '')).split('\n').filter((line) => line !== '');
}

describe('hostsync dev-update', () => {
  it('from a config file: syncs and rebuilds once, rebuilds again only when files changed', async () => {
    await fx.repo.write('flake.nix', '{ v1 }\n');
    await fx.repo.write('hosts/a.nix', 'a\n');
    const first = await fx.repo.commit('v1');
    const metrics = join(fx.tmp, 'hostsync.prom');
    const config = await writeConfig(fx, { metricsFile: metrics });

    const one = await devUpdate(fx, config);
    expect(one.result.code).toBe(0);
    expect(one.json.steps.map((s) => [s.name, s.status])).toEqual([
      ['pre-validate', 'ok'],
      ['pre-sync', 'skipped'],
      ['sync', 'ok'],
      ['post-sync', 'skipped'],
      ['rebuild', 'ok'],
      ['post-validate', 'ok'],
    ]);
    expect(step(one.json, 'sync').changed).toEqual(['flake.nix', 'hosts/a.nix']);
    await fx.expectSameAsCommit(first);
    expect(await logLines()).toEqual([`rebuilt ${first} prev= changed=flake.nix,hosts/a.nix,`]);
    const prom = await readFile(metrics, 'utf8');
    expect(prom).toContain(`commit="${first}"`);
    expect(prom).toMatch(/^hostsync_last_run_exit_code\S* 0$/m);

    const two = await devUpdate(fx, config);
    expect(two.result.code).toBe(0);
    expect(step(two.json, 'rebuild')).toMatchObject({ status: 'skipped', summary: 'nothing changed since the last successful rebuild' });
    expect(await logLines()).toHaveLength(1);

    await fx.repo.write('flake.nix', '{ v2 }\n');
    const second = await fx.repo.commit('v2');
    const three = await devUpdate(fx, config);
    expect(three.result.code).toBe(0);
    expect(step(three.json, 'rebuild').status).toBe('ok');
    expect((await logLines())[1]).toBe(`rebuilt ${second} prev=${first} changed=flake.nix,`);
    await fx.expectSameAsCommit(second);

    const human = await fx.run(['dev-update', '--config', config], { bare: true });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/ok\s+pre-validate/);
    expect(human.stdout).toMatch(/skipped\s+rebuild\s+nothing changed/);
  });

  it('a failing rebuild with rollbackOnFailure leaves DEST exactly at the previous commit, and the next run keeps it there', async () => {
    await fx.repo.write('flake.nix', '{ good }\n');
    await fx.repo.write('scripts/run.sh', '#!/bin/sh\n');
    await fx.repo.chmod('scripts/run.sh', true);
    const good = await fx.repo.commit('good');
    const rebuild = 'if [ -e "$HOSTSYNC_DEST/BROKEN" ]; then echo "error: evaluation failed" >&2; exit 1; fi; echo ok >> "$HOSTSYNC_DEST/../rebuild.log"';
    const config = await writeConfig(fx, { rebuild: { command: rebuild, rollbackOnFailure: true } });
    expect((await devUpdate(fx, config)).result.code).toBe(0);

    await fx.repo.write('BROKEN', 'x\n');
    await fx.repo.write('flake.nix', '{ bad }\n');
    await fx.repo.chmod('scripts/run.sh', false);
    await fx.repo.remove('scripts/run.sh');
    await fx.repo.write('new/file.nix', 'new\n');
    await fx.repo.commit('bad');
    const failed = await devUpdate(fx, config);
    expect(failed.result.code).toBe(1);
    expect(step(failed.json, 'rebuild').status).toBe('failed');
    expect(step(failed.json, 'rebuild').summary).toContain('error: evaluation failed');
    expect(step(failed.json, 'rebuild').summary).toContain(`rolled back to ${good.slice(0, 12)}`);
    expect(step(failed.json, 'post-validate').status).toBe('skipped');
    expect(failed.result.stderr).toMatch(/rebuild │ error: evaluation failed/);
    await fx.expectSameAsCommit(good);

    const again = await devUpdate(fx, config);
    expect(again.result.code).toBe(0);
    expect(again.json.commit).toBe(good);
    await fx.expectSameAsCommit(good);
  });

  it('--ref applies that branch; --check-only changes nothing, runs no rebuild and exits 3', async () => {
    await fx.repo.write('flake.nix', '{ main }\n');
    const main = await fx.repo.commit('main');
    await fx.repo.branch('feature');
    await fx.repo.checkout('feature');
    await fx.repo.write('flake.nix', '{ feature }\n');
    await fx.repo.write('bridge.nix', 'br0\n');
    const feature = await fx.repo.commit('feature');
    await fx.repo.checkout('main');
    const config = await writeConfig(fx);
    expect((await devUpdate(fx, config)).result.code).toBe(0);
    await fx.expectSameAsCommit(main);
    const rebuilds = (await logLines()).length;

    const check = await devUpdate(fx, config, '--ref', 'feature', '--check-only');
    expect(check.result.code).toBe(3);
    expect(step(check.json, 'sync')).toMatchObject({ status: 'pending', changed: ['bridge.nix', 'flake.nix'] });
    expect(step(check.json, 'rebuild').status).toBe('would-run');
    expect(await logLines()).toHaveLength(rebuilds);
    await fx.expectSameAsCommit(main);

    const applied = await devUpdate(fx, config, '--ref', 'feature');
    expect(applied.result.code).toBe(0);
    expect(applied.json.commit).toBe(feature);
    await fx.expectSameAsCommit(feature);
    expect(await logLines()).toHaveLength(rebuilds + 1);

    const inSync = await devUpdate(fx, config, '--ref', 'feature', '--check-only');
    expect(inSync.result.code).toBe(0);
  });

  it('a failing pre-validate stops before sync; --fix repairs and the update goes on', async () => {
    await fx.repo.write('flake.nix', '{ v1 }\n');
    await fx.repo.commit('v1');
    const config = await writeConfig(fx);
    await devUpdate(fx, config);
    await writeFile(join(fx.dest, 'flake.nix'), 'edited by hand\n');
    await fx.repo.write('flake.nix', '{ v2 }\n');
    const second = await fx.repo.commit('v2');

    const stopped = await devUpdate(fx, config);
    expect(stopped.result.code).toBe(1);
    expect(step(stopped.json, 'pre-validate').status).toBe('failed');
    expect(step(stopped.json, 'sync')).toMatchObject({ status: 'skipped', summary: 'not run: an earlier step failed' });
    expect(stopped.json.error?.message).toMatch(/Pre-validate failed .*integrity/);
    expect(await readFile(join(fx.dest, 'flake.nix'), 'utf8')).toBe('edited by hand\n');

    const fixed = await devUpdate(fx, config, '--fix');
    expect(fixed.result.code).toBe(0);
    expect(step(fixed.json, 'pre-validate').changed).toEqual(['flake.nix']);
    await fx.expectSameAsCommit(second);
  });

  it('hooks: preSync runs before changes with the environment, a failing one stops the update; --no-rebuild', async () => {
    await fx.repo.write('a.txt', 'a\n');
    const first = await fx.repo.commit('a');
    const hooksLog = join(fx.tmp, 'hooks.log');
    const config = await writeConfig(fx, {
      hooks: {
        preSync: `echo "pre $HOSTSYNC_COMMIT $(cat "$HOSTSYNC_CHANGED_FILES")" >> ${hooksLog}`,
        postSync: `echo "post $HOSTSYNC_COMMIT $(test -f "$HOSTSYNC_DEST/a.txt" && echo present)" >> ${hooksLog}`,
      },
    });
    const ran = await devUpdate(fx, config, '--no-rebuild');
    expect(ran.result.code).toBe(0);
    expect(step(ran.json, 'rebuild')).toMatchObject({ status: 'skipped', summary: '--no-rebuild: the next run without it rebuilds' });
    expect((await readFile(hooksLog, 'utf8')).split('\n')).toEqual([`pre ${first} a.txt`, `post ${first} present`, '']);

    await fx.repo.write('b.txt', 'b\n');
    await fx.repo.commit('b');
    const failing = await writeConfig(fx, { hooks: { preSync: 'echo "maintenance window closed" >&2; exit 7' } });
    const stopped = await devUpdate(fx, failing);
    expect(stopped.result.code).toBe(1);
    expect(step(stopped.json, 'pre-sync').summary).toMatch(/preSync command .* exited with 7\. The update was stopped before sync; DEST is unchanged\./);
    expect(step(stopped.json, 'sync').status).toBe('skipped');
    await fx.expectSameAsCommit(first);
  });

  it('reads /etc/hostsync/config.json by default: without it and without flags, says what is missing (exit 2)', async () => {
    const result = await fx.run(['dev-update'], { bare: true });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/repo/i);
  });
});

describe('dev-update costs one sync', () => {
  it('makes the requests a sync of the same update makes, pre-sync hook and all (no probe first)', async () => {
    const config = await writeConfig(fx, { hooks: { preSync: 'true', postSync: 'true' } });
    await fx.repo.write('flake.nix', '{ v1 }\n');
    await fx.repo.commit('v1');
    expect((await devUpdate(fx, config)).json.ok).toBe(true);

    // The same kind of update twice: once by dev-update, once by sync.
    const requestsOf = async (run: () => Promise<unknown>): Promise<string[]> => {
      fx.server.resetLog();
      await run();
      return fx.server.requests.map((r) => `${r.kind} ${r.method} ${r.path.replace(/[0-9a-f]{40}/g, 'SHA').replace(/\?.*$/, '')}`);
    };
    await fx.repo.write('flake.nix', '{ v2 }\n');
    await fx.repo.commit('v2');
    const byDevUpdate = await requestsOf(async () => expect((await devUpdate(fx, config)).json.ok).toBe(true));
    await fx.repo.write('flake.nix', '{ v3 }\n');
    await fx.repo.commit('v3');
    const bySync = await requestsOf(async () => expect((await fx.run(['sync', '--config', config], { bare: true })).code).toBe(0));
    expect(byDevUpdate.length).toBeGreaterThan(1);
    expect(byDevUpdate).toEqual(bySync);
    expect(byDevUpdate.filter((r) => r.includes('/commits/'))).toHaveLength(1);
  });
});
