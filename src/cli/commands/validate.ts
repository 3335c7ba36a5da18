/** `hostsync validate [--fix] [--prune]`: health checks of an install, each pass / warn / fail / skip. */
import type { CheckResult } from '../../checks/types.js';
import type { ValidateResult } from '../../checks/validate.js';
import type { LooseConfig } from '../../config/types.js';
import { ExitCode, UsageError } from '../../errors.js';
import type { GitHubClient } from '../../github/types.js';
import { loadLooseCommandConfig } from '../load.js';
import type { CliIO, Timing } from '../io.js';
import type { Output } from '../output.js';
import { githubClient } from '../github.js';

export async function runCommand(flags: Record<string, unknown>, argv: readonly string[], io: CliIO): Promise<number> {
  const { config, output } = await loadLooseCommandConfig(flags, argv, io, { repo: false, dest: true });
  if (config.dest === undefined) throw new UsageError('validate needs the destination: pass --dest DIR, or --config FILE with "dest".');
  const fix = flags['fix'] === true;
  const [{ validateDestination }, { createExec }] = await Promise.all([import('../../checks/validate.js'), import('../../pipeline/exec.js')]);
  const result = await validateDestination(
    { ...config, dest: config.dest },
    { fix },
    { runCommand: createExec(), env: io.env, log: output.log, createClient: clientFactory(config, output, io.timing) },
  );
  if (config.json) output.json(validateJson(result));
  else renderValidation(result, output, { verbose: config.verbose, fix });
  return result.ok ? ExitCode.Ok : ExitCode.Failure;
}

/** A GitHub client factory for downloads a fix needs (repository from the config or the manifest); loads Octokit only when called. */
export function clientFactory(config: Pick<LooseConfig, 'apiUrl' | 'token' | 'timeoutSec' | 'stallSec' | 'concurrency' | 'lowSpeedLimit' | 'lowSpeedTimeSec'>, output: Output, timing?: Timing): (repo: string) => Promise<GitHubClient> {
  return async (repo) => githubClient(config, repo, output, timing);
}

/** The `--json` shape: `{ok, checks: [{id, status, message, paths, fixable, fixed}]}`. */
export function validateJson(result: ValidateResult): Record<string, unknown> {
  return { ok: result.ok, checks: result.checks.map(checkJson) };
}

function checkJson(check: CheckResult): Record<string, unknown> {
  return { id: check.id, status: check.status, message: check.message, paths: check.paths, fixable: check.fixable, fixed: check.fixed };
}

/** Counts by status: "1 failed, 2 warnings, 5 passed, 1 skipped". */
export function countStatuses(checks: readonly CheckResult[]): string {
  const count = (status: CheckResult['status']): number => checks.filter((check) => check.status === status).length;
  return `${count('fail')} failed, ${count('warn')} warning(s), ${count('pass')} passed, ${count('skip')} skipped`;
}

/** The human report: one line per check, paths beneath long lists (all with --verbose). */
export function renderValidation(result: ValidateResult, out: Output, options: { verbose: boolean; fix: boolean; indent?: string }): void {
  const p = out.paint;
  const indent = options.indent ?? '';
  const paint: Record<CheckResult['status'], (s: string) => string> = { pass: p.green, warn: p.yellow, fail: p.red, skip: p.gray };
  const width = Math.max(0, ...result.checks.map((check) => check.id.length));
  if (indent === '') out.line(`validate ${result.dest}${result.commit === undefined ? '' : ` (commit ${result.commit.slice(0, 12)})`}`);
  for (const check of result.checks) {
    const mark = check.fixed ? '' : check.fixable ? p.cyan(options.fix ? ' (fixable)' : ' (--fix repairs this)') : '';
    out.line(`${indent}  ${paint[check.status](check.status.padEnd(4))}  ${check.id.padEnd(width)}  ${check.message}${mark}`);
    if (check.paths.length > 10 || (options.verbose && check.paths.length > 0 && check.status !== 'pass')) {
      for (const path of check.paths) out.line(`${indent}        ${' '.repeat(width)}  ${path}`);
    }
  }
  const fixed = result.checks.filter((check) => check.fixed).length;
  const verdict = result.ok ? p.green('ok') : p.red('failed');
  out.line(`${indent}${verdict}: ${countStatuses(result.checks)}${options.fix ? `; ${fixed} fixed` : ''}`);
}
