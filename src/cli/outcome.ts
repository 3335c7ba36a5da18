/**
 * The commands' side of `hooks.onOutcome` (src/pipeline/outcome.ts): after a run, its JSON document
 * — the one `--json` prints, or `{format, command, ok: false, error}` when it failed — goes to the
 * configured command on stdin, redacted like everything hostsync prints. Nothing runs when no hook
 * is configured, nor when the configuration itself could not be read (there is no hook to run).
 */
import type { HooksConfig } from '../config/types.js';
import type { CliIO } from './io.js';
import type { Output } from './output.js';
import { failureDocument } from './render/json.js';

/** What a command hands over once it has a result. */
export interface CommandOutcome {
  readonly exitCode: number;
  /** The run's `--json` document. */
  readonly document: Record<string, unknown>;
  /** DEST was rolled back (the rollback command, or dev-update's rollback after a failed rebuild). */
  readonly rolledBack?: boolean | undefined;
}

interface HookSettings {
  readonly hooks: HooksConfig;
  readonly dest?: string | undefined;
}

/** Run the hook for one outcome (a no-op without `hooks.onOutcome`). Never throws for the hook's failure. */
export async function notifyOutcome(command: string, config: HookSettings, io: CliIO, output: Output, outcome: CommandOutcome): Promise<void> {
  const hook = config.hooks.onOutcome;
  if (hook === undefined) return;
  const [{ runOutcomeHook, outcomeOf }, { createExec }] = await Promise.all([import('../pipeline/outcome.js'), import('../pipeline/exec.js')]);
  await runOutcomeHook(
    hook,
    { command, outcome: outcomeOf(outcome.exitCode, outcome.rolledBack === true), exitCode: outcome.exitCode, dest: config.dest, document: io.redact(JSON.stringify(outcome.document)) },
    // The run's stop signal is left out: a notification of a stopped run should still go out.
    { exec: createExec(), env: io.env, log: output.log },
  );
}

/**
 * Run a command's work and tell the hook how it ended: with the result's document, or, when the
 * work throws, a failure document (then the error is rethrown for main.ts to report).
 */
export async function withOutcome(command: string, config: HookSettings, io: CliIO, output: Output, work: () => Promise<CommandOutcome>): Promise<number> {
  let outcome: CommandOutcome;
  try {
    outcome = await work();
  } catch (error) {
    if (config.hooks.onOutcome !== undefined) {
      const { describeFailure } = await import('./main.js');
      const failure = describeFailure(error, io);
      await notifyOutcome(command, config, io, output, { exitCode: failure.exitCode, document: failureDocument(command, failure.message, failure.exitCode) });
    }
    throw error;
  }
  await notifyOutcome(command, config, io, output, outcome);
  return outcome.exitCode;
}
