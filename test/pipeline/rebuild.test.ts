/** Rebuild and hooks with a fake exec edge: the decision, the environment, streaming, timeouts, rollback. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RebuildConfig } from '../../src/config/types.js';
import type { Exec, ExecOptions, ExecResult } from '../../src/pipeline/exec.js';
import { commandEnv, runHook, type CommandContext } from '../../src/pipeline/hooks.js';
import { decideRebuild, readRebuildRecord, rebuildFailure, runRebuild, type RebuildDecisionInput } from '../../src/pipeline/rebuild.js';
import type { LogLevel } from '../../src/pipeline/sync.js';
import { destPaths, type DestPaths } from '../../src/state/layout.js';

const NEW = 'b'.repeat(40);
const OLD = 'a'.repeat(40);

describe('decideRebuild', () => {
  const base: RebuildDecisionInput = { when: 'changed', changed: 0, commit: NEW, lastRebuilt: NEW, skip: false };
  const cases: [string, Partial<RebuildDecisionInput>, boolean, RegExp][] = [
    ['changed, files changed', { changed: 2 }, true, /2 path\(s\) changed/],
    ['changed, nothing changed, last rebuild is of this commit', {}, false, /nothing changed since the last successful rebuild/],
    ['changed, nothing changed, never rebuilt', { lastRebuilt: undefined }, true, /no successful rebuild recorded/],
    ['changed, nothing changed, last rebuild failed on this commit', { lastRebuilt: OLD }, true, /last successful rebuild was of aaaaaaaaaaaa/],
    ['always', { when: 'always' }, true, /always/],
    ['never, even with changes', { when: 'never', changed: 5 }, false, /never/],
    ['--no-rebuild wins', { when: 'always', skip: true }, false, /^--no-rebuild/],
  ];
  it.each(cases)('%s', (_name, input, run, reason) => {
    const decision = decideRebuild({ ...base, ...input });
    expect(decision.run).toBe(run);
    expect(decision.reason).toMatch(reason);
  });
});

describe('commandEnv', () => {
  it("adds the HOSTSYNC_* variables and drops hostsync's own settings", () => {
    const env = commandEnv({ PATH: '/bin', HOSTSYNC_REPO: 'x/y', UNSET: undefined }, { commit: NEW, previousCommit: undefined, dest: '/etc/hv', changedFiles: [] }, '/s/changed');
    expect(env).toEqual({ PATH: '/bin', HOSTSYNC_COMMIT: NEW, HOSTSYNC_PREVIOUS_COMMIT: '', HOSTSYNC_DEST: '/etc/hv', HOSTSYNC_CHANGED_FILES: '/s/changed' });
  });
});

/** A fake exec: records calls, replays lines, returns a scripted result. */
function fakeExec(result: Partial<ExecResult>, lines: string[] = []): Exec & { calls: { command: string; options: ExecOptions }[] } {
  const calls: { command: string; options: ExecOptions }[] = [];
  const exec = async (command: string, options: ExecOptions): Promise<ExecResult> => {
    calls.push({ command, options });
    for (const line of lines) options.onLine?.(line, 'stdout');
    return { code: 0, signal: null, timedOut: false, lastLines: lines.slice(-20), ...result };
  };
  return Object.assign(exec, { calls });
}

let dir: string;
let paths: DestPaths;
let logged: [LogLevel, string][];
const log = (level: LogLevel, message: string): void => {
  logged.push([level, message]);
};
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hostsync-rebuild-'));
  paths = destPaths(join(dir, 'state'), join(dir, 'dest'));
  logged = [];
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const rebuild: RebuildConfig = { command: 'nixos-rebuild switch', when: 'changed', timeoutSec: 30, rollbackOnFailure: false };
const context = (): CommandContext => ({ commit: NEW, previousCommit: OLD, dest: join(dir, 'dest'), changedFiles: ['a.nix', 'hosts/b.nix'] });

