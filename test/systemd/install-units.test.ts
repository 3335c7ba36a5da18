/**
 * `hostsync install-units`, run in-process against a temp prefix: the files it writes, the
 * ExecStart it points them at, --force, --dry-run, --json, and how it finds the running binary.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  execWarnings,
  installUnits,
  loadUnitTexts,
  planUnits,
  quoteExecWord,
  resolveExecCommand,
  runCommand,
  type ExecDeps,
} from '../../src/cli/commands/install-units.js';
import { EMBEDDED_UNITS, UNIT_EXEC_PLACEHOLDER, UNIT_FILE_NAMES } from '../../src/cli/units.js';
import { ExitCode, UsageError } from '../../src/errors.js';
import { testIO } from '../support/io.js';
import { BIN, SYSTEMD_DIR, systemdAnalyzeVersion, verify } from './analyze.js';

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
  it('writes the four units into <prefix>/etc/systemd/system with ExecStart at --bin', async () => {
    const bin = fakeBinary();
    const code = await runCommand({ prefix: path.join(tmp, 'root'), bin }, [], unitsIO());
    expect(code).toBe(ExitCode.Ok);
    expect(execLine(readUnit('hostsync.service'))).toBe(`ExecStart=${bin} dev-update --config /etc/hostsync/config.json`);
    expect(execLine(readUnit('hostsync@.service'))).toBe(`ExecStart=${bin} dev-update --config /etc/hostsync/%i.json`);
    // Everything but the ExecStart path is the shipped text.
    for (const unit of UNIT_FILE_NAMES) expect(readUnit(unit)).toBe(shipped(unit).replace(`ExecStart=${UNIT_EXEC_PLACEHOLDER} `, `ExecStart=${bin} `));
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
    expect(readUnit('hostsync.service')).toBe(edited);
    expect(existsSync(path.join(unitDir(), 'hostsync.timer'))).toBe(false);

    stdout = '';
    await runCommand({ prefix, bin, force: true }, [], unitsIO());
    expect(reported('replaced', path.join(unitDir(), 'hostsync.service'))).toHaveLength(1);
    expect(reported('created', path.join(unitDir(), 'hostsync.timer'))).toHaveLength(1);
    expect(readUnit('hostsync.service')).not.toContain('a local edit');
    expect(existsSync(path.join(unitDir(), 'hostsync.timer'))).toBe(true);
  });

  it('--dry-run --json reports the plan and writes nothing', async () => {
    const bin = fakeBinary();
    await runCommand({ prefix: path.join(tmp, 'root'), bin, dryRun: true, json: true }, [], unitsIO());
    const report = JSON.parse(stdout) as { dryRun: boolean; execStart: string; source: string; units: { unit: string; action: string }[]; nextSteps: string[] };
    expect(report.dryRun).toBe(true);
    expect(report.execStart).toBe(bin);
    expect(report.source).toBe('package');
    expect(report.units.map((entry) => [entry.unit, entry.action])).toEqual(UNIT_FILE_NAMES.map((unit) => [unit, 'create']));
    expect(existsSync(path.join(tmp, 'root'))).toBe(false);
  });

  it('keeps number-looking values as typed and rejects a missing --bin', async () => {
    const bin = fakeBinary('2');
    await runCommand({ prefix: path.join(tmp, 'root'), bin: 2 }, ['install-units', '--bin', bin], unitsIO());
    expect(execLine(readUnit('hostsync.service'))).toBe(`ExecStart=${bin} dev-update --config /etc/hostsync/config.json`);
    await expect(runCommand({ prefix: path.join(tmp, 'root'), bin: path.join(tmp, 'nope') }, [], unitsIO())).rejects.toThrow(/--bin .*nope`: no such file/);
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
    expect(await resolveExecCommand(bin, deps(over))).toEqual(expected);
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
    expect(await resolveExecCommand(undefined, deps({ argv1: link, realpath: (file) => realpath(file) }))).toEqual(['/usr/bin/node', BIN]);
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
    const rendered = { ...EMBEDDED_UNITS };
    const existing = { 'hostsync.timer': rendered['hostsync.timer'], 'hostsync@.timer': 'old' };
    const actions = (force: boolean): string[] => planUnits(rendered, existing, '/x', force).map((entry) => `${entry.path} ${entry.action}`);
    expect(actions(false)).toEqual(['/x/hostsync.service create', '/x/hostsync.timer unchanged', '/x/hostsync@.service create', '/x/hostsync@.timer conflict']);
    expect(actions(true)).toEqual(['/x/hostsync.service create', '/x/hostsync.timer unchanged', '/x/hostsync@.service create', '/x/hostsync@.timer update']);
  });

  it('warns about binaries the sandbox hides or a garbage collection removes', () => {
    expect(execWarnings(['/usr/bin/node', '/root/.npm/bin/hostsync.js'])).toEqual([expect.stringContaining('ProtectHome=yes')]);
    expect(execWarnings(['/tmp/x/hostsync'])).toEqual([expect.stringContaining('PrivateTmp=yes')]);
    expect(execWarnings(['/nix/store/abc-hostsync/bin/hostsync'])).toEqual([expect.stringContaining('/run/current-system/sw/bin/hostsync')]);
    expect(execWarnings(['/usr/local/bin/hostsync'])).toEqual([]);
  });

  it('reads the unit texts from the package, which equal the embedded copies', async () => {
    const units = await loadUnitTexts();
    expect(units.source).toBe('package');
    expect(units.texts).toEqual(EMBEDDED_UNITS);
  });

  it('installs from the embedded copies when there is no package folder', async () => {
    const result = await installUnits({ prefix: path.join(tmp, 'root'), exec: ['/usr/local/bin/hostsync'], units: { source: 'embedded', texts: EMBEDDED_UNITS } });
    expect(result.source).toBe('embedded');
    for (const unit of UNIT_FILE_NAMES) expect(readUnit(unit)).toBe(EMBEDDED_UNITS[unit]);
  });
});
