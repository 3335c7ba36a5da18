/**
 * `hostsync install-units`, run in-process against a temp prefix: the files it writes, the
 * ExecStart it points them at, --force, --dry-run (a diff, exit 3), --json, how it finds the
 * running binary, and the single-executable bundle writing the texts it embedded from systemd/.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { bundle } from '../../scripts/build-binary.js';
import { runCommand } from '../../src/cli/commands/install-units.js';
import { resolveExecCommand, type ExecDeps } from '../../src/units/exec.js';
import { installUnits } from '../../src/units/install.js';
import { execWarnings, planUnits, quoteExecWord } from '../../src/units/plan.js';
import { TEST_CODE_CACHE } from '../support/cli.js';
import { unifiedDiff } from '../../src/units/diff.js';
import { loadUnitTexts, readUnitFiles, UNIT_DOCS_PLACEHOLDER, UNIT_EXEC_PLACEHOLDER, UNIT_FILE_NAMES } from '../../src/units/texts.js';
import { ExitCode, UsageError } from '../../src/errors.js';
import { runInProcess, testIO } from '../support/io.js';
import { BIN, ROOT, SYSTEMD_DIR, systemdAnalyzeVersion, verify } from './analyze.js';

/** The files of systemd/, as shipped. */
const SHIPPED = await readUnitFiles(SYSTEMD_DIR);

/** A unit as written where no docs are installed: the placeholder links dropped. */
const withoutDocs = (text: string): string =>
  text
    .split('\n')
    .flatMap((line) => {
      if (!line.startsWith('Documentation=')) return [line];
      const kept = line.slice('Documentation='.length).split(' ').filter((uri) => !uri.startsWith(UNIT_DOCS_PLACEHOLDER));
      return kept.length === 0 ? [] : [`Documentation=${kept.join(' ')}`];
    })
    .join('\n');

let tmp: string;
let stdout: string;

beforeEach(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'hostsync-install-'));
  stdout = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});

afterEach(() => {
  vi.restoreAllMocks();
  rmSync(tmp, { recursive: true, force: true });
});

/** An in-process IO whose stdout is the test's `stdout`. */
function unitsIO(): ReturnType<typeof testIO> {
  const io = testIO({ cwd: tmp });
  return { ...io, stdout: { ...io.stdout, write: (text: string) => ((stdout += text), true) } };
}

/** An executable file standing in for an installed hostsync. */
function fakeBinary(name = 'hostsync'): string {
  const dir = path.join(tmp, 'opt', 'bin');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, '#!/bin/sh\nexit 0\n');
  chmodSync(file, 0o755);
  return file;
}

const unitDir = (): string => path.join(tmp, 'root', 'etc', 'systemd', 'system');
const readUnit = (unit: string): string => readFileSync(path.join(unitDir(), unit), 'utf8');
const shipped = (unit: string): string => readFileSync(path.join(SYSTEMD_DIR, unit), 'utf8');
const execLine = (text: string): string | undefined => text.split('\n').find((line) => line.startsWith('ExecStart='));
/** The report line for `file`: the verb, padding, the path. */
const reported = (verb: string, file: string): string[] => stdout.split('\n').filter((line) => line.startsWith(verb) && line.endsWith(` ${file}`) && line.slice(verb.length, -file.length).trim() === '');

