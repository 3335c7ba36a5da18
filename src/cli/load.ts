/** Load the configuration for a command and set up its output; config errors are usage errors (exit 2). */
import type { Config, ConfigRequirements, LooseConfig, ParseResult } from '../config/types.js';
import { loadConfig, colorWanted } from '../config/load.js';
import { isDumbTerminal, journalStream } from '../config/terminal.js';
import { UsageError } from '../errors.js';
import { restoreStrings } from './options.js';
import { createOutput, stderrIsJournal, type Output } from './output.js';
import { registerSecret } from './redact.js';

export interface LoadOptions {
  /** Read /etc/hostsync/config.json when --config is absent (dev-update, the systemd units). */
  readonly defaultConfigFile?: boolean;
}

/** Parse flags + config file + env into a full Config (repo and dest required). */
export async function loadCommandConfig(flags: Record<string, unknown>, argv: readonly string[], options: LoadOptions = {}): Promise<{ config: Config; output: Output }> {
  return finish(await loadConfig(restoreStrings(flags, argv), { defaultConfigFile: options.defaultConfigFile === true }));
}

/** The same for commands that can do without some settings (history, rollback, validate). */
export async function loadLooseCommandConfig(
  flags: Record<string, unknown>,
  argv: readonly string[],
  require: ConfigRequirements,
  options: LoadOptions = {},
): Promise<{ config: LooseConfig; output: Output }> {
  return finish(await loadConfig(restoreStrings(flags, argv), { require, defaultConfigFile: options.defaultConfigFile === true }));
}

function finish<C extends LooseConfig>(result: ParseResult<C>): { config: C; output: Output } {
  if (!result.ok) {
    const early = createOutput({ json: false, verbose: false, quiet: false, color: colorWanted(process.stderr.isTTY === true), journal: stderrIsJournal(journalStream()) });
    for (const warning of result.warnings) early.log('warn', warning);
    throw new UsageError(result.errors.length === 1 ? result.errors[0]! : `${result.errors.length} configuration problems:\n  ${result.errors.join('\n  ')}`);
  }
  const { config } = result;
  registerSecret(config.token?.value);
  const output = createOutput({
    json: config.json,
    verbose: config.verbose,
    quiet: config.quiet,
    color: colorWanted(process.stdout.isTTY === true),
    stderrColor: colorWanted(process.stderr.isTTY === true),
    interactive: process.stderr.isTTY === true && !isDumbTerminal(),
    journal: stderrIsJournal(journalStream()),
  });
  for (const warning of result.warnings) output.log('warn', warning);
  return { config, output };
}
