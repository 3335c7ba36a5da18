/**
 * The git-only source against the fake GitHub's smart HTTP: refs resolved with ls-remote, the tree
 * listed with ls-tree exactly as git lists it, blobs read from the same fetch, and the token kept
 * out of argv, files and messages.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostsyncError, UsageError } from '../../src/errors.js';
import type { GitTreeEntry } from '../../src/github/types.js';
import type { SpawnGit } from '../../src/transfer/clone.js';
import { createGitSource, parseLsRemote, parseTreeRecord, refCandidates, type GitSourceOptions } from '../../src/transfer/git-source.js';
import { gitBuffer } from '../support/git-cli.js';
import { startGitHubServer, type FakeGitHub } from '../support/github-server.js';
import { createRepo, type TestRepo } from '../support/repo.js';
import { catFile, commitBlobs, listFiles, recordingExec as recordingExecOf, tempStore, type RecordedCall } from './helpers.js';

const recordingExec = (calls: Call[], dir: string): SpawnGit => recordingExecOf(calls, dir, secrets);

const TOKEN = 'ghs_GitSourceTestToken0123456789abcdefXYZ';
const BASIC = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
const secrets = [TOKEN, BASIC];

type Call = RecordedCall;

/** The git subcommand of a recorded call (first argument that is neither an option nor a setting). */
const subcommand = (call: Call): string | undefined => call.args.find((arg) => !arg.startsWith('-') && !arg.includes('='));

/** `git ls-tree -r -t -l -z` of the test repository, parsed independently of the code under test. */
async function expectedTree(repoDir: string, commit: string): Promise<GitTreeEntry[]> {
  const out = (await gitBuffer(['ls-tree', '-r', '-t', '-l', '-z', commit], { cwd: repoDir })).toString('utf8');
  return out
    .split('\0')
    .filter((record) => record !== '')
    .map((record) => {
      const tab = record.indexOf('\t');
      const [mode, type, sha, size] = record.slice(0, tab).split(/ +/);
      const entry = { path: record.slice(tab + 1), mode, type, sha } as GitTreeEntry;
      return size === '-' ? entry : { ...entry, size: Number(size) };
    });
}

let server: FakeGitHub;
let repo: TestRepo;
let tmpRoot: string;
const shas = { main: '', dev: '', first: '', tagObject: '' };

beforeAll(async () => {
  server = await startGitHubServer({ tokens: [TOKEN] });
  repo = await createRepo();
  await repo.write('README.md', '# hosts\n');
  await repo.write('hosts/web/configuration.nix', '{ ... }: { }\n');
  shas.first = await repo.commit('first');
  await repo.tag('v1', 'release 1');
  await repo.tag('light');
  await repo.branch('dev');
  await repo.write('hosts/web/hardware.nix', 'hardware\n');
  await repo.write('bin/deploy', '#!/bin/sh\necho deploy\n');
  await repo.chmod('bin/deploy', true);
  await repo.symlink('current', 'hosts/web');
  await repo.write('odd/tab\tand\nnewline.txt', 'odd name\n');
  await repo.write('odd/ünïcödé 文件.nix', 'unicode\n');
  await repo.write('empty.txt', '');
  // A submodule (gitlink) without a checkout: staged by hand, since `repo.commit` adds with -A.
  await repo.git('add', '-A');
  await repo.git('update-index', '--add', '--cacheinfo', `160000,${shas.first},vendor/sub`);
  await repo.git('commit', '--quiet', '-m', 'second');
  shas.main = await repo.head();
  await repo.checkout('dev');
  await repo.write('dev-only.nix', 'dev\n');
  shas.dev = await repo.commit('dev work');
  await repo.checkout('main');
  // A branch and a tag sharing a name: git (and GitHub) prefer the tag.
  await repo.branch('same', 'dev');
  await repo.git('tag', 'same', shas.first);
  shas.tagObject = await repo.git('rev-parse', 'v1');
  await server.addRepo('acme/public', repo.dir);
  await server.addRepo('acme/private', repo.dir, { private: true });
  tmpRoot = await mkdtemp(join(tmpdir(), 'hostsync-git-source-'));
});

