/**
 * The big two-commit repository of the crash tests: commit A with ~2,000 small files, commit B
 * changing about half of them (~1,250 paths) — edits, deletions, additions, mode changes (with and without an
 * edit), a directory that becomes a file, a file that becomes a symlink, a symlink that becomes a
 * directory. Deterministic content.
 */
import type { TestRepo } from './repo.js';

const PER_DIR = 100;
/**
 * Files in commit A: 2,000 in `npm test`; `HOSTSYNC_CRASH_FILES=20000 npx vitest run test/safety/crash.test.ts`
 * runs the same kill points on a 20,000-file update (docs/decisions/0014).
 */
export const BIG_FILES = Math.max(PER_DIR, Number(process.env['HOSTSYNC_CRASH_FILES'] ?? 2000));
const DIRS = Math.round(BIG_FILES / PER_DIR);

const fileName = (d: number, j: number): string => `m${String(d).padStart(3, '0')}/f${String(j).padStart(3, '0')}.nix`;
const body = (g: number, version: string): string => `# module ${g} ${version}\n${`{ option${g % 17} = "${version}"; }\n`.repeat(2 + (g % 7))}`;

/** What B does to file number g of A. */
export type BigChange = 'edit' | 'delete' | 'chmod' | 'edit+chmod' | 'same';

export function changeOf(g: number): BigChange {
  if (g % 4 === 0) return 'edit';
  if (g % 16 === 1) return 'delete';
  if (g % 20 === 2) return 'chmod';
  if (g % 20 === 6) return 'edit+chmod';
  return 'same';
}

const isExecInA = (g: number): boolean => g % 10 === 9 || g % 20 === 6;

/** Write commit A into `repo` (~2,000 files) and commit it. */
export async function writeBigA(repo: TestRepo): Promise<string> {
  const writes: Promise<void>[] = [];
  for (let d = 0; d < DIRS; d++) {
    // A folder at a time: 20,000 writes at once would run out of file descriptors.
    await Promise.all(Array.from({ length: PER_DIR }, (_, j) => repo.write(fileName(d, j), body(d * PER_DIR + j, 'a'))));
  }
  for (let i = 0; i < 10; i++) writes.push(repo.write(`olddir/x${i}.txt`, `old dir file ${i}\n`));
  writes.push(repo.write('tolink.txt', 'a file that becomes a symlink\n'));
  writes.push(repo.write('bin/run.sh', '#!/bin/sh\necho run\n'));
  await Promise.all(writes);
  await repo.symlink('wasLink', fileName(0, 0));
  await repo.chmod('bin/run.sh', true);
  for (let g = 0; g < DIRS * PER_DIR; g++) if (isExecInA(g)) await repo.chmod(fileName(Math.floor(g / PER_DIR), g % PER_DIR), true);
  return repo.commit(`A: ${BIG_FILES} files`);
}

/** Change A into B (about 1,250 paths) and commit it. */
export async function writeBigB(repo: TestRepo): Promise<string> {
  for (let g = 0; g < DIRS * PER_DIR; g++) {
    const path = fileName(Math.floor(g / PER_DIR), g % PER_DIR);
    const change = changeOf(g);
    if (change === 'edit' || change === 'edit+chmod') await repo.write(path, body(g, 'b'));
    if (change === 'delete') await repo.remove(path);
    if (change === 'chmod' || change === 'edit+chmod') await repo.chmod(path, !isExecInA(g));
  }
  for (let i = 0; i < 250; i++) await repo.write(`new/n${String(i).padStart(3, '0')}.nix`, `# new ${i}\n`);
  await repo.remove('olddir');
  await repo.write('olddir', 'a file where a folder was\n'); // dir → file
  await repo.remove('tolink.txt');
  await repo.symlink('tolink.txt', fileName(0, 0)); // file → symlink
  await repo.remove('wasLink');
  await repo.write('wasLink/inside.nix', 'was a symlink\n'); // symlink → dir
  return repo.commit('B: about half of the files change');
}
