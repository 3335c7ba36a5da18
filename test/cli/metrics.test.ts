/**
 * Prometheus textfile metrics (src/metrics/textfile.ts): the rendering (table tests, checked
 * against the exposition format by the strict parser in test/support/prometheus.ts), carrying
 * facts over from the previous file, and the write through the one atomic writer.
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HostsyncError, UsageError, ExitCode } from '../../src/errors.js';
import { RateLimitError } from '../../src/github/errors.js';
import {
  escapeLabelValue,
  formatValue,
  NO_PREVIOUS,
  outcomeOf,
  readPreviousMetrics,
  recordSyncMetrics,
  renderMetrics,
  syncRunMetrics,
  type MetricsConfig,
  type PreviousMetrics,
  type RunMetrics,
} from '../../src/metrics/textfile.js';
import { writeFileAtomic } from '../../src/state/files.js';
import { VERSION } from '../../src/version.js';
import { parseExposition, type Sample } from '../support/prometheus.js';
import type { SyncResult } from '../../src/pipeline/sync.js';
import type { LogLevel } from '../../src/pipeline/sync.js';

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const OLD = 'fedcba9876543210fedcba9876543210fedcba98';
const T0 = Date.UTC(2025, 0, 2, 3, 4, 5, 678);

function result(overrides: Partial<SyncResult> = {}): SyncResult {
  return {
    ok: true,
    repo: 'acme/hypervisor',
    ref: 'main',
    path: '',
    dest: '/etc/hypervisor',
    commit: COMMIT,
    previousCommit: OLD,
    strategy: 'blobs',
    strategyReason: '',
    checkOnly: false,
    pending: true,
    changes: { added: ['a', 'b'], modified: ['c'], deleted: [], modeChanged: ['x.sh'], typeChanged: [] },
    unmanaged: [],
    skipped: [],
    bytesDownloaded: 4096,
    blobsDownloaded: 3,
    apiRequests: 7,
    filesHashed: 2,
    recovered: undefined,
    rateLimit: { limit: 5000, remaining: 4321, reset: 1735790000, resource: 'core' },
    durationMs: 1234,
    ...overrides,
  } as SyncResult;
}

const CONFIG: MetricsConfig = { metricsFile: undefined, repo: 'acme/hypervisor', ref: 'main', path: '', dest: '/etc/hypervisor', checkOnly: false };

function value(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

/** The exposition format's rules that a textfile must follow, beyond what the parser enforces. */
function expectValidTextfile(text: string): Sample[] {
  const parsed = parseExposition(text, { allowTimestamps: false });
  for (const [name, family] of parsed.families) {
    expect(name).toMatch(/^hostsync_[a-z_]+$/);
    expect(family.help, `HELP of ${name}`).toBeTruthy();
    expect(family.type, `TYPE of ${name}`).toMatch(/^(gauge|counter)$/);
    if (family.type === 'counter') expect(name).toMatch(/_total$/);
    if (/timestamp|duration/.test(name)) expect(name).toMatch(/_seconds$/);
    if (/bytes/.test(name)) expect(name).toMatch(/_bytes$/);
  }
  // Every series names its destination, so several hostsync units can share one collector.
  for (const sample of parsed.samples) expect(sample.labels['dest']).toBeDefined();
  return [...parsed.samples];
}

