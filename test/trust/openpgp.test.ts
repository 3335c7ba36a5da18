import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { splitSignedCommit } from '../../src/trust/commit-object.js';
import { PinnedKeysError } from '../../src/trust/errors.js';
import { readOpenPgpKeys } from '../../src/trust/openpgp.js';
import { loadTrustPins } from '../../src/trust/pins.js';
import type { OpenPgpKeysPin, SignatureVerdict } from '../../src/trust/types.js';
import { verifyCommitSignature, verifyGitHubCommitSignature } from '../../src/trust/verify.js';
import { createRepo, type TestRepo } from '../support/repo.js';
import { catCommit, flipSignatureByte, gitVerifies, gpgHome, gpgSignedCommit, tempDir, writeCommit, type GpgHome } from './helpers.js';

let dir: string;
let repo: TestRepo;
let home: GpgHome;
let strangerHome: GpgHome;
let pin: OpenPgpKeysPin;
let pinFile: string;
const fpr = { alice: '', old: '', extended: '', renewed: '', lapsed: '', gone: '', sub: '', mallory: '' };
const commit = { alice: '', old: '', extended: '', renewed: '', lapsed: '', gone: '', sub: '', mallory: '' };

beforeAll(async () => {
  dir = await tempDir();
  repo = await createRepo();
  home = await gpgHome(dir);
  strangerHome = await gpgHome(dir);

  fpr.alice = await home.generateKey('Alice <alice@example.invalid>', 'never');
  commit.alice = await gpgSignedCommit(repo, home, fpr.alice, { message: 'by alice' });

  fpr.mallory = await strangerHome.generateKey('Mallory <mallory@example.invalid>', 'never');
  commit.mallory = await gpgSignedCommit(repo, strangerHome, fpr.mallory, { message: 'by mallory' });

  // Signs on 2020-06-01; a later self-signature (dated 2020-02-01) then sets its expiry to 2020-03-01,
  // so the signature was made three months after the key expired. gpg refuses to sign with an
  // expired key, hence this order.
  const june2020 = await home.programAt('20200601T000000');
  fpr.old = await home.generateKey('Old <old@example.invalid>', 'never', '20200101T000000');
  commit.old = await gpgSignedCommit(repo, home, fpr.old, { program: june2020, date: '2020-06-01T00:00:00Z', message: 'after expiry' });
  await home.gpg('--faked-system-time', '20200201T000000', '--quick-set-expire', fpr.old, '2020-03-01');

  // Expired when it signed, like Old, but its expiry was extended afterwards (self-signature of 2020-07-01):
  // the key's current expiry is 2021, the one in force at signing time was 2020-03-01.
  fpr.extended = await home.generateKey('Extended <extended@example.invalid>', 'never', '20200101T000000');
  commit.extended = await gpgSignedCommit(repo, home, fpr.extended, { program: june2020, date: '2020-06-01T00:00:00Z', message: 'in the gap' });
  await home.gpg('--faked-system-time', '20200201T000000', '--quick-set-expire', fpr.extended, '2020-03-01');
  await home.gpg('--faked-system-time', '20200701T000000', '--quick-set-expire', fpr.extended, '2021-01-01');

  // Signs while valid; then its expiry is lifted (self-signature of 2020-07-01). gpg exports only that
  // newest self-signature, which postdates the commit's signature.
  fpr.renewed = await home.generateKey('Renewed <renewed@example.invalid>', '2020-12-31', '20200101T000000');
  commit.renewed = await gpgSignedCommit(repo, home, fpr.renewed, { program: june2020, date: '2020-06-01T00:00:00Z', message: 'before renewal' });
  await home.gpg('--faked-system-time', '20200701T000000', '--quick-set-expire', fpr.renewed, 'never');

  // Valid when it signed (2020-06-01), expired since (2020-12-31).
  fpr.lapsed = await home.generateKey('Lapsed <lapsed@example.invalid>', '2020-12-31', '20200101T000000');
  commit.lapsed = await gpgSignedCommit(repo, home, fpr.lapsed, { program: june2020, date: '2020-06-01T00:00:00Z', message: 'before expiry' });

  // Signs, then is revoked with the certificate gpg stored at creation (no reason: a hard revocation).
  fpr.gone = await home.generateKey('Gone <gone@example.invalid>', 'never');
  commit.gone = await gpgSignedCommit(repo, home, fpr.gone, { message: 'before revocation' });
  const certificate = await readFile(join(home.dir, 'openpgp-revocs.d', `${fpr.gone}.rev`), 'utf8');
  const revocation = join(dir, 'gone.rev');
  await writeFile(revocation, certificate.replace(':-----BEGIN', '-----BEGIN'));
  await home.gpg('--import', revocation);

  // A certify-only primary key with a signing subkey: gpg signs with the subkey.
  fpr.sub = await home.generateKey('Sub <sub@example.invalid>', 'never');
  await home.gpg('--quick-add-key', fpr.sub, 'ed25519', 'sign', 'never');
  commit.sub = await gpgSignedCommit(repo, home, fpr.sub, { message: 'by a subkey' });

  const exported = await Promise.all([fpr.alice, fpr.old, fpr.extended, fpr.renewed, fpr.lapsed, fpr.gone, fpr.sub].map((fingerprint) => home.exportKey(fingerprint)));
  pinFile = join(dir, 'openpgp-keys.asc');
  await writeFile(pinFile, exported.join('\n'));
  pin = await readOpenPgpKeys(exported.join('\n'), pinFile);
});

