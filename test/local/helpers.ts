/**
 * Fixtures for the src/local tests: temp dirs removed after each test, and `git hash-object` as
 * the reference every blob id is checked against. Runs git itself (hermetic: no user or system
 * config) so these tests do not depend on test/support, which is still being written.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

/** Run git in `cwd` without any user or system configuration; resolves with trimmed stdout. */
function git(args: readonly string[], options: { cwd: string; input?: Buffer | string }): Promise<string> {
  const env = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: options.cwd,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
  };
  return new Promise((resolve, reject) => {
    const child = execFile('git', [...args], { cwd: options.cwd, env, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`git ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
      else resolve(stdout.replace(/\n$/, ''));
    });
    child.stdin?.end(options.input);
  });
}

const created: string[] = [];

afterEach(async () => {
  await Promise.all(created.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fresh temp dir, removed after the current test. */
export async function tempDir(prefix = 'hostsync-local-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** What git says the blob id of each file is (no filters: the bytes as they are). */
export async function gitHashObject(cwd: string, paths: readonly string[]): Promise<string[]> {
  const out = await git(['hash-object', '--no-filters', '--', ...paths], { cwd });
  return out.split('\n');
}

/** What git says the blob id of these bytes is. */
export function gitHashStdin(cwd: string, bytes: Buffer | string): Promise<string> {
  return git(['hash-object', '--no-filters', '--stdin'], { cwd, input: bytes });
}

/** The blob id git records in its index for `path` (how git sees a symlink: mode 120000 + target). */
export async function gitIndexEntry(cwd: string, path: string): Promise<{ mode: string; sha: string }> {
  await git(['init', '--quiet'], { cwd });
  await git(['-c', 'core.symlinks=true', 'add', '--', path], { cwd });
  const line = await git(['ls-files', '-s', '--', path], { cwd });
  const match = /^(\d{6}) ([0-9a-f]{40}) 0\t/.exec(line);
  if (match?.[1] === undefined || match[2] === undefined) throw new Error(`Unexpected ls-files output: ${line}`);
  return { mode: match[1], sha: match[2] };
}