describe('runRebuild', () => {
  it('runs the command with the environment and the changed-files list, streams prefixed lines, records success', async () => {
    const exec = fakeExec({ code: 0 }, ['building...', 'activating']);
    const outcome = await runRebuild(rebuild, context(), { exec, env: { PATH: '/bin' }, log, paths, rollback: async () => 'unused' });
    expect(outcome.ok).toBe(true);
    const call = exec.calls[0]!;
    expect(call.command).toBe('nixos-rebuild switch');
    expect(call.options.timeoutMs).toBe(30_000);
    expect(call.options.env).toMatchObject({ PATH: '/bin', HOSTSYNC_COMMIT: NEW, HOSTSYNC_PREVIOUS_COMMIT: OLD, HOSTSYNC_DEST: join(dir, 'dest') });
    expect(await readFile(call.options.env['HOSTSYNC_CHANGED_FILES']!, 'utf8')).toBe('a.nix\nhosts/b.nix\n');
    expect(logged).toContainEqual(['info', 'rebuild │ building...']);
    expect(logged).toContainEqual(['info', 'rebuild │ activating']);
    expect((await readRebuildRecord(paths))?.commit).toBe(NEW);
  });

  it('a failure without rollbackOnFailure: no rollback, no record, the error shows the last lines', async () => {
    let rolledBack = false;
    const exec = fakeExec({ code: 1 }, ['error: attribute missing']);
    const outcome = await runRebuild(rebuild, context(), { exec, env: {}, log, paths, rollback: async () => ((rolledBack = true), '') });
    expect(outcome.ok).toBe(false);
    expect(outcome.rollback).toBeUndefined();
    expect(rolledBack).toBe(false);
    expect(await readRebuildRecord(paths)).toBeUndefined();
    const error = rebuildFailure(outcome, rebuild, context());
    expect(error.exitCode).toBe(1);
    expect(error.message).toMatch(/^rebuild command 'nixos-rebuild switch' exited with 1\. DEST stays at bbbbbbbbbbbb/);
    expect(error.message).toContain('error: attribute missing');
  });

  it('a timeout is reported as such', async () => {
    const exec = fakeExec({ code: null, signal: 'SIGTERM', timedOut: true }, ['still building']);
    const outcome = await runRebuild(rebuild, context(), { exec, env: {}, log, paths, rollback: async () => '' });
    expect(outcome).toMatchObject({ ok: false, timedOut: true });
    expect(rebuildFailure(outcome, rebuild, context()).message).toMatch(/timed out after 30 s and was killed/);
  });

  it('with rollbackOnFailure: rolls back to the previous commit and says so', async () => {
    const targets: string[] = [];
    const exec = fakeExec({ code: 2 });
    const outcome = await runRebuild({ ...rebuild, rollbackOnFailure: true }, context(), {
      exec,
      env: {},
      log,
      paths,
      rollback: async (commit) => (targets.push(commit), 'restored 3 paths'),
    });
    expect(targets).toEqual([OLD]);
    expect(outcome.rollback).toEqual({ ok: true, commit: OLD, message: 'restored 3 paths' });
    expect(rebuildFailure(outcome, { ...rebuild, rollbackOnFailure: true }, context()).message).toMatch(/DEST was rolled back to aaaaaaaaaaaa \(restored 3 paths\)/);
  });

  it('with rollbackOnFailure but no previous commit: says there is nothing to roll back to', async () => {
    const outcome = await runRebuild({ ...rebuild, rollbackOnFailure: true }, { ...context(), previousCommit: undefined }, { exec: fakeExec({ code: 1 }), env: {}, log, paths, rollback: async () => 'x' });
    expect(outcome.rollback).toMatchObject({ ok: false, message: expect.stringMatching(/first install/) });
  });

  it('a rollback that fails is reported, not thrown', async () => {
    const outcome = await runRebuild({ ...rebuild, rollbackOnFailure: true }, context(), {
      exec: fakeExec({ code: 1 }),
      env: {},
      log,
      paths,
      rollback: async () => Promise.reject(new Error('store lacks 2 files')),
    });
    expect(outcome.rollback).toEqual({ ok: false, message: 'rolling back to aaaaaaaaaaaa failed: store lacks 2 files' });
    expect(rebuildFailure(outcome, rebuild, context()).message).toContain('DEST stays at bbbbbbbbbbbb: rolling back');
  });
});

describe('runHook', () => {
  it('runs with the same environment and a prefixed stream', async () => {
    const exec = fakeExec({ code: 0 }, ['stopping vm']);
    const outcome = await runHook('preSync', 'systemctl stop vm', context(), paths, { exec, env: { PATH: '/bin' }, log });
    expect(outcome).toMatchObject({ ok: true, name: 'preSync', command: 'systemctl stop vm' });
    expect(exec.calls[0]?.options.env['HOSTSYNC_COMMIT']).toBe(NEW);
    expect(logged).toContainEqual(['info', 'preSync │ stopping vm']);
  });
  it('a failing hook is a failed outcome', async () => {
    const outcome = await runHook('postSync', 'false', context(), paths, { exec: fakeExec({ code: 1 }), env: {}, log });
    expect(outcome.ok).toBe(false);
  });
});
