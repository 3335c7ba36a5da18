import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllowedSigners } from '../../src/trust/allowed-signers.js';
import { hashCommitObject, signatureHeader, splitSignedCommit } from '../../src/trust/commit-object.js';
import type { AllowedSignersPin, RefusalReason, SignatureVerdict } from '../../src/trust/types.js';
import { verifyCommitSignature, verifyGitHubCommitSignature } from '../../src/trust/verify.js';
import { createRepo, type TestRepo } from '../support/repo.js';
import {
  allowedSignersFile,
  catCommit,
  commitWith,
  flipSignatureByte,
  gitVerifies,
  sshKey,
  sshSign,
  sshSignedCommit,
  tempDir,
  writeCommit,
  type SshKeyKind,
  type SshKeyPair,
} from './helpers.js';

const run = promisify(execFile);
const kinds: readonly SshKeyKind[] = ['ed25519', 'rsa', 'ecdsa-256', 'ecdsa-384', 'ecdsa-521'];

let dir: string;
let repo: TestRepo;
const keys = new Map<SshKeyKind, SshKeyPair>();
let stranger: SshKeyPair;
let signersFile: string;
let pin: AllowedSignersPin;

function keyOf(kind: SshKeyKind): SshKeyPair {
  const key = keys.get(kind);
  if (key === undefined) throw new Error(`no ${kind} key`);
  return key;
}

/** A pin of `lines` written to a file git can read too. */
async function pinOf(name: string, lines: readonly string[]): Promise<AllowedSignersPin> {
  const file = await allowedSignersFile(dir, name, lines);
  const parsed = parseAllowedSigners(lines.join('\n'), file);
  expect(parsed.errors).toEqual([]);
  return { file, entries: parsed.entries };
}

beforeAll(async () => {
  dir = await tempDir();
  repo = await createRepo();
  await Promise.all(kinds.map(async (kind) => keys.set(kind, await sshKey(dir, kind, kind))));
  stranger = await sshKey(dir, 'stranger', 'ed25519');
  pin = await pinOf('allowed', kinds.map((kind) => `${kind}@example.invalid namespaces="git" ${keyOf(kind).publicKey}`));
  signersFile = pin.file;
});

