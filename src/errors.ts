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
  /** Stopped by SIGINT (128 + 2): children stopped, the apply step finished or undone, the lock released. */
  Interrupted: 130,
  /** Stopped by SIGTERM (128 + 15), as `Interrupted`. */
  Terminated: 143,
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

/**
 * The ref names no branch, tag or commit on the server: a ref with alternatives (`canary/%H|main`)
 * moves on to the next one; anything else fails the run with the message.
 */
export class UnknownRefError extends HostsyncError {
  constructor(message: string) {
    super(message);
    this.name = 'UnknownRefError';
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

/** The run was asked to stop by a signal; the abort reason of the run's signal. */
export class InterruptedError extends HostsyncError {
  readonly signal: 'SIGINT' | 'SIGTERM';
  constructor(signal: 'SIGINT' | 'SIGTERM') {
    super(
      `Stopped by ${signal}. DEST holds exactly the commit it held before, or the new one if the apply had finished; the next run carries on.`,
      signal === 'SIGINT' ? ExitCode.Interrupted : ExitCode.Terminated,
    );
    this.name = 'InterruptedError';
    this.signal = signal;
  }
}

/** Throw the run's abort reason when its signal fired (a step boundary's check). */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw signal.reason instanceof Error ? signal.reason : new InterruptedError('SIGTERM');
}

/** Longest word (a path, a URL) kept whole in a message; longer ones keep their head and tail. */
const MAX_WORD = 240;
/** Longest message printed whole. */
const MAX_MESSAGE = 4000;

/**
 * A message short enough to read at 3 a.m.: over-long words (a 5,000-character path) are cut to
 * their head and tail, and the whole to {@link MAX_MESSAGE} characters, saying how much was left out.
 */
export function summarize(message: string): string {
  const long = new RegExp(`\\S{${MAX_WORD + 1},}`, 'g');
  const words = message.replace(long, (word) => `${word.slice(0, 120)}…(${word.length - 200} characters)…${word.slice(-80)}`);
  if (words.length <= MAX_MESSAGE) return words;
  return `${words.slice(0, MAX_MESSAGE)}… (${words.length - MAX_MESSAGE} more characters)`;
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
