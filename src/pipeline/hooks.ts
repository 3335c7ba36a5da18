/**
 * Running the configured commands — `hooks.preSync`, `hooks.postSync` and the rebuild — through
 * the exec edge, with the environment they all share:
 *
 *   HOSTSYNC_COMMIT            the commit being (or just) applied
 *   HOSTSYNC_PREVIOUS_COMMIT   the commit DEST held before ('' on a first install)
 *   HOSTSYNC_DEST              DEST, resolved
 *   HOSTSYNC_CHANGED_FILES     a file listing the changed paths, one per line, relative to DEST
 */
import { join } from 'node:path';
import { HostsyncError } from '../errors.js';
import { writeFileAtomic } from '../state/files.js';
import type { DestPaths } from '../state/layout.js';
import { childEnv } from '../child-env.js';
import type { Exec, ExecResult } from './exec.js';
import type { Logger } from './sync.js';

/** What the commands are told about the update. */
export interface CommandContext {
  readonly commit: string;
  readonly previousCommit: string | undefined;
  readonly dest: string;
  /** Paths (relative to DEST) the update changes, sorted. */
  readonly changedFiles: readonly string[];
}

/** The edges a command needs. */
export interface CommandDeps {
  readonly exec: Exec;
  /** The environment the commands inherit (hostsync's own), before the HOSTSYNC_* variables. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: Logger;
  readonly now?: (() => number) | undefined;
  /** The run's stop signal: a running command's process group is stopped with it. */
  readonly signal?: AbortSignal | undefined;
}

/** How one command run went. */
export interface CommandOutcome {
  /** `preSync`, `postSync` or `rebuild`: the prefix of its streamed lines. */
  readonly name: string;
  readonly command: string;
  readonly ok: boolean;
  readonly code: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly lastLines: readonly string[];
  readonly durationMs: number;
}

/** The hooks' timeout: they have no setting of their own. */
export const HOOK_TIMEOUT_SEC = 1800;

/** Where HOSTSYNC_CHANGED_FILES points: in the state dir, so it outlives the run for inspection. */
export function changedFilesPath(paths: DestPaths): string {
  return join(paths.root, 'changed-files.txt');
}

/** Write the changed-files list (one path per line). */
export async function writeChangedFiles(file: string, changed: readonly string[]): Promise<void> {
  await writeFileAtomic(file, changed.map((path) => `${path}\n`).join(''), 0o644);
}

/** The child environment: hostsync's own (less secrets) plus the HOSTSYNC_* variables. Pure. */
export function commandEnv(base: Readonly<Record<string, string | undefined>>, context: CommandContext, changedFile: string): Record<string, string> {
  const env = childEnv(base);
  env['HOSTSYNC_COMMIT'] = context.commit;
  env['HOSTSYNC_PREVIOUS_COMMIT'] = context.previousCommit ?? '';
  env['HOSTSYNC_DEST'] = context.dest;
  env['HOSTSYNC_CHANGED_FILES'] = changedFile;
  return env;
}

/** Describe how a command ended, for messages: "exit 2", "killed by SIGKILL after 30 s timeout". */
export function describeEnd(result: Pick<ExecResult, 'code' | 'signal' | 'timedOut' | 'startError'>, timeoutSec: number): string {
  if (result.startError !== undefined) return `could not start (${result.startError})`;
  if (result.timedOut) return `timed out after ${timeoutSec} s and was killed`;
  if (result.signal !== null) return `was killed by ${result.signal}`;
  return `exited with ${result.code ?? 'no code'}`;
}

/**
 * Run one configured command with the shared environment, streaming its lines to the log as
 * `name │ line`. Resolves with the outcome; never throws for the command's own failure.
 */
export async function runCommandStep(
  name: string,
  command: string,
  timeoutSec: number,
  context: CommandContext,
  changedFile: string,
  deps: CommandDeps,
  onStart?: (pid: number) => void,
): Promise<CommandOutcome> {
  const now = deps.now ?? Date.now;
  const started = now();
  deps.log('info', `${name}: running ${command}`);
  const result = await deps.exec(command, {
    env: commandEnv(deps.env, context, changedFile),
    timeoutMs: timeoutSec * 1000,
    cwd: undefined,
    signal: deps.signal,
    onStart,
    onLine: (line) => deps.log('info', `${name} │ ${line}`),
  });
  if (deps.signal?.aborted === true) throw deps.signal.reason instanceof Error ? deps.signal.reason : new Error('stopped');
  const ok = result.code === 0 && !result.timedOut && result.startError === undefined;
  const lastLines = result.startError !== undefined ? [...result.lastLines, result.startError] : result.lastLines;
  return { name, command, ok, code: result.code, signal: result.signal, timedOut: result.timedOut, lastLines, durationMs: now() - started };
}

/** The error a failed command becomes: what ran, how it ended, its last lines, what to do. */
export function commandFailure(outcome: CommandOutcome, timeoutSec: number, consequence: string): HostsyncError {
  const end = describeEnd({ code: outcome.code, signal: outcome.signal as NodeJS.Signals | null, timedOut: outcome.timedOut }, timeoutSec);
  const tail = outcome.lastLines.length === 0 ? ' It printed nothing.' : ` Last lines of its output:\n  ${outcome.lastLines.join('\n  ')}\n`;
  return new HostsyncError(`${outcome.name} command '${outcome.command}' ${end}. ${consequence}${tail}`.trimEnd());
}

/**
 * Run a hook with the shared environment. A failing hook is a HostsyncError (exit 1) that says
 * what the failure stopped.
 */
export async function runHook(
  name: 'preSync' | 'postSync',
  command: string,
  context: CommandContext,
  paths: DestPaths,
  deps: CommandDeps,
): Promise<CommandOutcome> {
  const file = changedFilesPath(paths);
  await writeChangedFiles(file, context.changedFiles);
  return runCommandStep(name, command, HOOK_TIMEOUT_SEC, context, file, deps);
}
