/**
 * Prometheus metrics for node_exporter's textfile collector
 * (https://github.com/prometheus/node_exporter#textfile-collector): after each run, `--metrics-file`
 * (config `metricsFile`) gets the state of the last run in the text exposition format
 * (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format).
 *
 * `renderMetrics` is pure; `recordSyncMetrics` reads the previous file (for the last success time,
 * the applied commit when this run changed nothing, and run counters), renders, and replaces the
 * file through the one atomic writer (src/state/files.ts: a temp file in the same directory whose
 * name does not end in .prom, so the collector never reads it half-written, then rename).
 * docs/observability.md lists the metrics. The strict exposition-format parser the tests check
 * the output with lives in test/support/prometheus.ts; reading the previous file back needs only
 * {@link readPreviousMetrics}.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/types.js';
import { ExitCode, HostsyncError, errorCode, errorMessage } from '../errors.js';
import { RateLimitError } from '../github/errors.js';
import type { Logger, SyncResult } from '../pipeline/sync.js';
import { writeFileAtomic } from '../state/files.js';
import { SignatureRefusedError } from '../trust/errors.js';
import type { RefusalReason } from '../trust/types.js';
import { VERSION } from '../version.js';

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
  /** The running hostsync's version, for `hostsync_build_info`. @default VERSION */
  readonly version?: string | undefined;
  readonly exitCode: number;
  readonly startedAtMs: number;
  readonly finishedAtMs: number;
  /** Changes applied to DEST (all zero for --check-only, which applies nothing). */
  readonly changes?: { readonly added: number; readonly modified: number; readonly deleted: number; readonly mode: number; readonly type: number } | undefined;
  readonly bytesDownloaded?: number | undefined;
  readonly filesDownloaded?: number | undefined;
  readonly apiRequests?: number | undefined;
  /** REST API quota points the run spent (API requests not answered 304). */
  readonly quotaPoints?: number | undefined;
  /** Requests for a GitHub App token (installation lookup, token request; 0 from the cache): the App's, not the installation's quota. */
  readonly authRequests?: number | undefined;
  /** With `rollout`: the host's wave, whether it keeps DEST on its commit, and when it applies the ref's commit. */
  readonly rollout?: { readonly wave: number; readonly holding: boolean; readonly applyAtMs: number | undefined } | undefined;
  readonly rateLimit?: { readonly remaining: number; readonly reset: number } | undefined;
  /** The commit DEST holds after this run, when the run knows it; else the previous file's is kept. */
  readonly applied?: AppliedCommit | undefined;
  /** With pinned keys: the host's verdict on the commit's signature (a refusal is counted by reason). */
  readonly signature?: { readonly status: 'verified' | 'not-checked' } | { readonly status: 'refused'; readonly reason: RefusalReason } | undefined;
}

/** Every reason a signature is refused for (src/trust/types.ts), the label values of the refusal counter. */
export const REFUSAL_REASONS: readonly RefusalReason[] = ['sha-mismatch', 'unsigned', 'unknown-key', 'bad-signature', 'expired', 'revoked', 'not-yet-valid', 'wrong-namespace', 'unsupported'];

