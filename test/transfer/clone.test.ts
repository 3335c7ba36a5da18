import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostsyncError, IntegrityError } from '../../src/errors.js';
import type { WantedBlob } from '../../src/model.js';
import { createCloneStrategy, isGitAvailable, spawnGit, type CloneStrategyOptions, type SpawnGit } from '../../src/transfer/clone.js';
import { startGitHubServer, type FakeGitHub } from '../support/github-server.js';
import { createRepo, sampleRepo, type TestRepo } from '../support/repo.js';
import { catFile, commitBlobs, listFiles, recordingExec as recordingExecOf, tempStore, type RecordedCall } from './helpers.js';

const recordingExec = (calls: Call[], dir: string): SpawnGit => recordingExecOf(calls, dir, secrets);

const TOKEN = 'ghs_CloneTestToken0123456789abcdefXYZ';
const BASIC = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
const secrets = [TOKEN, BASIC];

type Call = RecordedCall;

let server: FakeGitHub;
let sample: { repo: TestRepo; commit: string };
let blobs: WantedBlob[];
let tmpRoot: string;

beforeAll(async () => {
  server = await startGitHubServer({ tokens: [TOKEN] });
  const made = await sampleRepo();
  sample = { repo: made.repo, commit: made.commit };
  await server.addRepo('acme/private', sample.repo.dir, { private: true });
  await server.addRepo('acme/public', sample.repo.dir);
  blobs = await commitBlobs(sample.repo.dir, sample.commit);
  tmpRoot = await mkdtemp(join(tmpdir(), 'hostsync-clone-'));
});

afterAll(async () => {
  await server.close();
  await sample.repo.cleanup();
  await rm(tmpRoot, { recursive: true, force: true });
});

async function run(overrides: Partial<CloneStrategyOptions> & { readonly repo: string }, wanted: readonly WantedBlob[] = blobs) {
  const temp = await tempStore();
  const calls: Call[] = [];
  const tmpDir = await mkdtemp(join(tmpRoot, 'state-'));
  const strategy = createCloneStrategy({
    serverUrl: server.serverUrl,
    owner: 'acme',
    token: undefined,
    commit: sample.commit,
    tmpDir,
    exec: recordingExec(calls, tmpDir),
    env: { PATH: process.env['PATH'], GIT_DIR: '/nonexistent/evil', GIT_CONFIG_PARAMETERS: "'core.hooksPath'='/tmp/evil'", GIT_TRACE_CURL: '1', HOME: '/root/evil' },
    ...overrides,
  });
  const outcome = await strategy.fetch(wanted, { store: temp.store }).then(
    (value) => ({ value, error: undefined }),
    (error: unknown) => ({ value: undefined, error }),
  );
  return { ...outcome, temp, calls, tmpDir };
}

