/**
 * Git over SSH, protocol v2, with OpenSSH's `ssh` and no git binary on this host: one connection
 * runs `git-upload-pack '<path>'` on the server, which first writes its capability advertisement
 * and then answers each command written to its stdin on the same connection. What fetch-pack needs
 * from a transport — `advertise` and `post` — maps onto that: `post` writes one command request and
 * returns exactly one response (the pkt-lines up to the flush-pkt that ends it), so the next command
 * can follow on the same connection.
 *
 *   ssh -o BatchMode=yes -o StrictHostKeyChecking=yes [-o UserKnownHostsFile=F] [-i KEY -o IdentitiesOnly=yes]
 *       -o SendEnv=GIT_PROTOCOL -l USER [-p PORT] -- HOST "git-upload-pack '/path'"     (GIT_PROTOCOL=version=2)
 *
 * The server must accept the variable (`AcceptEnv GIT_PROTOCOL`, as GitHub, GitLab, Gitea and
 * Debian's git-daemon setups do); one that does not answers in protocol v0, reported as such.
 * @see https://git-scm.com/docs/gitprotocol-v2#_ssh_and_file_transport
 * @see https://git-scm.com/docs/git#Documentation/git.txt-codeGITSSHCOMMANDcode (what git runs)
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { HostsyncError } from '../errors.js';
import { ByteReader } from './byte-reader.js';
import { readCapabilities, type Capabilities } from './capabilities.js';
import { GitProtocolError, GitTransportError, PktLineError } from './errors.js';
import type { GitHttpTransport, TransportStats } from './http-transport.js';
import { FLUSH_PKT } from './pkt-line.js';

/** Where an SSH repository lives. */
export interface SshTarget {
  readonly user: string | undefined;
  readonly host: string;
  readonly port: number | undefined;
  /** The path as `git-upload-pack` gets it: `acme/x.git` (scp-like, relative to the login's home), `/srv/git/x.git`, `~/x.git`. */
  readonly path: string;
}

/**
 * Parse `[user@]host:path` (scp-like) or `ssh://[user@]host[:port]/path` as git does: in an
 * ssh:// URL a path starting `/~` is relative to a home directory. Throws a HostsyncError (exit 2).
 */
export function parseSshUrl(url: string): SshTarget {
  const scheme = /^(ssh|git\+ssh|ssh\+git):\/\//i.exec(url);
  if (scheme !== null) {
    let parsed: URL;
    try {
      parsed = new URL(`ssh://${url.slice(scheme[0].length)}`);
    } catch {
      throw new HostsyncError(`Invalid SSH URL ${JSON.stringify(url)}.`, 2);
    }
    const path = decodeURIComponent(parsed.pathname);
    return {
      user: parsed.username === '' ? undefined : decodeURIComponent(parsed.username),
      host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: parsed.port === '' ? undefined : Number(parsed.port),
      path: path.startsWith('/~') ? path.slice(1) : path,
    };
  }
  const scp = /^(?:([^@/:]+)@)?(\[[^\]]+\]|[^/:]+):(.+)$/.exec(url);
  if (scp === null) throw new HostsyncError(`Invalid SSH repository ${JSON.stringify(url)}: expected user@host:path or ssh://user@host/path.`, 2);
  return { user: scp[1], host: (scp[2] ?? '').replace(/^\[(.*)\]$/, '$1'), port: undefined, path: scp[3] ?? '' };
}

/** `'…'` for a POSIX shell, as git's sq_quote does: the remote side runs the command through one. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Options of {@link createGitSshTransport}. */
export interface GitSshTransportOptions {
  /** The repository as the user gave it (`git@host:acme/x.git`, `ssh://…`), shown in messages. */
  readonly url: string;
  /** A private key (deploy key); else ssh's own keys and agent. */
  readonly keyFile?: string | undefined;
  /** known_hosts holding the server's key; checked strictly. Else ssh's default files. */
  readonly knownHostsFile?: string | undefined;
  /** Seconds to connect. @default 30 */
  readonly connectTimeoutSec?: number | undefined;
  /** The ssh binary. @default 'ssh' */
  readonly ssh?: string | undefined;
  /** Where PATH, HOME and SSH_AUTH_SOCK come from (the process environment, read by src/config). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Starts ssh; tests may record calls. @default node's spawn */
  readonly spawn?: SpawnSsh | undefined;
}

/** A spawned ssh with piped stdio. */
export type SshProcess = ChildProcessByStdio<Writable, Readable, Readable>;
export type SpawnSsh = (command: string, args: readonly string[], env: Readonly<Record<string, string>>) => SshProcess;

const spawnSsh: SpawnSsh = (command, args, env) => spawn(command, [...args], { env: { ...env }, stdio: ['pipe', 'pipe', 'pipe'] });

/** Variables ssh may inherit: finding itself and the user's keys, agent and config. */
const INHERITED = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SSH_AUTH_SOCK', 'TMPDIR'];

