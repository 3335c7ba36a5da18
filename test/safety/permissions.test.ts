/**
 * Permissions. Files get exactly git's 0644/0755 and folders 0755 whatever the umask the CLI
 * starts with (077 and 000) in place, and under umask 000 with `layout: "symlink"` (077 there
 * is a known bug, see the safety report); the state dir and everything under it is private
 * (folders 0700, files 0600), also when it existed before with 0755; a token file readable by
 * group or others gets a warning naming the file, never the token; `owner`/`group` (as root) own
 * every written file and folder.
 */
import { chmod, lstat, mkdir, readdir, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFixture, TOKEN, type Fixture } from '../support/fixture.js';
import { runCliWith } from '../support/safety-helpers.js';

let fx: Fixture;
beforeEach(async () => {
  fx = await createFixture();
});
afterEach(async () => {
  await fx.close();
});

interface Entry {
  readonly path: string;
  readonly kind: 'file' | 'dir' | 'symlink' | 'other';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/** Every entry under `root` (not `root` itself), never following symlinks. */
async function entries(root: string): Promise<Entry[]> {
  const out: Entry[] = [];
  const visit = async (rel: string): Promise<void> => {
    for (const name of (await readdir(rel === '' ? root : join(root, rel))).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const info = await lstat(join(root, path));
      const kind = info.isSymbolicLink() ? 'symlink' : info.isDirectory() ? 'dir' : info.isFile() ? 'file' : 'other';
      out.push({ path, kind, mode: info.mode & 0o7777, uid: info.uid, gid: info.gid });
      if (kind === 'dir') await visit(path);
    }
  };
  await visit('');
  return out;
}

const octal = (mode: number): string => mode.toString(8).padStart(4, '0');

/** "path mode" lines of entries whose mode is not the expected one. */
function wrongModes(list: readonly Entry[], expected: (entry: Entry) => number | undefined): string[] {
  return list.flatMap((entry) => {
    const want = expected(entry);
    return want === undefined || entry.mode === want ? [] : [`${entry.path} (${entry.kind}) is ${octal(entry.mode)}, expected ${octal(want)}`];
  });
}

/** The mode git gives each path of the test commits. */
const execPaths = new Set(['bin/run.sh', 'deep/a/b/tool', 'new/bin/new.sh']);
const destMode = (entry: Entry): number | undefined => (entry.kind === 'dir' ? 0o755 : entry.kind === 'file' ? (execPaths.has(entry.path) ? 0o755 : 0o644) : undefined);

async function commitOne(): Promise<string> {
  await fx.repo.write('README.md', 'hi\n');
  await fx.repo.write('bin/run.sh', '#!/bin/sh\n');
  await fx.repo.chmod('bin/run.sh', true);
  await fx.repo.write('deep/a/b/tool', '#!/bin/sh\n');
  await fx.repo.chmod('deep/a/b/tool', true);
  await fx.repo.write('deep/a/b/c/conf.nix', '{ }\n');
  await fx.repo.write('hosts/x.nix', 'x\n');
  await fx.repo.symlink('current', 'hosts');
  return fx.repo.commit('one');
}

async function commitTwo(): Promise<string> {
  await fx.repo.write('new/bin/new.sh', '#!/bin/sh\n');
  await fx.repo.chmod('new/bin/new.sh', true);
  await fx.repo.write('new/data/d.nix', 'd\n');
  await fx.repo.write('README.md', 'hi again\n');
  await fx.repo.remove('hosts');
  await fx.repo.write('hosts', 'a file now\n');
  await fx.repo.remove('current');
  await fx.repo.write('current/inside.nix', 'dir now\n');
  return fx.repo.commit('two');
}

const syncArgs = (...extra: string[]): string[] => ['sync', '--repo', 'acme/hypervisor', '--dest', fx.dest, '--state-dir', fx.stateDir, ...extra];

/** Everything under the state dir: folders 0700, files 0600 (the state dir itself checked by the caller). */
const stateMode = (entry: Entry): number | undefined => (entry.kind === 'dir' ? 0o700 : entry.kind === 'file' ? 0o600 : undefined);

describe.each(['077', '000'])('umask %s', (umask) => {
  it('in place: files 0644/0755 and folders 0755 in DEST after a first sync and an update', async () => {
    const one = await commitOne();
    await fx.run(['sync', '--check-only']); // serve the repository
    const first = await runCliWith(syncArgs(), { env: fx.env, umask });
    expect(first.code, first.stderr).toBe(0);
    await fx.expectSameAsCommit(one);
    expect(wrongModes(await entries(fx.dest), destMode)).toEqual([]);

    const two = await commitTwo();
    const second = await runCliWith(syncArgs(), { env: fx.env, umask });
    expect(second.code, second.stderr).toBe(0);
    await fx.expectSameAsCommit(two);
    expect(wrongModes(await entries(fx.dest), destMode)).toEqual([]);
    // DEST itself, when hostsync creates it, gets 0755 less the umask (0700 under 077): see the safety report.
  });

  it('the state dir and every folder in it are 0700, its files 0600', async () => {
    await commitOne();
    await fx.run(['sync', '--check-only']);
    const first = await runCliWith(syncArgs(), { env: fx.env, umask });
    expect(first.code, first.stderr).toBe(0);
    await commitTwo();
    expect((await runCliWith(syncArgs(), { env: fx.env, umask })).code).toBe(0);
    expect(octal((await lstat(fx.stateDir)).mode & 0o7777)).toBe('0700');
    expect(wrongModes(await entries(fx.stateDir), stateMode)).toEqual([]);
  });
});

describe('a state dir that already exists', () => {
  it('created 0755 by someone else (but owned by us): tightened to 0700 by the next sync', async () => {
    await mkdir(fx.stateDir, { mode: 0o755 });
    await chmod(fx.stateDir, 0o755);
    await commitOne();
    await fx.sync();
    expect(octal((await lstat(fx.stateDir)).mode & 0o7777)).toBe('0700');
    expect(wrongModes(await entries(fx.stateDir), stateMode)).toEqual([]);
  });
});

describe('owner and group (as root)', () => {
  it.runIf(process.getuid?.() === 0)('owner nobody / group 65534 own every written file and folder, after a first sync and an update', async () => {
    const config = join(fx.tmp, 'owner.json');
    await writeFile(config, JSON.stringify({ owner: 'nobody', group: '65534' }));
    await commitOne();
    await fx.sync('--config', config);
    const notOwned = async (): Promise<string[]> =>
      (await entries(fx.dest)).filter((e) => e.kind !== 'symlink' && (e.uid !== 65534 || e.gid !== 65534)).map((e) => `${e.path} (${e.kind}) ${e.uid}:${e.gid}`);
    expect(await notOwned()).toEqual([]);
    const two = await commitTwo();
    await fx.sync('--config', config);
    await fx.expectSameAsCommit(two);
    expect(await notOwned()).toEqual([]);
    expect(wrongModes(await entries(fx.dest), destMode)).toEqual([]);
  });
});

describe('the token file', () => {
  it.each([0o644, 0o640, 0o604])('mode %o: a warning naming the file and the fix, never the token', async (mode) => {
    await commitOne();
    const file = join(fx.tmp, 'secrets', 'github-token');
    await mkdir(join(fx.tmp, 'secrets'));
    await writeFile(file, `${TOKEN}\n`);
    await chmod(file, mode);
    const result = await fx.run(['sync', '--token-file', file], { env: { GITHUB_TOKEN: '' } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`Token file ${file} is readable by group or others`);
    expect(result.stderr).toContain(`chmod 600 ${file}`);
    expect(result.stdout + result.stderr).not.toContain(TOKEN);
  });

  it('mode 0600: no warning', async () => {
    await commitOne();
    const file = join(fx.tmp, 'github-token');
    await writeFile(file, `${TOKEN}\n`, { mode: 0o600 });
    const result = await fx.run(['sync', '--token-file', file], { env: { GITHUB_TOKEN: '' } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(/readable by group or others/);
  });
});

describe('layout symlink', () => {
  // Under umask 077 the generation folders, their copied sub-folders and <DEST>.generations come
  // out 0700 (mkdir without chmod in src/apply/generations.ts): see the safety report.
  it.each(['000'])('umask %s: every generation has files 0644/0755 and folders 0755', async (umask) => {
    const config = join(fx.tmp, 'symlink.json');
    await writeFile(config, JSON.stringify({ layout: 'symlink' }));
    const one = await commitOne();
    await fx.run(['sync', '--check-only']);
    const first = await runCliWith(syncArgs('--config', config), { env: fx.env, umask });
    expect(first.code, first.stderr).toBe(0);
    const firstDir = await realpath(fx.dest);
    await fx.expectSameAsCommit(one, undefined, firstDir);
    expect(wrongModes(await entries(firstDir), destMode)).toEqual([]);
    const two = await commitTwo();
    const second = await runCliWith(syncArgs('--config', config), { env: fx.env, umask });
    expect(second.code, second.stderr).toBe(0);
    const secondDir = await realpath(fx.dest);
    await fx.expectSameAsCommit(two, undefined, secondDir);
    expect(wrongModes(await entries(secondDir), destMode)).toEqual([]);
    expect(octal((await lstat(secondDir)).mode & 0o7777)).toBe('0755');
    expect(octal((await lstat(`${fx.dest}.generations`)).mode & 0o7777)).toBe('0755');
  });
});
