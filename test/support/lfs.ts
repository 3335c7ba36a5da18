/**
 * Git LFS repositories for tests, made and read by Debian's `git-lfs` (the oracle): `git lfs track`
 * in a test repository, its objects uploaded to the test server with `git lfs push --all` (the
 * server's upload side of the batch API), and the reference checkout — `git clone` + `git lfs pull`
 * through the test server — that hostsync's DEST must equal byte for byte.
 *
 * Every git here runs in test/support/git-cli.ts's hermetic environment: the LFS filters are
 * configured in each repository (`git lfs install --local --skip-repo`), never from ~/.gitconfig.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { git } from './git-cli.js';
import type { FakeGitHub } from './github-server.js';
import type { TestRepo } from './repo.js';

/** Whether Debian's git-lfs is installed (.ci/run installs it). */
export async function hasGitLfs(): Promise<boolean> {
  try {
    await git(['lfs', 'version'], { cwd: tmpdir() });
    return true;
  } catch {
    return false;
  }
}

/**
 * Turn LFS on in a test repository and track `patterns` (written to .gitattributes, committed with
 * the next commit). Only the clean filter stays configured: the served repository's `git archive`
 * then holds pointers, as GitHub's tarballs do by default ({@link smudgeArchives} for the other setting).
 */
export async function trackLfs(repo: TestRepo, ...patterns: string[]): Promise<void> {
  await repo.git('lfs', 'install', '--local', '--skip-repo');
  await repo.git('config', 'lfs.locksverify', 'false');
  for (const pattern of patterns) await repo.git('lfs', 'track', pattern);
  for (const key of ['filter.lfs.smudge', 'filter.lfs.process', 'filter.lfs.required']) await repo.git('config', '--local', '--unset', key);
}

/** The served repository's tarballs carry the LFS content, like GitHub's "Include Git LFS objects in archives". */
export async function smudgeArchives(repo: TestRepo): Promise<void> {
  await repo.git('lfs', 'install', '--local', '--skip-repo');
}

/** The repository's URL on the test server with the token in it (how git-lfs gets credentials for the upload). */
function pushUrl(server: FakeGitHub, fullName: string, token: string): string {
  return `${server.serverUrl.replace('://', `://x-access-token:${token}@`)}/${fullName}.git`;
}

/**
 * Upload every LFS object of the repository's history to the test server (`git lfs push --all`),
 * to its LFS server for `fullName` — also when a committed `.lfsconfig` names another one.
 */
export async function pushLfs(repo: TestRepo, server: FakeGitHub, fullName: string, token: string): Promise<void> {
  const url = pushUrl(server, fullName, token);
  await git(['-c', `lfs.url=${url}/info/lfs`, 'lfs', 'push', '--all', url], { cwd: repo.dir });
}

/**
 * The oracle: `git clone` of the served repository, `git checkout` of `commit`, `git lfs pull`, the
 * `.git` folder removed (a public repository: no credentials). Resolves the checkout's path;
 * remove it when done.
 */
export async function lfsCheckout(server: FakeGitHub, fullName: string, commit: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hostsync-lfs-oracle-'));
  // Without the filters first: the checkout has the pointers, then git lfs pull puts the content in.
  await git(['clone', '-q', '--no-checkout', `${server.serverUrl}/${fullName}.git`, dir], { cwd: tmpdir() });
  await git(['checkout', '-q', commit, '--'], { cwd: dir });
  await git(['lfs', 'install', '--local', '--skip-repo'], { cwd: dir });
  await git(['lfs', 'pull'], { cwd: dir });
  await rm(join(dir, '.git'), { recursive: true, force: true });
  return dir;
}