/** What is carried over from the previous file. */
export interface PreviousMetrics {
  /** Unix seconds of the last success; `undefined` when none is on record. */
  readonly lastSuccessSeconds: number | undefined;
  readonly applied: AppliedCommit | undefined;
  readonly runs: Readonly<Partial<Record<RunOutcome, number>>>;
  /** Signature refusals by reason; absent from files of hosts that pin no keys. */
  readonly signatureRefusals?: Readonly<Partial<Record<RefusalReason, number>>> | undefined;
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
    // With `dest` so that two instances' files (hostsync@a, hostsync@b) never hold the same series.
    gauge('hostsync_build_info', 'The hostsync that wrote this file, as labels; the value is always 1.', [[{ ...dest, version: run.version ?? VERSION }, 1]]),
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
  if (run.quotaPoints !== undefined) families.push(gauge('hostsync_last_run_quota_points', 'GitHub REST API quota points the last run spent (API requests not answered 304).', [[dest, run.quotaPoints]]));
  if (run.authRequests !== undefined) families.push(gauge('hostsync_last_run_auth_requests', "Requests the last run made for a GitHub App installation token (0 when the cached one served); made as the App, not counted in the installation's quota.", [[dest, run.authRequests]]));
  if (run.rollout !== undefined) {
    families.push(
      gauge('hostsync_rollout_wave', "This host's rollout wave, counted from 0 (wave i applies a new commit i intervals after first seeing it).", [[dest, run.rollout.wave]]),
      gauge('hostsync_rollout_holding', "1 while the rollout keeps DEST on its commit although the ref names a newer one, else 0.", [[dest, run.rollout.holding ? 1 : 0]]),
      gauge('hostsync_rollout_apply_timestamp_seconds', "Unix time this host applies (or applied) the ref's commit under the rollout; 0 when it was not held.", [[dest, run.rollout.applyAtMs === undefined ? 0 : seconds(run.rollout.applyAtMs)]]),
    );
  }
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
  const refusals = previous.signatureRefusals ?? {};
  if (run.signature !== undefined || Object.keys(refusals).length > 0) {
    const refused = run.signature?.status === 'refused' ? run.signature.reason : undefined;
    families.push({
      name: 'hostsync_signature_refusals_total',
      help: 'Commits refused because their signature did not verify against the pinned keys, by reason, counted in this file.',
      type: 'counter',
      samples: REFUSAL_REASONS.map((reason) => ({ labels: { ...dest, reason }, value: (refusals[reason] ?? 0) + (reason === refused ? 1 : 0) })),
    });
  }
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
 * What to carry over from the previous file's text. A file that does not read as the sample lines
 * this module writes (hand-edited, another program's) carries nothing over: `problem` says why,
 * for a warning.
 */
export function readPreviousMetrics(text: string): PreviousMetrics & { readonly problem?: string } {
  let samples: readonly PreviousSample[];
  try {
    samples = readSamples(text);
  } catch (error) {
    return { ...NO_PREVIOUS, problem: errorMessage(error) };
  }
  let lastSuccessSeconds: number | undefined;
  let applied: AppliedCommit | undefined;
  const runs: Partial<Record<RunOutcome, number>> = {};
  const signatureRefusals: Partial<Record<RefusalReason, number>> = {};
  for (const sample of samples) {
    if (sample.name === 'hostsync_signature_refusals_total') {
      const reason = REFUSAL_REASONS.find((r) => r === sample.labels['reason']);
      if (reason !== undefined && Number.isFinite(sample.value) && sample.value >= 0) signatureRefusals[reason] = sample.value;
    }
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
  return { lastSuccessSeconds, applied, runs, ...(Object.keys(signatureRefusals).length > 0 ? { signatureRefusals } : {}) };
}

interface PreviousSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** `name{label="value",…} value`, the only sample lines renderMetrics writes (label values escaped). */
const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})?[ \t]+(\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"/g;

/** The samples of a file this module wrote; throws naming the first line that is not one. */
function readSamples(text: string): PreviousSample[] {
  const samples: PreviousSample[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = SAMPLE_LINE.exec(line);
    const value = match === null ? NaN : Number(match[3]);
    if (match === null || Number.isNaN(value)) throw new Error(`line ${index + 1} is not a sample line of the text format: ${JSON.stringify(raw.slice(0, 80))}`);
    const labels: Record<string, string> = {};
    for (const [, name, escaped] of (match[2] ?? '').matchAll(LABEL)) {
      labels[name!] = escaped!.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: match[1]!, labels, value });
  });
  return samples;
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
    const signature = run.error instanceof SignatureRefusedError ? { status: 'refused' as const, reason: run.error.reason } : undefined;
    return { ...times, exitCode, rateLimit, signature };
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
    quotaPoints: result.quotaPoints,
    ...(result.auth?.method === 'github-app' ? { authRequests: result.auth.requests } : {}),
    rollout: rolloutMetrics(result),
    rateLimit: result.rateLimit === undefined ? undefined : { remaining: result.rateLimit.remaining, reset: result.rateLimit.reset },
    // With --check-only, DEST holds what the manifest says (the previous commit) — or, unknown, what the last file said.
    applied: commit === undefined ? undefined : { repo: result.repo, ref: result.ref, path: result.path, commit },
    signature: result.signature === undefined ? undefined : result.signature.status === 'refused' ? { status: 'refused', reason: result.signature.reason } : { status: result.signature.status },
  };
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
    // The collector's directory is the administrator's: never created here (it would be 0700).
    if (!(await stat(path.dirname(file))).isDirectory()) throw new Error(`${path.dirname(file)} is not a directory`);
    // 0644: node_exporter usually runs as another user.
    await writeFileAtomic(file, renderMetrics(syncRunMetrics(config, run), previous), 0o644);
    log('debug', `Wrote metrics to ${file}.`);
  } catch (error) {
    log('warn', `Cannot write metrics file ${file}: ${errorMessage(error)}. Check that its directory exists and is writable by this user.`);
  }
}

/** The rollout's series of a run (none without `rollout`). */
function rolloutMetrics(result: SyncResult): RunMetrics['rollout'] {
  const rollout = result.fleet?.rollout;
  if (rollout === undefined) return undefined;
  return { wave: rollout.wave, holding: rollout.holding, applyAtMs: rollout.applyAt === null ? undefined : Date.parse(rollout.applyAt) };
}
