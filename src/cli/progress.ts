/**
 * How a run reports itself on stderr while it works: log events, pipeline phases and download
 * progress. Two renderings:
 * - interactive (a terminal): a spinner per phase that turns into a ✔ line when the phase ends,
 *   and a progress bar for the download (files, bytes, rate, ETA), redrawn in place; log lines
 *   are written above it.
 * - plain (systemd, pipes, files): no ANSI, no redrawing, one event per line, each starting with
 *   its level (`warn: …`). Under systemd with stderr connected to the journal, each line also
 *   starts with the sd-daemon priority prefix (`<4>warn: …`) so journald records the level
 *   (https://www.freedesktop.org/software/systemd/man/latest/sd-daemon.html).
 * docs/observability.md describes the format. Colour comes in as a {@link Painter}: kleur stays in output.ts.
 */
import { fstatSync } from 'node:fs';
import type { LogLevel } from '../pipeline/sync.js';
import type { TransferProgress } from '../transfer/types.js';
import { formatBytes } from '../format.js';

/** Where rendered text goes: process.stderr, or a fake in tests. */
export interface TextStream {
  write(text: string): unknown;
  readonly isTTY?: boolean | undefined;
  /** Terminal width; 80 when unknown. */
  readonly columns?: number | undefined;
}

/** Colour functions (kleur's, or identity when colour is off). */
export interface Painter {
  readonly gray: (s: string) => string;
  readonly cyan: (s: string) => string;
  readonly yellow: (s: string) => string;
  readonly red: (s: string) => string;
  readonly green: (s: string) => string;
}

/** Identity colours: what plain output and tests use. */
export const NO_PAINT: Painter = { gray: (s) => s, cyan: (s) => s, yellow: (s) => s, red: (s) => s, green: (s) => s };

const sgr = (open: number) => (s: string) => `\x1b[${open}m${s}\x1b[39m`;

/**
 * The five SGR colours stderr uses, independent of kleur's global switch: stderr and stdout decide
 * colour separately (`hostsync sync | less` keeps a coloured terminal stderr and a plain stdout).
 */
export const ANSI_PAINT: Painter = { gray: sgr(90), cyan: sgr(36), yellow: sgr(33), red: sgr(31), green: sgr(32) };

/** Order of levels; a threshold shows its own level and those above. */
export const LEVEL_RANK: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };

/** sd-daemon/syslog priorities journald reads from a `<N>` line prefix. */
export const JOURNAL_PRIORITY: Readonly<Record<LogLevel, number>> = { debug: 7, info: 6, warn: 4, error: 3 };

/**
 * One log event as plain text: `level: message\n`. A message of several lines gives several
 * lines, each with the same prefix, so every line still carries its level (and, for journald,
 * its priority); nothing in the output is a bare continuation line.
 */
export function formatPlainLog(level: LogLevel, message: string, journal: boolean): string {
  const prefix = `${journal ? `<${JOURNAL_PRIORITY[level]}>` : ''}${level}: `;
  return message
    .replace(/\r\n?/g, '\n')
    .replace(/\n+$/, '')
    .split('\n')
    .map((line) => `${prefix}${stripControl(line)}\n`)
    .join('');
}

/** Remove ANSI escapes and other control characters (but tabs) a message might carry. */
export function stripControl(text: string): string {
  return text.replace(CONTROL, '');
}

/**
 * Escape sequences — CSI (`ESC [ … final`), OSC (`ESC ] … BEL|ST`), the others (`ESC` intermediates
 * final) — and single control characters but tab and line feed.
 */
const CONTROL = /\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[ -/]*[0-~])?|[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]/g;

/**
 * Text for a terminal: colours (SGR, `ESC [ … m`) and line feeds stay; every other escape and
 * control character goes. Paths come from the repository, and a file name may hold anything but
 * NUL and `/` — a carriage return or an OSC sequence in one must not rewrite the screen.
 */
