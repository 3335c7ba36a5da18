/**
 * Read access to one served git repository through the git CLI: ref resolution with GitHub's
 * rules, objects, trees, commits, diffs and archives. Blobs and archives are streamed, never buffered.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { git, gitBuffer, spawnGit, tryGit, type GitChild } from '../git-cli.js';

/** SHA-1 of the empty tree: the "parent" of a root commit when diffing. */
const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
const FULL_SHA = /^[0-9a-f]{40}$/;

export interface GitPerson {
  readonly name: string;
  readonly email: string;
  /** ISO 8601 in UTC without milliseconds, as GitHub prints it. */
  readonly date: string;
}

export interface CommitInfo {
  readonly sha: string;
  readonly tree: string;
  readonly parents: readonly string[];
  readonly author: GitPerson;
  readonly committer: GitPerson;
  /** Message without the trailing newline. */
  readonly message: string;
  /** The `gpgsig` header, when the commit is signed. */
  readonly signature?: string;
  /** The commit object without its signature: what a signature signs. */
  readonly payload: string;
}

export interface GitTreeEntry {
  readonly path: string;
  readonly mode: string;
  readonly type: 'blob' | 'tree' | 'commit';
  readonly sha: string;
  /** Blobs only. */
  readonly size?: number;
}

export interface GitObjectInfo {
  readonly type: 'blob' | 'tree' | 'commit' | 'tag';
  readonly size: number;
}

/** One changed path between two commits, in GitHub's vocabulary. */
export interface GitDiffEntry {
  readonly status: 'added' | 'removed' | 'modified' | 'renamed' | 'copied' | 'changed';
  readonly filename: string;
  readonly previousFilename?: string;
  readonly sha: string;
  readonly additions: number;
  readonly deletions: number;
}

/**
 * Whether `ref` is a name GitHub would look up: a branch, tag, `heads/x`, `refs/tags/x` or a hex
 * SHA prefix. Revision syntax (`main~1`, `a..b`, `@{1}`, `x:path`) is not something GitHub accepts.
 */
export function isPlainRef(ref: string): boolean {
  if (ref === '' || ref.startsWith('-') || ref.startsWith('/') || ref.endsWith('/') || ref.endsWith('.lock')) return false;
  if (/[\0-\x20~^:?*[\\\x7f]|\.\.|@\{|\/\//.test(ref)) return false;
  // Pseudo-refs of a working repository (ORIG_HEAD, FETCH_HEAD, ...) do not exist on GitHub.
  return !/^[A-Z_]+$/.test(ref) || ref === 'HEAD';
}

function parsePerson(line: string): GitPerson {
  const match = /^(.*) <([^>]*)> (\d+) [+-]\d{4}$/.exec(line);
  if (!match) return { name: line, email: '', date: new Date(0).toISOString().replace('.000Z', 'Z') };
  const date = new Date(Number(match[3]) * 1000).toISOString().replace('.000Z', 'Z');
  return { name: match[1] ?? '', email: match[2] ?? '', date };
}

/** Parse a raw commit object (`git cat-file commit`). */
export function parseCommit(sha: string, raw: string): CommitInfo {
  const split = raw.indexOf('\n\n');
  const head = split === -1 ? raw : raw.slice(0, split);
  const message = split === -1 ? '' : raw.slice(split + 2);
  const lines = head.split('\n');
  const parents: string[] = [];
  const payloadLines: string[] = [];
  let tree = '';
  let author = '';
  let committer = '';
  let signature: string | undefined;
  let inSignature = false;
  for (const line of lines) {
    if (inSignature && line.startsWith(' ')) {
      signature = `${signature ?? ''}\n${line.slice(1)}`;
      continue;
    }
    inSignature = false;
    const space = line.indexOf(' ');
    const key = line.slice(0, space);
    const value = line.slice(space + 1);
    if (key === 'gpgsig' || key === 'gpgsig-sha256') {
      signature = value;
      inSignature = true;
      continue;
    }
    payloadLines.push(line);
    if (key === 'tree') tree = value;
    else if (key === 'parent') parents.push(value);
    else if (key === 'author') author = value;
    else if (key === 'committer') committer = value;
  }
  const payload = `${payloadLines.join('\n')}\n\n${message}`;
  const base = { sha, tree, parents, author: parsePerson(author), committer: parsePerson(committer), message: message.replace(/\n$/, ''), payload };
  return signature === undefined ? base : { ...base, signature: `${signature}\n` };
}

/** A long-lived `git cat-file --batch-check`: object type and size without a process per lookup. */
class BatchCheck {
  private child: GitChild | undefined;
  private pending: Array<(line: string | undefined) => void> = [];
  private buffered = '';

  constructor(private readonly dir: string) {}

  lookup(sha: string): Promise<string | undefined> {
    const child = this.start();
    return new Promise((resolve) => {
      this.pending.push(resolve);
      child.stdin.write(`${sha}\n`);
    });
  }

  private start(): GitChild {
    if (this.child) return this.child;
    const child = spawnGit(['cat-file', '--batch-check'], this.dir);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) !== -1) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        this.pending.shift()?.(line);
      }
    });
    child.stdin.on('error', () => undefined);
    child.on('close', () => {
      if (this.child === child) this.child = undefined;
      for (const resolve of this.pending.splice(0)) resolve(undefined);
    });
    this.child = child;
    return child;
  }

  close(): void {
    this.child?.stdin.end();
    this.child?.kill();
    this.child = undefined;
  }
}

