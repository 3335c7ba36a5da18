/**
 * SSH public keys and the signatures they make, verified with Node's crypto alone: key blobs
 * (RFC 4253 §6.6, RFC 5656 §3.1, RFC 8709) become `KeyObject`s through JWK, and signature blobs
 * (RFC 8332 for RSA, RFC 5656 §3.1.2 for ECDSA, RFC 8709 for Ed25519) are checked over given bytes.
 *
 * Supported: ssh-ed25519, ssh-rsa keys with rsa-sha2-256/rsa-sha2-512 signatures, and
 * ecdsa-sha2-nistp256/384/521. Refused as unsupported: SHA-1 `ssh-rsa` signatures (OpenSSH refuses
 * them for sshsig too), RSA keys under 2048 bits, DSA, FIDO (`sk-…`) keys and certificates.
 */
import { createHash, createPublicKey, verify, type JsonWebKey, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';
import { SshFormatError } from './errors.js';
import { sshReader } from './ssh-wire.js';

/** The fingerprint OpenSSH prints by default: `SHA256:` + unpadded base64 of the blob's SHA-256. */
export function sshFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named inside a key blob (its first string), e.g. `ssh-ed25519`. */
export function sshKeyType(blob: Buffer): string {
  return sshReader(blob, 'the SSH public key').text('the key type');
}

/** A short human name of a key type for messages: `ED25519`, `RSA`, `ECDSA-P256`, … */
export function describeSshKeyType(type: string): string {
  const names: Readonly<Record<string, string>> = {
    'ssh-ed25519': 'ED25519',
    'ssh-rsa': 'RSA',
    'ecdsa-sha2-nistp256': 'ECDSA-P256',
    'ecdsa-sha2-nistp384': 'ECDSA-P384',
    'ecdsa-sha2-nistp521': 'ECDSA-P521',
    'sk-ssh-ed25519@openssh.com': 'ED25519-SK',
    'sk-ecdsa-sha2-nistp256@openssh.com': 'ECDSA-SK',
    'ssh-dss': 'DSA',
  };
  return names[type] ?? (type.includes('-cert-v01@openssh.com') ? `certificate ${type}` : type);
}

/** Outcome of checking one signature blob. */
export type SshSignatureCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'bad-signature' | 'unsupported'; readonly detail: string };

/** An ECDSA curve as SSH names it, with what Node needs to verify on it. */
export interface EcdsaCurve {
  readonly name: string;
  readonly jwkCurve: 'P-256' | 'P-384' | 'P-521';
  readonly size: number;
  readonly hash: 'sha256' | 'sha384' | 'sha512';
}

const ECDSA_CURVES: Readonly<Record<string, EcdsaCurve>> = {
  'ecdsa-sha2-nistp256': { name: 'nistp256', jwkCurve: 'P-256', size: 32, hash: 'sha256' },
  'ecdsa-sha2-nistp384': { name: 'nistp384', jwkCurve: 'P-384', size: 48, hash: 'sha384' },
  'ecdsa-sha2-nistp521': { name: 'nistp521', jwkCurve: 'P-521', size: 66, hash: 'sha512' },
};

const RSA_SIGNATURE_HASHES: Readonly<Record<string, 'sha256' | 'sha512'>> = {
  'rsa-sha2-256': 'sha256',
  'rsa-sha2-512': 'sha512',
};

/** Smallest RSA modulus accepted; OpenSSH still takes 1024, which no longer resists factoring budgets. */
const MIN_RSA_BITS = 2048;

const b64url = (bytes: Buffer): string => bytes.toString('base64url');

/**
 * Whether a key type can be verified here, and why not: the check allowed-signers parsing and
 * verification share, so a pinned key that could never verify is named at load time too.
 */
export function unsupportedKeyTypeReason(type: string): string | undefined {
  if (type === 'ssh-ed25519' || type === 'ssh-rsa' || ECDSA_CURVES[type] !== undefined) return undefined;
  if (type.startsWith('sk-')) return `FIDO security-key signatures (${type}) are not supported yet; sign with an ed25519, ECDSA or RSA key`;
  if (type.endsWith('-cert-v01@openssh.com')) return `SSH certificates (${type}) are not supported yet; pin the signer's own key instead of a certificate authority`;
  if (type === 'ssh-dss') return 'DSA keys are obsolete and refused; sign with an ed25519 key';
  return `unknown SSH key type '${type}'`;
}

/** A public key parsed from its wire-format blob, ready for Node's crypto, or why it cannot be used. */
export type SshPublicKey =
  | { readonly kind: 'ed25519'; readonly type: string; readonly key: KeyObject }
  | { readonly kind: 'rsa'; readonly type: string; readonly key: KeyObject; readonly bits: number }
  | { readonly kind: 'ecdsa'; readonly type: string; readonly key: KeyObject; readonly curve: EcdsaCurve }
  | { readonly kind: 'unsupported'; readonly type: string; readonly reason: string };

/**
 * Parse a key blob. Malformed bytes of a supported type throw `SshFormatError`; a well-formed key
 * of a type this module cannot verify is returned as `unsupported` with the reason.
 */
