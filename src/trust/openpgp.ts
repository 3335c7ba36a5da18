/**
 * OpenPGP: pinned public keys (`trust.openpgpKeysFile`, armored) and the verdict on a commit's
 * detached `-----BEGIN PGP SIGNATURE-----`, through OpenPGP.js (decision 0005). The library is
 * imported on first use, so a run that pins no OpenPGP keys never loads it.
 *
 * OpenPGP.js checks the signing key (primary or subkey) at the signature's creation time: expired
 * then → refused, expired only later → accepted; a hard revocation (no reason, or "compromised")
 * refuses every signature, a soft one ("superseded", "retired") only those made after it.
 */
import type { Key, PublicKey, Signature, Subkey } from 'openpgp';
import { errorMessage } from '../errors.js';
import { PinnedKeysError } from './errors.js';
import type { OpenPgpKeysPin, RefusalReason, FormatVerdict, VerificationContext } from './types.js';

type OpenPgp = typeof import('openpgp');
let loading: Promise<OpenPgp> | undefined;

/** The library, imported once on first use. */
function loadOpenPgp(): Promise<OpenPgp> {
  loading ??= import('openpgp');
  return loading;
}

const PUBLIC_BLOCK = /-----BEGIN PGP PUBLIC KEY BLOCK-----[\s\S]*?-----END PGP PUBLIC KEY BLOCK-----/g;

/**
 * Read the armored public keys of `text` (one or several `PUBLIC KEY BLOCK`s, as `gpg --export
 * --armor` writes them, concatenated); `file` names the source in errors. Throws `PinnedKeysError`
 * for a file without keys, a block that does not parse, or a secret key.
 */
export async function readOpenPgpKeys(text: string, file: string): Promise<OpenPgpKeysPin> {
  if (text.includes('PRIVATE KEY BLOCK')) {
    throw new PinnedKeysError(file, lineOf(text, text.indexOf('PRIVATE KEY BLOCK')), `${file} contains a secret key; a host only needs public keys. Replace it with the output of gpg --export --armor <fingerprint>, and treat the secret key as exposed.`);
  }
  const blocks = [...text.matchAll(PUBLIC_BLOCK)];
  if (blocks.length === 0) {
    throw new PinnedKeysError(file, undefined, `${file} holds no armored OpenPGP public key (-----BEGIN PGP PUBLIC KEY BLOCK-----). Export the signers' keys with gpg --export --armor <fingerprint> into it.`);
  }
  const openpgp = await loadOpenPgp();
  const keys: PublicKey[] = [];
  for (const block of blocks) {
    const line = lineOf(text, block.index);
    let read: Key[];
    try {
      read = await openpgp.readKeys({ armoredKeys: block[0] });
    } catch (error) {
      throw new PinnedKeysError(file, line, `${file} line ${line}: the public key block does not parse (${errorMessage(error)}). Export it again with gpg --export --armor <fingerprint>.`, { cause: error });
    }
    for (const key of read) keys.push(key.toPublic());
  }
  return { file, keys };
}

function lineOf(text: string, index: number): number {
  return text.slice(0, Math.max(0, index)).split('\n').length;
}

