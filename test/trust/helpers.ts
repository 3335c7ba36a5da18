/**
 * Keys, signed commits and oracles for the trust tests, all made by the real tools: ssh-keygen for
 * SSH keys and sshsig, gpg in a throwaway GNUPGHOME for OpenPGP, git for commits and for
 * `verify-commit` as an oracle. Nothing here is a hard-coded key or signature.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { git, gitBuffer, tryGit } from '../support/git-cli.js';
import type { TestRepo } from '../support/repo.js';

const run = promisify(execFile);

/** A temp dir removed by `cleanup` (call in afterAll). */
export async function tempDir(prefix = 'hostsync-trust-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** SSH key types the tests make with ssh-keygen. */
export type SshKeyKind = 'ed25519' | 'rsa' | 'ecdsa-256' | 'ecdsa-384' | 'ecdsa-521';

/** An SSH key pair on disk. */
export interface SshKeyPair {
  readonly privateKey: string;
  readonly publicKeyFile: string;
  /** The .pub line: `type base64 comment`. */
  readonly publicLine: string;
  /** `type base64` without the comment. */
  readonly publicKey: string;
}

/** `ssh-keygen -t … -N '' -f dir/name`. */
export async function sshKey(dir: string, name: string, kind: SshKeyKind): Promise<SshKeyPair> {
  const privateKey = join(dir, name);
  const [type, bits] = kind.startsWith('ecdsa') ? ['ecdsa', kind.slice(6)] : kind === 'rsa' ? ['rsa', '2048'] : ['ed25519', undefined];
  await run('ssh-keygen', ['-q', '-t', type, ...(bits === undefined ? [] : ['-b', bits]), '-N', '', '-C', name, '-f', privateKey]);
  const publicLine = (await readFile(`${privateKey}.pub`, 'utf8')).trim();
  return { privateKey, publicKeyFile: `${privateKey}.pub`, publicLine, publicKey: publicLine.split(' ').slice(0, 2).join(' ') };
}

/** `ssh-keygen -Y sign -n <namespace>` of `data`; resolves the armored signature. */
export async function sshSign(dir: string, key: SshKeyPair, namespace: string, data: Buffer): Promise<string> {
  const file = join(await mkdtemp(join(dir, 'sign-')), 'message');
  await writeFile(file, data);
  await run('ssh-keygen', ['-q', '-Y', 'sign', '-n', namespace, '-f', key.privateKey, file]);
  return readFile(`${file}.sig`, 'utf8');
}

/** Options of a signed test commit. */
export interface CommitOptions {
  /** Committer (and author) date, ISO. @default '2024-06-01T12:00:00Z' */
  readonly date?: string;
  readonly message?: string;
  readonly env?: Readonly<Record<string, string>>;
}

/** Commit (empty commits allowed) with extra `-c` settings; resolves the SHA. */
export async function commitWith(repo: TestRepo, config: readonly string[], opts: CommitOptions = {}): Promise<string> {
  const date = opts.date ?? '2024-06-01T12:00:00Z';
  await git([...config.flatMap((setting) => ['-c', setting]), 'commit', '-q', '--allow-empty', '--no-verify', '-m', opts.message ?? 'signed'], {
    cwd: repo.dir,
    env: { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date, ...opts.env },
  });
  return repo.head();
}

/** A commit signed by `key` with `git commit -S` and `gpg.format=ssh`. */
export function sshSignedCommit(repo: TestRepo, key: SshKeyPair, opts: CommitOptions = {}): Promise<string> {
  return commitWith(repo, ['gpg.format=ssh', `user.signingkey=${key.publicKeyFile}`, 'commit.gpgSign=true'], opts);
}

/** The raw commit object (`git cat-file commit`). */
export function catCommit(repo: TestRepo, sha: string): Promise<Buffer> {
  return gitBuffer(['cat-file', 'commit', sha], { cwd: repo.dir });
}

/** Write `object` as a commit into the repository (`hash-object -w --literally`); resolves its SHA. */
export function writeCommit(repo: TestRepo, object: Buffer): Promise<string> {
  return git(['hash-object', '-t', 'commit', '-w', '--literally', '--stdin'], { cwd: repo.dir, input: object });
}

/** Whether `git verify-commit` accepts the commit with these settings (and environment). */
export async function gitVerifies(repo: TestRepo, sha: string, config: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<boolean> {
  const out = await tryGit([...config.flatMap((setting) => ['-c', setting]), 'verify-commit', sha], { cwd: repo.dir, env });
  return out !== undefined;
}

/** An allowed-signers file with these lines; resolves its path. */
export async function allowedSignersFile(dir: string, name: string, lines: readonly string[]): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

/** A throwaway GnuPG home; `gpg` runs in it, `close` stops its agent. */
export interface GpgHome {
  readonly dir: string;
  readonly env: Readonly<Record<string, string>>;
  gpg(...args: string[]): Promise<string>;
  /** Generate an ed25519 signing key (`--quick-gen-key`), optionally at a faked time; resolves its fingerprint. */
  generateKey(uid: string, expire: string, fakedTime?: string): Promise<string>;
  /** `gpg --export --armor`. */
  exportKey(fingerprint: string): Promise<string>;
  /** A `gpg.program` that runs gpg in this home at a faked time (gpg refuses to fake it per call otherwise). */
  programAt(fakedTime: string): Promise<string>;
  close(): Promise<void>;
}

/** Create a GnuPG home in `parent`; keys have no passphrase so signing needs no pinentry. */
export async function gpgHome(parent: string): Promise<GpgHome> {
  const dir = await mkdtemp(join(parent, 'gnupg-'));
  await chmod(dir, 0o700);
  const env = { GNUPGHOME: dir };
  const gpg = async (...args: string[]): Promise<string> =>
    (await run('gpg', ['--batch', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { env: { ...process.env, ...env } })).stdout;
  return {
    dir,
    env,
    gpg,
    async generateKey(uid, expire, fakedTime) {
      await gpg(...(fakedTime === undefined ? [] : ['--faked-system-time', fakedTime]), '--quick-gen-key', uid, 'ed25519', 'sign', expire);
      const listing = await gpg('--with-colons', '--list-keys', uid);
      const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(listing)?.[1];
      if (fingerprint === undefined) throw new Error(`gpg made no key for ${uid}: ${listing}`);
      return fingerprint;
    },
    exportKey: (fingerprint) => gpg('--armor', '--export', fingerprint),
    async programAt(fakedTime) {
      const program = join(dir, `gpg-at-${fakedTime}`);
      await writeFile(program, `#!/bin/sh\nexec gpg --faked-system-time ${fakedTime} "$@"\n`);
      await chmod(program, 0o755);
      return program;
    },
    async close() {
      await run('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, ...env } }).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A commit signed with gpg by `fingerprint` through git (`gpg.program` may fake the time). */
export function gpgSignedCommit(repo: TestRepo, home: GpgHome, fingerprint: string, opts: CommitOptions & { readonly program?: string } = {}): Promise<string> {
  return commitWith(repo, ['gpg.format=openpgp', `gpg.program=${opts.program ?? 'gpg'}`, `user.signingkey=${fingerprint}`, 'commit.gpgSign=true'], {
    ...opts,
    env: { ...home.env, ...opts.env },
  });
}

/**
 * Flip one base64 character of the signature's last body line in a signed commit object — that
 * line encodes the signature value itself (not the embedded key or the armor checksum), so the
 * signature stays well-formed but no longer matches.
 */
export function flipSignatureByte(object: Buffer): Buffer {
  const lines = object.toString('latin1').split('\n');
  const end = lines.findIndex((line) => / -----END (SSH|PGP) SIGNATURE-----/.test(line));
  let index = end - 1;
  // Skip a PGP armor checksum line (` =abcd`) and a short tail line whose last characters may be padding bits.
  while (index > 0 && ((lines[index] ?? '').startsWith(' =') || (lines[index] ?? '').length < 16)) index -= 1;
  const line = lines[index];
  if (end === -1 || line === undefined) throw new Error('no signature body in the commit');
  const at = Math.floor(line.length / 2);
  const replacement = line[at] === 'A' ? 'B' : 'A';
  lines[index] = line.slice(0, at) + replacement + line.slice(at + 1);
  return Buffer.from(lines.join('\n'), 'latin1');
}
