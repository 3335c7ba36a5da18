/**
 * The verdict on an SSH-signed commit, as `git verify-commit` with `gpg.ssh.allowedSignersFile`
 * reaches it (git runs `ssh-keygen -Y find-principals -Overify-time=<committer date>`, then
 * `-Y verify -n git`): the signature must be for namespace `git`, verify over the signed payload,
 * and its embedded key must be on a line of the allowed-signers file whose `namespaces` admit git
 * and whose `valid-after`/`valid-before` hold at the commit's committer time.
 */
import { SshFormatError } from './errors.js';
import { describeSshKeyType } from './ssh-key.js';
import { matchPatternList } from './ssh-pattern.js';
import { checkSshSig, parseSshSignature, type SshSig, type SshSigCheck } from './sshsig.js';
import type { AllowedSigner } from './allowed-signers.js';
import type { AllowedSignersPin, RefusalReason, FormatVerdict, VerificationContext } from './types.js';

/** The namespace git signs commits in (`ssh-keygen -Y sign -n git`). */
export const GIT_NAMESPACE = 'git';

/** Judge an armored SSH signature over `payload` against the pinned allowed signers. */
export function verifySshCommitSignature(
  armored: string,
  payload: Buffer,
  pin: AllowedSignersPin | undefined,
  context: VerificationContext,
): FormatVerdict {
  const { commit } = context;
  let sig: SshSig;
  try {
    sig = parseSshSignature(armored);
  } catch (error) {
    if (!(error instanceof SshFormatError)) throw error;
    return refuse('bad-signature', undefined, `Commit ${commit} carries a malformed SSH signature (${error.message}); it was refused. Re-sign the commit with git commit -S (gpg.format=ssh).`);
  }
  const keyName = `SSH key ${sig.fingerprint} (${describeSshKeyType(sig.keyType)})`;

  let check: SshSigCheck;
  try {
    check = checkSshSig(sig, payload, GIT_NAMESPACE);
  } catch (error) {
    if (!(error instanceof SshFormatError)) throw error;
    check = { ok: false, reason: 'bad-signature', detail: error.message };
  }
  if (!check.ok) {
    switch (check.reason) {
      case 'wrong-namespace':
        return refuse('wrong-namespace', sig.fingerprint, `Commit ${commit} carries a signature by ${keyName} that was not made for git commits: ${check.detail}. A signature of something else was spliced in, or the signer used ssh-keygen -Y sign by hand; re-sign the commit with git commit -S.`);
      case 'unsupported':
        return refuse('unsupported', sig.fingerprint, `Commit ${commit} is signed by ${keyName}, which hostsync cannot verify: ${check.detail}.`);
      case 'bad-signature':
        return refuse('bad-signature', sig.fingerprint, `Commit ${commit} carries a signature by ${keyName} that does not verify (${check.detail}): the commit was changed after signing, or the signature is forged or corrupt. It was refused; find out who pushed it before trusting this repository.`);
    }
  }

  if (pin === undefined) {
    return refuse('unknown-key', sig.fingerprint, `Commit ${commit} is signed by ${keyName}, but this host pins no SSH signers (trust.allowedSignersFile is not set). Set trust.allowedSignersFile to a file listing the signer's key, or sign with a pinned OpenPGP key.`);
  }
  const lines = pin.entries.filter((entry) => !entry.certAuthority && entry.publicKey.equals(sig.publicKey));
  if (lines.length === 0) {
    return refuse('unknown-key', sig.fingerprint, `Commit ${commit} is signed by ${keyName}, which is not in ${pin.file}. If that key should be trusted, add a line \`<principal> namespaces="git" ${sig.keyType} <base64 key>\` for it there; otherwise sign the commit with a pinned key.`);
  }

  const at = context.committerTime ?? Math.floor(context.now / 1000);
  let firstRefusal: { reason: RefusalReason; message: string } | undefined;
  for (const entry of lines) {
    const refusal = entryRefusal(entry, at, pin.file, commit, keyName);
    if (refusal === undefined) {
      return {
        ok: true,
        format: 'ssh',
        signer: entry.principals,
        key: sig.fingerprint,
        message: `Commit ${commit} is signed by ${entry.principals} with ${keyName}, pinned at ${pin.file} line ${entry.line}.`,
      };
    }
    // Several lines may pin one key (say, an old one retired and a new one); the first reason is reported.
    firstRefusal ??= refusal;
  }
  const { reason, message } = firstRefusal ?? { reason: 'unknown-key', message: `Commit ${commit} is signed by ${keyName}, which no line of ${pin.file} admits.` };
  return refuse(reason, sig.fingerprint, message);
}

/** Why one matching allowed-signers line does not admit a git signature at time `at`, if it does not. */
function entryRefusal(entry: AllowedSigner, at: number, file: string, commit: string, keyName: string): { reason: RefusalReason; message: string } | undefined {
  const line = `${file} line ${entry.line} (${entry.principals})`;
  if (entry.namespaces !== undefined && matchPatternList(GIT_NAMESPACE, entry.namespaces) !== 1) {
    return {
      reason: 'wrong-namespace',
      message: `Commit ${commit} is signed by ${keyName}, but ${line} allows that key only for namespaces "${entry.namespaces}", not "git". Add git to its namespaces="…" if it should sign commits.`,
    };
  }
  if (entry.validAfter !== undefined && at < entry.validAfter) {
    return {
      reason: 'not-yet-valid',
      message: `Commit ${commit} is signed by ${keyName} with committer date ${isoTime(at)}, before valid-after ${isoTime(entry.validAfter)} of ${line}. Re-sign it with a key valid at that date, or move valid-after back if the key was already trusted then.`,
    };
  }
  if (entry.validBefore !== undefined && at > entry.validBefore) {
    return {
      reason: 'expired',
      message: `Commit ${commit} is signed by ${keyName} with committer date ${isoTime(at)}, after valid-before ${isoTime(entry.validBefore)} of ${line}: the key had been retired. Re-sign the commit with a current key, or extend valid-before if the key is still trusted.`,
    };
  }
  return undefined;
}

function isoTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

function refuse(reason: RefusalReason, key: string | undefined, message: string): FormatVerdict {
  return { ok: false, reason, format: 'ssh', key, message };
}
