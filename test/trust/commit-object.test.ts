import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  commitTree,
  committerTime,
  hashCommitObject,
  objectFormatOf,
  rebuildSignedCommit,
  signatureHeader,
  splitSignedCommit,
} from '../../src/trust/commit-object.js';
import { parseAllowedSigners } from '../../src/trust/allowed-signers.js';
import { CommitReassemblyError } from '../../src/trust/errors.js';
import { verifyCommitSignature } from '../../src/trust/verify.js';
import { git, gitBuffer } from '../support/git-cli.js';
import { createRepo, type TestRepo } from '../support/repo.js';
import { allowedSignersFile, catCommit, commitWith, sshKey, sshSignedCommit, tempDir, writeCommit, type SshKeyPair } from './helpers.js';

let dir: string;
let repo: TestRepo;
let key: SshKeyPair;
let signers: string;
/** Signed commits of different shapes, by name. */
const commits = new Map<string, string>();

beforeAll(async () => {
  dir = await tempDir();
  repo = await createRepo();
  key = await sshKey(dir, 'signer', 'ed25519');
  signers = await allowedSignersFile(dir, 'allowed', [`signer@example.invalid ${key.publicKey}`]);
  await repo.write('a.txt', 'a\n');
  commits.set('root', await sshSignedCommit(repo, key, { message: 'root commit\n\nwith a body\n' }));
  commits.set('child', await sshSignedCommit(repo, key, { date: '2024-06-02T08:30:00+02:00' }));
  commits.set('encoding', await commitWith(repo, ['gpg.format=ssh', `user.signingkey=${key.publicKeyFile}`, 'commit.gpgSign=true', 'i18n.commitEncoding=ISO-8859-1']));
  // A merge of a signed tag: the `mergetag` header (with its own embedded signature) precedes gpgsig.
  await repo.branch('side', 'HEAD~1');
  await repo.checkout('side');
  await commitWith(repo, [], { message: 'side' });
  await git(['-c', 'gpg.format=ssh', '-c', `user.signingkey=${key.publicKeyFile}`, 'tag', '-s', '-m', 'release', 'v1'], { cwd: repo.dir });
  await repo.checkout('main');
  await git(['-c', 'gpg.format=ssh', '-c', `user.signingkey=${key.publicKeyFile}`, 'merge', '-q', '-S', '--no-ff', '-m', 'merge v1', 'v1'], {
    cwd: repo.dir,
    env: { GIT_COMMITTER_DATE: '2024-06-03T00:00:00Z', GIT_AUTHOR_DATE: '2024-06-03T00:00:00Z' },
  });
  commits.set('mergetag', await repo.head());
  commits.set('unsigned', await commitWith(repo, [], { message: 'unsigned' }));
});

