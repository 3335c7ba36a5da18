/**
 * Repository builders for tests and the demo: real git repositories made with the git CLI in temp
 * dirs, git's own view of a commit (`git archive`), a tree comparison that never follows symlinks,
 * and a realistic sample repository.
 */
import { appendFile, lstat, mkdir, mkdtemp, readlink, rename, rm, symlink as fsSymlink, writeFile, chmod as fsChmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { x as tarExtract } from 'tar';
import { git, spawnGit } from './git-cli.js';
import { sampleContent, type SampleContentOptions } from './sample-content.js';

export { compareTrees, type CompareTreesOptions } from './compare-trees.js';

/** Options of {@link createRepo}. */
export interface CreateRepoOptions {
  /** Name of the initial branch. @default 'main' */
  readonly defaultBranch?: string;
  /** Prefix of the temp dir name. @default 'hostsync-repo-' */
  readonly prefix?: string;
  /** First commit date (later commits are one minute apart). @default '2024-01-01T00:00:00Z' */
  readonly startDate?: string;
}

/** A git working repository under test control. All paths are relative to `dir`, POSIX style. */
export interface TestRepo {
  /** Absolute path of the working tree (its `.git` is inside). */
  readonly dir: string;
  write(path: string, content: string | Uint8Array): Promise<void>;
  /** Set or clear the executable bits (0755 / 0644). */
  chmod(path: string, exec: boolean): Promise<void>;
  symlink(path: string, target: string): Promise<void>;
  /** Remove a file or a whole folder. */
  remove(path: string): Promise<void>;
  move(from: string, to: string): Promise<void>;
  /** `git add -A` and commit (empty commits allowed); resolves the new commit SHA. */
  commit(message: string): Promise<string>;
  /** Create a branch at `from` (a ref or SHA) or at HEAD. */
  branch(name: string, from?: string): Promise<void>;
  checkout(name: string): Promise<void>;
  /** Lightweight tag at HEAD, or an annotated one when `message` is given. */
  tag(name: string, message?: string): Promise<void>;
  /** SHA of HEAD. */
  head(): Promise<string>;
  /** Run any git command in the repository; resolves stdout. */
  git(...args: string[]): Promise<string>;
  cleanup(): Promise<void>;
}

/** Resolve a repo-relative path, refusing anything that escapes the working tree. */
function inside(root: string, path: string): string {
  const full = resolve(root, path);
  if (full !== root && !full.startsWith(root + sep)) {
    throw new Error(`Path '${path}' escapes the repository at ${root}.`);
  }
  return full;
}

/** Initialise a repository in a fresh temp dir: default branch `main`, no hooks, no autocrlf. */
export async function createRepo(opts: CreateRepoOptions = {}): Promise<TestRepo> {
  const dir = await mkdtemp(join(tmpdir(), opts.prefix ?? 'hostsync-repo-'));
  const branchName = opts.defaultBranch ?? 'main';
  // An empty template leaves out the sample hooks; hooksPath makes sure none ever run.
  await git(['init', '-q', '--template=', '-b', branchName], { cwd: dir });
  // Appending to .git/config directly saves a git process per setting (repos are built by the hundred).
  const settings = [
    '[core]',
    '\tautocrlf = false',
    '\tsafecrlf = false',
    '\tfileMode = true',
    '\tsymlinks = true',
    '\thooksPath = /dev/null',
    '\tquotePath = false',
    '[commit]',
    '\tgpgSign = false',
    '[tag]',
    '\tgpgSign = false',
    '[gc]',
    '\tauto = 0',
  ];
  await appendFile(join(dir, '.git', 'config'), `${settings.join('\n')}\n`);

  const start = Date.parse(opts.startDate ?? '2024-01-01T00:00:00Z');
  let commits = 0;
  const run = (...args: string[]): Promise<string> => git(args, { cwd: dir });

  return {
    dir,
    async write(path, content) {
      const full = inside(dir, path);
      await mkdir(dirname(full), { recursive: true });
      await writeFile(full, content);
    },
    async chmod(path, exec) {
      await fsChmod(inside(dir, path), exec ? 0o755 : 0o644);
    },
    async symlink(path, target) {
      const full = inside(dir, path);
      await mkdir(dirname(full), { recursive: true });
      await fsSymlink(target, full);
    },
    async remove(path) {
      await rm(inside(dir, path), { recursive: true, force: true });
    },
    async move(from, to) {
      const dest = inside(dir, to);
      await mkdir(dirname(dest), { recursive: true });
      await rename(inside(dir, from), dest);
    },
    async commit(message) {
      const date = new Date(start + commits * 60_000).toISOString().replace('.000Z', 'Z');
      commits += 1;
      await run('add', '-A');
      await git(['commit', '-q', '--allow-empty', '--no-verify', '-m', message], {
        cwd: dir,
        env: { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
      });
      return run('rev-parse', 'HEAD');
    },
    async branch(name, from) {
      await run('branch', '--', name, ...(from === undefined ? [] : [from]));
    },
    async checkout(name) {
      await run('checkout', '-q', name, '--');
    },
    async tag(name, message) {
      if (message === undefined) await run('tag', '--', name);
      else await run('tag', '-a', '-m', message, '--', name);
    },
    head: () => run('rev-parse', 'HEAD'),
    git: run,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * Extract `git archive` of `commit` (or of `commit:subPath`) into a fresh temp dir and resolve its
 * path: git's own idea of what the commit holds, to compare a synced directory against.
 */
/**
 * The small host tree several end-to-end tests start from: a flake, two hosts' configurations, an
 * executable script and (with `symlink`) a symlink to a folder. Written, not committed.
 */
export async function writeHostTree(repo: TestRepo, options: { readonly symlink?: boolean } = {}): Promise<void> {
  await repo.write('flake.nix', '{ outputs = _: {}; }\n');
  await repo.write('hosts/web/configuration.nix', '{ web }\n');
  await repo.write('hosts/db/configuration.nix', '{ db }\n');
  await repo.write('bin/deploy', '#!/bin/sh\necho deploy\n');
  await repo.chmod('bin/deploy', true);
  if (options.symlink === true) await repo.symlink('current', 'hosts/web');
}

export async function extractGitArchive(repoDir: string, commit: string, subPath?: string): Promise<string> {
  const out = await mkdtemp(join(tmpdir(), 'hostsync-archive-'));
  const treeish = subPath === undefined || subPath === '' ? commit : `${commit}:${subPath}`;
  const child = spawnGit(['archive', '--format=tar', treeish], repoDir);
  child.stdin.end();
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((done) => child.on('close', done));
  // preservePaths: by default node-tar drops symlinks whose target leaves the extraction dir
  // (`../x` at the top of a sub-folder archive) and strips `/` from absolute targets; git keeps both.
  // Entry paths from git archive are always relative and free of `..`, so nothing else changes.
  await pipeline(child.stdout, tarExtract({ cwd: out, preservePaths: true, strict: true, filter: isSafeEntry }));
  const code = await exited;
  if (code !== 0) throw new Error(`git archive ${treeish} failed in ${repoDir}: ${stderr.trim()}`);
  return out;
}

function isSafeEntry(path: string): boolean {
  return !path.startsWith('/') && !path.split('/').includes('..');
}

/** Git blob SHA of a file (or of a symlink's target text), computed by `git hash-object`. */
export async function gitHashObject(file: string): Promise<string> {
  const info = await lstat(file);
  if (info.isSymbolicLink()) {
    const target = await readlink(file);
    return git(['hash-object', '--stdin'], { cwd: tmpdir(), input: target });
  }
  return git(['hash-object', '--no-filters', '--', file], { cwd: tmpdir() });
}

/** Options of {@link sampleRepo}. */
export interface SampleRepoOptions extends SampleContentOptions, CreateRepoOptions {}

/** A sample repository and its first (only) commit. */
export interface SampleRepo {
  readonly repo: TestRepo;
  readonly commit: string;
  /** Number of files and symlinks in the commit. */
  readonly fileCount: number;
}

/**
 * Build a realistic repository in one commit: ~150 files in nested folders (nix modules, executable
 * shell scripts, symlinks, an empty file, names with a space and non-ASCII characters, a CRLF file
 * and a 2 MiB seeded pseudo-random binary). Deterministic: the same options give the same commit SHA.
 */
export async function sampleRepo(opts: SampleRepoOptions = {}): Promise<SampleRepo> {
  const repo = await createRepo({ prefix: 'hostsync-sample-', ...opts });
  const entries = sampleContent(opts);
  await Promise.all(
    entries.map(async (entry) => {
      if (entry.symlink !== undefined) return repo.symlink(entry.path, entry.symlink);
      await repo.write(entry.path, entry.content);
      if (entry.exec) await repo.chmod(entry.path, true);
    }),
  );
  const commit = await repo.commit('Initial configuration');
  return { repo, commit, fileCount: entries.length };
}
