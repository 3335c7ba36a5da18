/**
 * `hooks.onOutcome`: a notification of how a run ended — what git-sync's exechook and comin's
 * post-deployment command give their users. After every sync, dev-update, rollback and restore
 * (success, failure, pending changes, a rollback), the command runs through the exec edge with the
 * run's JSON document (the one `--json` prints, docs/output.md) on stdin and the environment every
 * command gets (src/child-env.ts: no token), plus:
 *
 *   HOSTSYNC_OUTCOME    success | failure | pending | rollback
 *   HOSTSYNC_COMMAND    sync | dev-update | rollback | restore
 *   HOSTSYNC_EXIT_CODE  the run's exit code
 *   HOSTSYNC_DEST       DEST as configured
 *
 * It runs after the lock is released (a notifier may call hostsync), and its failure is logged as
 * a warning but never changes the run's exit code: a broken webhook must not turn a good sync into
 * a failed unit (docs/configuration.md, "Hooks").
 */
import { childEnv } from '../child-env.js';
import type { Logger } from '../model.js';
import type { Exec } from './exec.js';
import { describeEnd } from './hooks.js';

/** How a run ended, as the hook is told. */
export type Outcome = 'success' | 'failure' | 'pending' | 'rollback';

/** The hook's timeout: a notification that takes longer is stuck. */
export const OUTCOME_TIMEOUT_SEC = 120;

export interface OutcomeRun {
  readonly command: string;
  readonly outcome: Outcome;
  readonly exitCode: number;
  readonly dest: string | undefined;
  /** The run's JSON document, redacted, as `--json` prints it. */
  readonly document: string;
}

export interface OutcomeDeps {
  readonly exec: Exec;
  /** hostsync's environment, before childEnv strips tokens and HOSTSYNC_* settings. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: Logger;
  readonly signal?: AbortSignal | undefined;
}

/** The outcome of a run from its exit code (0 ok, 3 pending, else failure), `rollback` when DEST was rolled back. */
export function outcomeOf(exitCode: number, rolledBack: boolean): Outcome {
  if (rolledBack) return 'rollback';
  return exitCode === 0 ? 'success' : exitCode === 3 ? 'pending' : 'failure';
}

/** The hook's environment. Pure. */
export function outcomeEnv(base: Readonly<Record<string, string | undefined>>, run: OutcomeRun): Record<string, string> {
  return { ...childEnv(base), HOSTSYNC_OUTCOME: run.outcome, HOSTSYNC_COMMAND: run.command, HOSTSYNC_EXIT_CODE: String(run.exitCode), HOSTSYNC_DEST: run.dest ?? '' };
}

/**
 * Run the hook once. Resolves whether it succeeded; a failure (exit status, timeout, no shell) is
 * logged as a warning with its last lines, never thrown.
 */
export async function runOutcomeHook(command: string, run: OutcomeRun, deps: OutcomeDeps): Promise<boolean> {
  deps.log('debug', `onOutcome: running ${command} (${run.outcome})`);
  const result = await deps.exec(command, {
    env: outcomeEnv(deps.env, run),
    input: `${run.document}\n`,
    timeoutMs: OUTCOME_TIMEOUT_SEC * 1000,
    signal: deps.signal,
    onLine: (line) => deps.log('info', `onOutcome │ ${line}`),
  });
  const ok = result.code === 0 && !result.timedOut && result.startError === undefined;
  if (!ok) {
    const tail = result.lastLines.length === 0 ? '' : ` Last lines of its output:\n  ${result.lastLines.join('\n  ')}`;
    deps.log('warn', `hooks.onOutcome command '${command}' ${describeEnd(result, OUTCOME_TIMEOUT_SEC)}; the run's own result (exit ${run.exitCode}) stands.${tail}`);
  }
  return ok;
}
