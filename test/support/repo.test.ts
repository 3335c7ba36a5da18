import { chmod, mkdir, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareTrees, createRepo, extractGitArchive, gitHashObject, sampleRepo, type TestRepo } from './repo.js';

let repo: TestRepo;
let commit: string;
const scratch: string[] = [];

beforeAll(async () => {
  repo = await createRepo();
  await repo.write('a.txt', 'alpha\n');
  await repo.write('sub/b.sh', '#!/bin/sh\n');
  await repo.chmod('sub/b.sh', true);
  await repo.symlink('sub/link', '../a.txt');
  await repo.write('sub/deeper/c.txt', 'c\n');
  commit = await repo.commit('one');
});

afterAll(async () => {
  await repo.cleanup();
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fresh `git archive` copy of the commit to mutate. */
async function copy(): Promise<string> {
  const dir = await extractGitArchive(repo.dir, commit);
  scratch.push(dir);
  return dir;
}

describe('compareTrees', () => {
  it('finds no difference between a commit archive and its checkout', async () => {
    expect(await compareTrees(await copy(), repo.dir, { ignore: ['.git'] })).toEqual([]);
  });

  it.each<[string, (dir: string) => Promise<void>, string]>([
    ['changed bytes of the same size', (d) => writeFile(join(d, 'a.txt'), 'alphA\n'), 'content differs: a.txt (same size 6, different bytes)'],
    ['changed size', (d) => writeFile(join(d, 'a.txt'), 'alpha!\n'), 'content differs: a.txt (expected 6 bytes, got 7 bytes)'],
    ['a lost exec bit', (d) => chmod(join(d, 'sub/b.sh'), 0o644), 'exec bit differs: sub/b.sh (expected 100755, got 100644)'],
    ['a retargeted symlink', async (d) => { await unlink(join(d, 'sub/link')); await symlink('elsewhere', join(d, 'sub/link')); }, "symlink target differs: sub/link (expected '../a.txt', got 'elsewhere')"],
    ['a symlink replaced by a file', async (d) => { await unlink(join(d, 'sub/link')); await writeFile(join(d, 'sub/link'), '../a.txt'); }, 'type differs: sub/link (expected symlink, got file)'],
    ['a missing file', (d) => rm(join(d, 'sub/deeper/c.txt')), 'missing file: sub/deeper/c.txt'],
    ['an extra file', (d) => writeFile(join(d, 'new.txt'), ''), 'extra file: new.txt'],
    ['an extra empty folder', (d) => mkdir(join(d, 'hollow')), 'extra dir: hollow'],
  ])('detects %s', async (_name, mutate, expected) => {
    const actual = await copy();
    await mutate(actual);
    expect(await compareTrees(await copy(), actual)).toEqual([expected]);
  });

  it('skips ignored paths with their subtrees', async () => {
    const actual = await copy();
    await mkdir(join(actual, '.state/x'), { recursive: true });
    await writeFile(join(actual, '.state/x/y'), '');
    expect(await compareTrees(await copy(), actual, { ignore: ['.state'] })).toEqual([]);
  });
});

describe('repository builders', () => {
  it('extracts a sub-folder archive and hashes like git', async () => {
    const sub = await extractGitArchive(repo.dir, commit, 'sub');
    scratch.push(sub);
    expect(await compareTrees(join(repo.dir, 'sub'), sub)).toEqual([]);
    expect(await gitHashObject(join(repo.dir, 'a.txt'))).toBe(await repo.git('rev-parse', `${commit}:a.txt`));
    expect(await gitHashObject(join(repo.dir, 'sub/link'))).toBe(await repo.git('rev-parse', `${commit}:sub/link`));
  });

  it('keeps branches, tags, empty commits and moves', async () => {
    await repo.branch('side', commit);
    await repo.tag('t1');
    const empty = await repo.commit('empty commit');
    expect(await repo.git('rev-parse', `${empty}^{tree}`)).toBe(await repo.git('rev-parse', `${commit}^{tree}`));
    await repo.checkout('side');
    await repo.move('a.txt', 'moved/a.txt');
    const moved = await repo.commit('move');
    expect(await repo.git('ls-tree', '-r', '--name-only', moved)).toContain('moved/a.txt');
    await repo.checkout('main');
    expect(await repo.head()).toBe(empty);
    expect(await repo.git('rev-parse', 't1')).toBe(commit);
  });

  it('builds the sample repository quickly and deterministically', async () => {
    const started = performance.now();
    const a = await sampleRepo();
    const elapsed = performance.now() - started;
    const b = await sampleRepo();
    try {
      // About 0.3 s on an idle machine; the bound only catches regressions on a busy CI box.
      expect(elapsed).toBeLessThan(5000);
      expect(a.commit).toBe(b.commit);
      expect(a.fileCount).toBeGreaterThanOrEqual(140);
      const lines = (await a.repo.git('ls-tree', '-r', '-l', a.commit)).split('\n');
      const entry = (path: string): string => lines.find((l) => l.endsWith(`\t${path}`)) ?? '';
      expect(lines.length).toBe(a.fileCount);
      expect(entry('scripts/deploy.sh')).toMatch(/^100755 /);
      expect(entry('current')).toMatch(/^120000 /);
      expect(entry('empty.txt')).toMatch(/ 0\tempty.txt$/);
      expect(entry('docs/release notes.md')).not.toBe('');
      expect(entry('docs/café.md')).not.toBe('');
      expect(entry('assets/firmware.bin')).toMatch(/ 2097152\t/);
      expect(await a.repo.git('cat-file', 'blob', `${a.commit}:windows/setup.bat`)).toContain('\r\n');
    } finally {
      await a.repo.cleanup();
      await b.repo.cleanup();
    }
  });
});
