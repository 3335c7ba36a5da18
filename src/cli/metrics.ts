/**
 * Prometheus metrics for node_exporter's textfile collector
 * (https://github.com/prometheus/node_exporter#textfile-collector): after each run, `--metrics-file`
 * (config `metricsFile`) gets the state of the last run in the text exposition format
 * (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format).
 *
 * `renderMetrics` is pure; `recordSyncMetrics` reads the previous file (for the last success time,
 * the applied commit when this run changed nothing, and run counters), renders, and replaces the
 * file atomically: a temp file in the same directory (without the .prom suffix, so the collector
 * never reads it half-written), then rename. docs/observability.md lists the metrics.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/types.js';
import { ExitCode, HostsyncError, errorCode, errorMessage } from '../errors.js';
import { RateLimitError } from '../github/errors.js';
import type { Logger, SyncResult } from '../pipeline/sync.js';

/** How a run ended, from its exit code: 0 success, 3 pending (--check-only found changes), 4 locked, else failure. */
export type RunOutcome = 'success' | 'pending' | 'locked' | 'failure';

/** Every outcome, in the order the state-set metric lists them. */
export const OUTCOMES: readonly RunOutcome[] = ['success', 'pending', 'locked', 'failure'];

/** The outcome an exit code stands for (docs/exit-codes.md). */
export function outcomeOf(exitCode: number): RunOutcome {
  return exitCode === ExitCode.Ok ? 'success' : exitCode === ExitCode.Pending ? 'pending' : exitCode === ExitCode.Locked ? 'locked' : 'failure';
}

/** The commit DEST holds, as the info metric's labels. */
export interface AppliedCommit {
  readonly repo: string;
  readonly ref: string;
  readonly path: string;
  readonly commit: string;
}

/** Everything one run contributes to the file. Counts are `undefined` when the run failed before knowing them. */
export interface RunMetrics {
  /** The destination as configured: the `dest` label of every series. */
  readonly dest: string;
  readonly exitCode: number;
  readonly startedAtMs: number;
  readonly finishedAtMs: number;
  /** Changes applied to DEST (all zero for --check-only, which applies nothing). */
  readonly changes?: { readonly added: number; readonly modified: number; readonly deleted: number; readonly mode: number; readonly type: number } | undefined;
  readonly bytesDownloaded?: number | undefined;
  readonly filesDownloaded?: number | undefined;
  readonly apiRequests?: number | undefined;
  readonly rateLimit?: { readonly remaining: number; readonly reset: number } | undefined;
  /** The commit DEST holds after this run, when the run knows it; else the previous file's is kept. */
  readonly applied?: AppliedCommit | undefined;
}

/** What is carried over from the previous file. */
export interface PreviousMetrics {
  /** Unix seconds of the last success; `undefined` when none is on record. */
  readonly lastSuccessSeconds: number | undefined;
  readonly applied: AppliedCommit | undefined;
  readonly runs: Readonly<Partial<Record<RunOutcome, number>>>;
}

/** No previous file. */
export const NO_PREVIOUS: PreviousMetrics = { lastSuccessSeconds: undefined, applied: undefined, runs: {} };

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'gauge' | 'counter';
  readonly samples: readonly { readonly labels: Readonly<Record<string, string>>; readonly value: number }[];
}

/** Escape a label value: backslash, double quote and line feed (the only escapes the format has). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Escape HELP text: backslash and line feed. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value: Go-style float text (`NaN`, `+Inf`, `-Inf` for the non-finite). */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

const seconds = (ms: number): number => Math.round(ms) / 1000;

