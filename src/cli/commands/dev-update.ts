/**
 * `hostsync dev-update`: validate → sync → rebuild → validate as one command, reading everything
 * but a few flags from the config file (default /etc/hostsync/config.json), with a step-by-step
 * summary.
 */
import { HostsyncError } from '../../errors.js';
import { recordSyncMetrics, type SyncRun } from '../../metrics/textfile.js';
import { loadCommandConfig } from '../load.js';
import type { CliIO } from '../io.js';
import type { DevUpdateResult } from '../../pipeline/dev-update.js';
import type { AuthSummary } from '../../auth/run-auth.js';
import { clientFactory, runAuth, syncDeps } from '../github.js';
import { heldState } from '../held.js';
import { renderDevUpdate, devUpdateJson, stepOutcome, stepSummary } from '../render/dev-update.js';
import { jsonDocument } from '../render/json.js';
import { withOutcome } from '../outcome.js';

export async function runCommand(flags: Record<string, unknown>, _argv: readonly string[], io: CliIO): Promise<number> {
  // --no-rebuild skips this run's rebuild (the next run without it rebuilds the commit); it does
  // not erase the configured rebuild. --skip-rebuild is its deprecated alias.
  const { rebuild, skipRebuild, ...rest } = flags;
  const skip = rebuild === false || skipRebuild === true;
  const { config, output } = await loadCommandConfig(rebuild === false ? rest : { ...rest, ...(rebuild === undefined ? {} : { rebuild }) }, io);
  const [{ runDevUpdate }, { createExec }, { validateDestination }] = await Promise.all([
    import('../../pipeline/dev-update.js'),
    import('../../pipeline/exec.js'),
    import('../../checks/validate.js'),
  ]);
  const exec = createExec();
  const env = io.env;
  const startedAt = Date.now();
  return withOutcome('dev-update', config, io, output, async () => {
    // The token of the run: configured, or the GitHub App's installation token (src/auth/run-auth.ts).
    const auth = runAuth(config, io, output);
    const authed = await auth.withToken(config).catch(async (error: unknown) => {
      output.close();
      await recordSyncMetrics(config, { startedAt, finishedAt: Date.now(), error }, output.log);
      throw error;
    });
    const result = await runDevUpdate(
      authed,
      { fix: flags['fix'] === true, skipRebuild: skip },
      {
        sync: syncDeps(io, output, auth),
        exec,
        env,
        log: output.log,
        // Steps live on a terminal (the sync's phases nested in its step); plain output has the table at the end.
        onStep: (name, state, step) => {
          if (state === 'start') output.progress.phase(name, 'start');
          else if (step !== undefined) output.progress.phase(name, 'end', stepSummary(step, step.sync === undefined ? undefined : heldState(step.sync)), stepOutcome(step));
        },
        validate: (fix, destination) => validateDestination(authed, { fix }, { runCommand: exec, env, log: output.log, createClient: clientFactory(authed, output, io.timing, auth), destination }),
      },
    )
      .then((done) => withAuth(done, auth.summary()))
      .catch(async (error: unknown) => {
        output.close();
        await recordSyncMetrics(config, { startedAt, finishedAt: Date.now(), error }, output.log);
        throw error;
      })
      .finally(() => auth.close());
    output.close();
    await recordSyncMetrics(config, metricsRun(result, startedAt), output.log);
    const sync = result.steps.find((step) => step.name === 'sync')?.sync;
    const held = sync === undefined ? undefined : heldState(sync);
    const document = jsonDocument('dev-update', devUpdateJson(result, held));
    if (config.json) output.json(document);
    else renderDevUpdate(result, output, config.verbose, held, output.live && io.stdout.isTTY === true);
    if (result.error !== undefined) output.log('error', result.error);
    const rebuilt = result.steps.find((step) => step.name === 'rebuild')?.command;
    const rolledBack = rebuilt !== undefined && 'rollback' in rebuilt && rebuilt.rollback?.ok === true;
    return { exitCode: result.exitCode, document, rolledBack };
  });
}

/** The sync step's result with how the run authenticated (`auth`, `authRequests` in its JSON). */
function withAuth(result: DevUpdateResult, auth: AuthSummary): DevUpdateResult {
  return { ...result, steps: result.steps.map((step) => (step.sync === undefined ? step : { ...step, sync: { ...step.sync, auth } })) };
}

/** What the metrics file records of a dev-update: its sync, with the whole run's exit code. */
function metricsRun(result: DevUpdateResult, startedAt: number): SyncRun {
  const sync = result.steps.find((step) => step.name === 'sync')?.sync;
  const finishedAt = Date.now();
  if (sync !== undefined) return { startedAt, finishedAt, result: sync, exitCode: result.exitCode };
  return { startedAt, finishedAt, error: new HostsyncError(result.error ?? 'dev-update stopped before the sync', result.exitCode) };
}
