/**
 * The whole-run transfer deadline (`transferTimeoutSec`): one signal, combined with the run's own
 * (SIGINT/SIGTERM), that every request of the run carries. When it fires, whatever was in flight
 * fails, and `explain` turns that failure into one line naming the server, the phase and the fix.
 */
import { HostsyncError, InterruptedError } from '../errors.js';

export interface TransferDeadline {
  /** Aborts on the deadline or when the run is stopped. */
  readonly signal: AbortSignal;
  /** The error to report for `error`, thrown while `what` was in flight. */
  explain(error: unknown, what: string): unknown;
  dispose(): void;
}

/** Start the deadline now. */
export function startTransferDeadline(seconds: number, host: string, run: AbortSignal | undefined): TransferDeadline {
  const expired = new AbortController();
  const timer = setTimeout(() => expired.abort(new DeadlineError(seconds, host)), seconds * 1000);
  timer.unref();
  const signal = run === undefined ? expired.signal : AbortSignal.any([expired.signal, run]);
  return {
    signal,
    explain(error, what) {
      if (run?.aborted === true) return run.reason instanceof InterruptedError ? run.reason : error;
      if (expired.signal.aborted) {
        const reason = expired.signal.reason as DeadlineError;
        return new HostsyncError(`${reason.message} It was ${what} when the time ran out; nothing was applied. Check the link, or raise transferTimeoutSec.`, 1, { cause: error });
      }
      return error;
    },
    dispose: () => clearTimeout(timer),
  };
}

class DeadlineError extends HostsyncError {
  constructor(seconds: number, host: string) {
    super(`The run talked to ${host} for longer than transferTimeoutSec (${seconds} s).`);
    this.name = 'DeadlineError';
  }
}
