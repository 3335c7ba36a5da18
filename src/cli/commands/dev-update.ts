/**
 * `hostsync dev-update`: validate → sync → rebuild → validate as one command, reading everything
 * but a few flags from --config (default /etc/hostsync/config.json), with a step-by-step summary.
 */
import type { Config } from '../../config/types.js';
import { HostsyncError } from '../../errors.js';
import { recordSyncMetrics, type SyncRun } from '../metrics.js';
import { loadCommandConfig } from '../load.js';
import type { CliIO } from '../io.js';
import type { Output } from '../output.js';
import type { DevUpdateResult, StepResult } from '../../pipeline/dev-update.js';
import { toJson as syncJson } from './sync.js';
import { clientFactory, countStatuses, renderValidation, validateJson } from './validate.js';
import { githubClient, retryPolicy } from '../github.js';

export async function runCommand(flags: Record<string, unknown>, argv: readonly string[], io: CliIO): Promise<number> {
  const { config, output } = await loadCommandConfig(flags, argv, io, { defaultConfigFile: true });
  const [{ runDevUpdate }, { createExec }, { validateDestination }] = await Promise.all([
    import('../../pipeline/dev-update.js'),
    import('../../pipeline/exec.js'),
    import('../../checks/validate.js'),
  ]);
  const exec = createExec();
  const env = io.env;
  const startedAt = Date.now();
  const result = await runDevUpdate(
    config,
    { fix: flags['fix'] === true, skipRebuild: flags['skipRebuild'] === true },
    {
      sync: {
        log: output.log,
        env: io.env,
        signal: io.signal,
        retry: retryPolicy(io.timing),
        onProgress: output.progress.transfer,
        onPhase: output.progress.phase,
        createClient: (c: Config, signal: AbortSignal) => githubClient(c, c.repo, output, io.timing, signal),
      },
      exec,
      env,
      log: output.log,
      validate: (fix, destination) => validateDestination(config, { fix }, { runCommand: exec, env, log: output.log, createClient: clientFactory(config, output, io.timing), destination }),
    },
  ).catch(async (error: unknown) => {
    await recordSyncMetrics(config, { startedAt, finishedAt: Date.now(), error }, output.log);
    throw error;
  });
  await recordSyncMetrics(config, metricsRun(result, startedAt), output.log);
  if (config.json) output.json(devUpdateJson(result));
  else renderDevUpdate(result, output, config.verbose);
  if (result.error !== undefined) output.log('error', result.error);
  return result.exitCode;
}

/** What the metrics file records of a dev-update: its sync, with the whole run's exit code. */
function metricsRun(result: DevUpdateResult, startedAt: number): SyncRun {
  const sync = result.steps.find((step) => step.name === 'sync')?.sync;
  const finishedAt = Date.now();
  if (sync !== undefined) return { startedAt, finishedAt, result: sync, exitCode: result.exitCode };
  return { startedAt, finishedAt, error: new HostsyncError(result.error ?? 'dev-update stopped before the sync', result.exitCode) };
}

/** The `--json` shape: one object with a `steps` array (see docs/dev-update.md). */
export function devUpdateJson(result: DevUpdateResult): Record<string, unknown> {
  return {
    ok: result.ok,
    exitCode: result.exitCode,
    checkOnly: result.checkOnly,
    dest: result.dest,
    commit: result.commit ?? null,
    previousCommit: result.previousCommit ?? null,
    error: result.error ?? null,
    steps: result.steps.map(stepJson),
  };
}

function stepJson(step: StepResult): Record<string, unknown> {
  const json: Record<string, unknown> = { name: step.name, status: step.status, durationMs: step.durationMs, summary: step.summary, changed: step.changed };
  if (step.validation !== undefined) json['validation'] = validateJson(step.validation);
  if (step.sync !== undefined) json['sync'] = syncJson(step.sync);
  if (step.command !== undefined) {
    const { command, code, signal, timedOut, lastLines } = step.command;
    json['command'] = { command, code, signal, timedOut, lastLines, ...('rollback' in step.command && step.command.rollback !== undefined ? { rollback: step.command.rollback } : {}) };
  }
  return json;
}

/** The step-by-step summary. */
export function renderDevUpdate(result: DevUpdateResult, out: Output, verbose: boolean): void {
  const p = out.paint;
  const paint: Record<StepResult['status'], (s: string) => string> = { ok: p.green, failed: p.red, skipped: p.gray, pending: p.yellow, 'would-run': p.cyan };
  const head = result.checkOnly ? 'dev-update --check-only' : 'dev-update';
  out.line(`${head} ${result.dest}${result.commit === undefined ? '' : ` at ${result.commit.slice(0, 12)}`}${result.previousCommit !== undefined && result.previousCommit !== result.commit ? ` (was ${result.previousCommit.slice(0, 12)})` : ''}`);
  for (const step of result.steps) {
    const time = step.status === 'skipped' || step.status === 'would-run' ? '' : p.gray(` ${(step.durationMs / 1000).toFixed(2)} s`);
    const [first = '', ...rest] = step.summary.split('\n');
    out.line(`  ${paint[step.status](step.status.padEnd(9))} ${step.name.padEnd(13)} ${first}${time}`);
    for (const line of rest) if (line.trim() !== '') out.line(`                        ${line}`);
    if (step.validation !== undefined && (verbose || step.status === 'failed')) renderValidation(step.validation, out, { verbose, fix: false, indent: '    ' });
    else if (step.validation !== undefined) out.line(`                          ${p.gray(countStatuses(step.validation.checks))}`);
    if (step.changed.length > 0 && (verbose || result.checkOnly)) for (const path of step.changed) out.line(`                          ${path}`);
  }
  const verdict = result.exitCode === 0 ? p.green('done') : result.exitCode === 3 ? p.yellow('pending changes') : p.red('failed');
  out.line(`${verdict} (exit ${result.exitCode})`);
}
