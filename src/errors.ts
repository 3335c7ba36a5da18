/**
 * The one errors module. Every failure a user can act on is a HostsyncError carrying the exit code
 * the CLI ends with; anything else reaching the entry point is a bug and prints its stack.
 * Exit codes are documented in docs/exit-codes.md.
 */

export const ExitCode = {
  /** Done, or already in sync. */
  Ok: 0,
  /** Runtime failure: network, GitHub, disk, a failed check or rebuild. DEST is left as it was. */
  Failure: 1,
  /** Usage or configuration error: nothing was attempted. */
  Usage: 2,
  /** `--check-only` found pending changes. */
  Pending: 3,
  /** Another hostsync run holds the lock for this destination. */
  Locked: 4,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An expected failure: the message says what failed, with which value, and what to do next. */
export class HostsyncError extends Error {
  readonly exitCode: ExitCodeValue;
  constructor(message: string, exitCode: ExitCodeValue = ExitCode.Failure, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HostsyncError';
    this.exitCode = exitCode;
  }
}

/** A bad flag, config value or argument (exit 2). */
export class UsageError extends HostsyncError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.Usage, options);
    this.name = 'UsageError';
  }
}

/** Content that does not match the SHA it was asked for: never allowed near DEST. */
export class IntegrityError extends HostsyncError {
  readonly expected: string;
  readonly actual: string;
  constructor(expected: string, actual: string, where: string) {
    super(`Content from ${where} hashed to ${actual}, expected ${expected}; it was discarded and nothing was applied.`);
    this.name = 'IntegrityError';
    this.expected = expected;
    this.actual = actual;
  }
}

/** The local disk refused a write (full, read-only, denied): no other download strategy can help. */
export class LocalStorageError extends HostsyncError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.Failure, options);
    this.name = 'LocalStorageError';
  }
}

/** Narrow an unknown thrown value to a Node system error code such as 'ENOENT'. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** The message of an unknown thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