/** Git access to one repository directory (a working tree with `.git`, or a bare repository). */
export class GitRepo {
  private readonly batch: BatchCheck;

  constructor(readonly dir: string) {
    this.batch = new BatchCheck(dir);
  }

  private run(args: readonly string[]): Promise<string> {
    return git(args, { cwd: this.dir });
  }

  /**
   * True while the repository has no refs at all (GitHub: "Git Repository is empty."): no loose ref
   * under refs/ and no line of packed-refs — what `git for-each-ref --count=1` answers, without a
   * process per request (the server asks this on most requests).
   */
  async isEmpty(): Promise<boolean> {
    const gitDir = await this.gitDir();
    const packed = await readFile(join(gitDir, 'packed-refs'), 'utf8').catch(() => '');
    if (packed.split('\n').some((line) => /^[0-9a-f]{40} /.test(line))) return false;
    const entries = await readdir(join(gitDir, 'refs'), { recursive: true, withFileTypes: true }).catch(() => []);
    return !entries.some((entry) => entry.isFile());
  }

  private gitDirPath: string | undefined;

  /** `.git` of a working tree, or the bare repository itself. */
  private async gitDir(): Promise<string> {
    this.gitDirPath ??= await stat(join(this.dir, '.git')).then(
      (info) => (info.isDirectory() ? join(this.dir, '.git') : this.dir),
      () => this.dir,
    );
    return this.gitDirPath;
  }

  /** The branch HEAD points to (for the default branch when none is configured). */
  async headBranch(): Promise<string> {
    return (await tryGit(['symbolic-ref', '--short', '-q', 'HEAD'], { cwd: this.dir })) ?? 'main';
  }

  /** Peel `ref` (branch, tag, SHA prefix, `HEAD` = default branch) to an object of `kind`. */
  async resolve(ref: string, kind: 'commit' | 'tree', defaultBranch: string): Promise<string | undefined> {
    if (!isPlainRef(ref)) return undefined;
    const name = ref === 'HEAD' ? `refs/heads/${defaultBranch}` : ref;
    // The long-lived cat-file answers `<rev>^{kind}` as `git rev-parse --verify` would (git reads loose
    // refs afresh on every lookup and revalidates packed-refs by its stat), without a process per request.
    const line = await this.batch.lookup(`${name}^{${kind}}`);
    const match = line === undefined ? null : /^([0-9a-f]{40}) (commit|tree) \d+$/.exec(line);
    return match?.[2] === kind ? match[1] : undefined;
  }

  /** Type and size of an object, or undefined when it does not exist. */
  async objectInfo(sha: string): Promise<GitObjectInfo | undefined> {
    if (!FULL_SHA.test(sha)) return undefined;
    const line = await this.batch.lookup(sha);
    const match = line === undefined ? null : /^[0-9a-f]{40} (blob|tree|commit|tag) (\d+)$/.exec(line);
    if (!match) return undefined;
    return { type: match[1] as GitObjectInfo['type'], size: Number(match[2]) };
  }

  async readCommit(sha: string): Promise<CommitInfo> {
    const raw = await gitBuffer(['cat-file', 'commit', sha], { cwd: this.dir });
    return parseCommit(sha, raw.toString('utf8'));
  }