describe('clone strategy', () => {
  it('fetches a private repository with a token that never reaches argv, disk or the inherited environment', async () => {
    server.resetLog();
    const { value, error, temp, calls, tmpDir } = await run({ repo: 'private', token: TOKEN, tokenSource: 'GITHUB_TOKEN' });
    try {
      expect(error).toBeUndefined();
      const shas = [...new Set(blobs.map((b) => b.sha))].sort();
      expect(await temp.store.list()).toEqual(shas);
      for (const sha of shas) expect((await readFile(temp.store.pathOf(sha))).equals(await catFile(sample.repo.dir, sha)), sha).toBe(true);
      expect(value).toEqual({ blobs: shas.length, bytes: blobs.reduce((sum, b) => sum + (b.size ?? 0), 0) });

      expect(calls.map((call) => call.args.find((arg) => !arg.startsWith('-') && !arg.includes('=')))).toEqual(['init', 'fetch', 'cat-file']);
      for (const call of calls) {
        for (const arg of call.args) for (const secret of secrets) expect(arg).not.toContain(secret);
        expect(call.leaks).toEqual([]);
        expect(call.env).not.toHaveProperty('GIT_DIR');
        expect(call.env).not.toHaveProperty('GIT_CONFIG_PARAMETERS');
        expect(call.env).not.toHaveProperty('GIT_TRACE_CURL');
        expect(call.env).toMatchObject({ GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', PATH: process.env['PATH'] });
        expect(call.env['HOME']).not.toBe('/root/evil');
      }
      const [init, fetch, catFileCall] = calls;
      expect(fetch?.env).toMatchObject({ GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: `Authorization: Basic ${BASIC}` });
      expect(init?.env).not.toHaveProperty('GIT_CONFIG_VALUE_0');
      expect(catFileCall?.env).not.toHaveProperty('GIT_CONFIG_VALUE_0');
      expect(fetch?.args).toEqual(expect.arrayContaining(['protocol.version=2', 'core.hooksPath=/dev/null', 'credential.helper=', '--depth=1', '--no-tags', `${server.serverUrl}/acme/private.git`, sample.commit]));
      const gitRequests = server.requests.filter((r) => r.kind === 'git');
      expect(gitRequests.length).toBeGreaterThan(0);
      expect(gitRequests.every((r) => r.authenticated)).toBe(true);
      expect(server.requests.filter((r) => r.kind === 'api')).toEqual([]);
      expect(await listFiles(tmpDir)).toEqual([]);
    } finally {
      await temp.cleanup();
    }
  });

  it('fails a wrong token with a clear message naming the server and commit, never the token', async () => {
    const wrong = `${TOKEN}-revoked`;
    const { error, temp, tmpDir } = await run({ repo: 'private', token: wrong, tokenSource: '--token-file /etc/hostsync/token' });
    try {
      expect(error).toBeInstanceOf(HostsyncError);
      const message = (error as Error).message;
      expect(message).toContain(`git fetch of commit ${sample.commit} of acme/private from ${server.serverUrl}/acme/private.git failed`);
      expect(message).toContain('The server refused the token from --token-file /etc/hostsync/token');
      for (const secret of [wrong, Buffer.from(`x-access-token:${wrong}`).toString('base64'), TOKEN]) expect(message).not.toContain(secret);
      expect(await temp.store.list()).toEqual([]);
      expect(await listFiles(tmpDir)).toEqual([]);
    } finally {
      await temp.cleanup();
    }
  });

  it("redacts the token and its Basic form from git's stderr", async () => {
    const leaky: SpawnGit = (git, args, options) => {
      if (!args.includes('fetch')) return spawnGit(git, args, options);
      const script = `echo "fatal: header was $GIT_CONFIG_VALUE_0 for ${TOKEN}" >&2; exit 128`;
      return spawn('sh', ['-c', script], { env: { ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    };
    const { error, temp } = await run({ repo: 'private', token: TOKEN, exec: leaky });
    try {
      const message = (error as Error).message;
      expect(message).toContain('fatal: header was Authorization: Basic *** for ***');
      for (const secret of secrets) expect(message).not.toContain(secret);
    } finally {
      await temp.cleanup();
    }
  });

  it('says a private repository needs a token when none is given', async () => {
    const { error, temp } = await run({ repo: 'private' });
    try {
      expect((error as Error).message).toMatch(/needs a token/);
    } finally {
      await temp.cleanup();
    }
  });

  it('fetches a public repository without a token, storing a SHA shared by several paths once', async () => {
    const repo = await createRepo();
    await repo.write('a.txt', 'same\n');
    await repo.write('b/c.txt', 'same\n');
    await repo.symlink('link', '../outside');
    const commit = await repo.commit('dups');
    await server.addRepo('acme/dups', repo.dir);
    const wanted = await commitBlobs(repo.dir, commit);
    const { value, error, temp, calls } = await run({ repo: 'dups', commit }, wanted);
    try {
      expect(error).toBeUndefined();
      expect(value?.blobs).toBe(2);
      expect(calls.some((call) => 'GIT_CONFIG_COUNT' in call.env)).toBe(false);
      const link = wanted.find((b) => b.path === 'link');
      expect(await readFile(temp.store.pathOf(link?.sha ?? ''), 'utf8')).toBe('../outside');
    } finally {
      await temp.cleanup();
      await repo.cleanup();
    }
  });

  it('skips blobs already in the store without running git', async () => {
    const first = await run({ repo: 'public' }, blobs.slice(0, 5));
    try {
      expect(first.error).toBeUndefined();
      const calls: Call[] = [];
      const again = await createCloneStrategy({ serverUrl: server.serverUrl, owner: 'acme', repo: 'public', token: undefined, commit: sample.commit, tmpDir: first.tmpDir, exec: recordingExec(calls, first.tmpDir), env: process.env }).fetch(blobs.slice(0, 5), { store: first.temp.store });
      expect(again).toEqual({ blobs: 0, bytes: 0 });
      expect(calls).toEqual([]);
    } finally {
      await first.temp.cleanup();
    }
  });

  it('refuses a blob the fetched commit does not hold', async () => {
    const { error, temp } = await run({ repo: 'public' }, [...blobs.slice(0, 2), { sha: 'e'.repeat(40), size: 1, path: 'ghost.txt' }]);
    try {
      expect(error).toBeInstanceOf(HostsyncError);
      expect((error as Error).message).toMatch(/git cat-file answered 'e{40} missing' for blob e{40}/);
    } finally {
      await temp.cleanup();
    }
  });

  it('passes git output through the verifying store: wrong bytes are an IntegrityError and nothing is kept', async () => {
    const wanted = blobs.filter((b) => b.path === 'README.md');
    const sha = wanted[0]?.sha ?? '';
    const lying: SpawnGit = (git, args, options) => {
      if (!args.includes('cat-file')) return spawnGit(git, args, options);
      return spawn('sh', ['-c', `cat >/dev/null; printf '%s blob 3\\nabc\\n' ${sha}`], { env: { ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    };
    const { error, temp } = await run({ repo: 'public', exec: lying }, wanted);
    try {
      expect(error).toBeInstanceOf(IntegrityError);
      expect(await listFiles(temp.root)).toEqual([]);
    } finally {
      await temp.cleanup();
    }
  });

  it('reports a missing git binary as a clear failure, and isGitAvailable tells', async () => {
    expect(await isGitAvailable('git', undefined, process.env)).toBe(true);
    expect(await isGitAvailable('/nonexistent/git', undefined, process.env)).toBe(false);
    const { error, temp, tmpDir } = await run({ repo: 'public', git: '/nonexistent/git' }, blobs.slice(0, 1));
    try {
      expect(error).toBeInstanceOf(HostsyncError);
      expect((error as Error).message).toMatch(/^Cannot run \/nonexistent\/git for commit [0-9a-f]{40} of acme\/public/);
      expect(await listFiles(tmpDir)).toEqual([]);
    } finally {
      await temp.cleanup();
    }
  });
});
