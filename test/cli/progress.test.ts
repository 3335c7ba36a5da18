/**
 * Rendering of logs, phases and download progress: plain lines (systemd, pipes) and the
 * interactive terminal (spinners, bar), through a fake terminal and a manual clock.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createOutput, formatFailure, stderrIsJournal } from '../../src/cli/output.js';
import {
  createRateMeter,
  createReporter,
  createWorkMeter,
  describeWork,
  NO_RATE,
  type Rate,
  describeTransfer,
  formatBytes,
  formatDuration,
  formatPlainLog,
  isJournalStream,
  renderBar,
  sanitizeForTerminal,
  stripControl,
  type ReporterOptions,
} from '../../src/cli/progress.js';
import type { LogLevel } from '../../src/pipeline/sync.js';
import type { WorkProgress } from '../../src/model.js';
import { createFakeTerminal, createManualTime } from './terminal.js';

const ANSI = /\x1b/;

describe('formatPlainLog', () => {
  it.each<[LogLevel, string, boolean, string]>([
    ['info', 'Ref main → abc', false, 'info: Ref main → abc\n'],
    ['warn', 'Skipping x', false, 'warn: Skipping x\n'],
    ['error', 'boom', true, '<3>error: boom\n'],
    ['warn', 'careful', true, '<4>warn: careful\n'],
    ['info', 'hello', true, '<6>info: hello\n'],
    ['debug', 'detail', true, '<7>debug: detail\n'],
    // Several lines: every line carries the level (and priority), none is a bare continuation.
    ['error', '2 configuration problems:\n  a\n  b\n', true, '<3>error: 2 configuration problems:\n<3>error:   a\n<3>error:   b\n'],
    ['warn', 'a\r\nb', false, 'warn: a\nwarn: b\n'],
    // Escapes and control characters never reach a log line.
    ['info', '\x1b[31mred\x1b[39m and a bell\x07', false, 'info: red and a bell\n'],
  ])('%s %j (journal %s)', (level, message, journal, expected) => {
    expect(formatPlainLog(level, message, journal)).toBe(expected);
  });
});

describe('control characters from file names', () => {
  it.each([
    ['plain', 'plain', 'plain'],
    ['colour \x1b[31mred\x1b[39m', 'colour \x1b[31mred\x1b[39m', 'colour red'],
    ['cr\roverwrite', 'croverwrite', 'croverwrite'],
    ['title \x1b]0;pwned\x07 set', 'title  set', 'title  set'],
    ['hyperlink \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\', 'hyperlink link', 'hyperlink link'],
    ['cursor \x1b[2J\x1b[H home', 'cursor  home', 'cursor  home'],
    ['tab\tand\nline', 'tab\tand\nline', 'tab\tand\nline'],
    ['reset\x1bc charset\x1b(B save\x1b7 lone\x1b', 'reset charset save lone', 'reset charset save lone'],
    ['bell\x07 del\x7f esc\x1bc', 'bell del esc', 'bell del esc'],
  ])('%j', (text, forTerminal, stripped) => {
    expect(sanitizeForTerminal(text)).toBe(forTerminal);
    expect(stripControl(text)).toBe(stripped);
  });

  it('a file name cannot rewrite the terminal through a log line or a result line', () => {
    const stderr = createFakeTerminal();
    const out = createOutput({ json: false, verbose: false, quiet: false, color: false, stderr, stdout: stderr });
    out.log('warn', 'Skipping evil\rwarn: all good\x1b]0;title\x07: submodule.');
    out.line('  added    evil\r\x1b[2Kinnocent');
    // A carriage return or line feed starts a new line — indented under its level, so it cannot pose as a line of its own.
    expect(stderr.screen()).toEqual(['warn: Skipping evil', '  warn: all good: submodule.', '  added    evilinnocent', '']);
  });
});

describe('formatFailure', () => {
  it.each([
    ["hostsync: Unknown command 'x'.", false, "hostsync: Unknown command 'x'.\n"],
    ["hostsync: Unknown command 'x'.", true, "<3>hostsync: Unknown command 'x'.\n"],
    ['hostsync: internal error:\nError: boom\n    at f (x.js:1:1)\n', true, '<3>hostsync: internal error:\n<3>Error: boom\n<3>    at f (x.js:1:1)\n'],
  ])('%j (journal %s)', (text, journal, expected) => expect(formatFailure(text, journal)).toBe(expected));
});

describe('isJournalStream', () => {
  it.each<[string | undefined, { dev: number | bigint; ino: number | bigint } | undefined, boolean]>([
    [undefined, { dev: 1, ino: 2 }, false],
    ['8:1234', undefined, false],
    ['8:1234', { dev: 8, ino: 1234 }, true],
    ['8:1234', { dev: 8n, ino: 1234n }, true],
    ['8:1234\n', { dev: 8, ino: 1234 }, true],
    ['8:1235', { dev: 8, ino: 1234 }, false],
    ['9:1234', { dev: 8, ino: 1234 }, false],
    ['garbage', { dev: 8, ino: 1234 }, false],
    ['', { dev: 0, ino: 0 }, false],
    ['18446744073709551615:1', { dev: 18446744073709551615n, ino: 1n }, true],
  ])('JOURNAL_STREAM case %#', (value, stat, expected) => {
    expect(isJournalStream(value, stat)).toBe(expected);
  });

  it('stderrIsJournal compares with the real device and inode of the descriptor', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hostsync-journal-'));
    const fd = openSync(join(dir, 'stream'), 'w');
    try {
      const stat = fstatSync(fd, { bigint: true });
      expect(stderrIsJournal(`${stat.dev}:${stat.ino}`, fd)).toBe(true);
      expect(stderrIsJournal(`${stat.dev}:${stat.ino + 1n}`, fd)).toBe(false);
      expect(stderrIsJournal(undefined, fd)).toBe(false);
    } finally {
      closeSync(fd);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('formatting helpers', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1536, '1.5 KiB'],
    [5 * 1024 * 1024, '5.0 MiB'],
  ])('formatBytes(%d) = %s', (bytes, text) => expect(formatBytes(bytes)).toBe(text));

  it.each([
    [400, '0.4 s'],
    [12_400, '12 s'],
    [185_000, '3 min 5 s'],
    [7_800_000, '2 h 10 min'],
  ])('formatDuration(%d) = %s', (ms, text) => expect(formatDuration(ms)).toBe(text));

  it.each([
    [0, 12, '[>         ]'],
    [0.5, 12, '[=====>    ]'],
    [1, 12, '[==========]'],
    [2, 12, '[==========]'],
    [Number.NaN, 12, '[>         ]'],
  ])('renderBar(%d, %d)', (fraction, width, bar) => {
    expect(renderBar(fraction, width)).toBe(bar);
    expect(renderBar(fraction, width)).toHaveLength(width);
  });

  it('describes a transfer with rate and ETA once there is enough data', () => {
    const progress = { doneBlobs: 3, totalBlobs: 10, doneBytes: 1024 * 1024, totalBytes: 4 * 1024 * 1024 };
    expect(describeTransfer(progress, { bytesPerSec: undefined, etaMs: undefined })).toBe('25%, 3/10 blobs, 1.0 MiB of 4.0 MiB');
    expect(describeTransfer(progress, { bytesPerSec: 1024 * 1024, etaMs: 3000 })).toBe('25%, 3/10 blobs, 1.0 MiB of 4.0 MiB, 1.0 MiB/s, ETA 3.0 s');
    expect(describeTransfer({ doneBlobs: 0, totalBlobs: 4, doneBytes: 0, totalBytes: 0 }, { bytesPerSec: undefined, etaMs: undefined })).toBe('0%, 0/4 blobs');
    // A tarball: the percentage and the rate follow the archive, not the wanted blobs alone.
    expect(describeTransfer({ doneBlobs: 19, totalBlobs: 20, doneBytes: 950, totalBytes: 1000, streamedBytes: 10 * 1024 * 1024, streamTotal: 40 * 1024 * 1024 }, NO_RATE)).toBe('25%, 19/20 blobs, 10.0 MiB of 40.0 MiB');
  });

  it.each<[string, WorkProgress, Rate, string]>([
    ['a pack: no totals, so no percentage and no ETA', { bytes: 12 * 1024 * 1024, items: 1234, unit: 'objects' }, { bytesPerSec: 2 * 1024 * 1024, etaMs: undefined }, '1234 objects, 12.0 MiB, 2.0 MiB/s'],
    ['the apply: paths of a known total', { bytes: 0, items: 900, totalItems: 2000, unit: 'paths' }, { bytesPerSec: undefined, etaMs: 11_000 }, '45%, 900/2000 paths, ETA 11 s'],
    ['nothing measured yet', { bytes: 0, items: 0, unit: 'objects' }, NO_RATE, '0 objects'],
  ])('describeWork: %s', (_what, work, rate, text) => {
    expect(describeWork(work, rate)).toBe(text);
  });

  it('measures the rate over a sliding window, so the ETA follows the current speed', () => {
    const meter = createRateMeter(5000);
    const total = 100_000_000;
    expect(meter.sample(0, 0, total).bytesPerSec).toBeUndefined();
    expect(meter.sample(400, 400_000, total).bytesPerSec).toBeUndefined();
    // 1 MB/s for 10 s...
    for (let t = 1000; t <= 10_000; t += 1000) meter.sample(t, t * 1000, total);
    const steady = meter.sample(10_000, 10_000_000, total);
    expect(steady.bytesPerSec).toBeCloseTo(1_000_000, -3);
    expect(steady.etaMs).toBeCloseTo(90_000, -3);
    // ...then 4 MB/s: after a full window, only the new speed counts.
    let rate = steady;
    for (let t = 11_000, b = 14_000_000; t <= 16_000; t += 1000, b += 4_000_000) rate = meter.sample(t, b, total);
    expect(rate.bytesPerSec).toBeCloseTo(4_000_000, -3);
  });

  it('gives no ETA before 2 s of measuring: a slow first half-second does not predict an hour', () => {
    const meter = createWorkMeter();
    const work = (bytes: number): WorkProgress => ({ bytes, totalBytes: 50_000_000, items: 0, totalItems: 10, unit: 'blobs' });
    meter.sample(0, work(0));
    const early = meter.sample(600, work(8_000)); // connection set-up: 8 kB in 0.6 s
    expect(early.bytesPerSec).toBeDefined();
    expect(early.etaMs).toBeUndefined();
    meter.sample(1000, work(10_000_000));
    const later = meter.sample(2500, work(40_000_000));
    expect(later.etaMs).toBeCloseTo(625, -2); // 10 MB left at 16 MB/s
  });

  it('an ETA from items only when no byte total is known, and none without any total', () => {
    const meter = createWorkMeter();
    meter.sample(0, { bytes: 0, items: 0, totalItems: 100, unit: 'paths' });
    expect(meter.sample(2000, { bytes: 0, items: 50, totalItems: 100, unit: 'paths' })).toEqual({ bytesPerSec: undefined, etaMs: 2000 });
    const pack = createWorkMeter();
    pack.sample(0, { bytes: 0, items: 0, unit: 'objects' });
    expect(pack.sample(3000, { bytes: 3_000_000, items: 300, unit: 'objects' })).toEqual({ bytesPerSec: 1_000_000, etaMs: undefined });
  });
});

function plainReporter(threshold: LogLevel, journal = false, extra: Partial<ReporterOptions> = {}) {
  const stream = createFakeTerminal(80, false);
  const time = createManualTime();
  const reporter = createReporter({ stream, interactive: false, threshold, journal, now: time.now, schedule: time.schedule, ...extra });
  return { stream, time, reporter, text: () => stream.raw.join('') };
}

describe('plain rendering (not a terminal)', () => {
  it('writes one line per event with its level, filtered by threshold, never ANSI', () => {
    const { reporter, text, time } = plainReporter('info');
    reporter.phase('resolve ref', 'start');
    reporter.log('debug', 'hidden');
    reporter.log('info', 'Waiting for the lock.');
    reporter.phase('resolve ref', 'end', 'main → abc123');
    reporter.transfer({ doneBlobs: 1, totalBlobs: 2, doneBytes: 10, totalBytes: 20 });
    reporter.log('warn', 'Skipping a: too big.');
    reporter.log('error', 'Failed.');
    reporter.close();
    expect(time.timers()).toBe(0);
    expect(text()).toBe('info: Waiting for the lock.\nwarn: Skipping a: too big.\nerror: Failed.\n');
    expect(text()).not.toMatch(ANSI);
  });

  it('with --verbose, phase ends are debug lines with their duration', () => {
    const { reporter, text, time } = plainReporter('debug', true);
    reporter.phase('scan', 'start');
    time.advance(1500);
    reporter.phase('scan', 'end', '120 files, 3 hashed');
    expect(text()).toBe('<7>debug: scan (120 files, 3 hashed): 1500 ms\n');
  });

  it('with --quiet, only warnings and errors', () => {
    const { reporter, text, time } = plainReporter('warn');
    reporter.log('info', 'no');
    reporter.transfer({ doneBlobs: 0, totalBlobs: 9, doneBytes: 0, totalBytes: 9000 });
    time.advance(60_000);
    reporter.transfer({ doneBlobs: 1, totalBlobs: 9, doneBytes: 1000, totalBytes: 9000 });
    reporter.log('warn', 'yes');
    expect(text()).toBe('warn: yes\n');
  });

  it('reports a long download once per interval, with bytes, rate and ETA, and a short one not at all', () => {
    const { reporter, text, time } = plainReporter('info', true, { plainIntervalMs: 10_000 });
    reporter.phase('transfer', 'start');
    const step = (blobs: number) => reporter.transfer({ doneBlobs: blobs, totalBlobs: 30, doneBytes: blobs * 1024 * 1024, totalBytes: 30 * 1024 * 1024 });
    step(0);
    for (let i = 1; i <= 25; i++) {
      time.advance(1000);
      step(i);
    }
    reporter.phase('transfer', 'end');
    time.advance(60_000);
    const lines = text().split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^<6>info: transfer: 3\d%, \d+\/30 blobs, \d+\.0 MiB of 30\.0 MiB, \d+(\.\d)? [KM]iB\/s, ETA \d+ s \(10 s so far\)$/);
    expect(lines[1]).toMatch(/^<6>info: transfer: 6\d%, \d+\/30 blobs, .* \(20 s so far\)$/);
    const short = plainReporter('info');
    short.reporter.phase('transfer', 'start');
    short.reporter.transfer({ doneBlobs: 1, totalBlobs: 2, doneBytes: 1, totalBytes: 2 });
    short.time.advance(9_000);
    short.reporter.phase('transfer', 'end');
    short.time.advance(60_000);
    expect(short.text()).toBe('');
  });

  it('a long phase without progress events still gets its line every 10 s (under a pipe, in journald)', () => {
    const { reporter, text, time } = plainReporter('info', true);
    reporter.phase('scan', 'start');
    time.advance(25_000);
    reporter.phase('scan', 'end', '20000 files in DEST');
    reporter.phase('tree', 'start');
    reporter.work({ bytes: 0, items: 0, unit: 'objects' });
    for (let t = 1; t <= 12; t++) {
      time.advance(1000);
      reporter.work({ bytes: t * 1024 * 1024, items: t * 100, unit: 'objects' });
    }
    reporter.phase('tree', 'end');
    expect(text().split('\n').filter(Boolean)).toEqual([
      '<6>info: scan: running (10 s so far)',
      '<6>info: scan: running (20 s so far)',
      // A pack announces no size: bytes and rate, no percentage, no ETA.
      expect.stringMatching(/^<6>info: tree: 9\d0 objects, \d+\.\d MiB, \d+(\.\d)? [KM]iB\/s \(10 s so far\)$/),
    ]);
    expect(time.timers()).toBe(0);
  });
});

function ttyReporter(threshold: LogLevel = 'info', columns = 80) {
  const stream = createFakeTerminal(columns);
  const time = createManualTime();
  const reporter = createReporter({ stream, interactive: true, threshold, journal: true, now: time.now, schedule: time.schedule, frameMs: 100 });
  return { stream, time, reporter };
}

describe('interactive rendering (a terminal)', () => {
  it('spins a phase, keeps log lines above the live line, and turns the phase into a ✔ line', () => {
    const { stream, time, reporter } = ttyReporter();
    reporter.phase('resolve ref', 'start');
    expect(stream.screen()).toEqual(['⠋ resolve ref…']);
    time.advance(100);
    expect(stream.screen()).toEqual(['⠙ resolve ref…']);
    reporter.log('warn', 'Recovered an interrupted apply.');
    expect(stream.screen()).toEqual(['warn: Recovered an interrupted apply.', '⠙ resolve ref…']);
    time.advance(300);
    reporter.phase('resolve ref', 'end', 'main → 0123456789ab');
    expect(stream.screen()).toEqual(['warn: Recovered an interrupted apply.', '✔ resolve ref: main → 0123456789ab (0.4 s)', '']);
    // Journald prefixes are for plain output only.
    expect(stream.raw.join('')).not.toContain('<4>');
    expect(time.timers()).toBe(0);
  });

  it('draws a download bar with files, bytes, rate and ETA, within the terminal width', () => {
    const { stream, time, reporter } = ttyReporter('info', 100);
    reporter.phase('download', 'start');
    const MiB = 1024 * 1024;
    reporter.transfer({ doneBlobs: 0, totalBlobs: 40, doneBytes: 0, totalBytes: 40 * MiB });
    for (let i = 1; i <= 20; i++) {
      time.advance(100);
      reporter.transfer({ doneBlobs: i, totalBlobs: 40, doneBytes: i * MiB, totalBytes: 40 * MiB });
    }
    // Events come faster than frames; the next frame shows the latest.
    time.advance(100);
    const live = stream.screen().at(-1)!;
    expect(live).toMatch(/^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] download \[=+> +\] 50%, 20\/40 blobs, 20\.0 MiB of 40\.0 MiB, \d+\.\d MiB\/s, ETA 2\.\d s$/);
    expect(live.length).toBeLessThan(100);
    expect(stream.screen()).toHaveLength(1); // redrawn in place, never scrolled
    reporter.transfer({ doneBlobs: 40, totalBlobs: 40, doneBytes: 40 * MiB, totalBytes: 40 * MiB });
    // The ✔ line: the pipeline's detail, the time, what was received and how fast on average.
    reporter.phase('download', 'end', 'via blobs, 40 blobs, 40.0 MiB');
    expect(stream.screen()).toEqual(['✔ download: via blobs, 40 blobs, 40.0 MiB (2.1 s; 40.0 MiB received, 19.0 MiB/s)', '']);
  });

  it('a pack of unknown size shows bytes, objects and rate from the start, never a made-up percentage', () => {
    const { stream, time, reporter } = ttyReporter('info', 100);
    reporter.phase('tree', 'start');
    expect(stream.screen()).toEqual(['⠋ tree…']);
    for (let t = 1; t <= 30; t++) {
      time.advance(100);
      reporter.work({ bytes: t * 200 * 1024, items: t * 10, unit: 'objects' });
    }
    time.advance(100);
    expect(stream.screen().at(-1)).toMatch(/^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] tree: 300 objects, 5\.9 MiB, 1\.\d MiB\/s$/);
  });

  it('a tarball: percentage and rate follow the archive while unwanted entries stream past', () => {
    const { stream, time, reporter } = ttyReporter('info', 120);
    reporter.phase('transfer', 'start');
    const MiB = 1024 * 1024;
    // All 20 wanted blobs came early; the archive (40 MiB) goes on at 4 MiB/s.
    for (let t = 1; t <= 30; t++) {
      time.advance(100);
      reporter.transfer({ doneBlobs: 20, totalBlobs: 20, doneBytes: MiB, totalBytes: MiB, streamedBytes: t * 0.4 * MiB, streamTotal: 40 * MiB });
    }
    time.advance(100);
    expect(stream.screen().at(-1)).toMatch(/ 30%, 20\/20 blobs, 12\.0 MiB of 40\.0 MiB, [34]\.\d MiB\/s, ETA 7\.\d s$/);
  });

  it('nests phases (a dev-update step holds the sync\'s phases) and marks how each step ended', () => {
    const { stream, time, reporter } = ttyReporter();
    reporter.phase('pre-validate', 'end', 'all checks passed', 'ok');
    reporter.phase('pre-sync', 'end', 'no hooks.preSync configured', 'skipped');
    reporter.phase('sync', 'start');
    reporter.phase('tree', 'start');
    expect(stream.screen().at(-1)).toBe('  ⠋ tree…');
    time.advance(500);
    reporter.phase('tree', 'end', '3 files, 1 folder');
    expect(stream.screen().at(-1)).toMatch(/^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] sync…$/);
    reporter.phase('sync', 'end', '3 files changed (main 0123456789ab)', 'ok');
    reporter.phase('rebuild', 'start');
    time.advance(1000);
    reporter.phase('rebuild', 'end', "'make' exited with 2", 'failed');
    expect(stream.screen()).toEqual([
      '✔ pre-validate: all checks passed',
      '- pre-sync: no hooks.preSync configured',
      '  ✔ tree: 3 files, 1 folder (0.5 s)',
      '✔ sync: 3 files changed (main 0123456789ab) (0.5 s)',
      "✖ rebuild: 'make' exited with 2 (1.0 s)",
      '',
    ]);
    expect(time.timers()).toBe(0);
  });

  it('never draws a line wider than a narrow terminal', () => {
    const { stream, reporter } = ttyReporter('info', 40);
    reporter.phase('scan', 'start', 'a rather long description of what is being scanned right now');
    expect(stream.screen().at(-1)!.length).toBeLessThan(40);
    reporter.transfer({ doneBlobs: 5, totalBlobs: 1000, doneBytes: 5_000_000, totalBytes: 1_000_000_000 });
    expect(stream.screen().at(-1)!.length).toBeLessThan(40);
  });

  it('close() erases the live line and marks a phase that never ended as failed', () => {
    const { stream, time, reporter } = ttyReporter();
    reporter.phase('apply', 'start');
    time.advance(1200);
    reporter.close();
    expect(stream.screen()).toEqual(['✖ apply (1.2 s)', '']);
    expect(time.timers()).toBe(0);
    reporter.log('error', 'after close, logs still print');
    expect(stream.screen()).toEqual(['✖ apply (1.2 s)', 'error: after close, logs still print', '']);
  });

  it('with --quiet draws nothing but warnings and errors', () => {
    const { stream, time, reporter } = ttyReporter('warn');
    reporter.phase('scan', 'start');
    reporter.transfer({ doneBlobs: 1, totalBlobs: 2, doneBytes: 1, totalBytes: 2 });
    time.advance(1000);
    reporter.phase('scan', 'end');
    reporter.log('info', 'no');
    reporter.log('warn', 'yes');
    reporter.close();
    expect(stream.screen()).toEqual(['warn: yes', '']);
    expect(time.timers()).toBe(0);
  });

  it('with --verbose shows debug lines above the spinner', () => {
    const { stream, reporter } = ttyReporter('debug');
    reporter.phase('tree', 'start');
    reporter.log('debug', 'Ref main unchanged (304).');
    expect(stream.screen()).toEqual(['debug: Ref main unchanged (304).', '⠋ tree…']);
  });
});

describe('createOutput', () => {
  afterEach(() => {
    // createOutput sets kleur's global switch; leave it off for other tests.
    createOutput({ json: false, verbose: false, quiet: false, color: false, stderr: createFakeTerminal(), stdout: createFakeTerminal() });
  });

  it('plain stderr has no ANSI even with colour on, and journald priorities when asked', () => {
    const stderr = createFakeTerminal(80, false);
    const stdout = createFakeTerminal(80, false);
    const out = createOutput({ json: false, verbose: false, quiet: false, color: true, journal: true, stderr, stdout });
    out.log('warn', 'Skipping x.');
    out.progress.phase('scan', 'start');
    out.progress.phase('scan', 'end');
    out.line(`${out.paint.green('updated')} /srv`);
    expect(stderr.raw.join('')).toBe('<4>warn: Skipping x.\n');
    expect(stdout.raw.join('')).toContain('updated');
  });

  it('colours stderr and stdout each by its own setting', () => {
    const stderr = createFakeTerminal();
    const stdout = createFakeTerminal(80, false);
    const out = createOutput({ json: false, verbose: false, quiet: false, color: false, stderrColor: true, stderr, stdout });
    out.log('warn', 'coloured level');
    out.line(`${out.paint.green('updated')} /srv`);
    expect(stderr.raw.join('')).toContain('\x1b[33mwarn\x1b[39m: coloured level');
    expect(stdout.raw.join('')).toBe('updated /srv\n');
    const plain = createFakeTerminal();
    createOutput({ json: false, verbose: false, quiet: false, color: true, stderrColor: false, stderr: plain, stdout }).log('warn', 'x');
    expect(plain.raw.join('')).toBe('warn: x\n');
  });

  it('erases the bar before writing the result to stdout', () => {
    const stderr = createFakeTerminal();
    const out = createOutput({ json: false, verbose: false, quiet: false, color: false, stderr, stdout: stderr });
    out.progress.phase('download', 'start');
    out.progress.transfer({ doneBlobs: 1, totalBlobs: 2, doneBytes: 1, totalBytes: 2 });
    out.line('updated /srv');
    expect(stderr.screen()).toEqual(['updated /srv', '']);
    out.close();
  });

  it('redacts registered secrets from log lines and phase details', async () => {
    const { createRedactor } = await import('../../src/redact.js');
    const redact = createRedactor(['ghp_secretsecretsecretsecret0000']);
    const stderr = createFakeTerminal(80, false);
    const out = createOutput({ json: false, verbose: true, quiet: false, color: false, stderr, stdout: stderr, redact });
    out.log('info', 'token ghp_secretsecretsecretsecret0000 leaked?');
    out.progress.phase('x', 'start');
    out.progress.phase('x', 'end', 'ghp_secretsecretsecretsecret0000');
    expect(stderr.raw.join('')).not.toContain('ghp_secretsecretsecretsecret0000');
  });

  it('--quiet suppresses result lines; --json prints the document', () => {
    const stdout = createFakeTerminal(80, false);
    const quiet = createOutput({ json: false, verbose: false, quiet: true, color: false, stderr: createFakeTerminal(80, false), stdout });
    quiet.line('hidden');
    quiet.json({ ok: true });
    expect(stdout.raw.join('')).toBe('{\n  "ok": true\n}\n');
  });
});