afterAll(async () => {
  await repo.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** Our verdict, and git verify-commit's with the same allowed-signers file, on one commit. */
async function judge(sha: string, pins: AllowedSignersPin = pin): Promise<{ verdict: SignatureVerdict; git: boolean }> {
  const verdict = await verifyCommitSignature(await catCommit(repo, sha), sha, { allowedSigners: pins });
  const git = await gitVerifies(repo, sha, [`gpg.ssh.allowedSignersFile=${pins.file}`]);
  return { verdict, git };
}

function expectRefused(verdict: SignatureVerdict, reason: RefusalReason, message: RegExp): void {
  expect(verdict).toMatchObject({ ok: false, reason });
  expect(verdict.message).toMatch(message);
}

describe('verifyCommitSignature with SSH keys (git verify-commit as the oracle)', () => {
  it.each(kinds)('accepts a commit signed with a pinned %s key', async (kind) => {
    const key = keyOf(kind);
    const sha = await sshSignedCommit(repo, key);
    const { verdict, git } = await judge(sha);
    const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', key.publicKeyFile]);
    expect(verdict).toMatchObject({ ok: true, format: 'ssh', signer: `${kind}@example.invalid`, tree: await repo.git('rev-parse', `${sha}^{tree}`) });
    expect(stdout).toContain(verdict.ok ? verdict.key : 'no key');
    expect(verdict.message).toContain(`${signersFile} line ${kinds.indexOf(kind) + 1}`);
    expect(git).toBe(true);
  });

  it('refuses a commit signed by a key that is not pinned', async () => {
    const sha = await sshSignedCommit(repo, stranger);
    const { verdict, git } = await judge(sha);
    expectRefused(verdict, 'unknown-key', new RegExp(`^Commit ${sha.slice(0, 12)} is signed by SSH key SHA256:\\S+ \\(ED25519\\), which is not in ${signersFile}\\. If that key should be trusted, add a line`));
    expect(git).toBe(false);
  });

  it('refuses an unsigned commit', async () => {
    const sha = await commitWith(repo, [], { message: 'unsigned' });
    const { verdict, git } = await judge(sha);
    expectRefused(verdict, 'unsigned', new RegExp(`Commit ${sha.slice(0, 12)} is not signed, and this host only applies commits signed by a key in ${signersFile}`));
    expect(git).toBe(false);
  });

  it('refuses a commit object that does not hash to the SHA (payload changed in transit)', async () => {
    const sha = await sshSignedCommit(repo, keyOf('ed25519'), { message: 'pay the invoice' });
    const object = await catCommit(repo, sha);
    const changed = Buffer.from(object.toString().replace('pay the invoice', 'pay the attacker'));
    const verdict = await verifyCommitSignature(changed, sha, { allowedSigners: pin });
    expectRefused(verdict, 'sha-mismatch', new RegExp(`The commit object received for ${sha.slice(0, 12)} hashes to [0-9a-f]{12}: it is not that commit`));
  });

  it('refuses a changed payload that carries the old signature (a new commit with a stolen signature)', async () => {
    const sha = await sshSignedCommit(repo, keyOf('ed25519'), { message: 'pay the invoice' });
    const forged = Buffer.from((await catCommit(repo, sha)).toString().replace('pay the invoice', 'pay the attacker'));
    const forgedSha = await writeCommit(repo, forged);
    const { verdict, git } = await judge(forgedSha);
    expectRefused(verdict, 'bad-signature', /that does not verify \(the signature does not match the signed data\): the commit was changed after signing/);
    expect(git).toBe(false);
  });

  it.each(kinds)('refuses a %s signature with a flipped byte', async (kind) => {
    const sha = await sshSignedCommit(repo, keyOf(kind));
    const flipped = flipSignatureByte(await catCommit(repo, sha));
    const flippedSha = await writeCommit(repo, flipped);
    const { verdict, git } = await judge(flippedSha);
    expect(verdict).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(git).toBe(false);
  });

  it('refuses a signature made for another namespace spliced into a commit', async () => {
    const key = keyOf('ed25519');
    const sha = await commitWith(repo, [], { message: 'to be signed by hand' });
    const object = await catCommit(repo, sha);
    // ssh-keygen -Y sign -n file over the exact payload, put where git puts commit signatures.
    const fileSignature = await sshSign(dir, key, 'file', object);
    const end = object.indexOf('\n\n') + 1;
    const spliced = Buffer.concat([object.subarray(0, end), signatureHeader(fileSignature, 'sha1'), object.subarray(end)]);
    expect(splitSignedCommit(spliced).payload.equals(object)).toBe(true);
    const splicedSha = await writeCommit(repo, spliced);
    const { verdict, git } = await judge(splicedSha);
    expectRefused(verdict, 'wrong-namespace', /was not made for git commits: the signature was made for namespace "file", not "git"/);
    expect(git).toBe(false);
    // The same bytes signed for git pass: only the namespace differs.
    const gitSignature = await sshSign(dir, key, 'git', object);
    const good = Buffer.concat([object.subarray(0, end), signatureHeader(gitSignature, 'sha1'), object.subarray(end)]);
    const goodSha = await writeCommit(repo, good);
    expect((await judge(goodSha)).verdict.ok).toBe(true);
  });

  it('refuses a key pinned only for other namespaces', async () => {
    const key = keyOf('ed25519');
    const narrow = await pinOf('files-only', [`alice namespaces="file,!git" ${key.publicKey}`]);
    const sha = await sshSignedCommit(repo, key);
    const { verdict, git } = await judge(sha, narrow);
    expectRefused(verdict, 'wrong-namespace', /line 1 \(alice\) allows that key only for namespaces "file,!git", not "git"/);
    expect(git).toBe(false);
  });

  describe('valid-after / valid-before at the committer date', () => {
    const date = '2024-06-01T12:00:00Z';
    const cases: ReadonlyArray<readonly [string, string, true | RefusalReason, RegExp]> = [
      ['valid-before in the past', 'valid-before="20240101Z"', 'expired', /committer date 2024-06-01T12:00:00Z, after valid-before 2024-01-01T00:00:00Z of .* line 1 \(alice\): the key had been retired/],
      ['valid-after in the future', 'valid-after="20250101Z"', 'not-yet-valid', /committer date 2024-06-01T12:00:00Z, before valid-after 2025-01-01T00:00:00Z/],
      ['inside the window', 'valid-after="20240101Z",valid-before="20250101Z"', true, /is signed by alice with SSH key/],
      ['a window ending one second after', 'valid-before="20240601120001Z"', true, /alice/],
    ];
    it.each(cases)('%s', async (name, options, expected, message) => {
      const key = keyOf('ed25519');
      const windowPin = await pinOf(`window-${name.replace(/\W+/g, '-')}`, [`alice ${options} ${key.publicKey}`]);
      const sha = await sshSignedCommit(repo, key, { date, message: name });
      const { verdict, git } = await judge(sha, windowPin);
      if (expected === true) expect(verdict.ok).toBe(true);
      else expect(verdict).toMatchObject({ ok: false, reason: expected });
      expect(verdict.message).toMatch(message);
      expect(git).toBe(expected === true);
    });

    it('accepts when a second line for the same key is still valid', async () => {
      const key = keyOf('ed25519');
      const rotated = await pinOf('rotated', [`old valid-before="20240101Z" ${key.publicKey}`, `new valid-after="20240101Z" ${key.publicKey}`]);
      const sha = await sshSignedCommit(repo, key, { date, message: 'rotated' });
      const { verdict, git } = await judge(sha, rotated);
      expect(verdict).toMatchObject({ ok: true, signer: 'new' });
      expect(git).toBe(true);
    });
  });

  it('refuses an SSH signature when no SSH keys are pinned', async () => {
    const sha = await sshSignedCommit(repo, keyOf('ed25519'));
    const verdict = await verifyCommitSignature(await catCommit(repo, sha), sha, {});
    expectRefused(verdict, 'unknown-key', /this host pins no SSH signers \(trust.allowedSignersFile is not set\)/);
  });

  it('throws for a SHA that is not an object id', async () => {
    await expect(verifyCommitSignature(Buffer.from(''), 'HEAD', { allowedSigners: pin })).rejects.toThrow(/'HEAD' is not a commit SHA/);
  });
});

describe('verifyCommitSignature: signature formats', () => {
  /** An unsigned commit with `signature` put where git puts signatures; resolves its SHA. */
  async function withSignature(signature: string): Promise<string> {
    const object = await catCommit(repo, await commitWith(repo, [], { message: 'spliced' }));
    const end = object.indexOf('\n\n') + 1;
    return writeCommit(repo, Buffer.concat([object.subarray(0, end), signatureHeader(signature, 'sha1'), object.subarray(end)]));
  }

  it('refuses an X.509 (gpgsm) signature as unsupported', async () => {
    const sha = await withSignature('-----BEGIN SIGNED MESSAGE-----\nMIAGCSqGSIb3DQEHAqCAMIACAQEx\n-----END SIGNED MESSAGE-----\n');
    const { verdict } = await judge(sha);
    expect(verdict).toMatchObject({ ok: false, reason: 'unsupported', message: expect.stringMatching(/carries an X\.509 \(gpgsm\) signature, which hostsync cannot verify/) });
  });

  it('refuses a malformed SSH signature (git agrees)', async () => {
    const sha = await withSignature('-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ==\n-----END SSH SIGNATURE-----\n');
    const { verdict, git } = await judge(sha);
    expect(verdict).toMatchObject({ ok: false, reason: 'bad-signature', message: expect.stringMatching(/carries a malformed SSH signature \(the SSH signature is truncated/) });
    expect(git).toBe(false);
  });

  it('refuses an object without a tree header even when its SHA matches', async () => {
    const object = Buffer.from('author A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n\nno tree\n');
    const verdict = await verifyCommitSignature(object, hashCommitObject(object, 'sha1'), { allowedSigners: pin });
    expect(verdict).toMatchObject({ ok: false, reason: 'bad-signature', message: expect.stringContaining('does not start with a tree header') });
  });

  it('refuses a signature header of unknown format', async () => {
    const { verdict } = await judge(await withSignature('hello\n'));
    expect(verdict).toMatchObject({ ok: false, reason: 'unsupported', message: expect.stringContaining("a signature of unknown format ('hello')") });
  });
});

describe('verifyGitHubCommitSignature (payload + signature from the REST API)', () => {
  it('rebuilds the commit, checks its SHA and verifies it', async () => {
    const sha = await sshSignedCommit(repo, keyOf('ecdsa-256'), { message: 'via REST' });
    const { payload, signature } = splitSignedCommit(await catCommit(repo, sha));
    const verification = { payload: payload.toString('utf8'), signature: signature ?? null };
    expect(await verifyGitHubCommitSignature(verification, sha, { allowedSigners: pin })).toMatchObject({ ok: true, signer: 'ecdsa-256@example.invalid' });
  });

  it('refuses a payload that is not the commit, and reports an unsigned one', async () => {
    const sha = await sshSignedCommit(repo, keyOf('ed25519'), { message: 'original' });
    const { payload, signature } = splitSignedCommit(await catCommit(repo, sha));
    const forged = { payload: payload.toString().replace('original', 'replaced'), signature: signature ?? null };
    expect(await verifyGitHubCommitSignature(forged, sha, { allowedSigners: pin })).toMatchObject({ ok: false, reason: 'sha-mismatch', message: expect.stringMatching(/do not rebuild an object with that SHA/) });
    expect(await verifyGitHubCommitSignature({ payload: null, signature: null }, sha, { allowedSigners: pin })).toMatchObject({ ok: false, reason: 'unsigned' });
    expect(await verifyGitHubCommitSignature({ payload: null, signature: signature ?? null }, sha, { allowedSigners: pin })).toMatchObject({ ok: false, reason: 'sha-mismatch', message: expect.stringContaining('no signed payload') });
  });
});
