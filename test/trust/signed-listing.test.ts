/**
 * `checkListing`: a tree listing as GitHub's REST API gives it is the tree a signed commit names
 * only if every folder in scope rebuilds to its SHA — checked against `git ls-tree` of real trees,
 * then against listings altered the ways a lying server could alter them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GitMode } from '../../src/model.js';
import { checkListing, type ListedEntry } from '../../src/source/signed-listing.js';
import { git } from '../support/git-cli.js';
import { createRepo, type TestRepo } from '../support/repo.js';

let repo: TestRepo;
let root = '';
let listing: ListedEntry[] = [];
let otherBlob = '';

/** `git ls-tree -r -t` as GitHub's recursive listing. */
async function list(tree: string): Promise<ListedEntry[]> {
  const out = await repo.git('ls-tree', '-r', '-t', '-z', tree);
  return out
    .split('\0')
    .filter((record) => record !== '')
    .map((record) => {
      const [head = '', path = ''] = record.split('\t');
      const [mode = '', , sha = ''] = head.split(' ');
      return { path, mode: (mode === '040000' ? '040000' : mode) as GitMode, sha };
    });
}

beforeAll(async () => {
  repo = await createRepo();
  await repo.write('README', 'top\n');
  await repo.write('hosts/a/configuration.nix', '{ a = 1; }\n');
  await repo.write('hosts/b/configuration.nix', '{ a = 1; }\n'); // same content: hosts/a and hosts/b share a tree SHA
  await repo.write('hosts/b.conf', 'sorts between b and b/\n');
  await repo.write('bin/run', '#!/bin/sh\n');
  await repo.chmod('bin/run', true);
  await repo.symlink('current', 'hosts/a');
  const commit = await repo.commit('tree');
  root = await repo.git('rev-parse', `${commit}^{tree}`);
  listing = await list(root);
  otherBlob = await git(['hash-object', '-w', '--stdin'], { cwd: repo.dir, input: 'not in the tree\n' });
});

afterAll(async () => {
  await repo.cleanup();
});

const replace = (path: string, change: Partial<ListedEntry>): ListedEntry[] => listing.map((entry) => (entry.path === path ? { ...entry, ...change } : entry));

describe('checkListing', () => {
  it('accepts the real listing, for the whole tree and for a folder', () => {
    expect(checkListing(listing, root, '')).toEqual({ ok: true });
    expect(checkListing(listing, root, 'hosts/a')).toEqual({ ok: true });
  });

  it.each([
    ['a blob SHA swapped', () => replace('hosts/a/configuration.nix', { sha: otherBlob }), 'hosts/a'],
    ['a file made executable', () => replace('README', { mode: '100755' }), ''],
    ['an entry added', () => [...listing, { path: 'hosts/a/extra', mode: '100644' as GitMode, sha: otherBlob }], 'hosts/a'],
    ['an entry dropped', () => listing.filter((entry) => entry.path !== 'hosts/b.conf'), 'hosts'],
    ['a symlink retargeted', () => replace('current', { sha: otherBlob }), ''],
  ])('refuses %s, naming the folder', (_name, altered, folder) => {
    const check = checkListing(altered(), root, '');
    expect(check).toMatchObject({ ok: false, folder });
  });

  it('checks folders by path: a twin folder with the same SHA but other children is caught', () => {
    // hosts/a and hosts/b have one tree SHA; lying about hosts/b's children only must not pass because hosts/a is right.
    const twin = replace('hosts/b/configuration.nix', { sha: otherBlob });
    expect(checkListing(twin, root, '')).toMatchObject({ ok: false, folder: 'hosts/b' });
    expect(checkListing(twin, root, 'hosts/b')).toMatchObject({ ok: false, folder: 'hosts/b' });
  });

  it('with --path, ignores folders outside it but not the chain above it', () => {
    // bin/ is not applied: what it lists does not matter, nor whether it is listed at all.
    expect(checkListing(replace('bin/run', { sha: otherBlob }), root, 'hosts/a')).toEqual({ ok: true });
    expect(checkListing(listing.filter((entry) => !entry.path.startsWith('bin/')), root, 'hosts/a')).toEqual({ ok: true });
    // The root and hosts/ are the chain down to hosts/a: each must hash to its SHA.
    expect(checkListing(replace('README', { sha: otherBlob }), root, 'hosts/a')).toMatchObject({ ok: false, folder: '' });
    expect(checkListing(replace('hosts/b.conf', { sha: otherBlob }), root, 'hosts/a')).toMatchObject({ ok: false, folder: 'hosts' });
  });

  it('refuses a listing of another tree under the asked SHA', async () => {
    await repo.write('README', 'changed\n');
    const other = await repo.git('rev-parse', `${await repo.commit('other')}^{tree}`);
    expect(checkListing(await list(other), root, '')).toMatchObject({ ok: false, folder: '' });
  });
});