afterAll(async () => {
  await server.close();
  await repo.cleanup();
  await rm(tmpRoot, { recursive: true, force: true });
});

async function source(overrides: Partial<GitSourceOptions> = {}) {
  const calls: Call[] = [];
  const tmpDir = await mkdtemp(join(tmpRoot, 'state-'));
  const git = createGitSource({
    serverUrl: server.serverUrl,
    owner: 'acme',
    repo: 'public',
    token: undefined,
    tmpDir,
    exec: recordingExec(calls, tmpDir),
    env: { PATH: process.env['PATH'], GIT_DIR: '/nonexistent/evil', GIT_CONFIG_PARAMETERS: "'core.hooksPath'='/tmp/evil'", HOME: '/root/evil' },
    ...overrides,
  });
  return { git, calls, tmpDir };
}

describe('resolveRef', () => {
  it.each([
    ['HEAD', () => shas.main],
    ['main', () => shas.main],
    ['dev', () => shas.dev],
    ['refs/heads/dev', () => shas.dev],
    ['heads/dev', () => shas.dev],
    ['v1 (annotated, peeled to its commit)', () => shas.first],
    ['light', () => shas.first],
    ['refs/tags/v1', () => shas.first],
    ['same (tag before branch)', () => shas.first],
  ])('%s', async (label, expected) => {
    const { git, tmpDir } = await source();
    try {
      const ref = label.split(' ')[0] ?? label;
      expect(await git.resolveRef(ref)).toBe(expected());
      expect(expected()).not.toBe(shas.tagObject);
    } finally {
      await git.close();
    }
    expect(await listFiles(tmpDir)).toEqual([]);
  });

  it('returns a full SHA as is (lowercased) without running git', async () => {
    const { git, calls } = await source();
    expect(await git.resolveRef(shas.dev.toUpperCase())).toBe(shas.dev);
    expect(calls).toEqual([]);
    await git.close();
  });

  it.each([
    ['nope', /^Unknown ref 'nope' in acme\/public: git ls-remote at http:\/\/127\.0\.0\.1:\d+\/acme\/public\.git lists no branch or tag by that name/],
    ['abc1234', /git cannot expand an abbreviated commit SHA .*Give the full 40-character SHA, or wait for the API rate limit to reset/],
    ['feature/main', /^Unknown ref 'feature\/main'/],
  ])('refuses %s clearly', async (ref, message) => {
    const { git } = await source();
    try {
      const error = await git.resolveRef(ref).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(HostsyncError);
      expect((error as Error).message).toMatch(message);
    } finally {
      await git.close();
    }
  });

  it('refuses a ref that could be read as an option before running git', async () => {
    const { git, calls } = await source();
    await expect(git.resolveRef('--upload-pack=touch /tmp/pwned')).rejects.toBeInstanceOf(UsageError);
    expect(calls).toEqual([]);
    await git.close();
  });

  it('says the repository is empty when there is no HEAD', async () => {
    const empty = await createRepo();
    await server.addRepo('acme/empty', empty.dir);
    const { git } = await source({ repo: 'empty' });
    try {
      await expect(git.resolveRef('HEAD')).rejects.toThrow(/acme\/empty has no default branch .* the repository is empty/);
    } finally {
      await git.close();
      await empty.cleanup();
    }
  });
});