describe('runCommand', () => {
  it('writes the five units into <prefix>/etc/systemd/system with ExecStart at --bin and Documentation= at the package\'s docs', async () => {
    const bin = fakeBinary();
    const code = await runCommand({ prefix: path.join(tmp, 'root'), bin }, [], unitsIO());
    expect(code).toBe(ExitCode.Ok);
    expect(execLine(readUnit('hostsync.service'))).toBe(`ExecStart=${bin} dev-update --config /etc/hostsync/config.json`);
    expect(execLine(readUnit('hostsync@.service'))).toBe(`ExecStart=${bin} dev-update --config /etc/hostsync/%i.json`);
    // Everything but the ExecStart path and the docs folder is the shipped text.
    const docs = `file:${path.join(ROOT, 'docs')}/`;
    for (const unit of UNIT_FILE_NAMES) expect(readUnit(unit)).toBe(shipped(unit).replace(`ExecStart=${UNIT_EXEC_PLACEHOLDER} `, `ExecStart=${bin} `).replaceAll(UNIT_DOCS_PLACEHOLDER, docs));
    expect(readUnit('hostsync.service')).toContain(`Documentation=${docs}systemd.md man:systemd.exec(5)\n`);
    expect(existsSync(path.join(ROOT, 'docs', 'systemd.md'))).toBe(true);
    for (const unit of UNIT_FILE_NAMES) expect(reported('created', path.join(unitDir(), unit))).toHaveLength(1);
    expect(stdout).toContain('systemctl daemon-reload && systemctl enable --now hostsync.timer');
    expect(stdout).toContain(`Copy the files in ${unitDir()}`);
  });

  it('leaves identical files alone, and refuses to replace a changed one without --force (exit 2, nothing written)', async () => {
    const bin = fakeBinary();
    const prefix = path.join(tmp, 'root');
    await runCommand({ prefix, bin }, [], unitsIO());
    stdout = '';
    await runCommand({ prefix, bin }, [], unitsIO());
    for (const unit of UNIT_FILE_NAMES) expect(reported('unchanged', path.join(unitDir(), unit))).toHaveLength(1);

    const edited = `${readUnit('hostsync.service')}\n# a local edit\n`;
    writeFileSync(path.join(unitDir(), 'hostsync.service'), edited);
    rmSync(path.join(unitDir(), 'hostsync.timer'));
    const failure = runCommand({ prefix, bin }, [], unitsIO());
    await expect(failure).rejects.toBeInstanceOf(UsageError);
    await expect(failure).rejects.toMatchObject({ exitCode: ExitCode.Usage, message: expect.stringContaining(path.join(unitDir(), 'hostsync.service')) as unknown });
    await expect(failure).rejects.toThrow('`systemctl edit hostsync.service`');
    expect(readUnit('hostsync.service')).toBe(edited);
    expect(existsSync(path.join(unitDir(), 'hostsync.timer'))).toBe(false);

    stdout = '';
    await runCommand({ prefix, bin, force: true }, [], unitsIO());
    expect(reported('replaced', path.join(unitDir(), 'hostsync.service'))).toHaveLength(1);
    expect(reported('created', path.join(unitDir(), 'hostsync.timer'))).toHaveLength(1);
    expect(readUnit('hostsync.service')).not.toContain('a local edit');
    expect(existsSync(path.join(unitDir(), 'hostsync.timer'))).toBe(true);
  });

  it('--dry-run --json reports the plan and writes nothing (exit 3: units would be written)', async () => {
    const bin = fakeBinary();
    const code = await runCommand({ prefix: path.join(tmp, 'root'), bin, dryRun: true, json: true }, [], unitsIO());
    expect(code).toBe(ExitCode.Pending);
    const report = JSON.parse(stdout) as { format: number; dryRun: boolean; execStart: string; source: string; units: { unit: string; action: string }[]; nextSteps: string[] };
    expect(report.format).toBe(1);
    expect(report.dryRun).toBe(true);
    expect(report.execStart).toBe(bin);
    expect(report.source).toBe('package');
    expect(report.units.map((entry) => [entry.unit, entry.action])).toEqual(UNIT_FILE_NAMES.map((unit) => [unit, 'create']));
    expect(existsSync(path.join(tmp, 'root'))).toBe(false);
  });

  it('keeps number-looking values as typed', async () => {
    const bin = fakeBinary('2');
    const run = await runInProcess(['install-units', '--prefix', path.join(tmp, 'root'), '--bin', bin], { cwd: tmp });
    expect(run.code).toBe(0);
    expect(execLine(readUnit('hostsync.service'))).toBe(`ExecStart=${bin} dev-update --config /etc/hostsync/config.json`);
  });

  it('a --bin missing here is an error for this host, a warning for units written under --prefix (for another host)', async () => {
    await expect(runCommand({ bin: path.join(tmp, 'nope'), dryRun: true }, [], unitsIO())).rejects.toThrow(/--bin .*nope`: no such file/);
    const elsewhere = await runInProcess(['install-units', '--prefix', path.join(tmp, 'root'), '--bin', '/run/current-system/sw/bin/hostsync-not-here'], { cwd: tmp });
    expect(elsewhere.code).toBe(0);
    expect(elsewhere.stderr).toMatch(/^warn: --bin \/run\/current-system\/sw\/bin\/hostsync-not-here: no such file on this host/m);
    expect(execLine(readUnit('hostsync.service'))).toBe('ExecStart=/run/current-system/sw/bin/hostsync-not-here dev-update --config /etc/hostsync/config.json');
  });

  it('--help examples run as printed on a host without /run/current-system (exit 0)', async () => {
    const help = await runInProcess(['install-units', '--help'], { cwd: tmp });
    const examples = help.stdout.split('\n').filter((line) => line.startsWith('  hostsync install-units --prefix'));
    expect(examples.length).toBeGreaterThan(0);
    for (const example of examples) {
      const run = await runInProcess(example.trim().split(/\s+/).slice(1), { cwd: tmp });
      expect(run.code, `${example}\n${run.stderr}`).toBe(0);
    }
  });

  it('--dry-run on an edited unit shows a unified diff and exits 3, not 2; unchanged units exit 0', async () => {
    const bin = fakeBinary();
    const prefix = path.join(tmp, 'root');
    await runCommand({ prefix, bin }, [], unitsIO());
    stdout = '';
    expect(await runCommand({ prefix, bin, dryRun: true }, [], unitsIO())).toBe(ExitCode.Ok);
    const timer = path.join(unitDir(), 'hostsync.timer');
    writeFileSync(timer, readUnit('hostsync.timer').replace('OnCalendar=*:0/15', 'OnCalendar=hourly'));
    stdout = '';
    expect(await runCommand({ prefix, bin, dryRun: true }, [], unitsIO())).toBe(ExitCode.Pending);
    expect(reported('differs', timer)).toHaveLength(1);
    expect(stdout).toContain(`--- ${timer} (installed)\n+++ ${timer} (this hostsync)\n`);
    expect(stdout).toMatch(/^-OnCalendar=hourly$/m);
    expect(stdout).toMatch(/^\+OnCalendar=\*:0\/15$/m);
    // The advice names the unit that was edited, not the service.
    expect(stdout).toContain('systemctl edit hostsync.timer');
    expect(stdout).not.toContain('systemctl edit hostsync.service');
    expect(readUnit('hostsync.timer')).toContain('OnCalendar=hourly');
    await expect(runCommand({ prefix, bin }, [], unitsIO())).rejects.toThrow(/hostsync\.timer differs.*`hostsync install-units --prefix \S+ --bin \S+ --dry-run`.*`systemctl edit hostsync\.timer`/);
  });

  it('reports a file-system problem as a failure (exit 1) naming the path', async () => {
    const bin = fakeBinary();
    const prefix = path.join(tmp, 'root');
    // A file where the unit directory should be: the write fails even for root.
    mkdirSync(path.dirname(unitDir()), { recursive: true });
    writeFileSync(unitDir(), '');
    await expect(runCommand({ prefix, bin }, [], unitsIO())).rejects.toMatchObject({ exitCode: ExitCode.Failure, message: expect.stringContaining(unitDir()) as unknown });
  });
});

describe('runCommand on an uncreatable prefix', () => {
  // Node 20's recursive mkdir loops forever when mkdir answers ENOENT under an existing parent.
  it.skipIf(!existsSync('/proc/self'))('fails with exit 1 instead of hanging (a prefix inside /proc)', async () => {
    await expect(runCommand({ prefix: '/proc/hostsync-no-such-dir', bin: fakeBinary() }, [], unitsIO())).rejects.toMatchObject({
      exitCode: ExitCode.Failure,
      message: expect.stringContaining('Cannot create /proc/hostsync-no-such-dir') as unknown,
    });
  }, 10_000);
});

describe.skipIf(systemdAnalyzeVersion() === undefined)('written units (systemd-analyze verify)', () => {
  it('quote an ExecStart path with a space and a % so that systemd reads it back', async () => {
    const dir = path.join(tmp, 'my tools', '100%');
    mkdirSync(dir, { recursive: true });
    const bin = path.join(dir, 'host sync');
    writeFileSync(bin, '#!/bin/sh\nexit 0\n');
    chmodSync(bin, 0o755);
    await runCommand({ prefix: path.join(tmp, 'root'), bin }, [], unitsIO());
    expect(execLine(readUnit('hostsync.service'))).toBe(`ExecStart="${path.join(tmp, 'my tools', '100%%', 'host sync')}" dev-update --config /etc/hostsync/config.json`);
    const run = verify([path.join(unitDir(), 'hostsync.service'), path.join(unitDir(), 'hostsync@demo.service')]);
    expect(run.stderr + run.stdout).toBe('');
    expect(run.status).toBe(0);
  });

  it('run node with bin/hostsync.js when pointed at them', async () => {
    const units = await installUnits({ prefix: path.join(tmp, 'root'), exec: [process.execPath, BIN] });
    expect(units.execStart).toBe(`${process.execPath} ${BIN}`);
    const run = verify([path.join(unitDir(), 'hostsync.service'), path.join(unitDir(), 'hostsync.timer')]);
    expect(run.stderr + run.stdout).toBe('');
  });
});

describe('resolveExecCommand', () => {
  const deps = (over: Partial<ExecDeps>): ExecDeps => ({
    cwd: '/work',
    execPath: '/usr/bin/node',
    argv1: '/usr/local/bin/hostsync',
    isSea: () => Promise.resolve(false),
    realpath: (file) => Promise.resolve(file === '/usr/local/bin/hostsync' ? '/usr/local/lib/node_modules/hostsync/bin/hostsync.js' : file),
    whyNotExecutable: () => Promise.resolve(undefined),
    ...over,
  });

  it.each<[string, Partial<ExecDeps>, string | undefined, readonly string[]]>([
    ['npm bin link: node + the real bin/hostsync.js', {}, undefined, ['/usr/bin/node', '/usr/local/lib/node_modules/hostsync/bin/hostsync.js']],
    ['single executable: itself', { isSea: () => Promise.resolve(true), execPath: '/usr/local/bin/hostsync' }, undefined, ['/usr/local/bin/hostsync']],
    ['relative script: made absolute', { argv1: 'bin/hostsync.js' }, undefined, ['/usr/bin/node', '/work/bin/hostsync.js']],
    ['--bin wins, made absolute, not resolved', { isSea: () => Promise.resolve(true) }, 'bin/hs', ['/work/bin/hs']],
  ])('%s', async (_name, over, bin, expected) => {
    expect((await resolveExecCommand(bin, deps(over))).exec).toEqual(expected);
  });

  it.each<[string, Partial<ExecDeps>, string | undefined, RegExp]>([
    ['--bin that cannot run', { whyNotExecutable: () => Promise.resolve('it is not executable') }, '/opt/hs', /`--bin \/opt\/hs`: it is not executable/],
    ['no script to point at', { argv1: undefined }, undefined, /pass `--bin/],
    ['running from TypeScript source', { argv1: '/work/src/cli/main.ts' }, undefined, /main\.ts, which node cannot run on its own/],
  ])('refuses: %s', async (_name, over, bin, message) => {
    await expect(resolveExecCommand(bin, deps(over))).rejects.toThrow(message);
  });

  it('follows a real symlink to the script', async () => {
    const link = path.join(tmp, 'hostsync');
    symlinkSync(BIN, link);
    const { realpath } = await import('node:fs/promises');
    expect((await resolveExecCommand(undefined, deps({ argv1: link, realpath: (file) => realpath(file) }))).exec).toEqual(['/usr/bin/node', BIN]);
  });
});