afterAll(async () => {
  await Promise.all([home.close(), strangerHome.close()]);
  await repo.cleanup();
  await rm(dir, { recursive: true, force: true });
});

async function judge(sha: string): Promise<{ verdict: SignatureVerdict; git: boolean }> {
  const verdict = await verifyCommitSignature(await catCommit(repo, sha), sha, { openpgpKeys: pin });
  const git = await gitVerifies(repo, sha, ['gpg.program=gpg'], home.env);
  return { verdict, git };
}

describe('verifyCommitSignature with OpenPGP keys', () => {
  it('reads every key of a file of concatenated exports', () => {
    expect(pin.keys.map((key) => key.getFingerprint().toUpperCase())).toEqual([fpr.alice, fpr.old, fpr.extended, fpr.renewed, fpr.lapsed, fpr.gone, fpr.sub]);
  });

  it('accepts a commit signed by a pinned key (git agrees)', async () => {
    const { verdict, git } = await judge(commit.alice);
    expect(verdict).toEqual({
      ok: true,
      format: 'openpgp',
      signer: 'Alice <alice@example.invalid>',
      key: fpr.alice,
      tree: await repo.git('rev-parse', `${commit.alice}^{tree}`),
      message: `Commit ${commit.alice.slice(0, 12)} is signed by OpenPGP key ${fpr.alice} of Alice <alice@example.invalid>, pinned in ${pinFile}.`,
    });
    expect(git).toBe(true);
  });

  it('accepts a signature by a signing subkey, naming the subkey', async () => {
    const { verdict, git } = await judge(commit.sub);
    expect(verdict).toMatchObject({ ok: true, signer: 'Sub <sub@example.invalid>' });
    expect(verdict.ok && verdict.key).not.toBe(fpr.sub);
    expect(verdict.message).toContain(`(a subkey of ${fpr.sub})`);
    expect(git).toBe(true);
  });

  it('refuses a commit signed by a key that is not pinned', async () => {
    const { verdict, git } = await judge(commit.mallory);
    expect(verdict).toMatchObject({ ok: false, reason: 'unknown-key', format: 'openpgp' });
    expect(verdict.message).toMatch(new RegExp(`is signed by OpenPGP key ${fpr.mallory}, which is not in ${pinFile}\\. If that key should be trusted, append its public key there \\(gpg --export --armor ${fpr.mallory}\\)`));
    expect(git).toBe(false);
  });

  it('refuses a signature with a flipped byte (git agrees)', async () => {
    const flipped = await writeCommit(repo, flipSignatureByte(await catCommit(repo, commit.alice)));
    const { verdict, git } = await judge(flipped);
    expect(verdict).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(verdict.message).toMatch(/but the signature does not match the commit\. The commit was changed after signing/);
    expect(git).toBe(false);
  });

  it('refuses a changed payload carrying the old signature (git agrees)', async () => {
    const forged = Buffer.from((await catCommit(repo, commit.alice)).toString().replace('by alice', 'by nobody'));
    const { verdict, git } = await judge(await writeCommit(repo, forged));
    expect(verdict).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(git).toBe(false);
  });

  it('refuses a signature made after the key expired (git agrees)', async () => {
    const { verdict, git } = await judge(commit.old);
    expect(verdict).toMatchObject({ ok: false, reason: 'expired', key: fpr.old });
    expect(verdict.message).toMatch(/\(signature made 2020-06-01T00:00:00Z\), pinned in .*, but the key expired 2020-03-01T\d\d:\d\d:\d\dZ, before it signed\. Re-sign/);
    expect(git).toBe(false);
  });

  it('refuses a signature made while the key was expired, though its expiry was extended since', async () => {
    const { verdict } = await judge(commit.extended);
    expect(verdict).toMatchObject({ ok: false, reason: 'expired', key: fpr.extended });
    expect(verdict.message).toMatch(/but the key expired 2021-01-01T\d\d:\d\d:\d\dZ, and no self-signature shows it valid when it signed\. Re-sign/);
  });

  it('accepts a signature made before the key was renewed, judging the renewed key now as gpg does (git agrees)', async () => {
    const { verdict, git } = await judge(commit.renewed);
    expect(verdict).toMatchObject({ ok: true, signer: 'Renewed <renewed@example.invalid>' });
    expect(git).toBe(true);
  });

  it('accepts a signature made while the key was valid, though it has expired since', async () => {
    // git (through gpg's EXPKEYSIG) refuses this one: gpg judges expiry now, hostsync at the signature time.
    const { verdict } = await judge(commit.lapsed);
    expect(verdict).toMatchObject({ ok: true, signer: 'Lapsed <lapsed@example.invalid>' });
  });

  it('refuses a signature by a revoked key, even one made before the revocation (git agrees)', async () => {
    const { verdict, git } = await judge(commit.gone);
    expect(verdict).toMatchObject({ ok: false, reason: 'revoked', key: fpr.gone });
    expect(verdict.message).toMatch(/but the key is revoked\. Its owner revoked it/);
    expect(git).toBe(false);
  });

  it('refuses a signature dated after the host clock', async () => {
    const verdict = await verifyCommitSignature(await catCommit(repo, commit.alice), commit.alice, { openpgpKeys: pin }, { now: Date.UTC(2001, 0, 1) });
    expect(verdict).toMatchObject({ ok: false, reason: 'not-yet-valid' });
  });

  it('refuses an OpenPGP signature when only SSH keys are pinned', async () => {
    const verdict = await verifyCommitSignature(await catCommit(repo, commit.alice), commit.alice, {});
    expect(verdict).toMatchObject({ ok: false, reason: 'unknown-key', format: 'openpgp' });
    expect(verdict.message).toMatch(/this host pins no OpenPGP keys \(trust.openpgpKeysFile is not set\)/);
  });

  it('verifies from the REST payload and signature too', async () => {
    const { payload, signature } = splitSignedCommit(await catCommit(repo, commit.alice));
    const verdict = await verifyGitHubCommitSignature({ payload: payload.toString('utf8'), signature: signature ?? null }, commit.alice, { openpgpKeys: pin });
    expect(verdict).toMatchObject({ ok: true, key: fpr.alice });
  });
});