describe('renderMetrics', () => {
  const cases: [string, RunMetrics, PreviousMetrics, (samples: Sample[]) => void][] = [
    [
      'a successful run that changed files',
      syncRunMetrics(CONFIG, { startedAt: T0, finishedAt: T0 + 2500, result: result(), exitCode: 0 }),
      NO_PREVIOUS,
      (s) => {
        expect(value(s, 'hostsync_last_run_timestamp_seconds')).toBe((T0 + 2500) / 1000);
        expect(value(s, 'hostsync_last_success_timestamp_seconds')).toBe((T0 + 2500) / 1000);
        expect(value(s, 'hostsync_last_run_outcome', { outcome: 'success' })).toBe(1);
        expect(value(s, 'hostsync_last_run_outcome', { outcome: 'failure' })).toBe(0);
        expect(value(s, 'hostsync_last_run_exit_code')).toBe(0);
        expect(value(s, 'hostsync_last_run_duration_seconds')).toBe(2.5);
        expect(value(s, 'hostsync_last_run_changed_files', { change: 'added' })).toBe(2);
        expect(value(s, 'hostsync_last_run_changed_files', { change: 'modified' })).toBe(1);
        expect(value(s, 'hostsync_last_run_changed_files', { change: 'mode' })).toBe(1);
        expect(value(s, 'hostsync_last_run_changed_files', { change: 'deleted' })).toBe(0);
        expect(value(s, 'hostsync_last_run_downloaded_bytes')).toBe(4096);
        expect(value(s, 'hostsync_last_run_downloaded_files')).toBe(3);
        expect(value(s, 'hostsync_last_run_api_requests')).toBe(7);
        expect(value(s, 'hostsync_github_rate_limit_remaining')).toBe(4321);
        expect(value(s, 'hostsync_github_rate_limit_reset_timestamp_seconds')).toBe(1735790000);
        expect(value(s, 'hostsync_applied_commit_info', { repo: 'acme/hypervisor', ref: 'main', path: '', commit: COMMIT, dest: '/etc/hypervisor' })).toBe(1);
        expect(value(s, 'hostsync_runs_total', { outcome: 'success' })).toBe(1);
      },
    ],
    [
      'a failed run keeps the last success time and the applied commit of the previous file',
      syncRunMetrics(CONFIG, { startedAt: T0, finishedAt: T0 + 800, error: new HostsyncError('GitHub said no') }),
      { lastSuccessSeconds: 1700000000.5, applied: { repo: 'acme/hypervisor', ref: 'main', path: 'hosts', commit: OLD }, runs: { success: 41, failure: 2 } },
      (s) => {
        expect(value(s, 'hostsync_last_run_timestamp_seconds')).toBe((T0 + 800) / 1000);
        expect(value(s, 'hostsync_last_success_timestamp_seconds')).toBe(1700000000.5);
        expect(value(s, 'hostsync_last_run_outcome', { outcome: 'failure' })).toBe(1);
        expect(value(s, 'hostsync_last_run_outcome', { outcome: 'success' })).toBe(0);
        expect(value(s, 'hostsync_last_run_exit_code')).toBe(1);
        expect(value(s, 'hostsync_applied_commit_info', { commit: OLD, path: 'hosts' })).toBe(1);
        // What the run never learnt is left out, not reported as 0.
        expect(value(s, 'hostsync_last_run_downloaded_bytes')).toBeUndefined();
        expect(value(s, 'hostsync_last_run_changed_files')).toBeUndefined();
        expect(value(s, 'hostsync_github_rate_limit_remaining')).toBeUndefined();
        expect(value(s, 'hostsync_runs_total', { outcome: 'success' })).toBe(41);
        expect(value(s, 'hostsync_runs_total', { outcome: 'failure' })).toBe(3);
      },
    ],
    [
      'a first run that fails: last success 0, no applied commit',
      syncRunMetrics(CONFIG, { startedAt: T0, finishedAt: T0, error: new Error('a bug') }),
      NO_PREVIOUS,
      (s) => {
        expect(value(s, 'hostsync_last_success_timestamp_seconds')).toBe(0);
        expect(value(s, 'hostsync_last_run_exit_code')).toBe(1);
        expect(s.some((x) => x.name === 'hostsync_applied_commit_info')).toBe(false);
      },
    ],
    [
      'a spent rate limit: remaining 0 and the reset time',
      syncRunMetrics(CONFIG, { startedAt: T0, finishedAt: T0 + 10, error: new RateLimitError('rate limited', 403, 1735799999) }),
      NO_PREVIOUS,
      (s) => {
        expect(value(s, 'hostsync_github_rate_limit_remaining')).toBe(0);
        expect(value(s, 'hostsync_github_rate_limit_reset_timestamp_seconds')).toBe(1735799999);
      },
    ],
    [
      '--check-only with pending changes: outcome pending, nothing applied, the applied commit is the previous one',
      syncRunMetrics({ ...CONFIG, checkOnly: true }, { startedAt: T0, finishedAt: T0 + 100, result: result({ checkOnly: true }), exitCode: ExitCode.Pending }),
      { lastSuccessSeconds: 1700000000, applied: undefined, runs: {} },
      (s) => {
        expect(value(s, 'hostsync_last_run_outcome', { outcome: 'pending' })).toBe(1);
        expect(value(s, 'hostsync_last_success_timestamp_seconds')).toBe(1700000000);
        expect(value(s, 'hostsync_last_run_changed_files', { change: 'added' })).toBe(0);
        expect(value(s, 'hostsync_last_run_downloaded_bytes')).toBe(0);
        expect(value(s, 'hostsync_applied_commit_info', { commit: OLD })).toBe(1);
      },
    ],
    [
      'dev-update: the sync applied, the rebuild failed and DEST was rolled back to the previous commit',
      syncRunMetrics(CONFIG, { startedAt: T0, finishedAt: T0 + 100, result: result(), exitCode: 1, appliedCommit: OLD }),
      NO_PREVIOUS,
      (s) => {
        expect(value(s, 'hostsync_last_run_outcome', { outcome: 'failure' })).toBe(1);
        expect(value(s, 'hostsync_applied_commit_info', { commit: OLD })).toBe(1);
        expect(value(s, 'hostsync_last_success_timestamp_seconds')).toBe(0);
      },
    ],
    [
      'another run holds the lock: outcome locked (exit 4)',
      syncRunMetrics(CONFIG, { startedAt: T0, finishedAt: T0 + 5, error: new HostsyncError('locked', ExitCode.Locked) }),
      NO_PREVIOUS,
      (s) => {
        expect(value(s, 'hostsync_last_run_outcome', { outcome: 'locked' })).toBe(1);
        expect(value(s, 'hostsync_last_run_exit_code')).toBe(4);
      },
    ],
    [
      'label values with quotes, backslashes and line feeds are escaped',
      syncRunMetrics(
        { ...CONFIG, dest: '/srv/we"ird\\dir\nx' },
        { startedAt: T0, finishedAt: T0, result: result({ ref: 'feature/"quoted"', path: 'a\\b' }), exitCode: 0 },
      ),
      NO_PREVIOUS,
      (s) => {
        expect(value(s, 'hostsync_last_run_exit_code', { dest: '/srv/we"ird\\dir\nx' })).toBe(0);
        expect(value(s, 'hostsync_applied_commit_info', { ref: 'feature/"quoted"', path: 'a\\b' })).toBe(1);
      },
    ],
  ];

  it.each(cases)('%s', (_name, run, previous, check) => {
    const text = renderMetrics(run, previous);
    check(expectValidTextfile(text));
    expect(renderMetrics(run, previous)).toBe(text); // pure and repeatable
  });

  /** Prometheus's own linter, where installed (Debian: apt-get install prometheus). */
  const promtool = spawnSync('promtool', ['--version']).status === 0;
  it.skipIf(!promtool).each(cases)('promtool check metrics accepts: %s', (_name, run, previous) => {
    const check = spawnSync('promtool', ['check', 'metrics'], { input: renderMetrics(run, previous), encoding: 'utf8' });
    expect(check.stdout + check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('renders the documented shape', () => {
    const text = renderMetrics(syncRunMetrics(CONFIG, { startedAt: T0, finishedAt: T0 + 2500, result: result(), exitCode: 0 }));
    expect(text).toContain(
      '# HELP hostsync_applied_commit_info The commit DEST holds, as labels; the value is always 1.\n' +
        '# TYPE hostsync_applied_commit_info gauge\n' +
        `hostsync_applied_commit_info{repo="acme/hypervisor",ref="main",path="",commit="${COMMIT}",dest="/etc/hypervisor"} 1\n`,
    );
    expect(text).toContain('hostsync_last_run_timestamp_seconds{dest="/etc/hypervisor"} 1735787048.178\n');
    expect(text.endsWith('\n')).toBe(true);
  });

  it('hostsync_build_info names the version that wrote the file, per destination', () => {
    const samples = expectValidTextfile(renderMetrics(syncRunMetrics(CONFIG, { startedAt: T0, finishedAt: T0, result: result(), exitCode: 0 })));
    expect(value(samples, 'hostsync_build_info', { version: VERSION, dest: '/etc/hypervisor' })).toBe(1);
    const failed = expectValidTextfile(renderMetrics(syncRunMetrics(CONFIG, { startedAt: T0, finishedAt: T0, error: new HostsyncError('x') })));
    expect(value(failed, 'hostsync_build_info', { version: VERSION })).toBe(1);
  });

  it('escapes per the exposition format and formats special values', () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    expect([formatValue(NaN), formatValue(Infinity), formatValue(-Infinity), formatValue(1.5), formatValue(0)]).toEqual(['NaN', '+Inf', '-Inf', '1.5', '0']);
  });

  it.each([
    [0, 'success'],
    [1, 'failure'],
    [2, 'failure'],
    [3, 'pending'],
    [4, 'locked'],
  ] as const)('exit code %d is outcome %s', (code, outcome) => expect(outcomeOf(code)).toBe(outcome));
});

describe('readPreviousMetrics', () => {
  it('reads back what renderMetrics wrote, so a failure keeps the last success', () => {
    const ok = renderMetrics(syncRunMetrics(CONFIG, { startedAt: T0, finishedAt: T0 + 1000, result: result({ path: 'hosts' }), exitCode: 0 }));
    const previous = readPreviousMetrics(ok);
    expect(previous).toEqual({ lastSuccessSeconds: (T0 + 1000) / 1000, applied: { repo: 'acme/hypervisor', ref: 'main', path: 'hosts', commit: COMMIT }, runs: { success: 1, pending: 0, locked: 0, failure: 0 } });
    const failed = renderMetrics(syncRunMetrics(CONFIG, { startedAt: T0 + 60_000, finishedAt: T0 + 61_000, error: new UsageError('bad') }), previous);
    const again = readPreviousMetrics(failed);
    expect(again.lastSuccessSeconds).toBe((T0 + 1000) / 1000);
    expect(again.applied?.commit).toBe(COMMIT);
    expect(again.runs).toEqual({ success: 1, pending: 0, locked: 0, failure: 1 });
  });

  it('carries nothing over from a file that does not parse, and says why', () => {
    const read = readPreviousMetrics('hostsync_last_success_timestamp_seconds{dest="x} 5\n');
    expect(read.lastSuccessSeconds).toBeUndefined();
    expect(read.problem).toMatch(/line 1/);
  });

  it('treats a 0 last-success time as none', () => {
    expect(readPreviousMetrics('hostsync_last_success_timestamp_seconds{dest="x"} 0\n').lastSuccessSeconds).toBeUndefined();
  });
});

describe('parseExposition (the format check the tests rely on)', () => {
  it('accepts the format as Prometheus documents it', () => {
    const text = [
      '# A comment',
      '# HELP http_requests_total The total number of HTTP requests.',
      '# TYPE http_requests_total counter',
      'http_requests_total{method="post",code="200"} 1027 1395066363000',
      'http_requests_total{method="post",code="400"}    3 1395066363000',
      '',
      'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9',
      'metric_without_timestamp_and_labels 12.47',
      'something_weird{problem="division by zero"} +Inf -3982045',
      '# HELP http_request_duration_seconds A histogram of the request duration.',
      '# TYPE http_request_duration_seconds histogram',
      'http_request_duration_seconds_bucket{le="0.05"} 24054',
      'http_request_duration_seconds_bucket{le="+Inf"} 144320',
      'http_request_duration_seconds_sum 53423',
      'http_request_duration_seconds_count 144320',
      '',
    ].join('\n');
    const parsed = parseExposition(text);
    expect(parsed.samples).toHaveLength(9);
    expect(parsed.samples[2]!.labels).toEqual({ path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' });
    expect(parsed.samples[4]!.value).toBe(Infinity);
    expect(parsed.families.get('http_request_duration_seconds')?.type).toBe('histogram');
  });

  it.each([
    ['no final line feed', 'a 1'],
    ['an invalid metric name', '1abc 1\n'],
    ['an invalid label name', 'a{1x="y"} 1\n'],
    ['a reserved label name', 'a{__name__="y"} 1\n'],
    ['an unknown escape in a label value', 'a{x="\\t"} 1\n'],
    ['an unterminated label value', 'a{x="y} 1\n'],
    ['a label twice', 'a{x="1",x="2"} 1\n'],
    ['a bad value', 'a 1,5\n'],
    ['a missing value', 'a{x="1"}\n'],
    ['a series twice', 'a{x="1"} 1\na{x="1"} 2\n'],
    ['a family split in two', 'a 1\nb 1\na{x="1"} 1\n'],
    ['TYPE after samples', 'a 1\n# TYPE a gauge\n'],
    ['two TYPE lines', '# TYPE a gauge\n# TYPE a gauge\na 1\n'],
    ['two HELP lines', '# HELP a x\n# HELP a y\na 1\n'],
    ['an unknown type', '# TYPE a thing\na 1\n'],
    ['an unknown escape in HELP', '# HELP a back\\slash\na 1\n'],
  ])('rejects %s', (_name, text) => {
    expect(() => parseExposition(text)).toThrow();
  });

  it('rejects timestamps when told to (the textfile collector does)', () => {
    expect(() => parseExposition('a 1 1395066363000\n', { allowTimestamps: false })).toThrow(/timestamp/);
    expect(parseExposition('a 1 1395066363000\n').samples[0]!.timestamp).toBe(1395066363000);
  });
});

describe('writing the file', () => {
  let dir: string;
  const logs: [LogLevel, string][] = [];
  const log = (level: LogLevel, message: string): void => void logs.push([level, message]);
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hostsync-metrics-'));
    logs.length = 0;
  });
  afterEach(async () => {
    await chmod(dir, 0o755).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('writeFileAtomic replaces the file and leaves no temp file behind', async () => {
    const file = join(dir, 'hostsync.prom');
    await writeFile(file, 'old\n');
    await writeFileAtomic(file, 'new\n');
    expect(await readFile(file, 'utf8')).toBe('new\n');
    expect(await readdir(dir)).toEqual(['hostsync.prom']);
  });

  it('recordSyncMetrics: success, then failure keeps the last success time; nothing without a metrics file', async () => {
    const file = join(dir, 'hostsync.prom');
    await recordSyncMetrics(CONFIG, { startedAt: T0, finishedAt: T0 + 1000, result: result(), exitCode: 0 }, log);
    expect(await readdir(dir)).toEqual([]);
    const config = { ...CONFIG, metricsFile: file };
    await recordSyncMetrics(config, { startedAt: T0, finishedAt: T0 + 1000, result: result(), exitCode: 0 }, log);
    await recordSyncMetrics(config, { startedAt: T0 + 5000, finishedAt: T0 + 6000, error: new HostsyncError('network down') }, log);
    const samples = expectValidTextfile(await readFile(file, 'utf8'));
    expect(value(samples, 'hostsync_last_success_timestamp_seconds')).toBe((T0 + 1000) / 1000);
    expect(value(samples, 'hostsync_last_run_timestamp_seconds')).toBe((T0 + 6000) / 1000);
    expect(value(samples, 'hostsync_last_run_outcome', { outcome: 'failure' })).toBe(1);
    expect(value(samples, 'hostsync_applied_commit_info', { commit: COMMIT })).toBe(1);
    expect(value(samples, 'hostsync_runs_total', { outcome: 'success' })).toBe(1);
    expect(value(samples, 'hostsync_runs_total', { outcome: 'failure' })).toBe(1);
    expect(await readdir(dir)).toEqual(['hostsync.prom']);
    // node_exporter usually runs as another user: readable by all, whatever the umask left.
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    expect(logs.filter(([level]) => level === 'warn')).toEqual([]);
  });

  it('a previous file that does not parse is replaced, with a warning', async () => {
    const file = join(dir, 'hostsync.prom');
    await writeFile(file, 'garbage{\n');
    await recordSyncMetrics({ ...CONFIG, metricsFile: file }, { startedAt: T0, finishedAt: T0, result: result(), exitCode: 0 }, log);
    expectValidTextfile(await readFile(file, 'utf8'));
    expect(logs).toEqual([['warn', expect.stringMatching(/did not parse/)], ['debug', expect.stringMatching(/Wrote metrics/)]]);
  });

  it('a directory that cannot be written is a warning, never a failure', async () => {
    const missing = join(dir, 'no-such-dir', 'hostsync.prom');
    await expect(recordSyncMetrics({ ...CONFIG, metricsFile: missing }, { startedAt: T0, finishedAt: T0, result: result(), exitCode: 0 }, log)).resolves.toBeUndefined();
    expect(logs).toEqual([['warn', expect.stringMatching(/Cannot write metrics file .*no-such-dir.*directory exists/)]]);
    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked');
      await mkdir(locked);
      await chmod(locked, 0o500);
      logs.length = 0;
      await recordSyncMetrics({ ...CONFIG, metricsFile: join(locked, 'x.prom') }, { startedAt: T0, finishedAt: T0, result: result(), exitCode: 0 }, log);
      expect(logs[0]?.[0]).toBe('warn');
    }
  });
});
