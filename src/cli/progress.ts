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
import type { WorkProgress } from '../model.js';
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

/** Speed and time left from recent samples; `undefined` until there is enough to say. */
export interface Rate {
  readonly bytesPerSec: number | undefined;
  readonly etaMs: number | undefined;
}

/** No rate, no ETA: what a phase shows before it has measured anything. */
export const NO_RATE: Rate = { bytesPerSec: undefined, etaMs: undefined };

/** A rate is shown after this much measuring; an ETA after {@link ETA_AFTER_MS}. */
const RATE_AFTER_MS = 500;
/**
 * An ETA needs a couple of seconds of measuring: the first fraction of a second of a transfer
 * (connection set-up, a first small file) says nothing about the rest — a 2.6 s tarball once
 * showed "ETA 1 h 1 min" from its first 0.5 s.
 */
const ETA_AFTER_MS = 2000;

/**
 * A sliding-window meter: bytes and items over the last `windowMs` (5 s), so the rate and the ETA
 * follow the current speed rather than the average since the start. The ETA is the remaining work
 * of a known total divided by the measured rate of the same measure (bytes when the byte total is
 * known, else items); with no known total there is no ETA. Pure given the samples it is fed.
 */
export function createWorkMeter(windowMs = 5000): { sample(at: number, work: WorkProgress): Rate } {
  const samples: { at: number; bytes: number; items: number }[] = [];
  return {
    sample(at, work) {
      samples.push({ at, bytes: work.bytes, items: work.items });
      while (samples.length > 2 && samples[1]!.at <= at - windowMs) samples.shift();
      const first = samples[0]!;
      const elapsed = at - first.at;
      if (elapsed < RATE_AFTER_MS) return NO_RATE;
      const bytesPerSec = ((work.bytes - first.bytes) * 1000) / elapsed;
      const itemsPerSec = ((work.items - first.items) * 1000) / elapsed;
      let etaMs: number | undefined;
      if (elapsed >= ETA_AFTER_MS) {
        if (work.totalBytes !== undefined && work.totalBytes > 0) etaMs = bytesPerSec > 0 ? (Math.max(0, work.totalBytes - work.bytes) / bytesPerSec) * 1000 : undefined;
        else if (work.totalItems !== undefined && work.totalItems > 0) etaMs = itemsPerSec > 0 ? (Math.max(0, work.totalItems - work.items) / itemsPerSec) * 1000 : undefined;
      }
      return { bytesPerSec: work.bytes > 0 || work.totalBytes !== undefined ? bytesPerSec : undefined, etaMs };
    },
  };
}

/**
 * The byte-only meter of earlier versions (tests and callers that count bytes alone): a
 * {@link createWorkMeter} over bytes with a known total.
 */
export function createRateMeter(windowMs = 5000): { sample(at: number, doneBytes: number, totalBytes: number): Rate } {
  const meter = createWorkMeter(windowMs);
  return { sample: (at, doneBytes, totalBytes) => meter.sample(at, { bytes: doneBytes, totalBytes, items: 0, unit: 'bytes' }) };
}

/** A transfer strategy's progress as work (blobs and content bytes). */
export function transferAsWork(progress: TransferProgress): WorkProgress {
  const streamed = progress.streamedBytes !== undefined;
  const totalBytes = streamed ? progress.streamTotal : progress.totalBytes;
  return { bytes: progress.streamedBytes ?? progress.doneBytes, totalBytes: totalBytes !== undefined && totalBytes > 0 ? totalBytes : undefined, items: progress.doneBlobs, totalItems: progress.totalBlobs, unit: 'blobs' };
}

/** The fraction done, from the byte total when known, else the item total; undefined when neither is. */
export function fractionOf(work: WorkProgress): number | undefined {
  if (work.totalBytes !== undefined && work.totalBytes > 0) return Math.min(1, work.bytes / work.totalBytes);
  if (work.totalItems !== undefined && work.totalItems > 0) return Math.min(1, work.items / work.totalItems);
  return undefined;
}

/**
 * A phase's work as one line of plain text, without the bar: "45%, 9/20 blobs, 1.0 MiB of 4.0 MiB,
 * 1.0 MiB/s, ETA 3.0 s"; without totals "1234 objects, 12.3 MiB, 2.1 MiB/s" (no percentage, no ETA).
 */
export function describeWork(work: WorkProgress, rate: Rate): string {
  const parts: string[] = [];
  const fraction = fractionOf(work);
  if (fraction !== undefined) parts.push(`${Math.floor(fraction * 100)}%`);
  parts.push(work.totalItems !== undefined ? `${work.items}/${work.totalItems} ${work.unit}` : `${work.items} ${work.unit}`);
  if (work.totalBytes !== undefined) parts.push(`${formatBytes(work.bytes)} of ${formatBytes(work.totalBytes)}`);
  else if (work.bytes > 0) parts.push(formatBytes(work.bytes));
  if (rate.bytesPerSec !== undefined) parts.push(`${formatBytes(Math.round(rate.bytesPerSec))}/s`);
  if (rate.etaMs !== undefined && (fraction === undefined || fraction < 1)) parts.push(`ETA ${formatDuration(rate.etaMs)}`);
  return parts.join(', ');
}

