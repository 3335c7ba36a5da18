/**
 * The SSH transport: URL parsing and ssh's arguments (pure, table-tested), then against a real
 * OpenSSH sshd serving git-upload-pack: every command on one connection, each `post` exactly one
 * response, a new connection after one was abandoned, and the end of the session.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchPack, lsRefs } from '../../src/git/fetch-pack.js';
import { MemoryObjectStore } from '../../src/git/memory-store.js';
import { createGitSshTransport, parseSshUrl, sshArguments } from '../../src/git/ssh-transport.js';
import { DELIM_PKT, encodePktLine, FLUSH_PKT } from '../../src/git/pkt-line.js';
import { git } from '../support/git-cli.js';
import { pseudoRandomBytes } from '../support/sample-content.js';
import { createRepo, type TestRepo } from '../support/repo.js';
import { SSHD, startSshd, type SshServer } from '../support/sshd.js';

describe('parseSshUrl', () => {
  it.each([
    ['git@github.com:acme/hypervisor.git', { user: 'git', host: 'github.com', port: undefined, path: 'acme/hypervisor.git' }],
    ['github.com:acme/hv', { user: undefined, host: 'github.com', port: undefined, path: 'acme/hv' }],
    ['git@[::1]:acme/hv.git', { user: 'git', host: '::1', port: undefined, path: 'acme/hv.git' }],
    ['ssh://git@git.example.com:2222/srv/git/hv.git', { user: 'git', host: 'git.example.com', port: 2222, path: '/srv/git/hv.git' }],
    ['ssh://git.example.com/~alice/hv.git', { user: undefined, host: 'git.example.com', port: undefined, path: '~alice/hv.git' }],
    ['git+ssh://git@host/x%20y.git', { user: 'git', host: 'host', port: undefined, path: '/x y.git' }],
    ['ssh://git@[fd00::1]:22/x.git', { user: 'git', host: 'fd00::1', port: 22, path: '/x.git' }],
  ])('%s', (url, target) => {
    expect(parseSshUrl(url)).toEqual(target);
  });
});

describe('sshArguments', () => {
  it('batch mode, strict host keys, the key alone, GIT_PROTOCOL sent, the path quoted for the remote shell', () => {
    expect(sshArguments({ user: 'git', host: 'github.com', port: 2222, path: "acme/it's.git" }, { keyFile: '/etc/hostsync/deploy_key', knownHostsFile: '/etc/hostsync/known_hosts', connectTimeoutSec: 30 })).toEqual([
      '-x', '-T',
      '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=yes',
      '-o', 'UserKnownHostsFile=/etc/hostsync/known_hosts',
      '-i', '/etc/hostsync/deploy_key', '-o', 'IdentitiesOnly=yes',
      '-o', 'SendEnv=GIT_PROTOCOL',
      '-o', 'ConnectTimeout=30',
      '-o', 'ServerAliveInterval=15',
      '-o', 'ServerAliveCountMax=4',
      '-l', 'git',
      '-p', '2222',
      '--',
      'github.com',
      "git-upload-pack 'acme/it'\\''s.git'",
    ]);
  });

  it('refuses a host or user that ssh would read as an option', () => {
    expect(() => sshArguments({ user: undefined, host: '-oProxyCommand=x', port: undefined, path: 'x' }, {})).toThrow(/read as an option/);
    expect(() => sshArguments({ user: '-F/tmp/x', host: 'h', port: undefined, path: 'x' }, {})).toThrow(/read as an option/);
  });
});

const isRoot = process.getuid?.() === 0;

describe.skipIf(SSHD === undefined || !isRoot)('against OpenSSH sshd', () => {
  let sshd: SshServer;
  let repo: TestRepo;
  let bare: string;
  let head = '';

  beforeAll(async () => {
    sshd = await startSshd();
    repo = await createRepo();
    await repo.write('README.md', '# demo\n');
    await repo.write('data.bin', pseudoRandomBytes(200_000, 5));
    head = await repo.commit('A');
    await repo.tag('v1', 'release');
    bare = join(sshd.repoRoot, 'demo.git');
    await git(['init', '-q', '--bare', '--initial-branch=main', bare], { cwd: sshd.repoRoot });
    await git(['push', '-q', bare, 'main', 'v1'], { cwd: repo.dir });
  });
  afterAll(async () => {
    await sshd.close();
    await repo.cleanup();
  });

  const logins = (): number => (sshd.output().match(/Accepted publickey/g) ?? []).length;
  const open = () => createGitSshTransport({ url: sshd.urlOf(bare), keyFile: sshd.keyFile, knownHostsFile: sshd.knownHostsFile, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/root' } });

  it('advertisement, ls-refs and a fetch on one connection; each post is exactly one response', async () => {
    const before = logins();
    const transport = open();
    try {
      const capabilities = await transport.advertise();
      expect(capabilities.commands.has('fetch')).toBe(true);
      const { refs } = await lsRefs({ transport, capabilities, refPrefixes: ['refs/heads/main', 'refs/tags/v1'] });
      expect(refs.map((r) => r.name).sort()).toEqual(['refs/heads/main', 'refs/tags/v1']);
      const store = new MemoryObjectStore();
      const fetched = await fetchPack({ transport, capabilities, wants: [head], deepen: 1, sink: store, bases: store });
      expect(store.objects.has(head)).toBe(true);
      expect(fetched.objects.blob).toBe(2);
      // A second command after the pack: the connection is still in step.
      const again = await lsRefs({ transport, capabilities, refPrefixes: ['HEAD'] });
      expect(again.refs.find((r) => r.name === 'HEAD')?.oid).toBe(head);
      expect(transport.stats.requests).toBe(4); // the connection (advertisement) and three commands
      expect(transport.stats.bytesReceived).toBeGreaterThan(200_000);
    } finally {
      await transport.close();
    }
    expect(logins() - before).toBe(1);
  });

  it('a response abandoned half-way ends that connection; the next command opens another', async () => {
    const before = logins();
    const transport = open();
    try {
      const capabilities = await transport.advertise();
      const body = await transport.post(Buffer.concat([encodePktLine('command=ls-refs\n'), DELIM_PKT, encodePktLine('symrefs\n'), FLUSH_PKT]));
      for await (const chunk of body) {
        expect(chunk.length).toBeGreaterThan(0);
        break; // stop reading mid-response
      }
      const { refs } = await lsRefs({ transport, capabilities, refPrefixes: ['refs/heads/'] });
      expect(refs.map((r) => r.name)).toEqual(['refs/heads/main']);
    } finally {
      await transport.close();
    }
    expect(logins() - before).toBe(2);
  });

  it('an aborted fetch stops ssh and rejects with the abort', async () => {
    const transport = open();
    const controller = new AbortController();
    try {
      const capabilities = await transport.advertise();
      const store = new MemoryObjectStore();
      controller.abort(new Error('stop'));
      await expect(fetchPack({ transport, capabilities, wants: [head], sink: store, bases: store, signal: controller.signal })).rejects.toThrow(/stop/);
    } finally {
      await transport.close();
    }
  });
});
