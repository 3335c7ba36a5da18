/**
 * Shared fixtures of the transfer tests: a temp object store, a client for the fake GitHub, the
 * blobs of a commit as git lists them, and a hand-built tar writer for hostile archives.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { createGitHubClient } from '../../src/github/client.js';
import type { GitHubClient } from '../../src/github/types.js';
import type { WantedBlob } from '../../src/model.js';
import { createObjectStore, type ObjectStore } from '../../src/state/objects.js';
import { spawnGit, type SpawnGit } from '../../src/transfer/clone.js';
import { gitBuffer } from '../support/git-cli.js';

/** A store in a fresh temp dir; `root` is the dir holding it, to check nothing lands beside it. */
export interface TempStore {
  readonly root: string;
  readonly store: ObjectStore;
  cleanup(): Promise<void>;
}

export async function tempStore(): Promise<TempStore> {
  const root = await mkdtemp(join(tmpdir(), 'hostsync-transfer-'));
  return { root, store: createObjectStore(join(root, 'objects')), cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** Every file below `dir`, relative, sorted ('' when the dir is missing). */
export async function listFiles(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries
      .filter((entry) => !entry.isDirectory())
      .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
      .sort();
  } catch {
    return [];
  }
}

/** A client for one repository of the fake server, retrying fast. */
export function testClient(apiUrl: string, fullName: string, token?: string): GitHubClient {
  const [owner = '', repo = ''] = fullName.split('/');
  return createGitHubClient({
    apiUrl,
    owner,
    repo,
    token,
    tokenSource: token === undefined ? undefined : 'the test',
    userAgent: 'hostsync-test',
    timeoutMs: 10_000,
    stallMs: 10_000,
    connections: 4,
    retry: { retries: 1, minTimeoutMs: 0, maxTimeoutMs: 0 },
  });
}

/** Files and symlinks of `commit` (below `sub` when given), as `git ls-tree` lists them. */
export async function commitBlobs(repoDir: string, commit: string, sub = ''): Promise<WantedBlob[]> {
  const out = (await gitBuffer(['ls-tree', '-r', '-l', '-z', sub === '' ? commit : `${commit}:${sub}`], { cwd: repoDir })).toString('utf8');
  const blobs: WantedBlob[] = [];
  for (const record of out.split('\0')) {
    if (record === '') continue;
    const tab = record.indexOf('\t');
    const [, type = '', sha = '', size = '0'] = record.slice(0, tab).split(/ +/);
    if (type === 'blob') blobs.push({ sha, size: Number(size), path: record.slice(tab + 1) });
  }
  return blobs;
}

/** A blob's bytes as git has them. */
export function catFile(repoDir: string, sha: string): Promise<Buffer> {
  return gitBuffer(['cat-file', 'blob', sha], { cwd: repoDir });
}

/** One entry of a hand-built tarball. */
export interface TarEntry {
  readonly path: string;
  readonly type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'FIFO' | 'CharacterDevice';
  readonly content?: string | Buffer;
  readonly linkpath?: string;
}

/** Build a gzipped tarball with node-tar's header encoder, exactly as given (no path cleaning). */
export function buildTarball(entries: readonly TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const data = entry.content === undefined ? Buffer.alloc(0) : Buffer.from(entry.content);
    const header = new Header({
      path: entry.path,
      type: entry.type ?? 'File',
      size: data.length,
      mode: entry.type === 'Directory' ? 0o755 : 0o644,
      mtime: new Date('2024-01-01T00:00:00Z'),
      uid: 0,
      gid: 0,
      ...(entry.linkpath === undefined ? {} : { linkpath: entry.linkpath }),
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** One git process a recording exec started: its argv, environment, and files that held a secret then. */
export interface RecordedCall {
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Files under the watched folder that held a secret when this call started. */
  readonly leaks: readonly string[];
}

/** Every file below `dir` whose bytes contain one of `secrets` (synchronous: runs inside exec). */
export function filesWithSecrets(dir: string, secrets: readonly string[]): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    const bytes = readFileSync(path);
    if (secrets.some((secret) => bytes.includes(secret))) found.push(name);
  }
  return found;
}

/** An exec that records argv, environment and on-disk secrets of every git it starts. */
export function recordingExec(calls: RecordedCall[], dir: string, secrets: readonly string[]): SpawnGit {
  return (git, args, options) => {
    calls.push({ args, env: options.env, leaks: filesWithSecrets(dir, secrets) });
    return spawnGit(git, args, options);
  };
}
