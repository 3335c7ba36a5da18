/**
 * `runDevUpdate`: the whole update of one host as one command, under one hold of the
 * destination's lock —
 *
 *   pre-validate (→ --fix) → pre-sync hook → sync → post-sync hook → rebuild (→ rollback) → post-validate
 *
 * Each step is recorded with its status, duration and what it changed; the first failure stops
 * the pipeline (later steps are `skipped`, saying why). With `checkOnly` nothing is written: the
 * steps report what they would do and the result is "pending" when the sync has changes.
 */
import type { Config } from '../config/types.js';
import { ExitCode, HostsyncError, type ExitCodeValue } from '../errors.js';
import type { ValidateResult } from '../checks/validate.js';
import { withDestination, type Destination } from '../apply/destination.js';
import type { ChangeSummary } from './summary.js';
import type { Exec } from './exec.js';
import { commandFailure, HOOK_TIMEOUT_SEC, runHook, type CommandContext, type CommandDeps, type CommandOutcome } from './hooks.js';
import { decideRebuild, readRebuildRecord, rebuildFailure, runRebuild, type RebuildOutcome, type RollbackFn } from './rebuild.js';
import { throwIfRefused } from './signatures.js';
import { applySync, planResult, planSync, type Logger, type SyncDeps, type SyncPlan, type SyncResult } from './sync.js';

export type StepName = 'pre-validate' | 'pre-sync' | 'sync' | 'post-sync' | 'rebuild' | 'post-validate';

/** `pending`: with --check-only, the step would change something. `would-run`: it would run. */
export type StepStatus = 'ok' | 'failed' | 'skipped' | 'pending' | 'would-run';

export interface StepResult {
  readonly name: StepName;
  readonly status: StepStatus;
  readonly durationMs: number;
  /** One line: what the step did, would do, or why it did not run. */
  readonly summary: string;
  /** Paths the step changed (or, with --check-only, would change). */
  readonly changed: readonly string[];
  readonly validation?: ValidateResult | undefined;
  readonly sync?: SyncResult | undefined;
  readonly command?: CommandOutcome | RebuildOutcome | undefined;
}

export interface DevUpdateResult {
  readonly ok: boolean;
  readonly exitCode: ExitCodeValue;
  readonly checkOnly: boolean;
  readonly dest: string;
  readonly commit: string | undefined;
  readonly previousCommit: string | undefined;
  readonly steps: readonly StepResult[];
  /** The failure that stopped the pipeline, if one did. */
  readonly error: string | undefined;
}

export interface DevUpdateOptions {
  readonly skipRebuild: boolean;
  /** Let the pre-validate repair what it can (ignored with checkOnly). */
  readonly fix: boolean;
}

export interface DevUpdateDeps {
  readonly sync: SyncDeps;
  readonly exec: Exec;
  /** The environment commands inherit. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: Logger;
  /** Validate the opened DEST (wired to validateDestination by the CLI). */
  readonly validate: (fix: boolean, destination: Destination) => Promise<ValidateResult>;
  /** Put DEST back at a commit after a failed rebuild. @default `hostsync rollback --to` on the same handle */
  readonly rollback?: ((commit: string, destination: Destination) => Promise<string>) | undefined;
  readonly now?: (() => number) | undefined;
  /** A step starts, or ends with its result (also steps that are skipped or would run): live output. */
  readonly onStep?: ((name: StepName, state: 'start' | 'end', result?: StepResult) => void) | undefined;
}

const changedOf = (changes: ChangeSummary): string[] => [...changes.added, ...changes.modified, ...changes.deleted, ...changes.modeChanged, ...changes.typeChanged].sort();
const changedPaths = (sync: SyncResult): string[] => changedOf(sync.changes);

/** Run the pipeline. Throws only for a lock held by another run (exit 4) and bugs; failures are in the result. */
export async function runDevUpdate(config: Config, options: DevUpdateOptions, deps: DevUpdateDeps): Promise<DevUpdateResult> {
  const now = deps.now ?? Date.now;
  return withDestination(config, { log: deps.log, lock: true, write: !config.checkOnly }, (destination) => pipeline(config, options, deps, destination, now));
}