afterAll(async () => {
  await repo.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** Whether ssh-keygen accepts `signature` over `payload`: git's own check, so the payload is what was signed. */
async function sshKeygenVerifies(signature: string, payload: Buffer): Promise<boolean> {
  const sigFile = join(dir, 'oracle.sig');
  await writeFile(sigFile, signature);
  return new Promise((resolve) => {
    const child = execFile('ssh-keygen', ['-Y', 'verify', '-f', signers, '-I', 'signer@example.invalid', '-n', 'git', '-s', sigFile], (error) => resolve(error === null));
    child.stdin?.end(payload);
  });
}

describe('objectFormatOf / hashCommitObject', () => {
  it('tells SHA-1 from SHA-256 ids and hashes as git does', async () => {
    const sha = commits.get('root') ?? '';
    expect(objectFormatOf(sha)).toBe('sha1');
    expect(objectFormatOf('a'.repeat(64))).toBe('sha256');
    expect(objectFormatOf('xyz')).toBeUndefined();
    expect(hashCommitObject(await catCommit(repo, sha), 'sha1')).toBe(sha);
  });
});

describe('splitSignedCommit', () => {
  it.each(['root', 'child', 'encoding', 'mergetag'])('gives ssh-keygen the payload git signed (%s)', async (name) => {
    const sha = commits.get(name) ?? '';
    const parts = splitSignedCommit(await catCommit(repo, sha));
    expect(parts.signature).toMatch(/^-----BEGIN SSH SIGNATURE-----\n[\s\S]+\n-----END SSH SIGNATURE-----\n$/);
    expect(parts.payload.includes('gpgsig')).toBe(false);
    expect(await sshKeygenVerifies(parts.signature ?? '', parts.payload)).toBe(true);
    expect(parts.committerTime).toBe(Number(await repo.git('log', '-1', '--format=%ct', sha)));
  });

  it('keeps the mergetag header (and the tag signature inside it) in the payload', async () => {
    const parts = splitSignedCommit(await catCommit(repo, commits.get('mergetag') ?? ''));
    expect(parts.payload.toString()).toMatch(/\nmergetag object [0-9a-f]{40}\n type commit\n tag v1\n[\s\S]* -----BEGIN SSH SIGNATURE-----\n/);
  });

  it('reports an unsigned commit as such, its payload being the whole object', async () => {
    const object = await catCommit(repo, commits.get('unsigned') ?? '');
    const parts = splitSignedCommit(object);
    expect(parts.signature).toBeUndefined();
    expect(parts.payload.equals(object)).toBe(true);
  });

  it('leaves a gpgsig line in the message alone', async () => {
    const sha = await commitWith(repo, ['gpg.format=ssh', `user.signingkey=${key.publicKeyFile}`, 'commit.gpgSign=true'], { message: 'subject\n\ngpgsig in the body\n continued\n' });
    const parts = splitSignedCommit(await catCommit(repo, sha));
    expect(parts.payload.toString()).toContain('\n\nsubject\n\ngpgsig in the body\n continued\n');
    expect(await sshKeygenVerifies(parts.signature ?? '', parts.payload)).toBe(true);
  });

  it('drops a signature for the other hash function from the payload, as git does', async () => {
    const object = await catCommit(repo, commits.get('child') ?? '');
    // A SHA-1 commit converted from SHA-256 carries both headers; git verifies gpgsig over the rest.
    const withOther = Buffer.from(object.toString('latin1').replace('\ngpgsig ', '\ngpgsig-sha256 -----BEGIN SSH SIGNATURE-----\n other\n -----END SSH SIGNATURE-----\ngpgsig '), 'latin1');
    const parts = splitSignedCommit(withOther);
    expect(parts.payload.equals(splitSignedCommit(object).payload)).toBe(true);
    const sha = await writeCommit(repo, withOther);
    await expect(repo.git('-c', `gpg.ssh.allowedSignersFile=${signers}`, 'verify-commit', sha)).resolves.toBeDefined();
  });

  it('splits a SHA-256 repository on gpgsig-sha256', async () => {
    const sha256Dir = join(dir, 'sha256');
    await git(['init', '-q', '--template=', '--object-format=sha256', sha256Dir], { cwd: dir });
    await git(['-c', 'gpg.format=ssh', '-c', `user.signingkey=${key.publicKeyFile}`, 'commit', '-q', '-S', '--allow-empty', '-m', 'sha256'], { cwd: sha256Dir });
    const sha = await git(['rev-parse', 'HEAD'], { cwd: sha256Dir });
    const object = await gitBuffer(['cat-file', 'commit', sha], { cwd: sha256Dir });
    expect(object.toString()).toContain('\ngpgsig-sha256 -----BEGIN SSH SIGNATURE-----\n');
    expect(hashCommitObject(object, 'sha256')).toBe(sha);
    const parts = splitSignedCommit(object, 'sha256');
    expect(await sshKeygenVerifies(parts.signature ?? '', parts.payload)).toBe(true);
    // Read as SHA-1, the header is "another" signature: unsigned, with nothing of it left in the payload.
    expect(splitSignedCommit(object, 'sha1').signature).toBeUndefined();
    expect(rebuildSignedCommit(parts.payload, parts.signature ?? '', sha).equals(object)).toBe(true);
    const entries = parseAllowedSigners(await readFile(signers, 'utf8'), signers).entries;
    expect(await verifyCommitSignature(object, sha, { allowedSigners: { file: signers, entries } })).toMatchObject({ ok: true, signer: 'signer@example.invalid' });
  });
});

describe('commitTree', () => {
  it('reads the tree git names for the commit', async () => {
    const sha = commits.get('mergetag') ?? '';
    expect(commitTree(await catCommit(repo, sha))).toBe(await repo.git('rev-parse', `${sha}^{tree}`));
    expect(commitTree(Buffer.from('parent 1234\n\nno tree\n'))).toBeUndefined();
  });
});

describe('committerTime', () => {
  it.each([
    ['committer A <a@x> 1700000000 +0100', 1700000000],
    ['committer A <a@x> 1700000000 -0000', 1700000000],
    ['committer Odd > Name <a@x> 42 +0000', 42],
    ['committer A <a@x>', undefined],
  ])('reads %j', (line, expected) => {
    expect(committerTime(Buffer.from(`tree ${'0'.repeat(40)}\nauthor A <a@x> 1 +0000\n${line}\n\ncommitter B <b@x> 7 +0000\n`))).toBe(expected);
  });
});

describe('rebuildSignedCommit (the REST path)', () => {
  it.each(['root', 'child', 'encoding', 'mergetag'])('round-trips a real signed commit through payload + signature (%s)', async (name) => {
    const sha = commits.get(name) ?? '';
    const object = await catCommit(repo, sha);
    const { payload, signature } = splitSignedCommit(object);
    // GitHub hands both over as JSON strings.
    const rebuilt = rebuildSignedCommit(payload.toString('utf8'), signature ?? '', sha);
    expect(rebuilt.equals(object)).toBe(true);
    // And without the final newline, as some clients strip it.
    expect(rebuildSignedCommit(payload, (signature ?? '').trimEnd(), sha).equals(object)).toBe(true);
  });

  it('puts gpgsig after every other header, where git put it', async () => {
    const object = (await catCommit(repo, commits.get('mergetag') ?? '')).toString();
    const headers = object.slice(0, object.indexOf('\n\n')).split('\n').filter((line) => !line.startsWith(' ')).map((line) => line.split(' ')[0]);
    expect(headers).toEqual(['tree', 'parent', 'parent', 'author', 'committer', 'mergetag', 'gpgsig']);
    const encoding = (await catCommit(repo, commits.get('encoding') ?? '')).toString();
    expect(encoding).toMatch(/\ncommitter [^\n]+\nencoding ISO-8859-1\ngpgsig -----BEGIN/);
  });

  it('finds a signature header another tool placed between headers', async () => {
    const object = await catCommit(repo, commits.get('encoding') ?? '');
    const { payload, signature } = splitSignedCommit(object);
    const text = payload.toString('latin1');
    const at = text.indexOf('encoding ');
    const moved = Buffer.concat([payload.subarray(0, at), signatureHeader(signature ?? '', 'sha1'), payload.subarray(at)]);
    const sha = await writeCommit(repo, moved);
    expect(rebuildSignedCommit(payload, signature ?? '', sha).equals(moved)).toBe(true);
  });

  it('refuses a payload that does not belong to the SHA', async () => {
    const sha = commits.get('child') ?? '';
    const { payload, signature } = splitSignedCommit(await catCommit(repo, sha));
    const forged = payload.toString().replace('signed', 'forged');
    expect(() => rebuildSignedCommit(forged, signature ?? '', sha)).toThrow(CommitReassemblyError);
    expect(() => rebuildSignedCommit(forged, signature ?? '', sha)).toThrow(/do not rebuild an object with that SHA/);
    expect(() => rebuildSignedCommit(payload, signature ?? '', 'not-a-sha')).toThrow(/not a commit SHA/);
  });

  it('ssh-keygen agrees the rebuilt object carries a good signature', async () => {
    const sha = commits.get('root') ?? '';
    const { payload, signature } = splitSignedCommit(await catCommit(repo, sha));
    const rebuilt = rebuildSignedCommit(payload.toString(), signature ?? '', sha);
    const again = splitSignedCommit(rebuilt);
    expect(await sshKeygenVerifies(again.signature ?? '', again.payload)).toBe(true);
  });
});
