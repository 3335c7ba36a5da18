/**
 * A write path no input can subvert. Hostile trees served as GitHub's tree answer (a fault rule
 * replies with crafted JSON in GitHub's shape) must fail the run naming the path, exit 1, with
 * nothing written: DEST, a sentinel folder beside it, the state dir and /etc/passwd keep every
 * byte, mode, inode and mtime. Real git commits that turn a symlink into a folder (and back), and
 * symlinks planted in DEST by someone else, must never lead a write outside DEST.
 */
import { lstat, mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFixture, type Fixture } from '../support/fixture.js';
import type { RequestInfo } from '../support/github-server.js';
import { fingerprint, stagingLeftovers } from '../support/safety-helpers.js';

let fx: Fixture;
beforeEach(async () => {
  fx = await createFixture({ transport: 'rest' });
});
afterEach(async () => {
  await fx.close();
});

interface TreeItem {
  readonly path: string;
  readonly mode: string;
  readonly type: 'blob' | 'tree' | 'commit';
  readonly sha: string;
  readonly size?: number;
}

const isTreeRequest = (req: RequestInfo): boolean => /\/git\/trees\//.test(req.path);

/** GitHub's answer shape for GET /repos/{owner}/{repo}/git/trees/{sha}?recursive=1. */
function treeBody(items: readonly TreeItem[]): Record<string, unknown> {
  const api = `${fx.server.apiUrl}/repos/acme/hypervisor`;
  const sha = 'f00df00df00df00df00df00df00df00df00df00d';
  return {
    sha,
    url: `${api}/git/trees/${sha}`,
    tree: items.map((item) => ({ ...item, url: item.type === 'tree' ? `${api}/git/trees/${item.sha}` : `${api}/git/blobs/${item.sha}` })),
    truncated: false,
  };
}

/** Everything a run could have touched: DEST, the sentinel beside it, the state dir, /etc/passwd, and what lies in fx.tmp. */
async function worldFingerprint(): Promise<Record<string, string[]>> {
  return {
    dest: await fingerprint(fx.dest, { identity: true }),
    sentinel: await fingerprint(join(fx.tmp, 'sentinel'), { identity: true }),
    // quota.json is the quota GitHub reported, rewritten by every run that talks to it
    // (src/rollout/poll.ts): it, and the state dir's own mtime its rename moves, are left out.
    state: (await fingerprint(fx.stateDir, { identity: true }))
      .filter((line) => !line.startsWith('quota.json '))
      .map((line) => (line.startsWith('. ') ? line.replace(/ mtime=[\d.]+/, '') : line)),
    etcPasswd: [JSON.stringify(await lstat('/etc/passwd', { bigint: true }), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))],
    tmpListing: (await readdir(fx.tmp)).sort(),
  };
}

