/** A dev-update for people (the step-by-step summary) and programs (`--json`: one object with `steps`). */
import type { DevUpdateResult, StepResult } from '../../pipeline/dev-update.js';
import type { Held } from '../held.js';
import type { Output } from '../output.js';
import type { PhaseOutcome } from '../progress.js';
import { jsonError } from './json.js';
import { syncHeadline, syncJson } from './sync.js';
import { countStatuses, renderValidation, validateJson } from './validate.js';

/** The `--json` fields (docs/dev-update.md). */
export function devUpdateJson(result: DevUpdateResult, held: Held | undefined): Record<string, unknown> & { ok: boolean } {
  return {
    ok: result.ok,
    exitCode: result.exitCode,
    checkOnly: result.checkOnly,
    dest: result.dest,
    commit: result.commit ?? null,
    previousCommit: result.previousCommit ?? null,
    held: held === undefined ? null : { commit: held.commit, refCommit: held.refCommit },
    error: result.error === undefined ? null : jsonError(result.error, result.exitCode),
    steps: result.steps.map((step) => stepJson(step, held)),
  };
}

function stepJson(step: StepResult, held: Held | undefined): Record<string, unknown> {
  const json: Record<string, unknown> = { name: step.name, status: step.status, durationMs: step.durationMs, summary: stepSummary(step, held), changed: step.changed };
  if (step.validation !== undefined) json['validation'] = validateJson(step.validation);
  if (step.sync !== undefined) json['sync'] = syncJson(step.sync, held);
  if (step.command !== undefined) {
    const { command, code, signal, timedOut, lastLines } = step.command;
    json['command'] = { command, code, signal, timedOut, lastLines, ...('rollback' in step.command && step.command.rollback !== undefined ? { rollback: step.command.rollback } : {}) };
  }
  return json;
}

/** A step's one line; the sync step's says what DEST holds, held back after a rollback included. */
export function stepSummary(step: StepResult, held: Held | undefined): string {
  if (step.name !== 'sync' || step.sync === undefined || step.status === 'failed') return step.summary;
  return syncHeadline(step.sync, held);
}

/** How a step's live line is marked (src/cli/progress.ts). */
export function stepOutcome(step: StepResult): PhaseOutcome {
  return step.status === 'ok' ? 'ok' : step.status === 'failed' ? 'failed' : step.status === 'skipped' ? 'skipped' : 'pending';
}

/**
 * The step-by-step summary. With `live` (the steps were drawn on the terminal as they ran) the
 * table is not repeated: the header, what a failed or verbose step has to show, and the verdict.
 */
export function renderDevUpdate(result: DevUpdateResult, out: Output, verbose: boolean, held: Held | undefined, live = false): void {
  const p = out.paint;
  if (live) {
    for (const step of result.steps) {
      if (step.validation !== undefined && (verbose || step.status === 'failed')) renderValidation(step.validation, out, { verbose, fix: false, indent: '  ' });
      if (step.changed.length > 0 && (verbose || result.checkOnly)) for (const path of step.changed) out.line(`  ${step.name}: ${path}`);
    }
    const verdict = result.exitCode === 0 ? p.green('done') : result.exitCode === 3 ? p.yellow('pending changes') : p.red('failed');
    out.line(`${verdict} (exit ${result.exitCode}): dev-update ${result.dest}${result.commit === undefined ? '' : ` at ${result.commit.slice(0, 12)}`}`);
    return;
  }
  const paint: Record<StepResult['status'], (s: string) => string> = { ok: p.green, failed: p.red, skipped: p.gray, pending: p.yellow, 'would-run': p.cyan };
  const head = result.checkOnly ? 'dev-update --check-only' : 'dev-update';
  out.line(`${head} ${result.dest}${result.commit === undefined ? '' : ` at ${result.commit.slice(0, 12)}`}${result.previousCommit !== undefined && result.previousCommit !== result.commit ? ` (was ${result.previousCommit.slice(0, 12)})` : ''}`);
  for (const step of result.steps) {
    const time = step.status === 'skipped' || step.status === 'would-run' ? '' : p.gray(` ${(step.durationMs / 1000).toFixed(2)} s`);
    const [first = '', ...rest] = stepSummary(step, held).split('\n');
    out.line(`  ${paint[step.status](step.status.padEnd(9))} ${step.name.padEnd(13)} ${first}${time}`);
    for (const line of rest) if (line.trim() !== '') out.line(`                        ${line}`);
    if (step.validation !== undefined && (verbose || step.status === 'failed')) renderValidation(step.validation, out, { verbose, fix: false, indent: '    ' });
    else if (step.validation !== undefined) out.line(`                          ${p.gray(countStatuses(step.validation.checks))}`);
    if (step.changed.length > 0 && (verbose || result.checkOnly)) for (const path of step.changed) out.line(`                          ${path}`);
  }
  const verdict = result.exitCode === 0 ? p.green('done') : result.exitCode === 3 ? p.yellow('pending changes') : p.red('failed');
  out.line(`${verdict} (exit ${result.exitCode})`);
}
