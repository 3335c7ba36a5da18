/**
 * Running checks: each in order, an expected failure inside a check (a HostsyncError) reported as
 * that check failing; with `fix`, every fixable problem repaired in check order (state first, so
 * an interrupted apply is settled before anything else looks at DEST), then every check run again
 * on a fresh context so the report says what remains.
 */
import { errorMessage, HostsyncError } from '../errors.js';
import type { Check, CheckContext, CheckOutcome, CheckResult } from './types.js';
import { outcome } from './outcome.js';

/** The report of one validate. */
export interface ValidationReport {
  /** No check failed (warnings allowed). */
  readonly ok: boolean;
  readonly checks: readonly CheckResult[];
  /** What each attempted fix did (or why it failed), in order. */
  readonly fixes: readonly { readonly id: string; readonly ok: boolean; readonly message: string }[];
}

export interface RunOptions {
  readonly fix: boolean;
  /** Called as each fix is made, for the log. */
  readonly onFix?: ((id: string, ok: boolean, message: string) => void) | undefined;
}

/** Run one check, turning an expected failure inside it into a failing outcome. */
async function runOne(check: Check, context: CheckContext): Promise<CheckOutcome> {
  try {
    return await check.run(context);
  } catch (error) {
    if (error instanceof HostsyncError) return outcome('fail', `The check could not run: ${error.message}`);
    throw error;
  }
}

/** Run every check once. */
export async function runChecks(checks: readonly Check[], context: CheckContext): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) results.push({ id: check.id, ...(await runOne(check, context)), fixed: false });
  return results;
}

/** Whether a report has a failing check. Pure. */
export function hasFailure(results: readonly Pick<CheckResult, 'status'>[]): boolean {
  return results.some((result) => result.status === 'fail');
}

/**
 * Run the checks; with `fix`, repair and run again. `makeContext` is called once per pass, so the
 * second pass sees the state the fixes left (a recovered manifest, a fresh scan).
 */
export async function runValidation(checks: readonly Check[], makeContext: () => Promise<CheckContext>, options: RunOptions): Promise<ValidationReport> {
  const first = await runChecks(checks, await makeContext());
  if (!options.fix || !first.some((result) => result.fixable)) return { ok: !hasFailure(first), checks: first, fixes: [] };
  const fixes: { id: string; ok: boolean; message: string }[] = [];
  let context = await makeContext();
  for (const check of checks) {
    const found = first.find((result) => result.id === check.id);
    if (found === undefined || !found.fixable || check.fix === undefined) continue;
    // Re-run first: an earlier fix (the integrity restore) may already have repaired this one.
    const now = await runOne(check, context);
    if (!now.fixable) continue;
    try {
      const message = await check.fix(context, now);
      fixes.push({ id: check.id, ok: true, message });
      options.onFix?.(check.id, true, message);
    } catch (error) {
      if (!(error instanceof HostsyncError)) throw error;
      fixes.push({ id: check.id, ok: false, message: errorMessage(error) });
      options.onFix?.(check.id, false, errorMessage(error));
    }
    context = await makeContext(); // the fix changed what later checks see
  }
  const second = await runChecks(checks, context);
  const results = second.map((result): CheckResult => {
    const before = first.find((r) => r.id === result.id);
    const attempt = fixes.find((f) => f.id === result.id);
    const repaired = before !== undefined && before.status !== result.status && (result.status === 'pass' || result.status === 'skip');
    const fixed = repaired && (attempt?.ok === true || before.fixable);
    if (fixed) {
      // Report what was repaired: the paths found before, and what the fix did.
      const did = attempt?.ok === true ? ` Fixed: ${attempt.message}` : ' Fixed by an earlier repair.';
      return { ...result, message: result.message + did, paths: before.paths, fixed };
    }
    const failedFix = attempt !== undefined && !attempt.ok ? ` (--fix failed: ${attempt.message})` : '';
    return { ...result, message: result.message + failedFix, fixed };
  });
  return { ok: !hasFailure(results), checks: results, fixes };
}