/** Judge an armored OpenPGP signature over `payload` against the pinned keys. */
export async function verifyOpenPgpCommitSignature(
  armored: string,
  payload: Buffer,
  pin: OpenPgpKeysPin | undefined,
  context: VerificationContext,
): Promise<FormatVerdict> {
  const { commit } = context;
  const openpgp = await loadOpenPgp();
  let signature: Signature;
  try {
    signature = await openpgp.readSignature({ armoredSignature: armored });
  } catch (error) {
    return refuse('bad-signature', undefined, `Commit ${commit} carries a malformed OpenPGP signature (${errorMessage(error)}); it was refused. Re-sign the commit with git commit -S.`);
  }
  const keyIds = signature.getSigningKeyIDs().map((id) => id.toHex().toUpperCase());
  // The issuer fingerprint subpacket, where the signer wrote one, names the key better than its id.
  const fingerprints = signature.packets.flatMap((packet) => (packet.issuerFingerprint === null ? [] : [Buffer.from(packet.issuerFingerprint).toString('hex').toUpperCase()]));
  const issuer = (fingerprints.length > 0 ? fingerprints : keyIds).join(', ') || '(no issuer)';
  if (pin === undefined) {
    return refuse('unknown-key', issuer, `Commit ${commit} is signed by OpenPGP key ${issuer}, but this host pins no OpenPGP keys (trust.openpgpKeysFile is not set). Set trust.openpgpKeysFile to a file with the signer's public key (gpg --export --armor), or sign with a pinned SSH key.`);
  }

  let firstRefusal: FormatVerdict | undefined;
  for (const keyId of signature.getSigningKeyIDs()) {
    const key = pin.keys.find((candidate) => candidate.getKeys(keyId).length > 0);
    if (key === undefined) continue;
    const verdict = await verifyWithKey(openpgp, signature, keyId, key, payload, pin.file, context);
    if (verdict.ok) return verdict;
    firstRefusal ??= verdict;
  }
  return firstRefusal ?? refuse('unknown-key', issuer, `Commit ${commit} is signed by OpenPGP key ${issuer}, which is not in ${pin.file}. If that key should be trusted, append its public key there (gpg --export --armor ${fingerprints[0] ?? keyIds[0] ?? '<key id>'}); otherwise sign the commit with a pinned key.`);
}

type KeyId = ReturnType<Signature['getSigningKeyIDs']>[number];

/**
 * `gpg --export` keeps only a key's newest self-signature, so a key whose expiry was extended after
 * a commit was signed has no self-signature from signing time. OpenPGP.js then refuses by default;
 * this setting judges such a key at the host's current time instead, as gpg always does. It weakens
 * nothing here: the signature time is the signer's claim anyway (decision 0005).
 */
const VERIFY_CONFIG = { allowInsecureVerificationWithReformattedKeys: true } as const;

async function verifyWithKey(
  openpgp: OpenPgp,
  signature: Signature,
  keyId: KeyId,
  key: PublicKey,
  payload: Buffer,
  file: string,
  context: VerificationContext,
): Promise<FormatVerdict> {
  const signingKey = key.getKeys(keyId)[0] ?? key;
  const fingerprint = signingKey.getFingerprint().toUpperCase();
  const owner = await userIdOf(key);
  const keyName = `OpenPGP key ${fingerprint}${signingKey === key ? '' : ` (a subkey of ${key.getFingerprint().toUpperCase()})`} of ${owner}`;
  const message = await openpgp.createMessage({ binary: new Uint8Array(payload.buffer, payload.byteOffset, payload.length) });
  const result = await openpgp.verify({ message, signature, verificationKeys: [key], date: new Date(context.now), format: 'binary', config: VERIFY_CONFIG });
  const created = signature.packets.find((packet) => packet.issuerKeyID.equals(keyId))?.created ?? undefined;
  const mine = result.signatures.find((entry) => entry.keyID.equals(keyId));
  try {
    if (mine === undefined) throw new Error('no signature by this key');
    await mine.verified;
    return { ok: true, format: 'openpgp', signer: owner, key: fingerprint, message: `Commit ${context.commit} is signed by ${keyName}, pinned in ${file}.` };
  } catch (error) {
    const { reason, detail } = await classify(error, key, signingKey, created ?? new Date(context.now), new Date(context.now));
    const when = created === undefined ? '' : ` (signature made ${isoTime(created)})`;
    return refuse(reason, fingerprint, `Commit ${context.commit} is signed by ${keyName}${when}, pinned in ${file}, but ${detail}. ${advice(reason, file)}`);
  }
}