export function parseSshPublicKey(blob: Buffer): SshPublicKey {
  const reader = sshReader(blob, 'the SSH public key');
  const type = reader.text('the key type');
  const unsupported = unsupportedKeyTypeReason(type);
  if (unsupported !== undefined) return { kind: 'unsupported', type, reason: unsupported };
  if (type === 'ssh-ed25519') {
    const publicKey = reader.bytes('the ed25519 public key');
    reader.end('the ed25519 public key');
    if (publicKey.length !== 32) throw new SshFormatError(`The ed25519 public key is ${publicKey.length} bytes, expected 32.`);
    return { kind: 'ed25519', type, key: importJwk({ kty: 'OKP', crv: 'Ed25519', x: b64url(publicKey) }, 'The ed25519 key') };
  }
  if (type === 'ssh-rsa') {
    const e = reader.mpint('the RSA exponent');
    const n = reader.mpint('the RSA modulus');
    reader.end('the RSA modulus');
    const bits = bitLength(n);
    if (bits < MIN_RSA_BITS) {
      return { kind: 'unsupported', type, reason: `the RSA key has ${bits} bits, fewer than the ${MIN_RSA_BITS} required; sign with an ed25519 key or an RSA key of 3072 bits` };
    }
    return { kind: 'rsa', type, bits, key: importJwk({ kty: 'RSA', n: b64url(n), e: b64url(e) }, 'The RSA key') };
  }
  const curve = ECDSA_CURVES[type];
  if (curve === undefined) return { kind: 'unsupported', type, reason: `unknown SSH key type '${type}'` };
  const curveName = reader.text('the ECDSA curve name');
  const point = reader.bytes('the ECDSA public point');
  reader.end('the ECDSA public point');
  if (curveName !== curve.name) throw new SshFormatError(`The ${type} key names curve '${curveName}', expected '${curve.name}'.`);
  if (point.length !== 1 + 2 * curve.size || point[0] !== 0x04) {
    throw new SshFormatError(`The ${type} public point is not an uncompressed point of ${1 + 2 * curve.size} bytes.`);
  }
  return { kind: 'ecdsa', type, curve, key: createEcdsaKey(curve, point) };
}

/** Verify one SSH signature blob (`string format, string signature`) by the key `keyBlob` over `data`. */
export function checkSshSignature(keyBlob: Buffer, signatureBlob: Buffer, data: Buffer): SshSignatureCheck {
  const publicKey = parseSshPublicKey(keyBlob);
  if (publicKey.kind === 'unsupported') return { ok: false, reason: 'unsupported', detail: publicKey.reason };

  const sigReader = sshReader(signatureBlob, 'the SSH signature blob');
  const format = sigReader.text('the signature format');
  const signature = sigReader.bytes('the signature bytes');
  sigReader.end('the signature bytes');

  switch (publicKey.kind) {
    case 'ed25519':
      if (format !== 'ssh-ed25519') return mismatch(publicKey.type, format);
      return outcome(signature.length === 64 && safeVerify(null, data, publicKey.key, signature));
    case 'rsa': {
      if (format === 'ssh-rsa') {
        return { ok: false, reason: 'unsupported', detail: 'the RSA signature uses SHA-1 (ssh-rsa), which is refused as OpenSSH does; sign again with a current OpenSSH (rsa-sha2-512)' };
      }
      const hash = RSA_SIGNATURE_HASHES[format];
      if (hash === undefined) return mismatch(publicKey.type, format);
      const modulusBytes = Math.ceil(publicKey.bits / 8);
      // SSH may drop leading zero bytes of the signature (OpenSSH pads them back); OpenSSL wants the full length.
      if (signature.length > modulusBytes) return outcome(false);
      const padded = Buffer.concat([Buffer.alloc(modulusBytes - signature.length), signature]);
      return outcome(safeVerify(hash, data, publicKey.key, padded));
    }
    case 'ecdsa': {
      const { curve } = publicKey;
      if (format !== publicKey.type) return mismatch(publicKey.type, format);
      // The signature is `mpint r, mpint s` (RFC 5656 §3.1.2); IEEE P1363 wants both padded to the field size.
      const rs = sshReader(signature, 'the ECDSA signature');
      const r = rs.mpint('r');
      const s = rs.mpint('s');
      rs.end('s');
      if (r.length > curve.size || s.length > curve.size) return outcome(false);
      const p1363 = Buffer.concat([Buffer.alloc(curve.size - r.length), r, Buffer.alloc(curve.size - s.length), s]);
      return outcome(safeVerify(curve.hash, data, { key: publicKey.key, dsaEncoding: 'ieee-p1363' }, p1363));
    }
  }
}

function createEcdsaKey(curve: EcdsaCurve, point: Buffer): KeyObject {
  const x = point.subarray(1, 1 + curve.size);
  const y = point.subarray(1 + curve.size);
  return importJwk({ kty: 'EC', crv: curve.jwkCurve, x: b64url(x), y: b64url(y) }, `The ${curve.name} public point`);
}

/** A key from JWK; OpenSSL's refusal (a point off the curve, an empty exponent) is a malformed key, not a bug. */
function importJwk(jwk: JsonWebKey, what: string): KeyObject {
  try {
    return createPublicKey({ key: jwk, format: 'jwk' });
  } catch (error) {
    throw new SshFormatError(`${what} is not a valid key (${error instanceof Error ? error.message : String(error)}).`);
  }
}

/** Node's verify, with a throw (input OpenSSL cannot parse) counted as a failed signature. */
function safeVerify(algorithm: string | null, data: Buffer, key: KeyObject | VerifyKeyObjectInput, signature: Buffer): boolean {
  try {
    return verify(algorithm, data, key, signature);
  } catch {
    return false;
  }
}

function bitLength(magnitude: Buffer): number {
  const first = magnitude[0];
  if (first === undefined) return 0;
  return (magnitude.length - 1) * 8 + (32 - Math.clz32(first));
}

function outcome(valid: boolean): SshSignatureCheck {
  return valid ? { ok: true } : { ok: false, reason: 'bad-signature', detail: 'the signature does not match the signed data' };
}

function mismatch(keyType: string, format: string): SshSignatureCheck {
  return { ok: false, reason: 'bad-signature', detail: `a ${keyType} key cannot make a '${format}' signature` };
}
