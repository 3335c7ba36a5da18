/**
 * Helpers of the apply-safety tests (test/safety): spawn the real CLI with a handle to kill it,
 * poll for files at a fine interval, copy whole trees (DEST and state snapshots), fingerprint a
 * tree down to inode and mtime (to prove "nothing was written"), and find leftover temp files.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN, TEST_CODE_CACHE, type CliResult } from './cli.js';

/** A CLI run in progress. */
export interface SpawnedCli {
  readonly child: ChildProcess;
  /** Resolves when the process has exited (never rejects on a non-zero exit or a signal). */
  readonly done: Promise<CliResult>;
  /** What the process has written to stderr so far. */
  stderrSoFar(): string;
}

export interface SpawnOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Run through `sh -c 'umask U; exec node …'` so the CLI starts with this umask (octal text, e.g. '077'). */
  readonly umask?: string;
  /** Killed with SIGKILL after this long. @default 60_000 */
  readonly timeoutMs?: number;
}

/** Start `hostsync <args>` (the built CLI) with a clean environment and return a handle. */
export function spawnCli(args: readonly string[], options: SpawnOptions = {}): SpawnedCli {
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/root', NO_COLOR: '1', CACHE_DIRECTORY: TEST_CODE_CACHE, ...options.env };
  const child =
    options.umask === undefined
      ? spawn(process.execPath, [BIN, ...args], { env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('/bin/sh', ['-c', `umask ${options.umask}; exec "$0" "$@"`, process.execPath, BIN, ...args], { env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done, stderrSoFar: () => stderr };
}

/** Run the CLI to completion (see {@link spawnCli}). */
export function runCliWith(args: readonly string[], options: SpawnOptions = {}): Promise<CliResult> {
  return spawnCli(args, options).done;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Call `check` every `intervalMs` (0: as often as the event loop allows) until it returns a value
 * other than undefined, `stop()` turns true, or `timeoutMs` passes; resolves the value or undefined.
 */
export async function pollFor<T>(check: () => Promise<T | undefined>, options: { intervalMs?: number; timeoutMs?: number; stop?: () => boolean } = {}): Promise<T | undefined> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (options.stop?.() === true || Date.now() > deadline) return undefined;
    if ((options.intervalMs ?? 0) > 0) await sleep(options.intervalMs);
  }
}

/** `<stateDir>/dests/<key>/journal.json` of the (single) destination, when it exists. */
export async function journalPath(stateDir: string): Promise<string | undefined> {
  let keys: string[];
  try {
    keys = await readdir(join(stateDir, 'dests'));
  } catch {
    return undefined;
  }
  for (const key of keys) {
    const file = join(stateDir, 'dests', key, 'journal.json');
    if (await exists(file)) return file;
  }
  return undefined;
}

function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, [...args], { maxBuffer: 1 << 26 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

/** Run a system command (mount, chattr, cp …) and resolve its stdout; rejects with its stderr. */
export const sh = run;

/**
 * Copy a tree exactly (modes, owners, symlinks, times) to `to`, replacing what was there. With
 * `hardlinks`, files are hard-linked instead of copied (`cp -al`): only for trees whose files are
 * never changed in place, like hostsync's state dir (objects and JSON are replaced by rename).
 */
export async function copyTree(from: string, to: string, options: { hardlinks?: boolean } = {}): Promise<void> {
  await run('rm', ['-rf', '--', to]);
  await mkdir(dirname(to), { recursive: true });
  await run('cp', [options.hardlinks === true ? '-al' : '-a', '--', from, to]);
}

/**
 * One line per entry under `root` (never following symlinks): path, kind, permission bits, owner,
 * size, content hash or link target, and — with `identity` — inode and mtime, so that even a
 * rewrite with the same bytes shows up. Sorted; equal lists mean an untouched tree.
 */
export async function fingerprint(root: string, options: { identity?: boolean } = {}): Promise<string[]> {
  const lines: string[] = [];
  const visit = async (rel: string): Promise<void> => {
    const full = rel === '' ? root : join(root, rel);
    const info = await lstat(full);
    const id = options.identity === true ? ` ino=${info.ino} mtime=${info.mtimeMs}` : '';
    const head = `${rel === '' ? '.' : rel} mode=${(info.mode & 0o7777).toString(8)} owner=${info.uid}:${info.gid}${id}`;
    if (info.isSymbolicLink()) lines.push(`${head} symlink -> ${await readlink(full)}`);
    else if (info.isFile()) lines.push(`${head} file ${info.size} ${createHash('sha1').update(await readFile(full)).digest('hex')}`);
    else if (info.isDirectory()) {
      lines.push(`${head} dir`);
      for (const name of (await readdir(full)).sort()) await visit(rel === '' ? name : `${rel}/${name}`);
    } else lines.push(`${head} other`);
  };
  await visit('');
  return lines.sort();
}

/** Paths (relative to `root`) of every entry whose name passes `match`, never following symlinks. */
export async function findNames(root: string, match: (name: string) => boolean): Promise<string[]> {
  const found: string[] = [];
  const visit = async (rel: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(rel === '' ? root : join(root, rel));
    } catch {
      return;
    }
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      if (match(name)) found.push(path);
      const info = await lstat(join(root, path));
      if (info.isDirectory()) await visit(path);
    }
  };
  await visit('');
  return found.sort();
}

/** Staging leftovers: `.hostsync-tmp-*` anywhere in DEST and anything in `<stateDir>/objects/tmp`. */
export async function stagingLeftovers(dest: string, stateDir: string): Promise<string[]> {
  const inDest = (await findNames(dest, (name) => name.startsWith('.hostsync-tmp-'))).map((p) => `DEST/${p}`);
  let inStore: string[] = [];
  try {
    inStore = (await readdir(join(stateDir, 'objects', 'tmp'))).map((name) => `objects/tmp/${name}`);
  } catch {
    // no objects/tmp: nothing left
  }
  return [...inDest, ...inStore];
}

/** Permission bits of a path (lstat). */
export async function modeOf(path: string): Promise<number> {
  return (await lstat(path)).mode & 0o7777;
}

/** A scratch file system mounted for a test; `release` unmounts it (or just removes the dir). */
export interface ScratchMount {
  readonly dir: string;
  /** True when `dir` is its own tmpfs; false when mounting was refused and it is a plain directory. */
  readonly mounted: boolean;
  release(): Promise<void>;
}

/**
 * Mount a tmpfs of `size` (e.g. '512m') on a fresh temp dir. Needs root (CAP_SYS_ADMIN); when the
 * mount is refused, resolves a plain temp dir with `mounted: false` so callers can skip or adapt.
 */
export async function mountTmpfs(size: string, parent = tmpdir()): Promise<ScratchMount> {
  const dir = await mkdtemp(join(parent, 'hostsync-safety-mnt-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
  } catch {
    return { dir, mounted: false, release: () => rm(dir, { recursive: true, force: true }) };
  }
  return {
    dir,
    mounted: true,
    async release() {
      await run('umount', ['-l', dir]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Git's view of a tree as a map path → "kind detail" (file: exec bit + content hash; symlink:
 * target; dir), never following symlinks — what `compareTrees` compares, computed once so a
 * directory can be checked against two commits with one walk.
 */
export async function gitView(root: string): Promise<Map<string, string>> {
  const view = new Map<string, string>();
  const visit = async (rel: string): Promise<void> => {
    for (const name of await readdir(rel === '' ? root : join(root, rel))) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const full = join(root, path);
      const info = await lstat(full);
      if (info.isSymbolicLink()) view.set(path, `symlink ${await readlink(full)}`);
      else if (info.isDirectory()) {
        view.set(path, 'dir');
        await visit(path);
      } else if (info.isFile()) view.set(path, `file ${(info.mode & 0o100) !== 0 ? '100755' : '100644'} ${createHash('sha1').update(await readFile(full)).digest('hex')}`);
      else view.set(path, 'other');
    }
  };
  await visit('');
  return view;
}

/** Differences between two {@link gitView}s, sorted; empty when equal. */
export function diffViews(expected: ReadonlyMap<string, string>, actual: ReadonlyMap<string, string>): string[] {
  const diffs: string[] = [];
  for (const path of new Set([...expected.keys(), ...actual.keys()])) {
    const want = expected.get(path);
    const got = actual.get(path);
    if (want !== got) diffs.push(`${path}: expected ${want ?? 'absent'}, got ${got ?? 'absent'}`);
  }
  return diffs.sort();
}
