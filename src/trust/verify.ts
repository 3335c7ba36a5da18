/**
 * The one entry point of host-side signature verification: is this commit object the commit that
 * was asked for, and was it signed by a key this host pins, valid when it signed? Trust then rests
 * on the host's own pinned keys, not on GitHub's `verification.verified`: a stolen push token or an
 * impersonated server cannot produce a commit that passes.
 */
import { HostsyncError } from '../errors.js';
import { CommitReassemblyError } from './errors.js';
import { commitTree, hashCommitObject, objectFormatOf, rebuildSignedCommit, splitSignedCommit } from './commit-object.js';
import { isSshSignature } from './sshsig.js';
import { verifySshCommitSignature } from './verify-ssh.js';
import type { FormatVerdict, SignatureVerdict, TrustPins, VerificationContext } from './types.js';

/** Options of {@link verifyCommitSignature}. */
export interface VerifyCommitOptions {
  /** The current time in epoch milliseconds: OpenPGP signatures dated after it are refused. @default Date.now() */
  readonly now?: number;
}

/** The signature and payload of GitHub's "get a commit" answer (`commit.verification`). */
export interface GitHubVerification {
  readonly payload: string | null;
  readonly signature: string | null;
}

const PGP_PREFIXES = ['-----BEGIN PGP SIGNATURE-----', '-----BEGIN PGP MESSAGE-----'];
const X509_PREFIX = '-----BEGIN SIGNED MESSAGE-----';

/**
 * Verify a commit's signature on this host. `commitObject` is the raw commit (what `git cat-file
 * commit` prints); it must hash to `commitSha` (a SHA-1 or SHA-256 id) before anything else is
 * believed. Resolves a verdict; never throws for a bad commit, only for a `commitSha` that is not an
 * object id.
 */
export async function verifyCommitSignature(
  commitObject: Buffer,
  commitSha: string,
  pins: TrustPins,
  options: VerifyCommitOptions = {},
): Promise<SignatureVerdict> {
  const format = objectFormatOf(commitSha);
  if (format === undefined) throw new HostsyncError(`'${commitSha}' is not a commit SHA (40 or 64 hex digits); cannot verify its signature.`);
  const commit = commitSha.slice(0, 12).toLowerCase();
  const actual = hashCommitObject(commitObject, format);
  if (actual !== commitSha.toLowerCase()) {
    return {
      ok: false,
      reason: 'sha-mismatch',
      format: undefined,
      key: undefined,
      message: `The commit object received for ${commit} hashes to ${actual.slice(0, 12)}: it is not that commit (altered in transit or by the server), so its signature proves nothing. It was refused; check --api-url and the network path to the server.`,
    };
  }

  const tree = commitTree(commitObject);
  if (tree === undefined) {
    return {
      ok: false,
      reason: 'bad-signature',
      format: undefined,
      key: undefined,
      message: `Commit ${commit} does not start with a tree header, so it is not a valid commit (git fsck would refuse it too). It was refused.`,
    };
  }

  const { payload, signature, committerTime } = splitSignedCommit(commitObject, format);
  if (signature === undefined) {
    return {
      ok: false,
      reason: 'unsigned',
      format: undefined,
      key: undefined,
      message: `Commit ${commit} is not signed, and this host only applies commits signed by a key in ${pinnedFiles(pins)}. Sign it with a pinned key (git commit -S, or git commit --amend --no-edit -S for the last commit) and push again.`,
    };
  }

  const context: VerificationContext = { commit, committerTime, now: options.now ?? Date.now() };
  if (isSshSignature(signature)) return withTree(verifySshCommitSignature(signature, payload, pins.allowedSigners, context), tree);
  if (PGP_PREFIXES.some((prefix) => signature.startsWith(prefix))) {
    // Imported here so that hosts pinning only SSH keys never load OpenPGP.js.
    const { verifyOpenPgpCommitSignature } = await import('./openpgp.js');
    return withTree(await verifyOpenPgpCommitSignature(signature, payload, pins.openpgpKeys, context), tree);
  }
  const kind = signature.startsWith(X509_PREFIX) ? 'an X.509 (gpgsm) signature' : `a signature of unknown format ('${firstLine(signature)}')`;
  return {
    ok: false,
    reason: 'unsupported',
    format: undefined,
    key: undefined,
    message: `Commit ${commit} carries ${kind}, which hostsync cannot verify; sign commits with an SSH key (gpg.format=ssh) or an OpenPGP key pinned in ${pinnedFiles(pins)}.`,
  };
}

/**
 * Verify a commit known only from GitHub's REST answer: rebuild the commit object from
 * `verification.payload` and `verification.signature`, check it hashes to `commitSha`, then verify
 * as {@link verifyCommitSignature} does. GitHub returns null for both on an unsigned commit.
 */
export async function verifyGitHubCommitSignature(
  verification: GitHubVerification,
  commitSha: string,
  pins: TrustPins,
  options: VerifyCommitOptions = {},
): Promise<SignatureVerdict> {
  const commit = commitSha.slice(0, 12).toLowerCase();
  if (verification.signature === null || verification.signature === '') {
    return {
      ok: false,
      reason: 'unsigned',
      format: undefined,
      key: undefined,
      message: `Commit ${commit} is not signed (GitHub reports no signature), and this host only applies commits signed by a key in ${pinnedFiles(pins)}. Sign it with a pinned key (git commit -S) and push again.`,
    };
  }
  if (verification.payload === null) {
    return {
      ok: false,
      reason: 'sha-mismatch',
      format: undefined,
      key: undefined,
      message: `GitHub's answer for commit ${commit} has a signature but no signed payload, so the signature cannot be tied to the commit. It was refused; verify over git instead (the clone path), or check --api-url.`,
    };
  }
  let object: Buffer;
  try {
    object = rebuildSignedCommit(verification.payload, verification.signature, commitSha);
  } catch (error) {
    if (!(error instanceof CommitReassemblyError)) throw error;
    return { ok: false, reason: 'sha-mismatch', format: undefined, key: undefined, message: error.message };
  }
  return verifyCommitSignature(object, commitSha, pins, options);
}

function withTree(verdict: FormatVerdict, tree: string): SignatureVerdict {
  return verdict.ok ? { ...verdict, tree } : verdict;
}

function pinnedFiles(pins: TrustPins): string {
  const files = [pins.allowedSigners?.file, pins.openpgpKeys?.file].filter((file): file is string => file !== undefined);
  return files.length === 0 ? 'the pinned-keys files (none is configured)' : files.join(' or ');
}

function firstLine(text: string): string {
  return (text.split('\n', 1)[0] ?? '').slice(0, 60);
}