describe('pure helpers', () => {
  it.each([
    ['/usr/local/bin/hostsync', '/usr/local/bin/hostsync'],
    ['/opt/my tools/hostsync', '"/opt/my tools/hostsync"'],
    ['/opt/100%/hostsync', '/opt/100%%/hostsync'],
    ['/opt/a"b\\c', '"/opt/a\\"b\\\\c"'],
  ])('quoteExecWord(%j) = %s', (word, quoted) => {
    expect(quoteExecWord(word)).toBe(quoted);
  });

  it.each(['/opt/$HOME/hostsync', '/opt/new\nline'])('quoteExecWord refuses %j', (word) => {
    expect(() => quoteExecWord(word)).toThrow(UsageError);
  });

  it('planUnits: absent → create, same → unchanged, different → conflict, or update with force', () => {
    const rendered = { ...SHIPPED };
    const existing = { 'hostsync.timer': rendered['hostsync.timer'], 'hostsync@.timer': 'old' };
    const actions = (force: boolean): string[] => planUnits(rendered, existing, '/x', force).map((entry) => `${entry.path} ${entry.action}`);
    expect(actions(false)).toEqual(['/x/hostsync.service create', '/x/hostsync.timer unchanged', '/x/hostsync@.service create', '/x/hostsync@.timer conflict', '/x/hostsync-notify@.service create']);
    expect(actions(true)).toEqual(['/x/hostsync.service create', '/x/hostsync.timer unchanged', '/x/hostsync@.service create', '/x/hostsync@.timer update', '/x/hostsync-notify@.service create']);
  });

  it('warns about binaries the sandbox hides or a garbage collection removes', () => {
    expect(execWarnings(['/usr/bin/node', '/root/.npm/bin/hostsync.js'])).toEqual([expect.stringContaining('ProtectHome=yes')]);
    expect(execWarnings(['/tmp/x/hostsync'])).toEqual([expect.stringContaining('PrivateTmp=yes')]);
    expect(execWarnings(['/nix/store/abc-hostsync/bin/hostsync'])).toEqual([expect.stringContaining('/run/current-system/sw/bin/hostsync')]);
    expect(execWarnings(['/usr/local/bin/hostsync'])).toEqual([]);
  });

  it('reads the unit texts from the package\'s systemd/ folder', async () => {
    const units = await loadUnitTexts();
    expect(units.source).toBe('package');
    expect(units.texts).toEqual(SHIPPED);
    await expect(loadUnitTexts(path.join(tmp, 'nowhere'))).rejects.toThrow(/Cannot read the unit files in .*nowhere.*Reinstall hostsync/);
  });

  it('installs given texts as they are (the placeholder ExecStart replaced; without docs on the host, no Documentation= link to them)', async () => {
    const result = await installUnits({ prefix: path.join(tmp, 'root'), exec: ['/usr/local/bin/hostsync'], units: { source: 'embedded', texts: SHIPPED } });
    expect(result.source).toBe('embedded');
    for (const unit of UNIT_FILE_NAMES) expect(readUnit(unit)).toBe(withoutDocs(SHIPPED[unit]));
    expect(readUnit('hostsync.service')).toContain('Documentation=man:systemd.exec(5)\n');
    expect(readUnit('hostsync.timer')).not.toContain('Documentation=');
  });

  it.each([
    ['one line changed in the middle', 'a\nb\nc\nd\ne\nf\ng\nh\n', 'a\nb\nc\nd\nX\nf\ng\nh\n'],
    ['lines added at the end', 'a\nb\n', 'a\nb\nc\nd\n'],
    ['everything removed', 'a\nb\n', ''],
    ['from nothing', '', 'a\n'],
    ['two changes far apart', Array.from({ length: 20 }, (_, i) => `l${i}\n`).join(''), Array.from({ length: 20 }, (_, i) => (i === 2 || i === 17 ? `L${i}\n` : `l${i}\n`)).join('')],
    ['no final line feed', 'a\nb', 'a\nc'],
  ])('unifiedDiff matches diff -u: %s', (_name, before, after) => {
    const a = path.join(tmp, 'a');
    const b = path.join(tmp, 'b');
    writeFileSync(a, before);
    writeFileSync(b, after);
    const expected = spawnSync('diff', ['-u', '--label', 'A', '--label', 'B', a, b], { encoding: 'utf8' });
    expect(unifiedDiff(before, after, 'A', 'B')).toBe(expected.stdout);
    expect(unifiedDiff(before, before, 'A', 'B')).toBe('');
  });
});

describe('the single-executable bundle', () => {
  it('writes the unit texts it embedded from systemd/ at build time, with no package folder beside it', async () => {
    // The bundle the single executable runs, alone in a directory: no package.json, no systemd/.
    const dir = path.join(tmp, 'bundle');
    mkdirSync(dir);
    const script = path.join(dir, 'hostsync.cjs');
    await bundle(script);
    const bin = fakeBinary();
    const run = spawnSync(process.execPath, [script, 'install-units', '--prefix', path.join(tmp, 'root'), '--bin', bin, '--json'], { cwd: dir, encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CACHE_DIRECTORY: TEST_CODE_CACHE } });
    expect(run.status, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as { source: string }).source).toBe('embedded');
    for (const unit of UNIT_FILE_NAMES) expect(readUnit(unit)).toBe(withoutDocs(SHIPPED[unit].replace(`ExecStart=${UNIT_EXEC_PLACEHOLDER} `, `ExecStart=${bin} `)));
  }, 60_000);
});
