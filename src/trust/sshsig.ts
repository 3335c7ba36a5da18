/**
 * SSH signatures as `ssh-keygen -Y sign` makes them and git stores them in `gpgsig`
 * (https://github.com/openssh/openssh-portable/blob/master/PROTOCOL.sshsig): parse the armored
 * blob and check it over a message the way `ssh-keygen -Y verify` does — same namespace, an allowed
 * hash algorithm, and the inner signature over
 * `"SSHSIG" ‖ string(namespace) ‖ string(reserved) ‖ string(hash_algorithm) ‖ string(H(message))`.
 * Which key may sign is decided elsewhere (allowed signers); this file only says whether the key
 * embedded in the signature made it.
 */
import { createHash } from 'node:crypto';
import { SshFormatError } from './errors.js';
import { checkSshSignature, sshFingerprint, sshKeyType, type SshSignatureCheck } from './ssh-key.js';
import { sshReader, sshString } from './ssh-wire.js';

const BEGIN = '-----BEGIN SSH SIGNATURE-----';
const END = '-----END SSH SIGNATURE-----';
const MAGIC = Buffer.from('SSHSIG', 'ascii');
/** The only version OpenSSH writes; it refuses anything newer. */
const SUPPORTED_VERSION = 1;
/** OpenSSH's HASHALG_ALLOWED. */
const HASH_ALGORITHMS: ReadonlySet<string> = new Set(['sha256', 'sha512']);

/** A parsed sshsig blob. */
export interface SshSig {
  readonly version: number;
  /** The signer's public key in wire format, as embedded in the signature. */
  readonly publicKey: Buffer;
  /** The key type named by `publicKey`, e.g. `ssh-ed25519`. */
  readonly keyType: string;
  /** `SHA256:…` of `publicKey`. */
  readonly fingerprint: string;
  readonly namespace: string;
  readonly hashAlgorithm: string;
  /** The inner signature blob (`string format, string bytes`). */
  readonly signature: Buffer;
}

/** Whether text is an armored SSH signature (what git looks at to pick `gpg.format=ssh`). */
export function isSshSignature(armored: string): boolean {
  return armored.startsWith(BEGIN);
}

/** Parse an armored SSH signature; throws `SshFormatError` saying what is malformed. */
export function parseSshSignature(armored: string): SshSig {
  const text = armored.replace(/\r\n/g, '\n').trim();
  if (!text.startsWith(BEGIN)) throw new SshFormatError(`The SSH signature does not begin with '${BEGIN}'.`);
  const endAt = text.indexOf(END);
  if (endAt === -1) throw new SshFormatError(`The SSH signature has no '${END}' line.`);
  if (text.slice(endAt + END.length).trim() !== '') throw new SshFormatError(`The SSH signature has text after '${END}'.`);
  const body = text.slice(BEGIN.length, endAt).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) throw new SshFormatError('The SSH signature body is not valid base64.');
  const blob = Buffer.from(body, 'base64');

  const reader = sshReader(blob, 'the SSH signature');
  const magic = reader.raw(MAGIC.length, 'the SSHSIG preamble');
  if (!magic.equals(MAGIC)) throw new SshFormatError(`The SSH signature does not start with the 'SSHSIG' preamble.`);
  const version = reader.uint32('the version');
  const publicKey = reader.bytes('the public key');
  const namespace = reader.text('the namespace');
  reader.bytes('the reserved field');
  const hashAlgorithm = reader.text('the hash algorithm');
  const signature = reader.bytes('the signature');
  reader.end('the signature');
  const keyType = sshKeyType(publicKey);
  return { version, publicKey, keyType, fingerprint: sshFingerprint(publicKey), namespace, hashAlgorithm, signature };
}

/** Outcome of {@link checkSshSig}: the key-level check, or a namespace the signature was not made for. */
export type SshSigCheck = SshSignatureCheck | { readonly ok: false; readonly reason: 'wrong-namespace'; readonly detail: string };

/**
 * Check that `sig` was made over `message` for `namespace` by the key it embeds, in OpenSSH's order:
 * version, namespace, hash algorithm, then the signature itself.
 */
export function checkSshSig(sig: SshSig, message: Buffer, namespace: string): SshSigCheck {
  if (sig.version !== SUPPORTED_VERSION) {
    return { ok: false, reason: 'unsupported', detail: `sshsig version ${sig.version} is not supported (only version ${SUPPORTED_VERSION})` };
  }
  if (sig.namespace !== namespace) {
    return { ok: false, reason: 'wrong-namespace', detail: `the signature was made for namespace "${sig.namespace}", not "${namespace}"` };
  }
  if (!HASH_ALGORITHMS.has(sig.hashAlgorithm)) {
    return { ok: false, reason: 'unsupported', detail: `the sshsig hash algorithm "${sig.hashAlgorithm}" is not one of sha256, sha512` };
  }
  const digest = createHash(sig.hashAlgorithm).update(message).digest();
  const signedData = Buffer.concat([MAGIC, sshString(namespace), sshString(''), sshString(sig.hashAlgorithm), sshString(digest)]);
  return checkSshSignature(sig.publicKey, sig.signature, signedData);
}
