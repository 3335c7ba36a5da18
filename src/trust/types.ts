/**
 * The vocabulary of host-side signature verification: the keys a host pins and the verdict on one
 * commit. Types only.
 */
import type { PublicKey } from 'openpgp';
import type { AllowedSigner } from './allowed-signers.js';

/** How a commit was signed: `gpg.format=ssh` (sshsig) or OpenPGP. */
export type SignatureFormat = 'ssh' | 'openpgp';

/** SSH keys pinned by `trust.allowedSignersFile`. */
export interface AllowedSignersPin {
  /** The file they were read from, named in messages. */
  readonly file: string;
  readonly entries: readonly AllowedSigner[];
}

/** OpenPGP public keys pinned by `trust.openpgpKeysFile`. */
export interface OpenPgpKeysPin {
  readonly file: string;
  readonly keys: readonly PublicKey[];
}

/** Everything a host trusts to sign the commits it applies; a format without a pin is refused. */
export interface TrustPins {
  readonly allowedSigners?: AllowedSignersPin | undefined;
  readonly openpgpKeys?: OpenPgpKeysPin | undefined;
}

/** Why a commit's signature was not accepted. */
export type RefusalReason =
  /** The commit object does not hash to the commit SHA it was given for (tampered or mixed up). */
  | 'sha-mismatch'
  | 'unsigned'
  /** Signed by a key that is not pinned (or in a format this host pins no keys for). */
  | 'unknown-key'
  /** Malformed, or does not match the commit's content. */
  | 'bad-signature'
  /** The key (or its allowed-signers line, or the signature) had expired at signing time. */
  | 'expired'
  | 'revoked'
  /** Signed before the key (or its allowed-signers line) became valid, or dated in the future. */
  | 'not-yet-valid'
  /** An SSH signature made for another purpose than git, or a key pinned for other namespaces. */
  | 'wrong-namespace'
  /** A key type, algorithm or signature format this host cannot verify. */
  | 'unsupported';

/** A signature made by a pinned key that was valid when the commit was signed. */
export interface AcceptedSignature {
  readonly ok: true;
  readonly format: SignatureFormat;
  /** Who signed: the allowed-signers principals, or the OpenPGP primary user ID. */
  readonly signer: string;
  /** The signing key: `SHA256:…` for SSH, the (sub)key fingerprint in hex for OpenPGP. */
  readonly key: string;
  /**
   * The tree SHA named by the signed commit: the content the signature vouches for. The caller must
   * apply this tree and no other (compare it with the tree it fetched).
   */
  readonly tree: string;
  /** One line for the log: who signed, with which key, pinned where. */
  readonly message: string;
}

/** A refused signature: `message` says what failed, with which key and file, and what to do. */
export interface RefusedSignature {
  readonly ok: false;
  readonly reason: RefusalReason;
  readonly message: string;
  /** The signature's format, when one was found. */
  readonly format: SignatureFormat | undefined;
  /** The key that signed, when the signature could be read far enough to name it. */
  readonly key: string | undefined;
}

/** The verdict on one commit's signature. */
export type SignatureVerdict = AcceptedSignature | RefusedSignature;

/** What a format verifier (SSH, OpenPGP) returns; the entry point adds the tree. */
export type FormatVerdict = Omit<AcceptedSignature, 'tree'> | RefusedSignature;

/** What a format verifier needs besides the signature and payload. */
export interface VerificationContext {
  /** The commit SHA abbreviated for messages. */
  readonly commit: string;
  /** Committer time of the signed payload, epoch seconds: the time SSH key validity is checked at (as git does). */
  readonly committerTime: number | undefined;
  /** The host's current time, epoch milliseconds: OpenPGP signatures dated after it are refused. */
  readonly now: number;
}
