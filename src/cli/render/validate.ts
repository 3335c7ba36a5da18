/** A validate report for people (one line per check) and programs (`--json`); dev-update shows it too. */
import type { CheckResult } from '../../checks/types.js';
import type { ValidateResult } from '../../checks/validate.js';
import type { Output } from '../output.js';

/** The `--json` fields: `{ok, checks: [{id, status, message, paths, fixable, fixed}]}`. */
export function validateJson(result: ValidateResult): { ok: boolean; dest: string; commit: string | null; checks: Record<string, unknown>[] } {
  return { ok: result.ok, dest: result.dest, commit: result.commit ?? null, checks: result.checks.map(checkJson) };
}

function checkJson(check: CheckResult): Record<string, unknown> {
  return { id: check.id, status: check.status, message: check.message, paths: check.paths, fixable: check.fixable, fixed: check.fixed };
}

/** Counts by status: "1 failed, 2 warning(s), 5 passed, 1 skipped". */
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
