/**
 * One file's history and its restore, end to end in-process: `history --file` lists the versions of
 * a file across the kept generations; `restore PATH --to COMMIT` puts one back from the local store
 * with the test server stopped, through the journaled apply, recorded as a generation; validate
 * agrees with it; the next sync of another commit puts the repository's version back.
 */
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { changeOf, relativeToDest } from '../../src/pipeline/file-history.js';
import { createFixture, type Fixture } from '../support/fixture.js';

let fx: Fixture;
const commits: string[] = [];
beforeEach(async () => {
  fx = await createFixture();
  commits.length = 0;
  const step = async (message: string, change: () => Promise<void>): Promise<void> => {
    await change();
    commits.push(await fx.repo.commit(message));
    const synced = await fx.run(['sync']);
    expect(synced.code, synced.stderr).toBe(0);
  };
  await step('v1', async () => {
    await fx.repo.write('flake.nix', '{ v1 }\n');
    await fx.repo.write('other.txt', 'other\n');
  });
  await step('v2', () => fx.repo.write('flake.nix', '{ v2 }\n'));
  await step('v3', () => fx.repo.write('other.txt', 'other 2\n'));
  await step('v4', () => fx.repo.remove('flake.nix'));
});
afterEach(async () => {
  await fx.close();
});

const local = (): string[] => ['--dest', fx.dest, '--state-dir', fx.stateDir];

describe('history --file', () => {
  it('lists the file in every kept generation: commit, date, change, size, blob, whether the store holds it', async () => {
    const result = await fx.run(['history', '--file', 'flake.nix', ...local()], { bare: true });
    expect(result.code, result.stderr).toBe(0);
    const rows = result.stdout.split('\n').filter((line) => /^ +\d+ {2}/.test(line));
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatch(new RegExp(`^ +1 {2}\\S+ \\S+ +${commits[0]!.slice(0, 12)} {2}added +7 B {2}[0-9a-f]{12} {2}yes$`));
    expect(rows[1]).toMatch(new RegExp(`^ +2 .* ${commits[1]!.slice(0, 12)} {2}modified +7 B {2}[0-9a-f]{12} {2}yes$`));
    expect(rows[2]).toMatch(new RegExp(`^ +3 .* ${commits[2]!.slice(0, 12)} {2}unchanged +7 B {2}[0-9a-f]{12} {2}yes$`));
    expect(rows[3]).toMatch(new RegExp(`^ +4 .* ${commits[3]!.slice(0, 12)} {2}deleted$`));
    expect(result.stdout).toContain('`hostsync restore flake.nix --to COMMIT` puts a stored version back, offline');
    const json = JSON.parse((await fx.run(['history', '--file', join(fx.dest, 'flake.nix'), '--json', ...local()], { bare: true })).stdout) as { file: string; versions: { commit: string; change: string; sha: string | null; stored: boolean }[] };
    expect(json.file).toBe('flake.nix');
    expect(json.versions.map((v) => v.change)).toEqual(['added', 'modified', 'unchanged', 'deleted']);
  });
});

