/**
 * Everything hostsync prints goes through here: log lines, phases and download progress to stderr
 * (rendered by ./progress.ts: spinners and a bar on a terminal; plain lines with a level, no ANSI,
 * fit for journald elsewhere), results to stdout. The only user of kleur.
 */
import kleur from 'kleur';
import type { Logger } from '../pipeline/sync.js';
import { ANSI_PAINT, createReporter, NO_PAINT, sanitizeForTerminal, type Reporter, type Scheduler, type TextStream } from './progress.js';
import { createRedactor, type Redactor } from '../redact.js';

export { formatBytes, formatFailure, stderrIsJournal } from './progress.js';

export interface OutputOptions {
  readonly json: boolean;
  /** Show debug events. */
  readonly verbose: boolean;
  /** Show only warnings and errors: no progress, no human result lines. */
  readonly quiet: boolean;
  /** Colour stdout's human lines (kleur, `paint`): whether stdout wants colour. */
  readonly color: boolean;
  /** Colour stderr's spinners, bar and level tags: whether stderr wants colour. @default color */
  readonly stderrColor?: boolean | undefined;
  /** Draw spinners and a progress bar. @default whether stderr is a terminal */
  readonly interactive?: boolean | undefined;
  /** Prefix plain log lines with journald priorities (see `stderrIsJournal`). @default false */
  readonly journal?: boolean | undefined;
  /** @default process.stderr */
  readonly stderr?: TextStream | undefined;
  /** @default process.stdout */
  readonly stdout?: TextStream | undefined;
  /** @default Date.now */
  readonly now?: (() => number) | undefined;
  /** Timer for spinner frames. @default an unref'd setInterval */
  readonly schedule?: Scheduler | undefined;
  /** The run's redactor: every line written passes through it. @default one that knows no secret */
  readonly redact?: Redactor | undefined;
}

export interface Output {
  readonly log: Logger;
  /**
   * Phases and their progress for the pipeline: pass `onProgress: output.progress.work` and
   * `onPhase: output.progress.phase`. Bound functions.
   */
  readonly progress: Pick<Reporter, 'phase' | 'transfer' | 'work'>;
  /** Whether phases are drawn live on a terminal (spinners, ✔ lines): a summary need not repeat them. */
  readonly live: boolean;
  /** A human line on stdout (suppressed with --json and --quiet); colours kept, other control characters removed. */
  line(text: string): void;
  /** The one JSON document of a --json run. */
  json(value: unknown): void;
  /** Stop the spinner and erase the progress line; a phase still running is shown as failed. Idempotent. */
  close(): void;
  readonly paint: typeof kleur;
  /** The run's redactor, for channels written outside this module (the metrics file). */
  readonly redact: Redactor;
}

/** Create the output sink for one run. */
export function createOutput(options: OutputOptions): Output {
  kleur.enabled = options.color;
  const stderr = options.stderr ?? process.stderr;
  const stdout = options.stdout ?? process.stdout;
  const redact = options.redact ?? createRedactor();
  const interactive = options.interactive ?? stderr.isTTY === true;
  const reporter = createReporter({
    stream: stderr,
    interactive,
    threshold: options.verbose ? 'debug' : options.quiet ? 'warn' : 'info',
    journal: options.journal === true,
    paint: (options.stderrColor ?? options.color) ? ANSI_PAINT : NO_PAINT,
    now: options.now,
    schedule: options.schedule,
  });
  return {
    paint: kleur,
    redact,
    log: (level, message) => reporter.log(level, redact(message)),
    progress: {
      phase: (name, state, detail, outcome) => reporter.phase(name, state, detail === undefined ? undefined : redact(detail), outcome),
      transfer: reporter.transfer,
      work: reporter.work,
    },
    live: interactive && !options.quiet && !options.json,
    line(text) {
      if (options.json || options.quiet) return;
      reporter.clear();
      stdout.write(`${sanitizeForTerminal(redact(text))}\n`);
    },
    json(value) {
      reporter.clear();
      stdout.write(`${redact(JSON.stringify(value, null, 2))}\n`);
    },
    close: reporter.close,
  };
}
