import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshFormatError } from '../../src/trust/errors.js';
import { checkSshSignature, parseSshPublicKey, sshFingerprint } from '../../src/trust/ssh-key.js';
import { matchPattern, matchPatternList } from '../../src/trust/ssh-pattern.js';
import { checkSshSig, isSshSignature, parseSshSignature } from '../../src/trust/sshsig.js';
import { sshString } from '../../src/trust/ssh-wire.js';
import { sshKey, sshSign, tempDir, type SshKeyKind, type SshKeyPair } from './helpers.js';

const run = promisify(execFile);
const kinds: readonly SshKeyKind[] = ['ed25519', 'rsa', 'ecdsa-256', 'ecdsa-384', 'ecdsa-521'];
const message = Buffer.from('tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nhello\n');

let dir: string;
const keys = new Map<SshKeyKind, SshKeyPair>();

beforeAll(async () => {
  dir = await tempDir();
  await Promise.all(kinds.map(async (kind) => keys.set(kind, await sshKey(dir, kind, kind))));
});

afterAll(() => rm(dir, { recursive: true, force: true }));

function keyOf(kind: SshKeyKind): SshKeyPair {
  const key = keys.get(kind);
  if (key === undefined) throw new Error(`no ${kind} key`);
  return key;
}

describe('parseSshSignature and checkSshSig', () => {
  it.each(kinds)('verifies what ssh-keygen -Y sign made with a %s key', async (kind) => {
    const key = keyOf(kind);
    const armored = await sshSign(dir, key, 'git', message);
    expect(isSshSignature(armored)).toBe(true);
    const sig = parseSshSignature(armored);
    expect(sig.version).toBe(1);
    expect(sig.namespace).toBe('git');
    expect(sig.hashAlgorithm).toBe('sha512');
    expect(sig.keyType).toBe(key.publicKey.split(' ')[0]);
    expect(sig.publicKey.equals(Buffer.from(key.publicKey.split(' ')[1] ?? '', 'base64'))).toBe(true);
    // The fingerprint is the one ssh-keygen prints.
    const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', key.publicKeyFile]);
    expect(stdout).toContain(sig.fingerprint);
    expect(checkSshSig(sig, message, 'git')).toEqual({ ok: true });
    expect(checkSshSig(sig, Buffer.concat([message, Buffer.from('x')]), 'git')).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('verifies a signature made with -O hashalg=sha256', async () => {
    const key = keyOf('ed25519');
    const file = `${dir}/sha256-message`;
    await writeFile(file, message);
    await run('ssh-keygen', ['-q', '-Y', 'sign', '-n', 'git', '-O', 'hashalg=sha256', '-f', key.privateKey, file]);
    const armored = await readFile(`${file}.sig`, 'utf8');
    const sig = parseSshSignature(armored);
    expect(sig.hashAlgorithm).toBe('sha256');
    expect(checkSshSig(sig, message, 'git')).toEqual({ ok: true });
  });

  it('refuses a signature made for another namespace before checking it', async () => {
    const sig = parseSshSignature(await sshSign(dir, keyOf('ed25519'), 'file', message));
    expect(checkSshSig(sig, message, 'git')).toMatchObject({ ok: false, reason: 'wrong-namespace', detail: expect.stringContaining('"file"') });
    expect(checkSshSig(sig, message, 'file')).toEqual({ ok: true });
  });

  it('refuses SHA-1 RSA (ssh-rsa) signatures as unsupported', async () => {
    const sig = parseSshSignature(await sshSign(dir, keyOf('rsa'), 'git', message));
    // ssh-keygen no longer makes ssh-rsa sshsigs; relabel a real one, as a downgrade attempt would.
    const inner = parseInner(sig.signature);
    const relabelled = { ...sig, signature: Buffer.concat([sshString('ssh-rsa'), sshString(inner.bytes)]) };
    expect(inner.format).toBe('rsa-sha2-512');
    expect(checkSshSig(relabelled, message, 'git')).toMatchObject({ ok: false, reason: 'unsupported', detail: expect.stringContaining('SHA-1') });
    // Relabelled as rsa-sha2-256 it is simply wrong.
    const as256 = { ...sig, signature: Buffer.concat([sshString('rsa-sha2-256'), sshString(inner.bytes)]) };
    expect(checkSshSig(as256, message, 'git')).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a signature whose format does not fit the key', async () => {
    const ed = parseSshSignature(await sshSign(dir, keyOf('ed25519'), 'git', message));
    const ecdsa = parseSshSignature(await sshSign(dir, keyOf('ecdsa-256'), 'git', message));
    // The ECDSA key with the ed25519 signature blob.
    expect(checkSshSig({ ...ecdsa, signature: ed.signature }, message, 'git')).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(checkSshSig({ ...ed, hashAlgorithm: 'md5' }, message, 'git')).toMatchObject({ ok: false, reason: 'unsupported' });
    expect(checkSshSig({ ...ed, version: 2 }, message, 'git')).toMatchObject({ ok: false, reason: 'unsupported' });
  });

  it.each([
    ['no armor', 'hello', /does not begin/],
    ['no end line', '-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n', /no '-----END SSH SIGNATURE-----'/],
    ['bad base64', '-----BEGIN SSH SIGNATURE-----\n%%%%\n-----END SSH SIGNATURE-----\n', /not valid base64/],
    ['wrong magic', `-----BEGIN SSH SIGNATURE-----\n${Buffer.from('NOTSIG-and-more').toString('base64')}\n-----END SSH SIGNATURE-----\n`, /SSHSIG/],
    ['truncated', `-----BEGIN SSH SIGNATURE-----\n${Buffer.concat([Buffer.from('SSHSIG'), Buffer.from([0, 0, 0, 1, 0, 0, 1])]).toString('base64')}\n-----END SSH SIGNATURE-----\n`, /truncated/],
  ])('throws SshFormatError for %s', (_name, armored, pattern) => {
    expect(() => parseSshSignature(armored)).toThrow(SshFormatError);
    expect(() => parseSshSignature(armored)).toThrow(pattern);
  });

  it('refuses trailing data in the signature', async () => {
    const armored = await sshSign(dir, keyOf('ed25519'), 'git', message);
    const body = armored.split('\n').filter((line) => !line.startsWith('-----')).join('');
    const extended = Buffer.concat([Buffer.from(body, 'base64'), Buffer.from([0])]).toString('base64');
    expect(() => parseSshSignature(`-----BEGIN SSH SIGNATURE-----\n${extended}\n-----END SSH SIGNATURE-----\n`)).toThrow(/trailing data/);
  });
});

describe('parseSshPublicKey', () => {
  it.each(kinds)('reads a %s key blob', (kind) => {
    const blob = Buffer.from(keyOf(kind).publicKey.split(' ')[1] ?? '', 'base64');
    const key = parseSshPublicKey(blob);
    expect(key.kind).toBe(kind.startsWith('ecdsa') ? 'ecdsa' : kind);
    expect(sshFingerprint(blob)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('refuses a short RSA key and unsupported key types with a reason', async () => {
    await run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '1024', '-N', '', '-f', `${dir}/rsa1024`]);
    const small = await readFile(`${dir}/rsa1024.pub`, 'utf8');
    const blob = Buffer.from(small.split(' ')[1] ?? '', 'base64');
    expect(parseSshPublicKey(blob)).toMatchObject({ kind: 'unsupported', reason: expect.stringContaining('1024 bits') });
    const sk = Buffer.concat([sshString('sk-ssh-ed25519@openssh.com'), sshString(Buffer.alloc(32)), sshString('ssh:')]);
    expect(parseSshPublicKey(sk)).toMatchObject({ kind: 'unsupported', reason: expect.stringContaining('FIDO') });
    expect(checkSshSignature(sk, Buffer.alloc(0), Buffer.alloc(0))).toMatchObject({ ok: false, reason: 'unsupported' });
  });

  it('throws SshFormatError for malformed blobs of supported types', () => {
    expect(() => parseSshPublicKey(Buffer.concat([sshString('ssh-ed25519'), sshString(Buffer.alloc(31))]))).toThrow(/32/);
    expect(() => parseSshPublicKey(Buffer.concat([sshString('ecdsa-sha2-nistp256'), sshString('nistp384'), sshString(Buffer.alloc(65, 4))]))).toThrow(/curve/);
    expect(() => parseSshPublicKey(Buffer.concat([sshString('ecdsa-sha2-nistp256'), sshString('nistp256'), sshString(Buffer.alloc(65, 4))]))).toThrow(/public point is not a valid key/);
    expect(() => parseSshPublicKey(sshString('ssh-rsa'))).toThrow(/truncated/);
  });
});

describe('OpenSSH pattern lists', () => {
  it.each([
    ['alice@example.com', 'alice@example.com', 1],
    ['alice@example.com', '*@example.com', 1],
    ['alice@example.com', 'bob,alice@*', 1],
    ['alice@example.com', '*@example.com,!alice@*', -1],
    ['git', 'file', 0],
    ['git', 'g?t', 1],
    ['git', '*', 1],
    ['git', '', 0],
  ] as const)('%s against %s → %d', (value, list, expected) => {
    expect(matchPatternList(value, list)).toBe(expected);
  });

  it('matches stars anywhere', () => {
    expect(matchPattern('abcabc', 'a*c')).toBe(true);
    expect(matchPattern('abcabd', 'a*c')).toBe(false);
    expect(matchPattern('', '*')).toBe(true);
    expect(matchPattern('x', '')).toBe(false);
  });
});

function parseInner(blob: Buffer): { format: string; bytes: Buffer } {
  const formatLength = blob.readUInt32BE(0);
  const format = blob.subarray(4, 4 + formatLength).toString();
  const bytesLength = blob.readUInt32BE(4 + formatLength);
  return { format, bytes: blob.subarray(8 + formatLength, 8 + formatLength + bytesLength) };
}