describe('readTree', () => {
  it("equals git ls-tree -r -t -l of the commit: modes, types, SHAs, sizes, odd names, a submodule", async () => {
    const { git, tmpDir } = await source();
    try {
      const tree = await git.readTree(shas.main);
      expect(tree).toEqual(await expectedTree(repo.dir, shas.main));
      expect(tree.map((e) => e.path)).toEqual(expect.arrayContaining(['odd/tab\tand\nnewline.txt', 'odd/ünïcödé 文件.nix', 'vendor/sub', 'current', 'bin']));
      expect(tree.find((e) => e.path === 'vendor/sub')).toEqual({ path: 'vendor/sub', mode: '160000', type: 'commit', sha: shas.first });
      expect(tree.find((e) => e.path === 'bin/deploy')?.mode).toBe('100755');
      expect(tree.find((e) => e.path === 'empty.txt')?.size).toBe(0);
    } finally {
      await git.close();
    }
    expect(await listFiles(tmpDir)).toEqual([]);
  });

  it('refuses an object that is not a commit', async () => {
    const treeSha = await repo.git('rev-parse', `${shas.main}^{tree}`);
    const { git } = await source();
    try {
      await expect(git.readTree(treeSha)).rejects.toBeInstanceOf(HostsyncError);
    } finally {
      await git.close();
    }
  });
});