describe('restore', () => {
  it('puts one file back from the store with the server stopped; validate agrees; the next sync of another commit replaces it', async () => {
    await fx.server.close();
    const dry = await fx.run(['restore', 'flake.nix', '--to', commits[0]!.slice(0, 8), '--check-only', ...local()], { bare: true });
    expect(dry.code, dry.stderr).toBe(3);
    expect(dry.stdout).toMatch(/^would restore flake\.nix in .* to its version at [0-9a-f]{12} \(added\)$/m);
    await expect(stat(join(fx.dest, 'flake.nix'))).rejects.toThrow();

    const result = await fx.run(['restore', 'flake.nix', '--to', commits[0]!.slice(0, 8), ...local()], { bare: true });
    expect(result.code, result.stderr).toBe(0);
    expect(await readFile(join(fx.dest, 'flake.nix'), 'utf8')).toBe('{ v1 }\n');
    expect(((await stat(join(fx.dest, 'flake.nix'))).mode & 0o777).toString(8)).toBe('644');
    expect(await readFile(join(fx.dest, 'other.txt'), 'utf8')).toBe('other 2\n');
    expect(result.stdout).toMatch(/^restored flake\.nix in .* to its version at [0-9a-f]{12} \(generation 5, added\)$/m);
    expect(result.stdout).toContain("the next sync of another commit replaces flake.nix with the repository's version");
    const history = await fx.run(['history', ...local()], { bare: true });
    expect(history.stdout).toMatch(/^ +5 .* restore +[0-9a-f]{12} /m);
    expect((await fx.run(['validate', ...local()], { bare: true })).code).toBe(0);
    const again = await fx.run(['restore', 'flake.nix', '--to', commits[1]!, ...local()], { bare: true });
    expect(again.code).toBe(0);
    expect(await readFile(join(fx.dest, 'flake.nix'), 'utf8')).toBe('{ v2 }\n');
  });

  it('a later sync of another commit puts the repository\'s version back', async () => {
    expect((await fx.run(['restore', 'other.txt', '--to', commits[0]!, ...local()], { bare: true })).code).toBe(0);
    expect(await readFile(join(fx.dest, 'other.txt'), 'utf8')).toBe('other\n');
    // The same commit: polls keep the restored version.
    expect((await fx.run(['sync'])).code).toBe(0);
    expect(await readFile(join(fx.dest, 'other.txt'), 'utf8')).toBe('other\n');
    await fx.repo.write('unrelated.txt', 'x\n');
    const next = await fx.repo.commit('v5');
    expect((await fx.run(['sync'])).code).toBe(0);
    await fx.expectSameAsCommit(next);
  });

  it('says why when the version is not there: no such commit, not in the store, a folder', async () => {
    const unknown = await fx.run(['restore', 'flake.nix', '--to', 'abcdef12', ...local()], { bare: true });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/No kept generation has commit abcdef12\. 'hostsync history --file flake\.nix' lists the ones that do\./);
    const json = JSON.parse((await fx.run(['history', '--file', 'flake.nix', '--json', ...local()], { bare: true })).stdout) as { versions: { sha: string | null }[] };
    const sha = json.versions[0]!.sha!;
    await rm(join(fx.stateDir, 'objects', sha.slice(0, 2), sha.slice(2)));
    const gone = await fx.run(['restore', 'flake.nix', '--to', commits[0]!, ...local()], { bare: true });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/The local store no longer holds flake\.nix as of [0-9a-f]{12} .*Nothing was restored\./);
    const usage = await fx.run(['restore', 'flake.nix', ...local()], { bare: true });
    expect(usage.code).toBe(2);
  });
});

describe('pure parts', () => {
  it.each([
    ['flake.nix', 'flake.nix'],
    ['./hosts/a.nix', 'hosts/a.nix'],
    ['/etc/hypervisor/hosts/a.nix', 'hosts/a.nix'],
  ])('relativeToDest(%j) = %j', (given, path) => expect(relativeToDest(given, '/etc/hypervisor')).toBe(path));

  it.each(['/etc/other/x', '../x', 'a/../b', '/etc/hypervisor'])('relativeToDest refuses %j', (given) => {
    expect(() => relativeToDest(given, '/etc/hypervisor')).toThrow(/inside DEST|relative to DEST/);
  });

  it.each([
    [undefined, undefined, 'absent'],
    [undefined, { path: 'a', mode: '100644', sha: '1' }, 'added'],
    [{ path: 'a', mode: '100644', sha: '1' }, undefined, 'deleted'],
    [{ path: 'a', mode: '100644', sha: '1' }, { path: 'a', mode: '100644', sha: '2' }, 'modified'],
    [{ path: 'a', mode: '100644', sha: '1' }, { path: 'a', mode: '100755', sha: '1' }, 'mode'],
    [{ path: 'a', mode: '100644', sha: '1' }, { path: 'a', mode: '120000', sha: '1' }, 'type'],
    [{ path: 'a', mode: '100644', sha: '1' }, { path: 'a', mode: '100644', sha: '1' }, 'unchanged'],
  ] as const)('changeOf case %#', (before, entry, change) => expect(changeOf(before, entry)).toBe(change));
});
