/**
 * Everything hostsync prints goes through here: log lines to stderr (plain, one event per line
 * with a level when not on a TTY — fit for journald), results to stdout. The only user of kleur.
 */
import kleur from 'kleur';
import type { Logger, LogLevel } from '../pipeline/sync.js';
import { redact } from './redact.js';

export interface OutputOptions {
  readonly json: boolean;
  readonly verbose: boolean;
  readonly quiet: boolean;
  readonly color: boolean;
}

export interface Output {
  readonly log: Logger;
  /** A human line on stdout (suppressed with --json and --quiet). */
  line(text: string): void;
  /** The one JSON document of a --json run. */
  json(value: unknown): void;
  readonly paint: typeof kleur;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Create the output sink for one run. */
export function createOutput(options: OutputOptions): Output {
  kleur.enabled = options.color;
  const threshold = options.verbose ? 0 : options.quiet ? 2 : 1;
  const tag: Record<LogLevel, (s: string) => string> = {
    debug: (s) => kleur.gray(s),
    info: (s) => kleur.cyan(s),
    warn: (s) => kleur.yellow(s),
    error: (s) => kleur.red(s),
  };
  return {
    paint: kleur,
    log(level, message) {
      if (RANK[level] < threshold) return;
      process.stderr.write(`${tag[level](level)}: ${redact(message)}\n`);
    },
    line(text) {
      if (options.json || options.quiet) return;
      process.stdout.write(`${redact(text)}\n`);
    },
    json(value) {
      process.stdout.write(`${redact(JSON.stringify(value, null, 2))}\n`);
    },
  };
}

/** Bytes for humans: 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