/** ssh's arguments for one connection to `target`. Pure. */
export function sshArguments(target: SshTarget, options: Pick<GitSshTransportOptions, 'keyFile' | 'knownHostsFile' | 'connectTimeoutSec'>): string[] {
  if (target.host.startsWith('-') || (target.user ?? '').startsWith('-')) throw new HostsyncError(`Refusing SSH host ${JSON.stringify(target.host)}: it would be read as an option.`, 2);
  return [
    '-x', // no X11
    '-T', // no terminal
    '-o', 'BatchMode=yes', // never ask for a password or passphrase
    '-o', 'StrictHostKeyChecking=yes', // an unknown or changed host key fails
    ...(options.knownHostsFile === undefined ? [] : ['-o', `UserKnownHostsFile=${options.knownHostsFile}`]),
    ...(options.keyFile === undefined ? [] : ['-i', options.keyFile, '-o', 'IdentitiesOnly=yes']),
    '-o', 'SendEnv=GIT_PROTOCOL',
    '-o', `ConnectTimeout=${options.connectTimeoutSec ?? 30}`,
    '-o', 'ServerAliveInterval=15',
    '-o', 'ServerAliveCountMax=4',
    ...(target.user === undefined ? [] : ['-l', target.user]),
    ...(target.port === undefined ? [] : ['-p', String(target.port)]),
    '--',
    target.host,
    `git-upload-pack ${shellQuote(target.path)}`,
  ];
}

/** An SSH transport: the HTTP one's interface, plus `close` for the connection. */
export interface GitSshTransport extends GitHttpTransport {
  /** End the session (a flush-pkt, then stdin closed) and wait for ssh to exit. */
  close(): Promise<void>;
}

interface Connection {
  readonly child: SshProcess;
  readonly reader: ByteReader;
  readonly exited: Promise<number | null>;
  stderr: string;
  capabilities: Capabilities | undefined;
  /** A response is being read. */
  busy: boolean;
  /** Broken (a response abandoned half-way, ssh gone): the next call connects again. */
  dead: boolean;
}

/** What ssh's stderr says, as one hint; undefined when it names nothing known. */
function sshHint(stderr: string, options: GitSshTransportOptions): { message: string; final: boolean } | undefined {
  const said = stderr.trim().split('\n').map((line) => line.trim().replace(/\.$/, '')).filter((line) => line !== '' && !/^Warning: Permanently added/.test(line)).slice(-3).join(' / ');
  const known = options.knownHostsFile ?? '~/.ssh/known_hosts';
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No .* host key is known/i.test(stderr)) {
    return { final: true, message: `${said}. The server's host key is not in ${known} (or changed). Add it after checking its fingerprint: ssh-keyscan [-p PORT] HOST >> ${known}, then set sshKnownHostsFile.` };
  }
  if (/Permission denied|Too many authentication failures/i.test(stderr)) {
    const key = options.keyFile === undefined ? "ssh's default keys" : `the key ${options.keyFile}`;
    return { final: true, message: `${said}. The server refused ${key}: add its public half as a (read-only) deploy key of the repository, or set sshKeyFile.` };
  }
  if (/Load key .*: (bad permissions|invalid format|No such file)|UNPROTECTED PRIVATE KEY FILE/i.test(stderr)) {
    return { final: true, message: `${said}. Check sshKeyFile: an OpenSSH private key without a passphrase, mode 0600, owned by the user running hostsync.` };
  }
  if (/does not appear to be a git repository|not a git repository|Repository not found|could not be found|No such file or directory/i.test(stderr)) {
    return { final: true, message: `${said}. No such repository at that path, or the key may not read it.` };
  }
  if (/Could not resolve hostname|Connection refused|Connection timed out|Network is unreachable|Connection reset|Broken pipe|closed by remote host|Connection closed/i.test(stderr)) {
    return { final: false, message: said };
  }
  return undefined;
}

/**
 * Create the transport. Nothing runs until a method is called; one ssh process serves every
 * command after that (a new one when the last broke). Call `close()` when done.
 */