describe('hostile trees from the server', () => {
  let payload: TreeItem;
  let base: TreeItem[];

  beforeEach(async () => {
    await fx.repo.write('README.md', 'hello\n');
    await fx.repo.write('hosts/a.nix', '{ a }\n');
    await fx.repo.write('payload', 'pwned\n');
    const first = await fx.repo.commit('A');
    await fx.sync();
    await fx.expectSameAsCommit(first);
    await mkdir(join(fx.tmp, 'sentinel'));
    await writeFile(join(fx.tmp, 'sentinel', 'keep.txt'), 'sentinel\n');
    // The ref moves to a real commit B; the tree endpoint answers with the crafted tree instead.
    await fx.repo.write('hosts/a.nix', '{ a, b }\n');
    await fx.repo.commit('B');
    const ls = (path: string): Promise<string> => fx.repo.git('rev-parse', `HEAD:${path}`);
    // A blob the server really serves: if validation let a hostile entry through, it would be written.
    payload = { path: '', mode: '100644', type: 'blob', sha: await ls('payload'), size: 6 };
    base = [
      { path: 'README.md', mode: '100644', type: 'blob', sha: await ls('README.md'), size: 6 },
      { path: 'hosts', mode: '040000', type: 'tree', sha: await ls('hosts') },
      { path: 'hosts/a.nix', mode: '100644', type: 'blob', sha: await ls('hosts/a.nix'), size: 9 },
    ];
  });

  const blob = (path: string): TreeItem => ({ ...payload, path });
  const dir = (path: string): TreeItem => ({ path, mode: '040000', type: 'tree', sha: '4b825dc642cb6eb9a060e54bf8d69288fbee4904' });

  const cases: [string, () => TreeItem[], string, RegExp][] = [
    ['a ../ path', () => [blob('../x')], '../x', /'\.\.' component/],
    ['an absolute path', () => [blob('/etc/passwd')], '/etc/passwd', /is absolute/],
    ['a ../ in the middle', () => [dir('a'), blob('a/../../x')], 'a/../../x', /'\.\.' component/],
    ['a . component', () => [blob('./x')], './x', /'\.' component/],
    ['an empty component', () => [dir('a'), blob('a//x')], 'a//x', /empty component/],
    ['.git/hooks/post-checkout', () => [dir('.git'), dir('.git/hooks'), { ...blob('.git/hooks/post-checkout'), mode: '100755' }], '.git', /'\.git' component/],
    ['.GIT/config (case-folded)', () => [dir('.GIT'), blob('.GIT/config')], '.GIT', /'\.git' component/],
    ['a backslash', () => [blob('..\\..\\x')], '..\\..\\x', /backslash/],
    ['a NUL', () => [blob('ok\u0000/../../x')], 'ok\u0000/../../x', /NUL/],
    ['a duplicate path', () => [blob('README.md')], 'README.md', /appears twice/],
    ['a blob whose parent folder entry is missing', () => [blob('nodir/evil')], 'nodir/evil', /no parent directory entry/],
    ['a symlink with a file beneath it in the same tree', () => [{ ...blob('link'), mode: '120000' }, blob('link/evil')], 'link/evil', /no parent directory entry/],
    ['a tree entry with a file mode', () => [{ ...dir('evil'), mode: '100644' }], 'evil', /has type tree with mode 100644/],
  ];

  it.each(cases)('%s: exit 1 naming the path, nothing written anywhere', async (_name, extra, named, reason) => {
    const before = await worldFingerprint();
    fx.server.resetLog();
    fx.server.faults = [{ match: isTreeRequest, action: { status: 200, body: treeBody([...base, ...extra()]) } }];
    const result = await fx.run(['sync']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(JSON.stringify(named));
    expect(result.stderr).toMatch(reason);
    expect(result.stderr).toMatch(/Nothing was written/);
    expect(fx.server.requests.filter((r) => /\/git\/blobs\//.test(r.path))).toEqual([]);
    expect(await worldFingerprint()).toEqual(before);
  });

  it('a hostile tree that is dropped again: the next honest answer applies normally', async () => {
    fx.server.faults = [{ match: isTreeRequest, times: 1, action: { status: 200, body: treeBody([...base, blob('../x')]) } }];
    expect((await fx.run(['sync'])).code).toBe(1);
    await fx.sync();
    await fx.expectSameAsCommit(await fx.repo.head());
  });
});

describe('symlinks across commits (real git history)', () => {
  it('link -> outside, then link/evil as a folder and file: never written outside DEST, in either direction, also by rollback with the server stopped', async () => {
    const outside = join(fx.tmp, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'evil'), 'outside, must stay\n');
    const outsideBefore = await fingerprint(outside, { identity: true });
    await fx.repo.write('README.md', 'x\n');
    await fx.repo.symlink('link', outside); // absolute target
    await fx.repo.symlink('rel', '../outside'); // relative target leaving DEST
    const one = await fx.repo.commit('symlinks out of DEST');
    await fx.sync('--history-limit', '20');
    await fx.expectSameAsCommit(one);

    await fx.repo.remove('link');
    await fx.repo.write('link/evil', 'inside DEST\n');
    await fx.repo.remove('rel');
    await fx.repo.write('rel/evil', 'inside DEST too\n');
    await fx.repo.chmod('rel/evil', true);
    const two = await fx.repo.commit('the symlinks become folders');
    await fx.sync('--history-limit', '20');
    await fx.expectSameAsCommit(two);
    expect((await lstat(join(fx.dest, 'link'))).isDirectory()).toBe(true);
    expect(await fingerprint(outside, { identity: true })).toEqual(outsideBefore);

    await fx.repo.remove('link');
    await fx.repo.symlink('link', outside);
    const three = await fx.repo.commit('and back to a symlink');
    await fx.sync('--history-limit', '20');
    await fx.expectSameAsCommit(three);

    await fx.repo.remove('link');
    await fx.repo.write('link/evil', 'inside DEST again\n');
    const four = await fx.repo.commit('folder again');
    await fx.sync('--history-limit', '20');
    await fx.expectSameAsCommit(four);

    await fx.server.close();
    for (const commit of [three, two, one, four]) {
      const back = await fx.run(['rollback', '--to', commit, '--history-limit', '20', '--dest', fx.dest, '--state-dir', fx.stateDir], { bare: true });
      expect(back.code, back.stderr).toBe(0);
      await fx.expectSameAsCommit(commit);
      expect(await fingerprint(outside, { identity: true })).toEqual(outsideBefore);
    }
  });
});

describe('symlinks planted in DEST by someone else', () => {
  let outside: string;
  let outsideBefore: string[];

  beforeEach(async () => {
    outside = join(fx.tmp, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'a.nix'), 'outside a\n');
    await writeFile(join(outside, 'run.sh'), 'outside script\n');
    outsideBefore = await fingerprint(outside, { identity: true });
    await fx.repo.write('hosts/a.nix', '{ a }\n');
    await fx.repo.write('bin/run.sh', '#!/bin/sh\n');
    await fx.repo.write('etc/app.conf', 'conf\n');
    await fx.repo.commit('A');
    await fx.sync();
  });

  it('a folder replaced by a symlink (hosts -> outside) is replaced again, nothing written through it', async () => {
    await rm(join(fx.dest, 'hosts'), { recursive: true });
    await symlink(outside, join(fx.dest, 'hosts'));
    await fx.repo.write('hosts/a.nix', '{ a v2 }\n');
    await fx.repo.write('hosts/b.nix', '{ b }\n');
    const next = await fx.repo.commit('B');
    await fx.sync();
    await fx.expectSameAsCommit(next);
    expect((await lstat(join(fx.dest, 'hosts'))).isDirectory()).toBe(true);
    expect(await fingerprint(outside, { identity: true })).toEqual(outsideBefore);
  });

  it('the same on an unchanged commit: the drift repair replaces the symlink too', async () => {
    await rename(join(fx.dest, 'hosts'), join(fx.tmp, 'hosts-moved'));
    await symlink(outside, join(fx.dest, 'hosts'));
    await fx.sync();
    await fx.expectSameAsCommit(await fx.repo.head());
    expect(await fingerprint(outside, { identity: true })).toEqual(outsideBefore);
  });

  it('files replaced by symlinks to outside files (a content change and a mode change) are replaced, the targets keep their bytes and modes', async () => {
    await rm(join(fx.dest, 'hosts/a.nix'));
    await symlink(join(outside, 'a.nix'), join(fx.dest, 'hosts/a.nix'));
    await rm(join(fx.dest, 'bin/run.sh'));
    await symlink(join(outside, 'run.sh'), join(fx.dest, 'bin/run.sh'));
    await fx.repo.write('hosts/a.nix', '{ a v2 }\n');
    await fx.repo.chmod('bin/run.sh', true); // a mode-only change in git
    const next = await fx.repo.commit('B');
    await fx.sync();
    await fx.expectSameAsCommit(next);
    expect(await fingerprint(outside, { identity: true })).toEqual(outsideBefore);
  });

  it('a deleted folder whose files were replaced by a symlink: the delete never follows it', async () => {
    await rm(join(fx.dest, 'etc'), { recursive: true });
    await mkdir(join(outside, 'etc'));
    await writeFile(join(outside, 'etc', 'app.conf'), 'outside conf\n');
    const outsideEtc = await fingerprint(outside, { identity: true });
    await symlink(join(outside, 'etc'), join(fx.dest, 'etc'));
    await fx.repo.remove('etc');
    const next = await fx.repo.commit('B drops etc');
    await fx.sync();
    expect(await fingerprint(outside, { identity: true })).toEqual(outsideEtc);
    expect(await readFile(join(outside, 'etc', 'app.conf'), 'utf8')).toBe('outside conf\n');
    await fx.expectSameAsCommit(next, undefined, fx.dest, ['etc']);
  });
});

describe('hostile symlink blobs (real git commits)', () => {
  const targets: [string, Buffer, RegExp][] = [
    ['a NUL in the target', Buffer.from('a\u0000b'), /null bytes/],
    ['an empty target', Buffer.alloc(0), /ENOENT/],
    ['a target longer than PATH_MAX', Buffer.from('x/'.repeat(3000)), /ENAMETOOLONG/],
  ];
  it.each(targets)('%s: the apply fails and is undone, exit 1, DEST exactly the previous commit, no temp files', async (_name, target, reason) => {
    await fx.repo.write('a.nix', 'a\n');
    await fx.repo.write('conf/b.nix', 'b\n');
    const first = await fx.repo.commit('A');
    await fx.sync();
    await fx.repo.write('a.nix', 'a2\n'); // applied before the link, so the undo has work to do
    await fx.repo.remove('conf');
    await fx.repo.write('conf', 'conf is a file now\n');
    const blobFile = join(fx.tmp, 'link-blob');
    await writeFile(blobFile, target);
    const sha = await fx.repo.git('hash-object', '-w', blobFile);
    await fx.repo.git('add', '-A');
    await fx.repo.git('update-index', '--add', '--cacheinfo', `120000,${sha},zz-link`);
    await fx.repo.git('commit', '-q', '-m', 'B with a hostile symlink');
    const result = await fx.run(['sync']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(reason);
    expect(result.stderr).toMatch(/DEST was put back as it was/);
    await fx.expectSameAsCommit(first);
    expect(await stagingLeftovers(fx.dest, fx.stateDir)).toEqual([]);
  });
});

describe('a symlink planted at a parent of DEST (documented behaviour)', () => {
  it('DEST is resolved to its real path at every start: a parent swapped for a symlink redirects the sync to its target, as a first install there; the old DEST is left alone', async () => {
    const parent = join(fx.tmp, 'etc');
    const dest = join(parent, 'hypervisor');
    const args = ['sync', '--repo', 'acme/hypervisor', '--dest', dest, '--state-dir', fx.stateDir];
    await fx.repo.write('a.nix', 'one\n');
    const one = await fx.repo.commit('one');
    expect((await fx.run(args, { bare: true })).code).toBe(0);
    await fx.expectSameAsCommit(one, undefined, dest);

    const moved = join(fx.tmp, 'etc-real');
    await rename(parent, moved);
    const elsewhere = join(fx.tmp, 'elsewhere');
    await mkdir(elsewhere);
    await writeFile(join(elsewhere, 'unrelated'), 'not hostsync\n');
    await symlink(elsewhere, parent);
    await fx.repo.write('a.nix', 'two\n');
    const two = await fx.repo.commit('two');
    const result = await fx.run(args, { bare: true });
    // Current behaviour: followed. The state is keyed by the real path, so this is a new
    // destination (no manifest, no journal of the old one); what was there stays, unmanaged.
    expect(result.code, result.stderr).toBe(0);
    await fx.expectSameAsCommit(two, undefined, join(elsewhere, 'hypervisor'));
    expect(await readFile(join(elsewhere, 'unrelated'), 'utf8')).toBe('not hostsync\n');
    await fx.expectSameAsCommit(one, undefined, join(moved, 'hypervisor'));
    expect(await readdir(join(fx.stateDir, 'dests'))).toHaveLength(2);
  });
});
