/**
 * `hooks.onOutcome`, end to end in-process against the test server: the configured command gets
 * the run's JSON document on stdin and HOSTSYNC_OUTCOME for a success, a failure, pending changes
 * and a rollback; it never sees the token; and its own failure is a warning that leaves the run's
 * exit code as it was.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { outcomeEnv, outcomeOf } from '../../src/pipeline/outcome.js';
import { createFixture, TOKEN, type Fixture } from '../support/fixture.js';

let fx: Fixture;
let hook: string;
beforeEach(async () => {
  fx = await createFixture();
  await fx.repo.write('flake.nix', '{ v1 }\n');
  await fx.repo.commit('v1');
  // Records what it was given: the document on stdin and its environment, one file each per outcome.
  hook = `cat > ${fx.tmp}/outcome-$HOSTSYNC_OUTCOME.json; env > ${fx.tmp}/env-$HOSTSYNC_OUTCOME.txt`;
});
afterEach(async () => {
  await fx.close();
});

const received = async (outcome: string): Promise<{ document: Record<string, unknown>; env: string }> => ({
  document: JSON.parse(await readFile(join(fx.tmp, `outcome-${outcome}.json`), 'utf8')) as Record<string, unknown>,
  env: await readFile(join(fx.tmp, `env-${outcome}.txt`), 'utf8'),
});

describe('hooks.onOutcome', () => {
  it('gets the JSON result of a success on stdin, with the outcome in its environment and no token', async () => {
    const result = await fx.run(['sync', '--on-outcome', hook]);
    expect(result.code, result.stderr).toBe(0);
    const { document, env } = await received('success');
    expect(document).toMatchObject({ format: 1, command: 'sync', ok: true, exitCode: 0, changes: { added: ['flake.nix'] } });
    expect(env).toMatch(/^HOSTSYNC_OUTCOME=success$/m);
    expect(env).toMatch(/^HOSTSYNC_COMMAND=sync$/m);
    expect(env).toMatch(/^HOSTSYNC_EXIT_CODE=0$/m);
    expect(env).toContain(`HOSTSYNC_DEST=${fx.dest}`);
    expect(env).not.toContain(TOKEN);
    expect(env).not.toMatch(/^GITHUB_TOKEN=/m);
  });

  it('is told of a failure with the failure document, and of pending changes', async () => {
    const failed = await fx.run(['sync', '--on-outcome', hook, '--repo', 'acme/missing', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
    expect(failed.code).toBe(1);
    const { document } = await received('failure');
    expect(document).toMatchObject({ format: 1, command: 'sync', ok: false, error: { exitCode: 1 } });
    expect(String((document['error'] as { message: string }).message)).toMatch(/not found/);
    const pending = await fx.run(['sync', '--check-only', '--on-outcome', hook]);
    expect(pending.code).toBe(3);
    expect((await received('pending')).document).toMatchObject({ command: 'sync', checkOnly: true, pending: true, exitCode: 3 });
  });

  it('is told of a rollback, by the rollback command and from the config file', async () => {
    expect((await fx.run(['sync'])).code).toBe(0);
    await fx.repo.write('flake.nix', '{ v2 }\n');
    await fx.repo.commit('v2');
    expect((await fx.run(['sync'])).code).toBe(0);
    const config = join(fx.tmp, 'config.json');
    await writeFile(config, JSON.stringify({ dest: fx.dest, stateDir: fx.stateDir, hooks: { onOutcome: hook } }));
    const back = await fx.run(['rollback', '--config', config], { bare: true });
    expect(back.code, back.stderr).toBe(0);
    const { document, env } = await received('rollback');
    expect(document).toMatchObject({ command: 'rollback', ok: true, direction: 'back' });
    expect(env).toMatch(/^HOSTSYNC_COMMAND=rollback$/m);
  });

  it('a failing hook is a warning; the run keeps its exit code', async () => {
    const result = await fx.run(['sync', '--on-outcome', 'echo "webhook down" >&2; exit 7']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^warn: hooks\.onOutcome command 'echo "webhook down" >&2; exit 7' exited with 7; the run's own result \(exit 0\) stands\. Last lines of its output:$/m);
    expect(result.stderr).toMatch(/^warn: {3}webhook down$/m);
    expect(existsSync(join(fx.tmp, 'outcome-success.json'))).toBe(false);
  });
});

describe('pure parts', () => {
  it.each([
    [0, false, 'success'],
    [3, false, 'pending'],
    [1, false, 'failure'],
    [4, false, 'failure'],
    [0, true, 'rollback'],
    [1, true, 'rollback'],
  ] as const)('outcomeOf(%d, rolled back %s) = %s', (code, rolledBack, outcome) => {
    expect(outcomeOf(code, rolledBack)).toBe(outcome);
  });

  it('the environment is the child environment: tokens and hostsync settings left out', () => {
    const env = outcomeEnv({ PATH: '/bin', GITHUB_TOKEN: 'x', GH_TOKEN: 'y', HOSTSYNC_TOKEN_FILE: '/t' }, { command: 'sync', outcome: 'success', exitCode: 0, dest: '/d', document: '{}' });
    expect(env).toEqual({ PATH: '/bin', HOSTSYNC_OUTCOME: 'success', HOSTSYNC_COMMAND: 'sync', HOSTSYNC_EXIT_CODE: '0', HOSTSYNC_DEST: '/d' });
  });
});