export function createGitSshTransport(options: GitSshTransportOptions): GitSshTransport {
  const target = parseSshUrl(options.url);
  const args = sshArguments(target, options);
  const stats: TransportStats = { requests: 0, bytesSent: 0, bytesReceived: 0 };
  const env: Record<string, string> = {};
  for (const name of INHERITED) {
    const value = options.env[name];
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, { LANG: 'C', LC_ALL: 'C', GIT_PROTOCOL: 'version=2' });
  const start = options.spawn ?? spawnSsh;
  const ssh = options.ssh ?? 'ssh';
  let current: Connection | undefined;

  /** The failure of a connection, with what ssh said. */
  const failure = async (connection: Connection, what: string, cause?: unknown): Promise<Error> => {
    // ssh writes its reason just before it exits; give it a moment.
    await Promise.race([connection.exited, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    const hint = sshHint(connection.stderr, options);
    const code = connection.child.exitCode;
    const exit = code === null ? '' : ` (ssh exit ${code})`;
    const detail = connection.stderr.trim().split('\n').slice(-3).join(' / ') || (cause instanceof Error ? cause.message : 'no message');
    const message = hint?.final === true ? `SSH to ${options.url} failed${exit}: ${hint.message}` : `SSH to ${options.url} failed ${what}${exit}: ${hint?.message ?? detail}`;
    return hint?.final === true ? new HostsyncError(message, 1, { cause }) : new GitTransportError(message, { cause });
  };

  const kill = (connection: Connection): void => {
    connection.dead = true;
    if (connection.child.exitCode === null && connection.child.signalCode === null) connection.child.kill();
  };

  /** One response: the pkt-lines up to and including the flush-pkt that ends it. */
  async function* message(connection: Connection, what: string, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
    connection.busy = true;
    let complete = false;
    const onAbort = (): void => kill(connection);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        const cut = (got: number): Error => new PktLineError(`The SSH connection ended inside a pkt-line (${got} bytes).`);
        const header = await connection.reader.readExactly(4, cut);
        if (header === undefined) {
          signal?.throwIfAborted();
          throw await failure(connection, `while ${what}: the connection ended before the response did`);
        }
        const text = header.toString('latin1');
        if (!/^[0-9a-fA-F]{4}$/.test(text)) throw new PktLineError(`Invalid pkt-line length ${JSON.stringify(text)} from ${options.url}.`);
        const length = Number.parseInt(text, 16);
        stats.bytesReceived += 4;
        yield Buffer.from(header);
        if (length === 0) {
          complete = true;
          return;
        }
        for (let left = Math.max(0, length - 4); left > 0; ) {
          const piece = await connection.reader.take(left);
          if (piece === undefined) {
            signal?.throwIfAborted();
            throw await failure(connection, `while ${what}: the connection ended inside a pkt-line`);
          }
          left -= piece.length;
          stats.bytesReceived += piece.length;
          yield piece;
        }
      }
    } catch (error) {
      if (signal?.aborted === true) throw signal.reason;
      if (error instanceof HostsyncError) throw error;
      throw await failure(connection, `while ${what}`, error);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      connection.busy = false;
      // A response read half-way leaves the connection mid-stream: nothing more can be asked on it.
      if (!complete) kill(connection);
    }
  }

  const connect = async (signal: AbortSignal | undefined): Promise<Connection> => {
    signal?.throwIfAborted();
    const child = start(ssh, args, env);
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const spawnError = new Promise<never>((_resolve, reject) => child.on('error', reject));
    spawnError.catch(() => undefined);
    child.stdin.on('error', () => undefined);
    const connection: Connection = { child, reader: new ByteReader(child.stdout), exited, stderr: '', capabilities: undefined, busy: false, dead: false };
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      connection.stderr = (connection.stderr + chunk).slice(-8192);
    });
    void exited.then(() => {
      connection.dead = true;
    });
    stats.requests += 1;
    try {
      connection.capabilities = await Promise.race([readCapabilities(message(connection, 'reading the capability advertisement', signal)), spawnError]);
    } catch (error) {
      kill(connection);
      if (error instanceof Error && 'code' in error && error.code === 'ENOENT') {
        throw new HostsyncError(`Cannot run ${ssh} for ${options.url}: it is not installed. Install OpenSSH's client (Debian: openssh-client).`, 1, { cause: error });
      }
      throw error;
    }
    current = connection;
    return connection;
  };

  const live = async (signal: AbortSignal | undefined): Promise<Connection> => {
    if (current !== undefined && !current.dead) {
      if (current.busy) throw new GitProtocolError(`BUG: a second request on ${options.url} while the previous response is still being read.`);
      return current;
    }
    return connect(signal);
  };

  return {
    url: options.url,
    stats,
    async advertise(signal) {
      const connection = await live(signal);
      if (connection.capabilities === undefined) throw new GitProtocolError(`No capability advertisement from ${options.url}.`);
      return connection.capabilities;
    },
    async post(body, signal) {
      const connection = await live(signal);
      stats.requests += 1;
      stats.bytesSent += body.length;
      if (!connection.child.stdin.write(body)) await new Promise((resolve) => connection.child.stdin.once('drain', resolve));
      return message(connection, 'reading a response', signal);
    },
    async close() {
      const connection = current;
      current = undefined;
      if (connection === undefined || connection.dead) return;
      // The client ends a v2 session with a flush-pkt where the next command would start.
      connection.child.stdin.end(FLUSH_PKT);
      const timer = setTimeout(() => kill(connection), 5000);
      timer.unref();
      await connection.exited;
      clearTimeout(timer);
    },
  };
}
