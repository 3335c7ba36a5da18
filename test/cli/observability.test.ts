/**
 * End to end through the real CLI (`node bin/hostsync.js`, the build) against the GitHub-compatible
 * server: the plain log format on a pipe, journald priorities when stderr is the journal stream,
 * and the metrics file across success, --check-only and failure.
 */
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseExposition, type Sample } from '../support/prometheus.js';
import { BIN } from '../support/cli.js';
import { createFixture, type Fixture } from '../support/fixture.js';

let fx: Fixture;
beforeEach(async () => {
  fx = await createFixture();
  await fx.repo.write('README.md', '# hypervisor\n');
  await fx.repo.write('hosts/alpha/configuration.nix', '{ alpha }\n');
});
afterEach(async () => {
  await fx.close();
});

const find = (samples: readonly Sample[], name: string, labels: Record<string, string> = {}): Sample | undefined =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

async function readMetrics(file: string): Promise<Sample[]> {
  return [...parseExposition(await readFile(file, 'utf8'), { allowTimestamps: false }).samples];
}

describe('logs on a pipe', () => {
  it('are plain lines, each with a level, no ANSI; --quiet leaves only warnings and errors', async () => {
    await fx.repo.commit('first');
    const verbose = await fx.run(['sync', '--verbose'], { env: { FORCE_COLOR: '1' } });
    expect(verbose.code).toBe(0);
    const lines = verbose.stderr.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/^(debug|info|warn|error): \S/);
    expect(verbose.stderr).not.toMatch(/\x1b/);
    // Phase timings, as --verbose prints them (the bench reads the --json phases).
    expect(verbose.stderr).toMatch(/^debug: scan \(\d+ files in DEST, \d+ hashed, \d+ from the stat cache\): \d+ ms$/m);
    await fx.repo.write('README.md', 'v2\n');
    await fx.repo.commit('second');
    const quiet = await fx.run(['sync', '--quiet']);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toBe('');
    expect(quiet.stderr).toBe('');
  });

  it('carry journald priorities when stderr is the stream JOURNAL_STREAM names, and not otherwise', async () => {
    await fx.repo.commit('first');
    await fx.server.addRepo('acme/hypervisor', fx.repo.dir);
    const run = async (journal: (dev: bigint, ino: bigint) => string, extra: string[] = [], expectedCode = 0): Promise<string> => {
      const file = join(fx.tmp, `stderr-${Math.random()}`);
      const fd = openSync(file, 'w');
      const { dev, ino } = fstatSync(fd, { bigint: true });
      try {
        const env = { ...fx.env, PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: fx.tmp, JOURNAL_STREAM: journal(dev, ino) };
        const args = [BIN, 'sync', '--verbose', '--repo', 'acme/hypervisor', '--dest', fx.dest, '--state-dir', fx.stateDir, ...extra];
        const code = await new Promise<number | null>((resolve, reject) => {
          const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', fd] });
          child.on('error', reject);
          child.on('close', resolve);
        });
        expect(code).toBe(expectedCode);
      } finally {
        closeSync(fd);
      }
      return readFile(file, 'utf8');
    };
    const journal = await run((dev, ino) => `${dev}:${ino}`);
    const journalLines = journal.split('\n').filter(Boolean);
    expect(journalLines.length).toBeGreaterThan(0);
    for (const line of journalLines) expect(line).toMatch(/^<[3467]>(debug|info|warn|error): /);
    expect(journal).toMatch(/^<7>debug: /m);
    // Inherited by a process whose stderr went elsewhere: no prefixes.
    const elsewhere = await run((dev, ino) => `${dev}:${ino + 1n}`);
    expect(elsewhere).not.toMatch(/^</m);
    expect(elsewhere).toMatch(/^debug: /m);
    // The final failure line too, at priority err.
    const failed = await run((dev, ino) => `${dev}:${ino}`, ['--ref', 'no-such-branch'], 1);
    expect(failed.split('\n').filter(Boolean).at(-1)).toMatch(/^<3>hostsync: .*no-such-branch/);
  });
});

describe('--metrics-file', () => {
  it('records success, --check-only pending, and a failure that keeps the last success and the applied commit', async () => {
    const first = await fx.repo.commit('first');
    const metrics = join(fx.tmp, 'hostsync.prom');
    expect((await fx.run(['sync', '--metrics-file', metrics])).code).toBe(0);
    const ok = await readMetrics(metrics);
    expect(find(ok, 'hostsync_last_run_outcome', { outcome: 'success' })?.value).toBe(1);
    expect(find(ok, 'hostsync_applied_commit_info')?.labels).toEqual({ repo: 'acme/hypervisor', ref: 'HEAD', path: '', commit: first, dest: fx.dest });
    expect(find(ok, 'hostsync_last_run_changed_files', { change: 'added' })?.value).toBe(2);
    expect(find(ok, 'hostsync_last_run_downloaded_bytes')?.value).toBeGreaterThan(0);
    expect(find(ok, 'hostsync_last_run_api_requests')?.value).toBeGreaterThan(0);
    expect(find(ok, 'hostsync_github_rate_limit_remaining')?.value).toBeGreaterThan(0);
    const success = find(ok, 'hostsync_last_success_timestamp_seconds')!.value;
    expect(success).toBeGreaterThan(Date.now() / 1000 - 60);

    await fx.repo.write('README.md', 'v2\n');
    await fx.repo.commit('second');
    expect((await fx.run(['sync', '--check-only', '--metrics-file', metrics])).code).toBe(3);
    const pending = await readMetrics(metrics);
    expect(find(pending, 'hostsync_last_run_outcome', { outcome: 'pending' })?.value).toBe(1);
    expect(find(pending, 'hostsync_applied_commit_info')?.labels['commit']).toBe(first);
    expect(find(pending, 'hostsync_last_success_timestamp_seconds')?.value).toBe(success);

    const failed = await fx.run(['sync', '--ref', 'no-such-branch', '--metrics-file', metrics]);
    expect(failed.code).toBe(1);
    const after = await readMetrics(metrics);
    expect(find(after, 'hostsync_last_run_outcome', { outcome: 'failure' })?.value).toBe(1);
    expect(find(after, 'hostsync_last_run_exit_code')?.value).toBe(1);
    expect(find(after, 'hostsync_last_success_timestamp_seconds')?.value).toBe(success);
    expect(find(after, 'hostsync_applied_commit_info')?.labels['commit']).toBe(first);
    expect(find(after, 'hostsync_runs_total', { outcome: 'success' })?.value).toBe(1);
    expect(find(after, 'hostsync_runs_total', { outcome: 'pending' })?.value).toBe(1);
    expect(find(after, 'hostsync_runs_total', { outcome: 'failure' })?.value).toBe(1);
  });

  it('a metrics file that cannot be written is a warning; the sync still succeeds', async () => {
    await fx.repo.commit('first');
    const result = await fx.run(['sync', '--metrics-file', join(fx.tmp, 'missing-dir', 'hostsync.prom')]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^warn: Cannot write metrics file .*missing-dir/m);
  });
});