/** The download as one line (a transfer strategy's progress). */
export function describeTransfer(progress: TransferProgress, rate: Rate): string {
  return describeWork(transferAsWork(progress), rate);
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
  /** Plain mode: a line for a phase still running, every this many ms (none for shorter phases). @default 10000 */
  readonly plainIntervalMs?: number | undefined;
}

/** What the pipeline and the command report through. Methods are bound: pass them around freely. */
export interface Reporter {
  /** A log event; shown when its level reaches the threshold. */
  readonly log: (level: LogLevel, message: string) => void;
  /**
   * A phase starts or ends; `detail` says what it did (end) or what it is doing (start). Phases
   * nest (a dev-update step holds the sync's phases): an end closes the innermost of that name.
   */
  readonly phase: (name: string, state: 'start' | 'end', detail?: string, outcome?: PhaseOutcome) => void;
  /** How far the innermost phase is (the pipeline's `onProgress`). */
  readonly work: (progress: WorkProgress) => void;
  /** A transfer strategy's progress: {@link Reporter.work} in blobs and bytes. */
  readonly transfer: (progress: TransferProgress) => void;
  /** Erase the live line so other output can be written to the terminal; the next event redraws it. */
  readonly clear: () => void;
  /** End: erase the live line, stop the timers; phases still running are shown as failed (✖). */
  readonly close: () => void;
}

/** How a phase (a dev-update step) ended, for its mark: ✔ ok (the default), ✖ failed, - skipped, • pending. */
export type PhaseOutcome = 'ok' | 'failed' | 'skipped' | 'pending';

interface ActivePhase {
  readonly name: string;
  readonly startedAt: number;
  detail: string | undefined;
  /** The phase's work so far, with its meter; undefined until an event came. */
  work: { progress: WorkProgress; rate: Rate; readonly meter: ReturnType<typeof createWorkMeter>; sampledAt: number } | undefined;
  /** When the last plain "still running" line was written. */
  lastPlainAt: number;
}

