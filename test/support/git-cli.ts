/**
 * The one place test support runs the `git` CLI: a hermetic environment (no user or system config,
 * fixed identity) and promise wrappers around execFile/spawn.
 */
import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/** Environment for every git child: ignores ~/.gitconfig and /etc/gitconfig so tests are repeatable. */
export function gitEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: process.env['HOME'] ?? '/tmp',
    LANG: 'C',
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Hostsync Test',
    GIT_AUTHOR_EMAIL: 'test@hostsync.invalid',
    GIT_COMMITTER_NAME: 'Hostsync Test',
    GIT_COMMITTER_EMAIL: 'test@hostsync.invalid',
    ...extra,
  };
}

/** Options of {@link git}. */
export interface GitRunOptions {
  readonly cwd: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Bytes written to stdin. */
  readonly input?: string | Buffer;
}

/** Run git and resolve with stdout as a Buffer; rejects with git's stderr in the message. */
export function gitBuffer(args: readonly string[], opts: GitRunOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      [...args],
      { cwd: opts.cwd, env: gitEnv(opts.env), encoding: 'buffer', maxBuffer: 1 << 30 },
      (error, stdout, stderr) => {
        if (error) {
          const detail = stderr.toString('utf8').trim();
          reject(new Error(`git ${args.join(' ')} failed in ${opts.cwd}: ${detail || error.message}`));
          return;
        }
        resolve(stdout);
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Run git and resolve with stdout as UTF-8 text, trailing newline removed. */
export async function git(args: readonly string[], opts: GitRunOptions): Promise<string> {
  const out = await gitBuffer(args, opts);
  return out.toString('utf8').replace(/\n$/, '');
}

/** Run git, resolving `undefined` instead of rejecting when it exits non-zero (a `try…` variant). */
export async function tryGit(args: readonly string[], opts: GitRunOptions): Promise<string | undefined> {
  try {
    return await git(args, opts);
  } catch {
    return undefined;
  }
}

/** A spawned git whose stdout is read as a stream (for blobs, archives, CGI). */
export type GitChild = ChildProcessByStdio<Writable, Readable, Readable>;

/** Spawn git with piped stdio in the hermetic environment. */
export function spawnGit(
  args: readonly string[],
  cwd: string,
  env: Readonly<Record<string, string>> = {},
): GitChild {
  return spawn('git', [...args], { cwd, env: gitEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
}