describe('private repository with a token', () => {
  it('resolves, lists and reads blobs from one fetch; the token never reaches argv, disk or the inherited environment', async () => {
    server.resetLog();
    const { git, calls, tmpDir } = await source({ repo: 'private', token: TOKEN, tokenSource: 'GITHUB_TOKEN' });
    const temp = await tempStore();
    try {
      const commit = await git.resolveRef('HEAD');
      expect(commit).toBe(shas.main);
      const tree = await git.readTree(commit);
      expect(tree).toEqual(await expectedTree(repo.dir, commit));
      const wanted = await commitBlobs(repo.dir, commit);
      const result = await git.strategy(commit).fetch(wanted, { store: temp.store });
      const unique = [...new Set(wanted.map((b) => b.sha))].sort();
      expect(await temp.store.list()).toEqual(unique);
      for (const sha of unique) expect((await readFile(temp.store.pathOf(sha))).equals(await catFile(repo.dir, sha)), sha).toBe(true);
      expect(result.blobs).toBe(unique.length);

      expect(calls.map(subcommand)).toEqual(['init', 'ls-remote', 'fetch', 'cat-file', 'ls-tree', 'cat-file']);
      for (const call of calls) {
        for (const arg of call.args) for (const secret of secrets) expect(arg).not.toContain(secret);
        expect(call.leaks).toEqual([]);
        expect(call.env).not.toHaveProperty('GIT_DIR');
        expect(call.env).not.toHaveProperty('GIT_CONFIG_PARAMETERS');
        expect(call.env).toMatchObject({ GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' });
        expect(call.env['HOME']).not.toBe('/root/evil');
        const network = ['ls-remote', 'fetch'].includes(subcommand(call) ?? '');
        if (network) expect(call.env).toMatchObject({ GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: `Authorization: Basic ${BASIC}` });
        else expect(call.env).not.toHaveProperty('GIT_CONFIG_VALUE_0');
        expect(call.args).toEqual(expect.arrayContaining(['core.hooksPath=/dev/null', 'credential.helper=', 'http.followRedirects=false']));
      }
      const gitRequests = server.requests.filter((r) => r.kind === 'git');
      expect(gitRequests.length).toBeGreaterThan(0);
      expect(gitRequests.every((r) => r.authenticated)).toBe(true);
      expect(server.requests.filter((r) => r.kind === 'api')).toEqual([]);

      // A second read of the same commit reuses the fetch.
      await git.readTree(commit);
      expect(calls.filter((call) => subcommand(call) === 'fetch')).toHaveLength(1);
    } finally {
      await git.close();
      await temp.cleanup();
    }
    expect(await listFiles(tmpDir)).toEqual([]);
  });

  it('fetches a commit the strategy needs when the tree came from elsewhere (no readTree first)', async () => {
    const { git, calls } = await source({ repo: 'private', token: TOKEN });
    const temp = await tempStore();
    try {
      const wanted = (await commitBlobs(repo.dir, shas.dev)).slice(0, 2);
      expect((await git.strategy(shas.dev).fetch(wanted, { store: temp.store })).blobs).toBe(wanted.length);
      expect(calls.map(subcommand)).toEqual(['init', 'fetch', 'cat-file']);
      expect(await git.strategy(shas.dev).fetch(wanted, { store: temp.store })).toEqual({ blobs: 0, bytes: 0 });
      expect(calls).toHaveLength(3);
    } finally {
      await git.close();
      await temp.cleanup();
    }
  });

  it('names the token source, never the token, when the server refuses it', async () => {
    const wrong = `${TOKEN}-revoked`;
    const { git } = await source({ repo: 'private', token: wrong, tokenSource: '--token-file /etc/hostsync/token' });
    try {
      const error = await git.resolveRef('HEAD').catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(HostsyncError);
      const message = (error as Error).message;
      expect(message).toContain(`git ls-remote of ref 'HEAD' of acme/private from ${server.serverUrl}/acme/private.git failed`);
      expect(message).toContain('The server refused the token from --token-file /etc/hostsync/token');
      for (const secret of [wrong, Buffer.from(`x-access-token:${wrong}`).toString('base64'), TOKEN]) expect(message).not.toContain(secret);
    } finally {
      await git.close();
    }
  });

  it('says a private repository needs a token when none is given', async () => {
    const { git } = await source({ repo: 'private' });
    try {
      await expect(git.resolveRef('main')).rejects.toThrow(/needs a token/);
    } finally {
      await git.close();
    }
  });

  it('reports a missing git binary clearly and leaves nothing behind', async () => {
    const { git, tmpDir } = await source({ git: '/nonexistent/git' });
    await expect(git.resolveRef('main')).rejects.toThrow(/^Cannot run \/nonexistent\/git for acme\/public from /);
    await git.close();
    expect(await listFiles(tmpDir)).toEqual([]);
  });
});

describe('parsers', () => {
  it('refCandidates follows git rev-parse precedence', () => {
    expect(refCandidates('HEAD')).toEqual(['HEAD']);
    expect(refCandidates('main')).toEqual(['refs/main', 'refs/tags/main', 'refs/heads/main']);
    expect(refCandidates('refs/heads/x')).toEqual(['refs/heads/x', 'refs/refs/heads/x', 'refs/tags/refs/heads/x', 'refs/heads/refs/heads/x']);
  });

  it('parseLsRemote keeps names and peeled tags, skips anything else', () => {
    const a = 'a'.repeat(40);
    const b = 'b'.repeat(40);
    expect([...parseLsRemote(`${a}\tHEAD\n${b}\trefs/tags/v1^{}\nref: refs/heads/main\tHEAD\ngarbage\n`)]).toEqual([
      ['HEAD', a],
      ['refs/tags/v1^{}', b],
    ]);
  });

  const sha = 'c'.repeat(40);
  it.each([
    [`100644 blob ${sha}      12\ta/b.txt`, { path: 'a/b.txt', mode: '100644', type: 'blob', sha, size: 12 }],
    [`040000 tree ${sha}       -\ta`, { path: 'a', mode: '040000', type: 'tree', sha }],
    [`160000 commit ${sha}       -\tsub`, { path: 'sub', mode: '160000', type: 'commit', sha }],
  ])('parseTreeRecord(%j)', (record, expected) => {
    expect(parseTreeRecord(Buffer.from(record))).toEqual(expected);
  });

  it.each([
    [`100664 blob ${sha}      12\ta`, /unexpected record/],
    [`100644 blob ${sha.slice(1)}      12\ta`, /unexpected record/],
    [`100644 blob ${sha}      12 a`, /unexpected record/],
    [`100644 tag ${sha}      12\ta`, /unexpected record/],
    [`100644 blob ${sha}      x\ta`, /unexpected record/],
  ])('parseTreeRecord refuses %j', (record, message) => {
    expect(() => parseTreeRecord(Buffer.from(record))).toThrow(message);
  });

  it('parseTreeRecord refuses a name that is not UTF-8', () => {
    const record = Buffer.concat([Buffer.from(`100644 blob ${sha}       1\tbad-`), Buffer.from([0xff, 0xfe])]);
    expect(() => parseTreeRecord(record)).toThrow(/not valid UTF-8/);
  });
});