  /** Entries of a tree in git's order; with `recursive`, subtrees are listed before their contents. */
  async lsTree(tree: string, recursive: boolean): Promise<GitTreeEntry[]> {
    const args = ['ls-tree', '-l', '-z', ...(recursive ? ['-r', '-t'] : []), tree];
    const out = (await gitBuffer(args, { cwd: this.dir })).toString('utf8');
    const entries: GitTreeEntry[] = [];
    for (const record of out.split('\0')) {
      if (record === '') continue;
      const tab = record.indexOf('\t');
      const [mode = '', type = '', sha = '', size = '-'] = record.slice(0, tab).split(/ +/);
      const path = record.slice(tab + 1);
      const base = { path, mode, type: type as GitTreeEntry['type'], sha };
      entries.push(type === 'blob' ? { ...base, size: Number(size) } : base);
    }
    return entries;
  }

  /** Stream a blob's bytes (`git cat-file blob`). */
  openBlob(sha: string): Readable {
    return childStream(spawnGit(['cat-file', 'blob', sha], this.dir), `cat-file blob ${sha}`);
  }

  /** Stream `git archive --format=tar.gz` of a commit with every path under `prefix`. */
  openArchive(sha: string, prefix: string): Readable {
    return childStream(spawnGit(['archive', '--format=tar.gz', `--prefix=${prefix}`, sha], this.dir), `archive ${sha}`);
  }

  async mergeBase(a: string, b: string): Promise<string | undefined> {
    return tryGit(['merge-base', a, b], { cwd: this.dir });
  }

  /** Commits reachable from `head` but not from `base`, oldest first (GitHub's compare order). */
  async commitsBetween(base: string, head: string): Promise<string[]> {
    const out = await this.run(['rev-list', '--reverse', '--topo-order', `${base}..${head}`]);
    return out === '' ? [] : out.split('\n');
  }

  /** Changed paths from `from` (a commit, or none for a root commit) to `to`, renames detected. */
  async diff(from: string | undefined, to: string): Promise<GitDiffEntry[]> {
    const args = ['diff-tree', '-r', '-z', '-M', '--no-commit-id', from ?? EMPTY_TREE, to];
    const [raw, numstat] = await Promise.all([this.run([...args, '--raw', '--no-abbrev']), this.run([...args, '--numstat'])]);
    const counts = parseNumstat(numstat);
    const fields = raw.split('\0');
    const entries: GitDiffEntry[] = [];
    for (let i = 0; i + 1 < fields.length; ) {
      const meta = (fields[i] ?? '').replace(/^:/, '').split(' ');
      const [, , oldSha = '', newSha = '', code = ''] = meta;
      const letter = code.charAt(0);
      const twoPaths = letter === 'R' || letter === 'C';
      const first = fields[i + 1] ?? '';
      const second = twoPaths ? fields[i + 2] ?? '' : undefined;
      i += twoPaths ? 3 : 2;
      const filename = second ?? first;
      const count = counts[entries.length] ?? { additions: 0, deletions: 0 };
      const status = ({ A: 'added', D: 'removed', M: 'modified', R: 'renamed', C: 'copied', T: 'changed' } as const)[letter as 'A'] ?? 'modified';
      const entry = { status, filename, sha: letter === 'D' ? oldSha : newSha, ...count };
      entries.push(twoPaths ? { ...entry, previousFilename: first } : entry);
    }
    return entries;
  }

  close(): void {
    this.batch.close();
  }
}

function parseNumstat(out: string): Array<{ additions: number; deletions: number }> {
  const result: Array<{ additions: number; deletions: number }> = [];
  const fields = out.split('\0');
  for (let i = 0; i < fields.length; i++) {
    const match = /^(-|\d+)\t(-|\d+)\t(.*)$/s.exec(fields[i] ?? '');
    if (!match) continue;
    // A rename's paths follow in the next two fields; binary files count as 0/0 as on GitHub.
    if (match[3] === '') i += 2;
    result.push({ additions: match[1] === '-' ? 0 : Number(match[1]), deletions: match[2] === '-' ? 0 : Number(match[2]) });
  }
  return result;
}

/**
 * The child's stdout, ending only once git exited 0 and erroring otherwise, so a failed git never
 * looks like a short but complete body. Destroying the stream kills git.
 */
function childStream(child: GitChild, what: string): Readable {
  child.stdin.end();
  const out = new PassThrough();
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout.pipe(out, { end: false });
  child.on('close', (code) => {
    if (code === 0) out.end();
    else out.destroy(new Error(`git ${what} exited ${String(code)}: ${stderr.trim()}`));
  });
  out.on('close', () => {
    if (child.exitCode === null) child.kill();
  });
  return out;
}