/** Render the file's text: HELP and TYPE for every family, series sorted, no timestamps (the collector forbids them). */
export function renderMetrics(run: RunMetrics, previous: PreviousMetrics = NO_PREVIOUS): string {
  const dest = { dest: run.dest };
  const outcome = outcomeOf(run.exitCode);
  const lastSuccess = outcome === 'success' ? seconds(run.finishedAtMs) : previous.lastSuccessSeconds ?? 0;
  const applied = run.applied ?? previous.applied;
  const families: Family[] = [
    gauge('hostsync_last_run_timestamp_seconds', 'Unix time the last hostsync run finished.', [[dest, seconds(run.finishedAtMs)]]),
    gauge('hostsync_last_success_timestamp_seconds', 'Unix time the last successful run (exit 0) finished; 0 if none has.', [[dest, lastSuccess]]),
    gauge(
      'hostsync_last_run_outcome',
      'Outcome of the last run: 1 for the one it had (success, pending, locked, failure), 0 for the others.',
      OUTCOMES.map((o) => [{ ...dest, outcome: o }, o === outcome ? 1 : 0]),
    ),
    gauge('hostsync_last_run_exit_code', 'Exit code of the last run (see docs/exit-codes.md).', [[dest, run.exitCode]]),
    gauge('hostsync_last_run_duration_seconds', 'How long the last run took.', [[dest, seconds(run.finishedAtMs - run.startedAtMs)]]),
  ];
  if (run.changes !== undefined) {
    const c = run.changes;
    families.push(
      gauge(
        'hostsync_last_run_changed_files',
        'Paths the last run changed in DEST, by kind of change (added, modified, deleted, mode, type).',
        (['added', 'modified', 'deleted', 'mode', 'type'] as const).map((k) => [{ ...dest, change: k }, c[k]]),
      ),
    );
  }
  if (run.bytesDownloaded !== undefined) families.push(gauge('hostsync_last_run_downloaded_bytes', 'File content bytes the last run downloaded.', [[dest, run.bytesDownloaded]]));
  if (run.filesDownloaded !== undefined) families.push(gauge('hostsync_last_run_downloaded_files', 'Files (blobs) the last run downloaded.', [[dest, run.filesDownloaded]]));
  if (run.apiRequests !== undefined) families.push(gauge('hostsync_last_run_api_requests', 'GitHub API requests the last run made.', [[dest, run.apiRequests]]));
  if (run.rateLimit !== undefined) {
    families.push(
      gauge('hostsync_github_rate_limit_remaining', 'GitHub API requests left in the rate-limit window, as of the last run.', [[dest, run.rateLimit.remaining]]),
      gauge('hostsync_github_rate_limit_reset_timestamp_seconds', 'Unix time the GitHub rate-limit window resets, as of the last run.', [[dest, run.rateLimit.reset]]),
    );
  }
  if (applied !== undefined) {
    families.push(
      gauge('hostsync_applied_commit_info', 'The commit DEST holds, as labels; the value is always 1.', [[{ repo: applied.repo, ref: applied.ref, path: applied.path, commit: applied.commit, ...dest }, 1]]),
    );
  }
  const runs: Family = {
    name: 'hostsync_runs_total',
    help: 'Runs by outcome, counted in this file (the count restarts if the file is removed).',
    type: 'counter',
    samples: OUTCOMES.map((o) => ({ labels: { ...dest, outcome: o }, value: (previous.runs[o] ?? 0) + (o === outcome ? 1 : 0) })),
  };
  families.push(runs);
  return families.map(renderFamily).join('');
}

function gauge(name: string, help: string, samples: readonly (readonly [Readonly<Record<string, string>>, number])[]): Family {
  return { name, help, type: 'gauge', samples: samples.map(([labels, value]) => ({ labels, value })) };
}

