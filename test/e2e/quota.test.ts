/**
 * The API quota fully spent (remaining 0, reset an hour away): the run takes the git-only path —
 * ref by `git ls-remote`, tree by `git ls-tree`, content from the same shallow fetch — and ends
 * byte-identical to `git archive`, with no API request answered 2xx and no blob over the API.
 * Without git it fails naming the reset time, DEST untouched.
 */
import { mkdtemp, readdir, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseJson } from '../support/cli.js';
import { blobRequests, createFixture, type Fixture } from '../support/fixture.js';

let fx: Fixture;
beforeEach(async () => {
  fx = await createFixture({ transport: 'rest' });
});
afterEach(async () => {
  await fx.close();
});

/** A tree with nested folders, an executable, a symlink, an empty file and a binary. */
async function varied(): Promise<string> {
  for (let i = 0; i < 25; i++) await fx.repo.write(`hosts/web/m${i}.nix`, `{ n = ${i}; }\n`);
  await fx.repo.write('hosts/db/configuration.nix', '{ db = true; }\n');
  await fx.repo.write('scripts/deploy.sh', '#!/bin/sh\necho deploy\n');
  await fx.repo.chmod('scripts/deploy.sh', true);
  await fx.repo.symlink('hosts/current', 'web');
  await fx.repo.write('empty', '');
  await fx.repo.write('blob.bin', Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 256)));
  return fx.repo.commit('varied');
}

/** Spend the whole quota of every client, for the next hour. */
function exhaust(): void {
  fx.server.rateLimit.remaining = 0;
}

const resetIso = (): string => new Date(fx.server.rateLimit.resetAt * 1000).toISOString();
const apiAnswered = (): number => fx.server.requests.filter((r) => r.kind === 'api' && r.status < 400).length;
const gitRequests = (): number => fx.server.requests.filter((r) => r.kind === 'git').length;

/** A directory holding only `node`, for a PATH on which git cannot be found. */
async function pathWithoutGit(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hostsync-nogit-'));
  await symlink(process.execPath, join(dir, 'node'));
  return dir;
}

