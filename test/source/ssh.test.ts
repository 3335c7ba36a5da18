/**
 * Deploy keys over SSH, end to end: a real OpenSSH sshd from Debian on a loopback port (temporary
 * config and host key, the deploy key in its AuthorizedKeysFile, AcceptEnv GIT_PROTOCOL) serving a
 * bare repository through the system git's git-upload-pack, synced by `--repo ssh://…` with
 * `--ssh-key-file` and `--ssh-known-hosts-file`: protocol v2 over the ssh process, no git on the
 * client side, no REST server at all.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { git } from '../support/git-cli.js';
import { createHostFixture, type HostFixture } from '../support/host-fixture.js';
import { parseJson } from '../support/cli.js';
import { SSHD, startSshd, type SshServer } from '../support/sshd.js';
import { writeFile } from 'node:fs/promises';

const isRoot = process.getuid?.() === 0;
let fx: HostFixture;
let sshd: SshServer;
let bare: string;

async function publish(): Promise<void> {
  await git(['push', '-q', '--force', bare, '+refs/heads/*:refs/heads/*'], { cwd: fx.repo.dir });
}

describe.skipIf(SSHD === undefined || !isRoot)('a deploy key over SSH (OpenSSH sshd)', () => {
  beforeEach(async () => {
    fx = await createHostFixture();
    sshd = await startSshd();
    bare = join(sshd.repoRoot, 'hypervisor.git');
    await git(['init', '-q', '--bare', '--initial-branch=main', bare], { cwd: sshd.repoRoot });
  });
  afterEach(async () => {
    await sshd.close();
    await fx.close();
  });

  const flags = (): string[] => ['--ssh-key-file', sshd.keyFile, '--ssh-known-hosts-file', sshd.knownHostsFile];

  it('first install, update and unchanged poll: DEST exact, one SSH session each', async () => {
    await fx.repo.write('flake.nix', '{ outputs = _: {}; }\n');
    await fx.repo.write('hosts/web/configuration.nix', '{ web }\n');
    await fx.repo.write('bin/deploy', '#!/bin/sh\necho deploy\n');
    await fx.repo.chmod('bin/deploy', true);
    await fx.repo.symlink('current', 'hosts/web');
    const first = await fx.repo.commit('A');
    await publish();
    const url = sshd.urlOf(bare);

    const install = await fx.sync(url, flags());
    expect(install).toMatchObject({ ok: true, source: 'wire', commit: first, apiRequests: 0 });
    await fx.expectSameAsCommit(first);

    await fx.repo.write('hosts/web/configuration.nix', '{ web, v2 }\n');
    await fx.repo.remove('bin/deploy');
    const second = await fx.repo.commit('B');
    await publish();
    const update = await fx.sync(url, flags());
    expect(update).toMatchObject({ commit: second, previousCommit: first, changes: { modified: ['hosts/web/configuration.nix'], deleted: ['bin/deploy'] } });
    await fx.expectSameAsCommit(second);

    const sessionsBefore = (sshd.output().match(/Accepted publickey/g) ?? []).length;
    const poll = await fx.sync(url, flags());
    expect(poll).toMatchObject({ commit: second, pending: false, blobsDownloaded: 0 });
    await fx.expectSameAsCommit(second);
    // One login for the poll: the advertisement and ls-refs on one connection.
    expect((sshd.output().match(/Accepted publickey/g) ?? []).length - sessionsBefore).toBe(1);
    // The deploy key is what got in.
    expect(sshd.output()).toMatch(/Accepted publickey for \S+ from 127\.0\.0\.1 .* ED25519/);
  });

  it('--check-only and the downgrade guard over SSH', async () => {
    await fx.repo.write('a.txt', 'a\n');
    const first = await fx.repo.commit('A');
    await publish();
    const url = sshd.urlOf(bare);
    await fx.sync(url, flags());
    await fx.repo.write('a.txt', 'b\n');
    await fx.repo.commit('B');
    await fx.repo.write('a.txt', 'c\n');
    const third = await fx.repo.commit('C');
    await publish();
    const check = await fx.run(['sync', '--check-only', '--json', '--repo', url, ...flags()]);
    expect(check.code, check.stderr).toBe(3);
    expect(await fx.sync(url, flags())).toMatchObject({ commit: third });
    await fx.repo.git('reset', '-q', '--hard', first);
    await publish();
    const refused = await fx.run(['sync', '--repo', url, ...flags()]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/not its descendant/);
    await fx.expectSameAsCommit(third);
  });

  it('an unknown host key, a key the server refuses, and a missing repository: one line each, never retried blindly', async () => {
    await fx.repo.write('a.txt', 'a\n');
    await fx.repo.commit('A');
    await publish();
    const url = sshd.urlOf(bare);
    const empty = join(fx.tmp, 'known_hosts');
    await writeFile(empty, '');
    const unknown = await fx.run(['sync', '--repo', url, '--ssh-key-file', sshd.keyFile, '--ssh-known-hosts-file', empty]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/Host key verification failed\. The server's host key is not in .*known_hosts.*ssh-keyscan/);

    const other = join(fx.tmp, 'other_key');
    await writeFile(other, '');
    await git(['--version'], { cwd: fx.tmp });
    const { execFile } = await import('node:child_process');
    await new Promise((resolve, reject) => execFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(fx.tmp, 'stranger')], (error) => (error ? reject(error) : resolve(undefined))));
    const refused = await fx.run(['sync', '--repo', url, '--ssh-key-file', join(fx.tmp, 'stranger'), '--ssh-known-hosts-file', sshd.knownHostsFile]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/Permission denied \(publickey\)\. The server refused the key .*stranger: add its public half as a \(read-only\) deploy key/);

    const missing = await fx.run(['sync', '--repo', sshd.urlOf('/srv/nope.git'), ...flags()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/does not appear to be a git repository|No such repository/);
  });
});

describe.skipIf(SSHD === undefined || !isRoot)('an sshd that does not pass GIT_PROTOCOL', () => {
  it('is reported as protocol v0, with what the server needs', async () => {
    fx = await createHostFixture();
    sshd = await startSshd({ acceptGitProtocol: false });
    try {
      bare = join(sshd.repoRoot, 'hypervisor.git');
      await git(['init', '-q', '--bare', '--initial-branch=main', bare], { cwd: sshd.repoRoot });
      await fx.repo.write('a.txt', 'a\n');
      await fx.repo.commit('A');
      await publish();
      const run = await fx.run(['sync', '--json', '--repo', sshd.urlOf(bare), '--ssh-key-file', sshd.keyFile, '--ssh-known-hosts-file', sshd.knownHostsFile]);
      expect(run.code).toBe(1);
      expect(parseJson(run)).toMatchObject({ ok: false });
      expect(run.stderr).toMatch(/protocol v0\/v1 .*protocol v2/);
    } finally {
      await sshd.close();
      await fx.close();
    }
  });
});
