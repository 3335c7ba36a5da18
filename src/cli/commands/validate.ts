/** `hostsync validate [--fix] [--prune]`: health checks of an install, each pass / warn / fail / skip. */
import { ExitCode, UsageError } from '../../errors.js';
import { loadLooseCommandConfig } from '../load.js';
import type { CliIO } from '../io.js';
import { clientFactory, runAuth } from '../github.js';
import { jsonDocument } from '../render/json.js';
import { renderValidation, validateJson } from '../render/validate.js';

export async function runCommand(flags: Record<string, unknown>, _argv: readonly string[], io: CliIO): Promise<number> {
  const { config, output } = await loadLooseCommandConfig(flags, io, { repo: false, dest: true });
  if (config.dest === undefined) throw new UsageError('validate needs the destination: pass --dest DIR, or --config FILE with "dest".');
  const fix = flags['fix'] === true;
  const [{ validateDestination }, { createExec }] = await Promise.all([import('../../checks/validate.js'), import('../../pipeline/exec.js')]);
  // A GitHub App's token is minted only if a fix has something to download.
  const auth = runAuth(config, io, output);
  const result = await validateDestination(
    { ...config, dest: config.dest },
    { fix },
    { runCommand: createExec(), env: io.env, log: output.log, createClient: clientFactory(config, output, io.timing, auth) },
  ).finally(() => auth.close());
  const exitCode = result.ok ? ExitCode.Ok : ExitCode.Failure;
  if (config.json) output.json(jsonDocument('validate', { ...validateJson(result), exitCode }));
  else renderValidation(result, output, { verbose: config.verbose, fix });
  return exitCode;
}
