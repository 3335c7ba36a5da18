/**
 * The process as the CLI sees it: environment, working directory, the two output streams, who is
 * running, and a signal that aborts the run on SIGINT/SIGTERM. `main` receives one; tests pass
 * their own (memory streams, a fake environment, retries without back-off) and run hostsync
 * in-process. Nothing below the CLI reads `process` for these.
 */
import { processEnv } from '../config/load.js';
import { createRedactor, type Redactor } from '../redact.js';
import type { Scheduler, TextStream } from './progress.js';

/** Knobs that make runs deterministic and fast in tests; production leaves them unset. */
export interface Timing {
  /** First retry back-off in ms. @default 500 */
  readonly retryMinMs?: number | undefined;
  /** Longest retry back-off in ms. @default 15000 */
  readonly retryMaxMs?: number | undefined;
  /** Wall clock in ms. @default Date.now */
  readonly now?: (() => number) | undefined;
  /** Waits the server asks for (`retry-after`, a near reset). @default a timer */
  readonly sleep?: ((ms: number) => Promise<void>) | undefined;
  /** The progress display's clock (spinner frames, ETA, the plain 10 s lines). @default Date.now */
  readonly progressNow?: (() => number) | undefined;
  /** The progress display's repeating timer. @default an unref'd setInterval */
  readonly schedule?: Scheduler | undefined;
}

export interface CliIO {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly stdout: TextStream;
  readonly stderr: TextStream;
  readonly isRoot: boolean;
  /** Every line written to stdout or stderr passes through it; the token is registered once read. */
  readonly redact: Redactor;
  /** Aborted when the process is asked to stop (SIGINT, SIGTERM). */
  readonly signal: AbortSignal;
  readonly timing?: Timing | undefined;
  /**
   * Called when the run's output is JSON (`--json`, or `json` in the config file), so that a
   * failure is reported as a JSON document too. `main` sets it; commands call it through ./load.ts.
   */
  readonly reportJson?: (() => void) | undefined;
}

/** The real process. */
export function processIO(signal: AbortSignal): CliIO {
  return {
    env: processEnv(),
    cwd: process.cwd(),
    stdout: process.stdout,
    stderr: process.stderr,
    isRoot: process.getuid?.() === 0,
    redact: createRedactor(),
    signal,
  };
}