describe('quota exhausted: the git-only path', () => {
  it('completes a fresh install, verified, with no API blob downloads and no API request served', async () => {
    const commit = await varied();
    exhaust();
    const run = await fx.run(['sync', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const result = parseJson(run);
    await fx.expectSameAsCommit(commit);
    expect(result['commit']).toBe(commit);
    expect(result['strategy']).toBe('clone');
    expect(result['strategyReason']).toContain(`GitHub API rate limit exhausted until ${resetIso()}`);
    expect(result['rateLimit']).toMatchObject({ remaining: 0, reset: fx.server.rateLimit.resetAt });
    expect(blobRequests(fx.server)).toHaveLength(0);
    expect(apiAnswered()).toBe(0);
    expect(fx.server.requests.filter((r) => r.kind === 'api').map((r) => r.status)).toEqual([403]);
    expect(fx.server.requests.filter((r) => r.kind === 'codeload')).toHaveLength(0);
    expect(gitRequests()).toBeGreaterThan(0);
    expect(run.stderr).toMatch(/rate limit exhausted until .*: reading HEAD of acme\/hypervisor with git/);
    // No ETag comes from git: none is saved, and the throwaway repository is gone.
    const [key] = await readdir(join(fx.stateDir, 'dests'));
    await expect(stat(join(fx.stateDir, 'dests', key ?? '', 'etags.json'))).rejects.toThrow();
    expect(await readdir(join(fx.stateDir, 'tmp'))).toEqual([]);
  });

  it('syncs a folder with --path', async () => {
    const commit = await varied();
    exhaust();
    const result = await fx.sync('--path', 'hosts/web');
    await fx.expectSameAsCommit(commit, 'hosts/web');
    expect(result['strategy']).toBe('clone');
    expect(blobRequests(fx.server)).toHaveLength(0);
    expect(apiAnswered()).toBe(0);
  });

  it('resolves a branch and an annotated tag over git', async () => {
    await varied();
    await fx.repo.tag('v1', 'release 1');
    await fx.repo.branch('stable');
    await fx.repo.write('hosts/web/m0.nix', '{ n = "later"; }\n');
    const later = await fx.repo.commit('later');
    exhaust();
    const tagged = await fx.sync('--ref', 'v1');
    await fx.expectSameAsCommit(await fx.repo.git('rev-parse', 'v1^{commit}'));
    expect(tagged['commit']).toBe(await fx.repo.git('rev-parse', 'stable'));
    await fx.sync('--ref', 'main');
    await fx.expectSameAsCommit(later);
    expect(apiAnswered()).toBe(0);
  });

  it('updates an installed host, warns that the downgrade guard could not run, and returns to the API after the reset', async () => {
    const first = await varied();
    await fx.sync();
    await fx.repo.write('hosts/web/m1.nix', '{ n = "edited"; }\n');
    await fx.repo.remove('hosts/db');
    await fx.repo.write('hosts/new.nix', 'new\n');
    const second = await fx.repo.commit('second');
    fx.server.resetLog();
    exhaust();
    const run = await fx.run(['sync', '--json']);
    expect(run.code, run.stderr).toBe(0);
    await fx.expectSameAsCommit(second);
    expect(parseJson(run)['previousCommit']).toBe(first);
    expect(parseJson(run)['strategy']).toBe('clone');
    expect(run.stderr).toMatch(/Not checked: that [0-9a-f]{12} descends from the last applied commit [0-9a-f]{12} \(the downgrade guard needs the GitHub API/);
    expect(apiAnswered()).toBe(0);

    fx.server.rateLimit.remaining = 5000;
    fx.server.resetLog();
    const after = await fx.sync();
    expect(after['strategy']).toBe('none');
    expect(apiAnswered()).toBeGreaterThan(0);
    expect(gitRequests()).toBe(0);
    await fx.expectSameAsCommit(second);
  });

  it('--check-only plans over git and writes nothing, not even state', async () => {
    await varied();
    exhaust();
    const run = await fx.run(['sync', '--check-only', '--json']);
    expect(run.code, run.stderr).toBe(3);
    expect(parseJson(run)['strategy']).toBe('clone');
    await expect(stat(fx.dest)).rejects.toThrow();
    await expect(stat(fx.stateDir)).rejects.toThrow();
  });

  it('refuses with --require-signed (signatures need the API) before fetching anything', async () => {
    const first = await varied();
    await fx.sync();
    await fx.repo.write('a.nix', 'a\n');
    await fx.repo.commit('unsigned');
    fx.server.resetLog();
    exhaust();
    const run = await fx.run(['sync', '--require-signed']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`resets at ${resetIso()}`);
    expect(run.stderr).toMatch(/--require-signed needs the API/);
    expect(gitRequests()).toBe(0);
    await fx.expectSameAsCommit(first);
  });
});

describe('quota exhausted and no git', () => {
  let noGit: string;
  beforeEach(async () => {
    noGit = await pathWithoutGit();
  });
  afterEach(async () => {
    await rm(noGit, { recursive: true, force: true });
  });

  it('a fresh install fails with exit 1 naming the reset time, and creates no DEST', async () => {
    await varied();
    exhaust();
    const run = await fx.run(['sync'], { env: { PATH: noGit } });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`GitHub API rate limit exhausted with the token from GITHUB_TOKEN; it resets at ${resetIso()}`);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(gitRequests()).toBe(0);
    await expect(stat(fx.dest)).rejects.toThrow();
  });

  it('an installed host keeps DEST exactly as it was', async () => {
    const first = await varied();
    await fx.sync();
    await fx.repo.write('hosts/web/m1.nix', 'changed\n');
    await fx.repo.commit('second');
    exhaust();
    const run = await fx.run(['sync'], { env: { PATH: noGit } });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`resets at ${resetIso()}`);
    await fx.expectSameAsCommit(first);
  });
});
