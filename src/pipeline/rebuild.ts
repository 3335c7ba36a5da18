/**
 * The rebuild step: whether to run `rebuild.command` (pure `decideRebuild`), running it through
 * the exec edge with the HOSTSYNC_* environment, remembering the last commit it succeeded on,
 * and on failure, with `rollbackOnFailure`, putting DEST back at the previous commit.
 */
import { join } from 'node:path';
import type { RebuildConfig } from '../config/types.js';
import { ExitCode, errorMessage, HostsyncError } from '../errors.js';
import { writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tagAlive, tagOfPid } from '../state/owner-process.js';
import { readJson, writeJsonAtomic } from '../state/files.js';
import type { DestPaths } from '../state/layout.js';
import { changedFilesPath, commandFailure, runCommandStep, writeChangedFiles, type CommandContext, type CommandDeps, type CommandOutcome } from './hooks.js';

/** What `decideRebuild` looks at. */
export interface RebuildDecisionInput {
  readonly when: RebuildConfig['when'];
  /** Paths the sync changed. */
  readonly changed: number;
  /** The commit DEST holds now. */
  readonly commit: string;
  /** The commit the last successful rebuild ran on, if any is recorded. */
  readonly lastRebuilt: string | undefined;
  /** `--no-rebuild` (or its deprecated alias `--skip-rebuild`). */
  readonly skip: boolean;
}

export interface RebuildDecision {
  readonly run: boolean;
  /** Why, in a few words, for the step summary. */
  readonly reason: string;
}

/**
 * Decide whether to rebuild. `changed` also covers a commit that was applied but never rebuilt
 * successfully (a failed rebuild without rollback, or a plain `hostsync sync`): otherwise the host
 * would never be switched to it. Pure.
 */
export function decideRebuild(input: RebuildDecisionInput): RebuildDecision {
  if (input.skip) return { run: false, reason: '--no-rebuild: the next run without it rebuilds' };
  switch (input.when) {
    case 'never':
      return { run: false, reason: 'rebuild.when is "never"' };
    case 'always':
      return { run: true, reason: 'rebuild.when is "always"' };
    case 'changed':
      if (input.changed > 0) return { run: true, reason: `${input.changed} path(s) changed` };
      if (input.lastRebuilt !== input.commit) {
        return { run: true, reason: input.lastRebuilt === undefined ? 'no successful rebuild recorded' : `last successful rebuild was of ${input.lastRebuilt.slice(0, 12)}` };
      }
      return { run: false, reason: 'nothing changed since the last successful rebuild' };
  }
}

/** The record of the last successful rebuild, in the destination's state. */
export interface RebuildRecord {
  readonly commit: string;
  readonly at: string;
}

/** `<state>/dests/<key>/rebuild.json`. */
export function rebuildRecordPath(paths: DestPaths): string {
  return join(paths.root, 'rebuild.json');
}

/** The last successful rebuild, or undefined (none yet, or an unreadable record: one extra rebuild is harmless). */
export async function readRebuildRecord(paths: DestPaths): Promise<RebuildRecord | undefined> {
  const data = await readJson(rebuildRecordPath(paths)).catch(() => undefined);
  if (typeof data !== 'object' || data === null) return undefined;
  const record = data as Partial<RebuildRecord>;
  return typeof record.commit === 'string' && typeof record.at === 'string' ? { commit: record.commit, at: record.at } : undefined;
}

/** How DEST was put back after a failed rebuild. */
export type RollbackOutcome = { readonly ok: true; readonly commit: string; readonly message: string } | { readonly ok: false; readonly message: string };

/** Put DEST back at `commit`; resolves with a few words of detail ("generation 4; kept until the ref moves"). */
export type RollbackFn = (commit: string) => Promise<string>;

export interface RebuildOutcome extends CommandOutcome {
  /** Present when the rebuild failed and a rollback was asked for. */
  readonly rollback?: RollbackOutcome | undefined;
}

export interface RebuildDeps extends CommandDeps {
  readonly paths: DestPaths;
  /** Used when `rollbackOnFailure` is set and the rebuild fails. */
  readonly rollback: RollbackFn;
}

/** `<state>/dests/<key>/rebuild-running.json`: the process group of a rebuild in progress. */
export function rebuildMarkerPath(paths: DestPaths): string {
  return join(paths.root, 'rebuild-running.json');
}