/** Events closer together than this share one sample of the meter. */
const SAMPLE_MS = 100;

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

  /** Running phases, outermost first. */
  const stack: ActivePhase[] = [];
  /** Work reported while no phase runs (a caller without phases): shown as its own line. */
  let loose: ActivePhase | undefined;
  let drawn = false;
  let frame = 0;
  let lastDrawAt = Number.NEGATIVE_INFINITY;
  let stopTimer: (() => void) | undefined;
  let closed = false;

  const levelTag: Record<LogLevel, (s: string) => string> = { debug: paint.gray, info: paint.cyan, warn: paint.yellow, error: paint.red };
  const innermost = (): ActivePhase | undefined => stack.at(-1) ?? loose;
  const indent = (depth: number): string => '  '.repeat(Math.max(0, depth));

  function erase(): void {
    if (!drawn) return;
    stream.write('\r\x1b[2K');
    drawn = false;
  }

  function liveLine(): string | undefined {
    const active = innermost();
    if (active === undefined) return undefined;
    const columns = Math.max(20, (stream.columns ?? 80) - 1);
    const spinner = SPINNER[frame % SPINNER.length]!;
    const lead = `${indent(stack.length - 1)}${paint.cyan(spinner)} `;
    const leadWidth = indent(stack.length - 1).length + 2;
    const name = stripControl(active.name);
    if (active.work !== undefined) {
      const { progress, rate } = active.work;
      const tail = describeWork(progress, rate);
      const fraction = fractionOf(progress);
      const barWidth = fraction === undefined ? 0 : Math.min(30, columns - leadWidth - name.length - tail.length - 3);
      if (barWidth >= 8) return `${lead}${name} ${paint.cyan(renderBar(fraction!, barWidth))} ${tail}`;
      return `${lead}${truncate(`${name}: ${tail}`, columns - leadWidth)}`;
    }
    const text = stripControl(active.detail === undefined ? `${active.name}…` : `${active.name}: ${active.detail}`);
    return `${lead}${truncate(text, columns - leadWidth)}`;
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

  /** Plain mode: one line for the innermost phase when it has run another interval. */
  function plainTick(): void {
    const active = innermost();
    if (active === undefined) return;
    const at = now();
    if (at - active.lastPlainAt < plainIntervalMs) return;
    active.lastPlainAt = at;
    const doing = active.work === undefined ? (active.detail ?? 'running') : describeWork(active.work.progress, active.work.rate);
    stream.write(formatPlainLog('info', `${active.name}: ${doing} (${formatDuration(at - active.startedAt)} so far)`, journal));
  }

  function ensureTimer(): void {
    if (stopTimer !== undefined || !showProgress || closed) return;
    stopTimer = schedule(
      () => {
        frame++;
        const at = now();
        for (const active of [...stack, ...(loose ? [loose] : [])]) {
          if (active.work === undefined) continue;
          active.work.rate = active.work.meter.sample(at, active.work.progress);
          active.work.sampledAt = at;
        }
        if (interactive) draw();
        else plainTick();
      },
      interactive ? frameMs : Math.min(1000, plainIntervalMs),
    );
  }

  function stopTimerIfIdle(): void {
    if (stack.length > 0 || loose !== undefined || stopTimer === undefined) return;
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

  /** What a finished phase's ✔ line adds: how much it moved, and how fast on average. */
  function moved(active: ActivePhase, ms: number): string {
    const work = active.work?.progress;
    if (work === undefined || work.bytes <= 0) return '';
    const rate = ms >= RATE_AFTER_MS ? `, ${formatBytes(Math.round((work.bytes * 1000) / ms))}/s` : '';
    return `; ${formatBytes(work.bytes)} ${work.unit === 'blobs' || work.unit === 'objects' ? 'received' : 'done'}${rate}`;
  }

  const marks: Record<PhaseOutcome, string> = { ok: paint.green('✔'), failed: paint.red('✖'), skipped: paint.gray('-'), pending: paint.yellow('•') };

  const phase = (name: string, state: 'start' | 'end', detail?: string, outcome: PhaseOutcome = 'ok'): void => {
    if (closed) return;
    const at = now();
    if (state === 'start') {
      loose = undefined;
      stack.push({ name, startedAt: at, detail, work: undefined, lastPlainAt: at });
      ensureTimer();
      draw();
      return;
    }
    let index = -1;
    for (let i = stack.length - 1; i >= 0; i--) {
      if (stack[i]!.name === name) {
        index = i;
        break;
      }
    }
    // Inner phases that never ended end with their parent.
    const ended = index === -1 ? undefined : stack.splice(index)[0];
    const ms = ended === undefined ? undefined : at - ended.startedAt;
    const depth = index === -1 ? stack.length : index;
    if (interactive) {
      if (showProgress) {
        erase();
        const took = ms === undefined ? '' : ` (${formatDuration(ms)}${ended === undefined ? '' : moved(ended, ms)})`;
        stream.write(`${indent(depth)}${marks[outcome]} ${stripControl(`${name}${detail === undefined ? '' : `: ${detail}`}`)}${paint.gray(took)}\n`);
      }
      stopTimerIfIdle();
      draw();
    } else {
      stopTimerIfIdle();
      if (LEVEL_RANK.debug >= threshold) {
        // `scan (1204 files, …): 43 ms`: the format --verbose prints (the bench reads --json phases instead).
        const took = ms === undefined ? '' : `: ${Math.round(ms)} ms`;
        stream.write(formatPlainLog('debug', `${name}${detail === undefined ? '' : ` (${detail})`}${took}`, journal));
      }
    }
  };

  const work = (progress: WorkProgress): void => {
    if (closed || !showProgress) return;
    const at = now();
    let active = stack.at(-1);
    if (active === undefined) {
      loose ??= { name: progress.unit === 'blobs' ? 'download' : 'working', startedAt: at, detail: undefined, work: undefined, lastPlainAt: at };
      active = loose;
    }
    if (active.work === undefined) {
      const meter = createWorkMeter();
      active.work = { progress, meter, rate: meter.sample(at, progress), sampledAt: at };
    } else {
      active.work.progress = progress;
      // A pack reports every chunk: the meter takes a sample a frame at most (the timer takes the rest).
      if (at - active.work.sampledAt >= SAMPLE_MS) {
        active.work.rate = active.work.meter.sample(at, progress);
        active.work.sampledAt = at;
      }
    }
    ensureTimer();
    if (interactive) {
      const finished = progress.totalItems !== undefined && progress.items >= progress.totalItems;
      if (finished || at - lastDrawAt >= frameMs) draw();
    }
  };

  const clear = (): void => erase();

  const close = (): void => {
    if (closed) return;
    erase();
    if (interactive && showProgress) {
      for (let i = stack.length - 1; i >= 0; i--) {
        const active = stack[i]!;
        stream.write(`${indent(i)}${paint.red('✖')} ${stripControl(active.name)}${paint.gray(` (${formatDuration(now() - active.startedAt)})`)}\n`);
      }
    }
    closed = true;
    stack.length = 0;
    loose = undefined;
    stopTimer?.();
    stopTimer = undefined;
  };

  return { log, phase, work, transfer: (progress) => work(transferAsWork(progress)), clear, close };
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