/**
 * Turn OpenPGP.js's failure into a reason. A digest or signature mismatch is reported as such;
 * otherwise the key's own state decides (revoked before expired): at `at`, the signature time,
 * or at `now` for a key with no self-signature from signing time (see VERIFY_CONFIG).
 */
async function classify(error: unknown, key: PublicKey, signingKey: PublicKey | Subkey, at: Date, now: Date): Promise<{ reason: RefusalReason; detail: string }> {
  const text = errorMessage(error);
  // OpenPGP.js wraps failures of the key's own signatures ("Could not find valid …: <cause>"):
  // only an unwrapped message is about the commit's signature.
  if (/^(Signed digest did not match|Signature verification failed)/.test(text)) return { reason: 'bad-signature', detail: 'the signature does not match the commit' };
  if (/^Signature creation time is in the future/.test(text)) return { reason: 'not-yet-valid', detail: 'the signature is dated in the future' };
  if (/^Key is newer than the signature/.test(text)) return { reason: 'not-yet-valid', detail: 'the signature is dated before the key was created' };
  if (/^Signature is expired/.test(text)) return { reason: 'expired', detail: 'the signature itself has expired' };
  if (await key.isRevoked(undefined, undefined, at)) return { reason: 'revoked', detail: 'the key is revoked' };
  const subkey = signingKey !== key && 'mainKey' in signingKey ? signingKey : undefined;
  const binding = subkey?.bindingSignatures[0];
  if (subkey !== undefined && binding !== undefined && (await subkey.isRevoked(binding, key.keyPacket, at))) return { reason: 'revoked', detail: 'the signing subkey is revoked' };
  for (const [which, expiry] of [
    ['signing subkey', await subkey?.getExpirationTime(at).catch(() => null)],
    ['key', await key.getExpirationTime().catch(() => null)],
  ] as const) {
    if (!(expiry instanceof Date)) continue;
    if (expiry <= at) return { reason: 'expired', detail: `the ${which} expired ${isoTime(expiry)}, before it signed` };
    if (expiry <= now) return { reason: 'expired', detail: `the ${which} expired ${isoTime(expiry)}, and no self-signature shows it valid when it signed` };
  }
  if (/\brevoked\b/i.test(text)) return { reason: 'revoked', detail: `the key is revoked (${text})` };
  if (/\bexpired\b/i.test(text)) return { reason: 'expired', detail: `the key had expired (${text})` };
  if (/insecure|too weak|not supported|unsupported|unknown/i.test(text)) return { reason: 'unsupported', detail: `OpenPGP.js cannot accept it (${text})` };
  return { reason: 'bad-signature', detail: `it does not verify (${text})` };
}

/** What to do about a refusal of a pinned key's signature. */
function advice(reason: RefusalReason, file: string): string {
  switch (reason) {
    case 'expired':
      return `Re-sign the commit with a current key; if the owner has extended the key's expiry, export it again into ${file}.`;
    case 'revoked':
      return 'Its owner revoked it: re-sign the commit with a current key, and keep the revocation in the pinned file.';
    case 'not-yet-valid':
      return "Check the signer's clock and re-sign the commit.";
    case 'unsupported':
      return 'Sign with a current key (ed25519, or RSA of 3072 bits with SHA-256 or better).';
    default:
      return 'The commit was changed after signing, or the signature is forged or corrupt; it was refused. Find out who pushed it before trusting this repository.';
  }
}

async function userIdOf(key: PublicKey): Promise<string> {
  try {
    const primary = await key.getPrimaryUser();
    return primary.user.userID?.userID ?? key.getUserIDs()[0] ?? 'an unnamed key';
  } catch {
    // A revoked or expired key has no valid primary user at this date; its first user ID still names it.
    return key.getUserIDs()[0] ?? 'an unnamed key';
  }
}

function isoTime(date: Date): string {
  return date.toISOString().replace('.000Z', 'Z');
}

function refuse(reason: RefusalReason, key: string | undefined, message: string): FormatVerdict {
  return { ok: false, reason, format: 'openpgp', key, message };
}
