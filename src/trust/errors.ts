/**
 * Errors of the trust module. A verdict on a commit is a value (`SignatureVerdict`), not an error;
 * these are for inputs that cannot be judged at all: a pinned-keys file that does not parse, or a
 * signature blob whose wire format is broken.
 */
import { ExitCode, HostsyncError, UsageError } from '../errors.js';
import type { RefusalReason, RefusedSignature, SignatureFormat } from './types.js';

/** A pinned-keys file (`trust.allowedSignersFile`, `trust.openpgpKeysFile`) is missing or malformed (exit 2). */
export class PinnedKeysError extends UsageError {
  /** The file that failed. */
  readonly file: string;
  /** 1-based line number of the first bad line, where one is known. */
  readonly line: number | undefined;
  constructor(file: string, line: number | undefined, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PinnedKeysError';
    this.file = file;
    this.line = line;
  }
}

/** Bytes that should be an SSH wire-format structure (key blob, sshsig) but are not. */
export class SshFormatError extends HostsyncError {
  constructor(message: string) {
    super(message);
    this.name = 'SshFormatError';
  }
}

/**
 * GitHub's `verification.payload` and `verification.signature` could not be put back together into
 * an object hashing to the commit SHA: the answer does not belong to that commit, or lost bytes.
 */
export class CommitReassemblyError extends HostsyncError {
  readonly commitSha: string;
  constructor(commitSha: string, message: string) {
    super(message);
    this.name = 'CommitReassemblyError';
    this.commitSha = commitSha;
  }
}

/**
 * A commit refused by the host's own verification (pinned keys): its signature, or the content
 * tied to it, did not verify. Exit 1; nothing was written to DEST. Carries the verdict for output
 * and metrics.
 */
export class SignatureRefusedError extends HostsyncError {
  readonly commit: string;
  readonly reason: RefusalReason;
  readonly format: SignatureFormat | undefined;
  readonly key: string | undefined;
  constructor(commit: string, verdict: Omit<RefusedSignature, 'ok'>) {
    super(verdict.message, ExitCode.Failure);
    this.name = 'SignatureRefusedError';
    this.commit = commit;
    this.reason = verdict.reason;
    this.format = verdict.format;
    this.key = verdict.key;
  }
}