describe('readOpenPgpKeys / loadTrustPins (OpenPGP)', () => {
  it('loads the pinned file', async () => {
    const { pins } = await loadTrustPins({ openpgpKeysFile: pinFile });
    expect(pins.openpgpKeys?.keys).toHaveLength(7);
    expect(pins.allowedSigners).toBeUndefined();
    expect(pins.openpgpKeys?.keys.every((key) => !key.isPrivate())).toBe(true);
  });

  it('refuses a secret key, naming its line', async () => {
    const secret = await home.gpg('--armor', '--export-secret-keys', fpr.alice);
    const error = await readOpenPgpKeys(`# pinned\n${secret}`, 'keys.asc').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PinnedKeysError);
    expect(error).toMatchObject({ exitCode: ExitCode.Usage, line: 2, message: expect.stringMatching(/^keys.asc contains a secret key; a host only needs public keys/) });
  });

  it('refuses a file without keys and a block that does not parse', async () => {
    await expect(readOpenPgpKeys('nothing here\n', 'keys.asc')).rejects.toThrow(/keys.asc holds no armored OpenPGP public key/);
    const garbage = '\n\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n';
    await expect(readOpenPgpKeys(garbage, 'keys.asc')).rejects.toThrow(/^keys.asc line 3: the public key block does not parse/);
  });
});