function renderFamily(family: Family): string {
  const lines = [`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`];
  for (const sample of family.samples) {
    const labels = Object.entries(sample.labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
    lines.push(`${family.name}${labels.length > 0 ? `{${labels.join(',')}}` : ''} ${formatValue(sample.value)}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * What to carry over from the previous file's text. A file that does not parse (hand-edited,
 * another program's) carries nothing over: `problem` says why, for a warning.
 */
export function readPreviousMetrics(text: string): PreviousMetrics & { readonly problem?: string } {
  let samples: readonly Sample[];
  try {
    samples = parseExposition(text).samples;
  } catch (error) {
    return { ...NO_PREVIOUS, problem: errorMessage(error) };
  }
  let lastSuccessSeconds: number | undefined;
  let applied: AppliedCommit | undefined;
  const runs: Partial<Record<RunOutcome, number>> = {};
  for (const sample of samples) {
    if (sample.name === 'hostsync_last_success_timestamp_seconds' && sample.value > 0 && Number.isFinite(sample.value)) lastSuccessSeconds = sample.value;
    if (sample.name === 'hostsync_applied_commit_info') {
      const { repo, ref, path: subPath, commit } = sample.labels;
      if (repo !== undefined && ref !== undefined && commit !== undefined) applied = { repo, ref, path: subPath ?? '', commit };
    }
    if (sample.name === 'hostsync_runs_total') {
      const outcome = OUTCOMES.find((o) => o === sample.labels['outcome']);
      if (outcome !== undefined && Number.isFinite(sample.value) && sample.value >= 0) runs[outcome] = sample.value;
    }
  }
  return { lastSuccessSeconds, applied, runs };
}

/** The settings metrics need. */
export type MetricsConfig = Pick<Config, 'metricsFile' | 'repo' | 'ref' | 'path' | 'dest' | 'checkOnly'>;

/** A finished run: its result and exit code, or the error it ended with. */
export type SyncRun =
  | {
      readonly startedAt: number;
      readonly finishedAt: number;
      readonly result: SyncResult;
      readonly exitCode: number;
      /** The commit DEST holds after the whole run, when it is not the sync's (dev-update rolled back after a failed rebuild). */
      readonly appliedCommit?: string | undefined;
    }
  | { readonly startedAt: number; readonly finishedAt: number; readonly error: unknown };

/** The metrics of a finished `sync` run. Pure. */
export function syncRunMetrics(config: MetricsConfig, run: SyncRun): RunMetrics {
  const times = { dest: config.dest, startedAtMs: run.startedAt, finishedAtMs: run.finishedAt };
  if ('error' in run) {
    const exitCode = run.error instanceof HostsyncError ? run.error.exitCode : ExitCode.Failure;
    // A spent rate limit is the one fact about GitHub a failure still tells us.
    const rateLimit = run.error instanceof RateLimitError ? { remaining: 0, reset: run.error.reset } : undefined;
    return { ...times, exitCode, rateLimit };
  }
  const { result } = run;
  const applied = result.checkOnly ? 0 : 1;
  const c = result.changes;
  const commit = run.appliedCommit ?? (result.checkOnly ? result.previousCommit : result.commit);
  return {
    ...times,
    exitCode: run.exitCode,
    changes: { added: c.added.length * applied, modified: c.modified.length * applied, deleted: c.deleted.length * applied, mode: c.modeChanged.length * applied, type: c.typeChanged.length * applied },
    bytesDownloaded: result.checkOnly ? 0 : result.bytesDownloaded,
    filesDownloaded: result.checkOnly ? 0 : result.blobsDownloaded,
    apiRequests: result.apiRequests,
    rateLimit: result.rateLimit === undefined ? undefined : { remaining: result.rateLimit.remaining, reset: result.rateLimit.reset },
    // With --check-only, DEST holds what the manifest says (the previous commit) — or, unknown, what the last file said.
    applied: commit === undefined ? undefined : { repo: result.repo, ref: result.ref, path: result.path, commit },
  };
}

/** Replace `file` with `text` atomically: temp file in the same directory, fsync, rename. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o644);
  try {
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

/**
 * Write the metrics of a finished `sync` run to `config.metricsFile` (nothing when unset). Never
 * throws: metrics must not turn a good sync into a failure, so a file that cannot be written is a
 * warning (and the stale `hostsync_last_run_timestamp_seconds` is what an alert sees).
 */
export async function recordSyncMetrics(config: MetricsConfig, run: SyncRun, log: Logger): Promise<void> {
  const file = config.metricsFile;
  if (file === undefined) return;
  let previous: PreviousMetrics = NO_PREVIOUS;
  try {
    const read = readPreviousMetrics(await readFile(file, 'utf8'));
    if (read.problem !== undefined) log('warn', `Metrics file ${file} did not parse (${read.problem}); starting it afresh.`);
    previous = read;
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') log('warn', `Cannot read metrics file ${file} (${errorMessage(error)}); starting it afresh.`);
  }
  try {
    await writeFileAtomic(file, renderMetrics(syncRunMetrics(config, run), previous));
    log('debug', `Wrote metrics to ${file}.`);
  } catch (error) {
    log('warn', `Cannot write metrics file ${file}: ${errorMessage(error)}. Check that its directory exists and is writable by this user.`);
  }
}

/** One series' value, as parsed. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly timestamp?: number | undefined;
}

/** A parsed exposition: metadata per family, and the samples in order. */
export interface ParsedExposition {
  readonly families: ReadonlyMap<string, { readonly help?: string | undefined; readonly type?: string | undefined }>;
  readonly samples: readonly Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Inf)|NaN)$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/**
 * Parse the text exposition format strictly, throwing on the first rule broken: names and label
 * names, label-value and HELP escapes, values, at most one HELP and TYPE per family with TYPE
 * before its samples, each family's lines together, no series twice, a final line feed. With
 * `allowTimestamps: false` (the textfile collector's rule) a sample timestamp is an error too.
 * Used to read back the previous metrics file, and by tests as the format's check.
 */
export function parseExposition(text: string, options: { readonly allowTimestamps?: boolean } = {}): ParsedExposition {
  if (text !== '' && !text.endsWith('\n')) throw new Error('the last line does not end with a line feed');
  const families = new Map<string, { help?: string; type?: string; hasSamples?: boolean }>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  const closed = new Set<string>();
  let current: string | undefined;
  const enter = (family: string, line: number): void => {
    if (family === current) return;
    if (closed.has(family)) throw new Error(`line ${line}: lines of ${family} are not together`);
    if (current !== undefined) closed.add(current);
    current = family;
  };
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    if (raw.startsWith('#')) {
      const meta = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(raw);
      if (meta === null) return; // a plain comment
      const kind = meta[1];
      const name = meta[2]!;
      const rest = meta[3] ?? '';
      if (!METRIC_NAME.test(name)) throw new Error(`line ${line}: invalid metric name '${name}'`);
      enter(name, line);
      const family = families.get(name) ?? {};
      families.set(name, family);
      if (kind === 'HELP') {
        if (family.help !== undefined) throw new Error(`line ${line}: second HELP for ${name}`);
        family.help = unescapeHelp(rest, line);
      } else {
        if (family.type !== undefined) throw new Error(`line ${line}: second TYPE for ${name}`);
        if (family.hasSamples === true) throw new Error(`line ${line}: TYPE for ${name} after its samples`);
        if (!TYPES.has(rest.trim())) throw new Error(`line ${line}: unknown type '${rest.trim()}' for ${name}`);
        family.type = rest.trim();
      }
      return;
    }
    const sample = parseSample(raw, line);
    if (sample.timestamp !== undefined && options.allowTimestamps === false) throw new Error(`line ${line}: a timestamp, which the textfile collector rejects`);
    const familyName = familyOf(sample.name, families);
    enter(familyName, line);
    const family = families.get(familyName) ?? {};
    families.set(familyName, family);
    family.hasSamples = true;
    const key = `${sample.name}{${Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
    if (seen.has(key)) throw new Error(`line ${line}: series ${key} appears twice`);
    seen.add(key);
    samples.push(sample);
  });
  return { families, samples };
}

function familyOf(name: string, families: ReadonlyMap<string, { readonly type?: string | undefined }>): string {
  if (families.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = name.endsWith(suffix) ? name.slice(0, -suffix.length) : undefined;
    const type = base === undefined ? undefined : families.get(base)?.type;
    if (base !== undefined && (type === 'histogram' || type === 'summary')) return base;
  }
  return name;
}

function parseSample(raw: string, line: number): Sample {
  const nameMatch = /^[ \t]*([^{ \t]+)/.exec(raw);
  const name = nameMatch?.[1] ?? '';
  if (!METRIC_NAME.test(name)) throw new Error(`line ${line}: invalid metric name '${name}'`);
  let at = nameMatch![0].length;
  const labels: Record<string, string> = {};
  if (raw[at] === '{') {
    at++;
    for (;;) {
      while (raw[at] === ' ' || raw[at] === '\t') at++;
      if (raw[at] === '}') {
        at++;
        break;
      }
      const labelMatch = /^([^=\s]+)[ \t]*=[ \t]*"/.exec(raw.slice(at));
      if (labelMatch === null) throw new Error(`line ${line}: malformed label set`);
      const label = labelMatch[1]!;
      if (!LABEL_NAME.test(label) || label.startsWith('__')) throw new Error(`line ${line}: invalid label name '${label}'`);
      if (Object.hasOwn(labels, label)) throw new Error(`line ${line}: label ${label} twice`);
      at += labelMatch[0].length;
      let value = '';
      for (;;) {
        const c = raw[at];
        if (c === undefined) throw new Error(`line ${line}: unterminated label value`);
        at++;
        if (c === '"') break;
        if (c === '\\') {
          const next = raw[at++];
          if (next === '\\') value += '\\';
          else if (next === '"') value += '"';
          else if (next === 'n') value += '\n';
          else throw new Error(`line ${line}: invalid escape '\\${next ?? ''}' in a label value`);
        } else value += c;
      }
      labels[label] = value;
      while (raw[at] === ' ' || raw[at] === '\t') at++;
      if (raw[at] === ',') at++;
      else if (raw[at] !== '}') throw new Error(`line ${line}: expected ',' or '}' after label ${label}`);
    }
  }
  const rest = raw.slice(at);
  if (rest !== '' && !/^[ \t]/.test(rest)) throw new Error(`line ${line}: no space before the value`);
  const parts = rest.trim().split(/[ \t]+/);
  if (parts.length < 1 || parts.length > 2 || parts[0] === '') throw new Error(`line ${line}: expected a value and at most a timestamp`);
  const valueText = parts[0]!;
  if (!FLOAT.test(valueText)) throw new Error(`line ${line}: invalid value '${valueText}'`);
  const value = valueText === 'NaN' ? NaN : valueText.endsWith('Inf') ? (valueText.startsWith('-') ? -Infinity : Infinity) : Number(valueText);
  const stamp = parts[1];
  if (stamp !== undefined && !/^-?\d+$/.test(stamp)) throw new Error(`line ${line}: invalid timestamp '${stamp}'`);
  return { name, labels, value, timestamp: stamp === undefined ? undefined : Number(stamp) };
}

function unescapeHelp(text: string, line: number): string {
  return text.replace(/\\(.?)/g, (_m, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    throw new Error(`line ${line}: invalid escape '\\${c}' in HELP`);
  });
}
