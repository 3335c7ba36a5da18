/**
 * One end-to-end fixture: a GitHub-compatible server serving a real repository, a temp DEST and
 * state dir, and `sync(...)` running the real CLI against them. `expectSameAsCommit` compares DEST
 * with `git archive` of a commit: paths, bytes, executable bits, symlink targets.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { startGitHubServer, type FakeGitHub, type GitHubServerOptions } from './github-server.js';
import { compareTrees, createRepo, extractGitArchive, type TestRepo } from './repo.js';
import { parseJson, runCli, TEST_CODE_CACHE, type CliResult } from './cli.js';
import { runInProcess } from './io.js';
import type { Timing } from '../../src/cli/io.js';

export const TOKEN = 'ghp_testTokenValue0123456789abcdefABCDEF';

/** Every fixture run spawns the CLI (to check that in-process and spawned runs agree). */
const SPAWN_ALL = process.env['HOSTSYNC_TEST_SPAWN'] === '1';

export interface RunOptions {
  readonly bare?: boolean;
  readonly env?: Record<string, string>;
  /** Spawn the CLI: for tests whose subject is the process (exit status, signals, stdio). */
  readonly spawn?: boolean;
  /** Retry timing of an in-process run. @default FAST_TIMING (no waiting) */
  readonly timing?: Timing;
}

export interface Fixture {
  readonly server: FakeGitHub;
  readonly repo: TestRepo;
  readonly tmp: string;
  readonly dest: string;
  readonly stateDir: string;
  readonly env: Record<string, string>;
  /**
   * Run `hostsync <args>` with --repo/--dest/--state-dir filled in (unless `bare`): in-process, or
   * as a spawned `bin/hostsync.js` with `spawn` (or for every run when HOSTSYNC_TEST_SPAWN=1).
   */
  run(args: readonly string[], options?: RunOptions): Promise<CliResult>;
  /** Serve the repository now (the first run does it otherwise): to put things on the server before a sync. */
  serve(): Promise<void>;
  /** `sync --json` that must succeed; returns the parsed JSON. */
  sync(...args: string[]): Promise<Record<string, unknown>>;
  expectSameAsCommit(commit: string, subPath?: string, dest?: string, ignore?: string[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Options of {@link createFixture}: the server's, the repository's name, and the transport every run
 * uses unless it says otherwise (HOSTSYNC_TRANSPORT): suites about the REST path pin `rest`.
 */
export type FixtureOptions = GitHubServerOptions & { readonly repoName?: string; readonly transport?: 'auto' | 'rest' | 'git' };

export async function createFixture(options: FixtureOptions = {}): Promise<Fixture> {
  const tmp = await mkdtemp(join(tmpdir(), 'hostsync-e2e-'));
  const repo = await createRepo();
  const server = await startGitHubServer({ tokens: [TOKEN], ...options });
  const repoName = options.repoName ?? 'acme/hypervisor';
  const dest = join(tmp, 'dest');
  const stateDir = join(tmp, 'state');
  // CACHE_DIRECTORY: spawned runs keep their code cache in /tmp, never in the machine's /var/cache.
  const env: Record<string, string> = { GITHUB_API_URL: server.apiUrl, GITHUB_SERVER_URL: server.serverUrl, GITHUB_TOKEN: TOKEN, CACHE_DIRECTORY: TEST_CODE_CACHE, ...(options.transport !== undefined ? { HOSTSYNC_TRANSPORT: options.transport } : {}) };
  let served = false;
  const serve = async (): Promise<void> => {
    if (served) return;
    await server.addRepo(repoName, repo.dir);
    served = true;
  };
  const run = async (args: readonly string[], runOptions: RunOptions = {}): Promise<CliResult> => {
    await serve();
    const full = runOptions.bare === true ? [...args] : [...args, '--repo', repoName, '--dest', dest, '--state-dir', stateDir];
    const runEnv = { ...env, ...runOptions.env };
    return runOptions.spawn === true || SPAWN_ALL ? runCli(full, { env: runEnv, cwd: tmp }) : runInProcess(full, { env: runEnv, cwd: tmp, ...(runOptions.timing ? { timing: runOptions.timing } : {}) });
  };
  return {
    server,
    repo,
    tmp,
    dest,
    stateDir,
    env,
    run,
    serve,
    async sync(...args: string[]) {
      const result = await run(['sync', '--json', ...args]);
      if (result.code !== 0) throw new Error(`sync failed (${result.code}):\n${result.stderr}\n${result.stdout}`);
      return parseJson(result);
    },
    async expectSameAsCommit(commit: string, subPath?: string, target = dest, ignore: string[] = []) {
      const expected = await extractGitArchive(repo.dir, commit, subPath);
      try {
        expect(await compareTrees(expected, target, { ignore })).toEqual([]);
      } finally {
        await rm(expected, { recursive: true, force: true });
      }
    },
    async close() {
      await server.close();
      await repo.cleanup();
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

/** API requests in the server log that fetched blobs. */
export function blobRequests(server: FakeGitHub): string[] {
  return server.requests.filter((r) => r.kind === 'api' && /\/git\/blobs\//.test(r.path)).map((r) => r.path);
}