/**
 * Refuse to start a rebuild while one an earlier run started still lives (that run was killed, or
 * stopped with SIGKILL, and its rebuild carried on): two `nixos-rebuild switch` at once fight.
 */
async function refuseConcurrentRebuild(paths: DestPaths): Promise<void> {
  const marker = (await readJson(rebuildMarkerPath(paths)).catch(() => undefined)) as { pid?: unknown; tag?: unknown; commit?: unknown } | undefined;
  if (marker === undefined || typeof marker.pid !== 'number' || typeof marker.tag !== 'string') return;
  if (!tagAlive(marker.tag)) {
    await rm(rebuildMarkerPath(paths), { force: true });
    return;
  }
  throw new HostsyncError(
    `A rebuild an earlier hostsync run started (process group ${marker.pid}${typeof marker.commit === 'string' ? `, for ${marker.commit.slice(0, 12)}` : ''}) is still running. Let it finish, or stop it with 'kill -- -${marker.pid}', then run again.`,
    ExitCode.Locked,
  );
}

/** Run the rebuild command; on success record the commit, on failure roll back if configured. */
export async function runRebuild(rebuild: RebuildConfig, context: CommandContext, deps: RebuildDeps): Promise<RebuildOutcome> {
  await refuseConcurrentRebuild(deps.paths);
  const file = changedFilesPath(deps.paths);
  await writeChangedFiles(file, context.changedFiles);
  const marker = rebuildMarkerPath(deps.paths);
  const outcome = await runCommandStep('rebuild', rebuild.command, rebuild.timeoutSec, context, file, deps, (pid) => {
    // Written synchronously as the rebuild starts: a SIGKILL of hostsync right after still leaves it.
    writeFileSync(marker, `${JSON.stringify({ pid, tag: tagOfPid(pid), commit: context.commit, startedAt: new Date().toISOString() })}\n`, { mode: 0o600 });
  }).finally(() => rm(marker, { force: true }));
  // Stopped because hostsync is: say so (not "the rebuild failed"), and do not roll back half-way.
  if (deps.signal?.aborted === true) throw deps.signal.reason instanceof Error ? deps.signal.reason : new Error('stopped');
  if (outcome.ok) {
    const at = new Date((deps.now ?? Date.now)()).toISOString();
    await writeJsonAtomic(rebuildRecordPath(deps.paths), { commit: context.commit, at } satisfies RebuildRecord);
    return outcome;
  }
  if (!rebuild.rollbackOnFailure) return outcome;
  if (context.previousCommit === undefined || context.previousCommit === context.commit) {
    const message = context.previousCommit === undefined ? 'there is no previous commit to roll back to (first install)' : `DEST already held ${context.commit.slice(0, 12)} before this run; nothing to roll back`;
    deps.log('warn', `Rebuild failed; not rolling back: ${message}.`);
    return { ...outcome, rollback: { ok: false, message } };
  }
  deps.log('warn', `Rebuild failed; rolling ${context.dest} back to ${context.previousCommit.slice(0, 12)} (rollbackOnFailure).`);
  try {
    const message = await deps.rollback(context.previousCommit);
    deps.log('info', `Rolled ${context.dest} back to ${context.previousCommit.slice(0, 12)} (${message}).`);
    return { ...outcome, rollback: { ok: true, commit: context.previousCommit, message } };
  } catch (error) {
    const message = `rolling back to ${context.previousCommit.slice(0, 12)} failed: ${errorMessage(error)}`;
    deps.log('error', message);
    return { ...outcome, rollback: { ok: false, message } };
  }
}

/** The error a failed rebuild ends the run with, saying where DEST was left. */
export function rebuildFailure(outcome: RebuildOutcome, rebuild: RebuildConfig, context: CommandContext): HostsyncError {
  const short = context.commit.slice(0, 12);
  let consequence: string;
  if (outcome.rollback === undefined) {
    consequence = `DEST stays at ${short}; fix the configuration and run again (the rebuild is retried until it succeeds), or set rebuild.rollbackOnFailure.`;
  } else if (outcome.rollback.ok) {
    consequence = `DEST was rolled back to ${outcome.rollback.commit.slice(0, 12)} (${outcome.rollback.message}).`;
  } else {
    consequence = `DEST stays at ${short}: ${outcome.rollback.message}.`;
  }
  return commandFailure(outcome, rebuild.timeoutSec, consequence);
}