export function sanitizeForTerminal(text: string): string {
  return text.replace(CONTROL, (sequence) => (/^\x1b\[[0-9;]*m$/.test(sequence) ? sequence : ''));
}

/**
 * Whether stderr is the journal stream systemd connected: `JOURNAL_STREAM` is "DEV:INODE" of that
 * stream, and only counts when it matches stderr's own device and inode
 * (https://www.freedesktop.org/software/systemd/man/latest/systemd.exec.html#%24JOURNAL_STREAM).
 */
export function isJournalStream(journalStream: string | undefined, stderr: { readonly dev: number | bigint; readonly ino: number | bigint } | undefined): boolean {
  if (journalStream === undefined || stderr === undefined) return false;
  const match = /^(\d+):(\d+)$/.exec(journalStream.trim());
  if (match === null) return false;
  return BigInt(match[1]!) === BigInt(stderr.dev) && BigInt(match[2]!) === BigInt(stderr.ino);
}

export { formatBytes };

/** A duration for humans, coarse: "0.4 s", "12 s", "3 min 5 s", "2 h 10 min". */
export function formatDuration(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Download speed and time left from recent samples; `undefined` until there is enough to say. */
export interface Rate {
  readonly bytesPerSec: number | undefined;
  readonly etaMs: number | undefined;
}

/**
 * A sliding-window rate: bytes over the last `windowMs` (5 s), so the ETA follows the current
 * speed rather than the average since the start. Pure given the samples it is fed.
 */
export function createRateMeter(windowMs = 5000): { sample(at: number, doneBytes: number, totalBytes: number): Rate } {
  const samples: { at: number; bytes: number }[] = [];
  return {
    sample(at, doneBytes, totalBytes) {
      samples.push({ at, bytes: doneBytes });
      while (samples.length > 2 && samples[1]!.at <= at - windowMs) samples.shift();
      const first = samples[0]!;
      const elapsed = at - first.at;
      // Under half a second of data says little about speed.
      if (elapsed < 500) return { bytesPerSec: undefined, etaMs: undefined };
      const bytesPerSec = ((doneBytes - first.bytes) * 1000) / elapsed;
      const left = Math.max(0, totalBytes - doneBytes);
      return { bytesPerSec, etaMs: bytesPerSec > 0 ? (left / bytesPerSec) * 1000 : undefined };
    },
  };
}

/** The download as one line of plain text, without the bar: for plain lines and the bar's tail. */
export function describeTransfer(progress: TransferProgress, rate: Rate): string {
  const percent = progress.totalBytes > 0 ? Math.floor((progress.doneBytes / progress.totalBytes) * 100) : progress.totalBlobs > 0 ? Math.floor((progress.doneBlobs / progress.totalBlobs) * 100) : 100;
  const parts = [
    `${percent}%`,
    `${progress.doneBlobs}/${progress.totalBlobs} files`,
    `${formatBytes(progress.doneBytes)} of ${formatBytes(progress.totalBytes)}`,
  ];
  if (rate.bytesPerSec !== undefined) parts.push(`${formatBytes(Math.round(rate.bytesPerSec))}/s`);
  if (rate.etaMs !== undefined && progress.doneBytes < progress.totalBytes) parts.push(`ETA ${formatDuration(rate.etaMs)}`);
  return parts.join(', ');
}

/** A bar of `width` cells for a fraction in [0, 1]: `[=====>    ]`. */
export function renderBar(fraction: number, width: number): string {
  const inner = Math.max(1, width - 2);
  const clamped = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.floor(clamped * inner);
  if (full >= inner) return `[${'='.repeat(inner)}]`;
  return `[${'='.repeat(full)}>${' '.repeat(inner - full - 1)}]`;
}

/** Spinner frames, one per tick. */
export const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] as const;

/** Starts a repeating timer; returns the function that stops it. */
export type Scheduler = (tick: () => void, intervalMs: number) => () => void;

/** The real scheduler: an unref'd interval, so a forgotten spinner never keeps the process alive. */
export const intervalScheduler: Scheduler = (tick, intervalMs) => {
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
};

export interface ReporterOptions {
  readonly stream: TextStream;
  /** Draw spinners and the bar in place (stderr is a terminal). Otherwise plain lines. */
  readonly interactive: boolean;
  /** Lowest level shown: `debug` with --verbose, `warn` with --quiet. */
  readonly threshold: LogLevel;
  /** Prefix plain lines with journald priorities. Ignored when interactive. */
  readonly journal: boolean;
  /** Colours for interactive output. @default NO_PAINT */
  readonly paint?: Painter | undefined;
  /** @default Date.now */
  readonly now?: (() => number) | undefined;
  /** @default intervalScheduler */
  readonly schedule?: Scheduler | undefined;
  /** Terminal redraw interval (spinner frames, bar refresh). @default 100 */
  readonly frameMs?: number | undefined;
  /** Plain mode: at most one download progress line per this many ms (none for shorter downloads). @default 10000 */
  readonly plainIntervalMs?: number | undefined;
}

/** What the pipeline and the command report through. Methods are bound: pass them around freely. */
export interface Reporter {
  /** A log event; shown when its level reaches the threshold. */
  readonly log: (level: LogLevel, message: string) => void;
  /** A pipeline phase starts or ends; `detail` says what it did (end) or what it is doing (start). */
  readonly phase: (name: string, state: 'start' | 'end', detail?: string) => void;
  /** Download progress (the pipeline's `onProgress`). */
  readonly transfer: (progress: TransferProgress) => void;
  /** Erase the live line so other output can be written to the terminal; the next event redraws it. */
  readonly clear: () => void;
  /** End: erase the live line, stop the spinner; a phase still running is shown as failed (✖). */
  readonly close: () => void;
}

interface ActivePhase {
  readonly name: string;
  readonly startedAt: number;
  detail: string | undefined;
}

/** Create the reporter for one run. */
export function createReporter(options: ReporterOptions): Reporter {
  const { stream, interactive, journal } = options;
  const paint = options.paint ?? NO_PAINT;
  const now = options.now ?? Date.now;
  const schedule = options.schedule ?? intervalScheduler;
  const frameMs = options.frameMs ?? 100;
  const plainIntervalMs = options.plainIntervalMs ?? 10_000;
  const threshold = LEVEL_RANK[options.threshold];
  const showProgress = threshold <= LEVEL_RANK.info;

  let active: ActivePhase | undefined;
  let transfer: { progress: TransferProgress; rate: Rate; meter: ReturnType<typeof createRateMeter>; lastPlainAt: number } | undefined;
  let drawn = false;
  let frame = 0;
  let lastDrawAt = Number.NEGATIVE_INFINITY;
  let stopTimer: (() => void) | undefined;
  let closed = false;

  const levelTag: Record<LogLevel, (s: string) => string> = { debug: paint.gray, info: paint.cyan, warn: paint.yellow, error: paint.red };

  function erase(): void {
    if (!drawn) return;
    stream.write('\r\x1b[2K');
    drawn = false;
  }

  function liveLine(): string | undefined {
    if (active === undefined && transfer === undefined) return undefined;
    const columns = Math.max(20, (stream.columns ?? 80) - 1);
    const spinner = SPINNER[frame % SPINNER.length]!;
    const name = active?.name ?? 'download';
    if (transfer !== undefined) {
      const { progress, rate } = transfer;
      const fraction = progress.totalBytes > 0 ? progress.doneBytes / progress.totalBytes : progress.totalBlobs > 0 ? progress.doneBlobs / progress.totalBlobs : 1;
      const tail = describeTransfer(progress, rate);
      const barWidth = Math.min(30, columns - name.length - tail.length - 5);
      if (barWidth >= 8) return `${paint.cyan(spinner)} ${name} ${paint.cyan(renderBar(fraction, barWidth))} ${tail}`;
      return `${paint.cyan(spinner)} ${truncate(`${name} ${tail}`, columns - 2)}`;
    }
    const text = stripControl(active!.detail === undefined ? `${active!.name}…` : `${active!.name}: ${active!.detail}`);
    return `${paint.cyan(spinner)} ${truncate(text, columns - 2)}`;
  }

  function draw(): void {
    if (!interactive || !showProgress || closed) return;
    const line = liveLine();
    erase();
    if (line === undefined) return;
    stream.write(line);
    drawn = true;
    lastDrawAt = now();
  }

  function ensureTimer(): void {
    if (stopTimer !== undefined || !interactive || !showProgress) return;
    stopTimer = schedule(() => {
      frame++;
      if (transfer !== undefined) transfer.rate = transfer.meter.sample(now(), transfer.progress.doneBytes, transfer.progress.totalBytes);
      draw();
    }, frameMs);
  }

  function stopTimerIfIdle(): void {
    if (active !== undefined || transfer !== undefined || stopTimer === undefined) return;
    stopTimer();
    stopTimer = undefined;
  }

  function writeLog(level: LogLevel, message: string): void {
    if (interactive) {
      const lines = sanitizeForTerminal(message.replace(/\r\n?/g, '\n').replace(/\n+$/, '')).split('\n');
      const text = lines.map((line, i) => (i === 0 ? `${levelTag[level](level)}: ${line}` : `  ${line}`)).join('\n');
      erase();
      stream.write(`${text}\n`);
      draw();
    } else {
      stream.write(formatPlainLog(level, message, journal));
    }
  }

  const log = (level: LogLevel, message: string): void => {
    if (LEVEL_RANK[level] < threshold) return;
    writeLog(level, message);
  };

  const phase = (name: string, state: 'start' | 'end', detail?: string): void => {
    if (closed) return;
    if (state === 'start') {
      active = { name, startedAt: now(), detail };
      if (interactive) {
        ensureTimer();
        draw();
      }
      return;
    }
    const startedAt = active?.name === name ? active.startedAt : undefined;
    const took = startedAt === undefined ? '' : ` (${formatDuration(now() - startedAt)})`;
    if (active?.name === name) active = undefined;
    // A download belongs to the phase that ran it; its ✔ line tells what the bar knew, in human units.
    const downloaded = transfer === undefined ? undefined : `${transfer.progress.doneBlobs} files, ${formatBytes(transfer.progress.doneBytes)}`;
    transfer = undefined;
    if (interactive) {
      if (showProgress) {
        const shown = downloaded ?? detail;
        erase();
        stream.write(`${paint.green('✔')} ${stripControl(`${name}${shown === undefined ? '' : `: ${shown}`}`)}${paint.gray(took)}\n`);
      }
      stopTimerIfIdle();
      draw();
    } else if (LEVEL_RANK.debug >= threshold) {
      // `scan (1204 files, …): 43 ms`: the format test/bench parses.
      const ms = startedAt === undefined ? '' : `: ${Math.round(now() - startedAt)} ms`;
      stream.write(formatPlainLog('debug', `${name}${detail === undefined ? '' : ` (${detail})`}${ms}`, journal));
    }
  };

  const onTransfer = (progress: TransferProgress): void => {
    if (closed || !showProgress) return;
    const at = now();
    if (transfer === undefined) {
      const meter = createRateMeter();
      transfer = { progress, meter, rate: meter.sample(at, progress.doneBytes, progress.totalBytes), lastPlainAt: at };
    } else {
      transfer.progress = progress;
      transfer.rate = transfer.meter.sample(at, progress.doneBytes, progress.totalBytes);
    }
    if (interactive) {
      ensureTimer();
      const finished = progress.doneBlobs >= progress.totalBlobs;
      if (finished || at - lastDrawAt >= frameMs) draw();
    } else if (at - transfer.lastPlainAt >= plainIntervalMs && progress.doneBlobs < progress.totalBlobs) {
      transfer.lastPlainAt = at;
      stream.write(formatPlainLog('info', `download ${describeTransfer(progress, transfer.rate)}`, journal));
    }
  };

  const clear = (): void => erase();

  const close = (): void => {
    if (closed) return;
    erase();
    if (interactive && showProgress && active !== undefined) stream.write(`${paint.red('✖')} ${active.name}${paint.gray(` (${formatDuration(now() - active.startedAt)})`)}\n`);
    closed = true;
    active = undefined;
    transfer = undefined;
    stopTimer?.();
    stopTimer = undefined;
  };

  return { log, phase, transfer: onTransfer, clear, close };
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/**
 * Whether this process's stderr is the journal stream systemd set up, given the value of
 * `JOURNAL_STREAM` (read by src/config, the only reader of the environment). Only then do log
 * lines carry `<N>` priority prefixes: a service whose stderr was redirected elsewhere keeps
 * JOURNAL_STREAM in its environment but must not get them.
 */
export function stderrIsJournal(journalStream: string | undefined, fd = 2): boolean {
  if (journalStream === undefined) return false;
  try {
    return isJournalStream(journalStream, fstatSync(fd, { bigint: true }));
  } catch {
    return false;
  }
}

/**
 * The final failure line(s) the entry point prints (`hostsync: …`, or a bug's stack), prefixed with
 * the journald `err` priority on every line when stderr is the journal — otherwise journald files
 * them at the default priority (info) and `journalctl -p err` misses why a run failed.
 */
export function formatFailure(text: string, journal: boolean): string {
  const lines = text.replace(/\n+$/, '').split('\n');
  return lines.map((line) => `${journal ? '<3>' : ''}${line}\n`).join('');
}