async function pipeline(config: Config, options: DevUpdateOptions, deps: DevUpdateDeps, destination: Destination, now: () => number): Promise<DevUpdateResult> {
  const paths = destination.paths;
  const recorded: StepResult[] = [];
  /** The steps so far; each pushed one is told to `onStep` as it ends. */
  const steps = {
    push(result: StepResult): void {
      recorded.push(result);
      deps.onStep?.(result.name, 'end', result);
    },
    some: (test: (step: StepResult) => boolean): boolean => recorded.some(test),
  };
  const checkOnly = config.checkOnly;
  let synced: StepResult;
  let commit: string | undefined;
  let previousCommit: string | undefined;
  const finish = (exitCode: ExitCodeValue, error?: string): DevUpdateResult => {
    const order: StepName[] = ['pre-validate', 'pre-sync', 'sync', 'post-sync', 'rebuild', 'post-validate'];
    for (const name of order) {
      if (!steps.some((step) => step.name === name)) steps.push({ name, status: 'skipped', durationMs: 0, summary: error === undefined ? 'not needed' : 'not run: an earlier step failed', changed: [] });
    }
    recorded.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
    return { ok: exitCode === ExitCode.Ok || exitCode === ExitCode.Pending, exitCode, checkOnly, dest: paths.dest, commit, previousCommit, steps: recorded, error };
  };
  /** Time a step; an expected failure inside it ends the pipeline with its exit code. */
  const step = async (name: StepName, work: () => Promise<Omit<StepResult, 'name' | 'durationMs'>>): Promise<StepResult> => {
    const started = now();
    deps.onStep?.(name, 'start');
    try {
      const timed: StepResult = { name, ...(await work()), durationMs: now() - started };
      steps.push(timed);
      return timed;
    } catch (error) {
      if (!(error instanceof HostsyncError)) throw error;
      steps.push({ name, status: 'failed', durationMs: now() - started, summary: error.message, changed: [] });
      throw new StopPipeline(error);
    }
  };

  try {
    // 1. Pre-validate: a failing check stops the update unless --fix repaired it.
    const pre = await step('pre-validate', async () => {
      const validation = await deps.validate(options.fix && !checkOnly, destination);
      const fixedPaths = validation.checks.filter((check) => check.fixed).flatMap((check) => check.paths);
      const fixed = validation.checks.filter((check) => check.fixed).length;
      const failed = validation.checks.filter((check) => check.status === 'fail');
      const summary = failed.length > 0
        ? `${failed.length} check(s) failed: ${failed.map((check) => check.id).join(', ')}${options.fix || checkOnly ? '' : ' (--fix repairs what it can)'}`
        : `all checks passed${fixed > 0 ? ` after fixing ${fixed}` : ''}`;
      return { status: failed.length > 0 ? 'failed' : 'ok', summary, changed: fixedPaths, validation };
    });
    if (pre.status === 'failed') return finish(ExitCode.Failure, `Pre-validate failed (${pre.summary}); nothing was synced. Run 'hostsync validate' for details, or 'hostsync dev-update --fix'.`);

    // After the pre-validate: a --fix may have finished an interrupted apply.
    previousCommit = (await destination.reloadManifest())?.commit;
    const commandDeps: CommandDeps = { exec: deps.exec, env: deps.env, log: deps.log, now, signal: deps.sync.signal };

    // 2. Plan the sync once: the pre-sync hook reads it, the sync step applies it.
    let plan: SyncPlan | undefined;
    const planned = async (): Promise<SyncPlan> => (plan ??= await planSync(destination, config, deps.sync));
    try {
      const preHook = config.hooks.preSync;
      if (preHook === undefined) steps.push(notConfigured('pre-sync', 'no hooks.preSync configured'));
      else if (checkOnly) steps.push({ name: 'pre-sync', status: 'would-run', durationMs: 0, summary: `would run '${preHook}' if the sync has changes`, changed: [] });
      else {
        const hook = preHook;
        await step('pre-sync', async () => {
          const probe = await planned();
          // A commit the pinned keys refuse never reaches the hook.
          throwIfRefused(probe.signature, probe.commit);
          if (!probe.pending) return { status: 'skipped', summary: 'nothing to apply', changed: [] };
          const context: CommandContext = { commit: probe.commit, previousCommit, dest: paths.dest, changedFiles: changedOf(probe.changes) };
          const outcome = await runHook('preSync', hook, context, paths, commandDeps);
          if (!outcome.ok) throw commandFailure(outcome, HOOK_TIMEOUT_SEC, 'The update was stopped before sync; DEST is unchanged.');
          return { status: 'ok', summary: `'${hook}' succeeded`, changed: [], command: outcome };
        });
      }

      // 3. Sync.
      synced = await step('sync', async () => {
        const ready = await planned();
        if (checkOnly) throwIfRefused(ready.signature, ready.commit); // as the sync would
        const sync = checkOnly ? planResult(ready, destination) : await applySync(destination, ready, deps.sync);
        const changed = changedPaths(sync);
      commit = sync.commit;
      const at = `${sync.ref} → ${sync.commit.slice(0, 12)}`;
        if (checkOnly) return { status: sync.pending ? 'pending' : 'ok', summary: sync.pending ? `${changed.length} path(s) would change (${at})` : `in sync (${at})`, changed, sync };
        return { status: 'ok', summary: changed.length > 0 ? `${changed.length} path(s) changed (${at})` : `in sync (${at})`, changed, sync };
      });
    } finally {
      await plan?.source.close();
    }
    const sync = synced.sync!;
    const context: CommandContext = { commit: sync.commit, previousCommit, dest: sync.dest, changedFiles: synced.changed };

    // 4. Post-sync hook: after a sync that changed something.
    const postHook = config.hooks.postSync;
    if (postHook === undefined) steps.push(notConfigured('post-sync', 'no hooks.postSync configured'));
    else {
      await step('post-sync', async () => {
        if (synced.changed.length === 0) return { status: 'skipped', summary: 'nothing changed', changed: [] };
        if (checkOnly) return { status: 'would-run', summary: `would run '${postHook}'`, changed: [] };
        const outcome = await runHook('postSync', postHook, context, paths, commandDeps);
        if (!outcome.ok) throw commandFailure(outcome, HOOK_TIMEOUT_SEC, `DEST holds ${sync.commit.slice(0, 12)}; the rebuild was not run.`);
        return { status: 'ok', summary: `'${postHook}' succeeded`, changed: [], command: outcome };
      });
    }

    // 5. Rebuild.
    const rebuild = config.rebuild;
    await step('rebuild', async () => {
      if (rebuild === undefined) return { status: 'skipped', summary: 'no rebuild configured', changed: [] };
      const record = await readRebuildRecord(paths);
      const decision = decideRebuild({ when: rebuild.when, changed: synced.changed.length, commit: sync.commit, lastRebuilt: record?.commit, skip: options.skipRebuild });
      if (!decision.run) return { status: 'skipped', summary: decision.reason, changed: [] };
      if (checkOnly) return { status: 'would-run', summary: `would run '${rebuild.command}' (${decision.reason})`, changed: [] };
      const rollback: RollbackFn = async (to) => (deps.rollback ?? defaultRollback(config))(to, destination);
      const outcome = await runRebuild(rebuild, context, { ...commandDeps, paths, rollback });
      if (!outcome.ok) {
        if (outcome.rollback?.ok === true) commit = outcome.rollback.commit;
        throw rebuildFailure(outcome, rebuild, context);
      }
      return { status: 'ok', summary: `'${rebuild.command}' succeeded (${decision.reason})`, changed: [], command: outcome };
    });

    // 6. Post-validate.
    if (checkOnly) {
      steps.push({ name: 'post-validate', status: 'would-run', durationMs: 0, summary: 'would validate DEST after the update', changed: [] });
      return finish(sync.pending ? ExitCode.Pending : ExitCode.Ok);
    }
    const post = await step('post-validate', async () => {
      const validation = await deps.validate(false, destination);
      const failed = validation.checks.filter((check) => check.status === 'fail');
      return { status: failed.length > 0 ? 'failed' : 'ok', summary: failed.length > 0 ? `${failed.length} check(s) failed: ${failed.map((c) => c.id).join(', ')}` : 'all checks passed', changed: [], validation };
    });
    if (post.status === 'failed') return finish(ExitCode.Failure, `Post-validate failed after the update (${post.summary}). Run 'hostsync validate' for details.`);
    return finish(ExitCode.Ok);
  } catch (error) {
    if (error instanceof StopPipeline) return finish(error.cause.exitCode, error.cause.message);
    throw error;
  }
}

/** A step that has nothing to do in this configuration. */
function notConfigured(name: StepName, summary: string): StepResult {
  return { name, status: 'skipped', durationMs: 0, summary, changed: [] };
}

/** Carries a step's failure out of the pipeline. */
class StopPipeline extends Error {
  override readonly cause: HostsyncError;
  constructor(cause: HostsyncError) {
    super(cause.message);
    this.cause = cause;
  }
}

/** Roll back with `hostsync rollback`'s own code (history, hold, both layouts) on the pipeline's destination. */
function defaultRollback(config: Config): (commit: string, destination: Destination) => Promise<string> {
  return async (commit, destination) => {
    const { rollbackOpened } = await import('./rollback.js');
    const result = await rollbackOpened(destination, { ...config, checkOnly: false }, commit);
    return `generation ${result.generation}; later runs keep it there until ${config.ref} moves`;
  };
}
