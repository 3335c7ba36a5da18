/**
 * The fixture of tests against servers nobody here wrote (a plain git host, sshd, a proxy in front
 * of the fake GitHub): a real repository, a temp DEST and state dir, and hostsync run in-process
 * with a clean environment. Unlike fixture.ts it starts no fake GitHub: with a git URL, no REST
 * server runs at all.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { parseJson, type CliResult } from './cli.js';
import { runInProcess } from './io.js';
import { compareTrees, createRepo, extractGitArchive, type TestRepo } from './repo.js';

export interface HostFixture {
  readonly repo: TestRepo;
  readonly tmp: string;
  readonly dest: string;
  readonly stateDir: string;
  /** `hostsync <args> --dest D --state-dir S` in-process, with `env` over a clean environment. */
  run(args: readonly string[], env?: Readonly<Record<string, string>>): Promise<CliResult>;
  /** `sync --json --repo <repo> …` that must succeed; the parsed JSON. */
  sync(repo: string, args?: readonly string[], env?: Readonly<Record<string, string>>): Promise<Record<string, unknown>>;
  expectSameAsCommit(commit: string): Promise<void>;
  close(): Promise<void>;
}

export async function createHostFixture(): Promise<HostFixture> {
  const tmp = await mkdtemp(join(tmpdir(), 'hostsync-host-'));
  const repo = await createRepo();
  const dest = join(tmp, 'dest');
  const stateDir = join(tmp, 'state');
  const run = (args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<CliResult> =>
    runInProcess([...args, '--dest', dest, '--state-dir', stateDir], { env, cwd: tmp });
  return {
    repo,
    tmp,
    dest,
    stateDir,
    run,
    async sync(url, args = [], env = {}) {
      const result = await run(['sync', '--json', '--repo', url, ...args], env);
      if (result.code !== 0) throw new Error(`sync failed (${result.code}):\n${result.stderr}\n${result.stdout}`);
      return parseJson(result);
    },
    async expectSameAsCommit(commit) {
      const expected = await extractGitArchive(repo.dir, commit);
      try {
        expect(await compareTrees(expected, dest)).toEqual([]);
      } finally {
        await rm(expected, { recursive: true, force: true });
      }
    },
    async close() {
      await repo.cleanup();
      await rm(tmp, { recursive: true, force: true });
    },
  };
}
