/**
 * OpenSSH's sshd from Debian for tests: on a free loopback port with a temporary config, its own
 * host key, and an AuthorizedKeysFile holding one test key (a deploy key), logging in as the user
 * running the tests (root in CI). `AcceptEnv GIT_PROTOCOL` lets git-upload-pack speak protocol v2,
 * as GitHub's and GitLab's servers do. The system git serves the repositories.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { findBinary, freePort, startDaemon } from './daemon.js';

const run = promisify(execFile);

/** The sshd binary, or undefined when openssh-server is not installed (.ci/run installs it). */
export const SSHD = findBinary('/usr/sbin/sshd');

export interface SshServer {
  readonly port: number;
  readonly user: string;
  /** The client's private key (the deploy key), 0600. */
  readonly keyFile: string;
  /** known_hosts with the server's host key for `[127.0.0.1]:PORT`. */
  readonly knownHostsFile: string;
  /** A directory for repositories (absolute paths in ssh:// URLs). */
  readonly repoRoot: string;
  /** `ssh://USER@127.0.0.1:PORT<path>` */
  urlOf(path: string): string;
  /** What sshd logged (-e: to stderr). */
  output(): string;
  close(): Promise<void>;
}

export interface SshServerOptions {
  /** Pass GIT_PROTOCOL to the session. @default true */
  readonly acceptGitProtocol?: boolean;
}

/** Start sshd on 127.0.0.1. Needs root (sshd's privilege separation) and openssh-server. */
export async function startSshd(options: SshServerOptions = {}): Promise<SshServer> {
  if (SSHD === undefined) throw new Error('sshd is not installed (apt-get install openssh-server; .ci/run does it)');
  const dir = await mkdtemp(join(tmpdir(), 'hostsync-sshd-'));
  const repoRoot = join(dir, 'repos');
  await mkdir(repoRoot);
  // sshd's privilege separation directory; systemd-tmpfiles makes it on a booted host.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = join(dir, 'host_ed25519');
  const keyFile = join(dir, 'deploy_key');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hostsync-test-host', '-f', hostKey]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hostsync-test-deploy-key', '-f', keyFile]);
  await writeFile(join(dir, 'authorized_keys'), await readFile(`${keyFile}.pub`, 'utf8'), { mode: 0o600 });
  const port = await freePort();
  const [type, key] = (await readFile(`${hostKey}.pub`, 'utf8')).trim().split(/\s+/);
  const knownHostsFile = join(dir, 'known_hosts');
  await writeFile(knownHostsFile, `[127.0.0.1]:${port} ${type} ${key}\n`);
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'StrictModes no', // the temp dir's modes are the test's business
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'UsePAM no',
    'PrintMotd no',
    'LogLevel VERBOSE',
    ...(options.acceptGitProtocol === false ? [] : ['AcceptEnv GIT_PROTOCOL']),
    '',
  ].join('\n');
  await writeFile(join(dir, 'sshd_config'), config);
  const daemon = await startDaemon(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { port, cwd: dir });
  const user = userInfo().username;
  return {
    port,
    user,
    keyFile,
    knownHostsFile,
    repoRoot,
    urlOf: (path) => `ssh://${user}@127.0.0.1:${port}${path}`,
    output: () => daemon.output(),
    async close() {
      await daemon.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
