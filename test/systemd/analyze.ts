/**
 * Helpers for the systemd tests: run `systemd-analyze` on unit files copied into a temp dir with
 * ExecStart pointing at a real executable (verify checks that it exists).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatExec, renderUnit } from '../../src/units/plan.js';
import { UNIT_FILE_NAMES } from '../../src/units/texts.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SYSTEMD_DIR = path.join(ROOT, 'systemd');
export const BIN = path.join(ROOT, 'bin', 'hostsync.js');

/** The systemd version of `systemd-analyze`, or undefined when it is not installed. */
export function systemdAnalyzeVersion(): number | undefined {
  const result = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (result.error !== undefined || result.status !== 0) return undefined;
  const match = /^systemd (\d+)/.exec(result.stdout);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function analyze(args: readonly string[], cwd?: string): Run {
  const result = spawnSync('systemd-analyze', args, { encoding: 'utf8', cwd, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', SYSTEMD_COLORS: '0', SYSTEMD_PAGER: '' } });
  if (result.error !== undefined) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `systemd-analyze verify` without manual-page or generator checks, which depend on the machine. */
export function verify(files: readonly string[], root?: string): Run {
  return analyze(['verify', '--man=no', '--generators=no', ...(root === undefined ? [] : [`--root=${root}`]), ...files]);
}

/** The overall exposure score `systemd-analyze security --offline=yes` gives a unit. */
export function securityScore(unit: string, root?: string): { score: number; output: string } {
  const run = analyze(['security', '--offline=yes', ...(root === undefined ? [] : [`--root=${root}`]), unit]);
  const match = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(run.stdout);
  if (run.status !== 0 || match?.[1] === undefined) throw new Error(`systemd-analyze security ${unit} failed (exit ${run.status}):\n${run.stdout}\n${run.stderr}`);
  return { score: Number(match[1]), output: run.stdout };
}

/** A temp dir holding the shipped units with ExecStart = node bin/hostsync.js (a real executable). */
export function renderedUnitDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'hostsync-units-'));
  const execStart = formatExec([process.execPath, BIN]);
  for (const unit of UNIT_FILE_NAMES) writeFileSync(path.join(dir, unit), renderUnit(unit, readFileSync(path.join(SYSTEMD_DIR, unit), 'utf8'), execStart));
  return dir;
}

/** A root tree `<root>/etc/systemd/system` with the units and `dropIn` installed for `unit`. */
export function rootWithDropIn(unit: string, dropInName: string, dropIn: string): string {
  const root = mkdtempSync(path.join(tmpdir(), 'hostsync-root-'));
  const dir = path.join(root, 'etc', 'systemd', 'system');
  mkdirSync(path.join(dir, `${unit}.d`), { recursive: true });
  const source = renderedUnitDir();
  for (const name of UNIT_FILE_NAMES) writeFileSync(path.join(dir, name), readFileSync(path.join(source, name)));
  writeFileSync(path.join(dir, `${unit}.d`, dropInName), dropIn);
  return root;
}
