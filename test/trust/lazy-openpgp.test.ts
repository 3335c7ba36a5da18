import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadTrustPins } from '../../src/trust/pins.js';
import { verifyCommitSignature } from '../../src/trust/verify.js';
import { createRepo, type TestRepo } from '../support/repo.js';
import { allowedSignersFile, catCommit, commitWith, sshKey, sshSignedCommit, tempDir } from './helpers.js';

// Records whether anything imported OpenPGP.js; the real module is still returned.
const seen = vi.hoisted(() => ({ openpgp: false }));
vi.mock('openpgp', async (importOriginal) => {
  seen.openpgp = true;
  return importOriginal();
});

let dir: string;
let repo: TestRepo;

beforeAll(async () => {
  dir = await tempDir();
  repo = await createRepo();
});

afterAll(async () => {
  await repo.cleanup();
  await rm(dir, { recursive: true, force: true });
});

describe('OpenPGP.js is loaded only for OpenPGP', () => {
  it('is not loaded by SSH-only pins and SSH or unsigned commits, and is once OpenPGP keys are pinned', async () => {
    const key = await sshKey(dir, 'signer', 'ed25519');
    const file = await allowedSignersFile(dir, 'allowed', [`signer ${key.publicKey}`]);
    const { pins } = await loadTrustPins({ allowedSignersFile: file });
    const signed = await sshSignedCommit(repo, key);
    const unsigned = await commitWith(repo, [], { message: 'unsigned' });
    expect((await verifyCommitSignature(await catCommit(repo, signed), signed, pins)).ok).toBe(true);
    expect((await verifyCommitSignature(await catCommit(repo, unsigned), unsigned, pins)).ok).toBe(false);
    expect(seen.openpgp).toBe(false);

    const keys = join(dir, 'keys.asc');
    await writeFile(keys, '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n');
    await expect(loadTrustPins({ allowedSignersFile: file, openpgpKeysFile: keys })).rejects.toThrow(/does not parse/);
    expect(seen.openpgp).toBe(true);
  });
});
