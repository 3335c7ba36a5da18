/**
 * Load the configuration for a command and set up its output; config errors are usage errors
 * (exit 2). Every command reads the default config file (/etc/hostsync/config.json, or
 * $HOSTSYNC_CONFIG) when --config is absent, so a hint such as `hostsync validate` works as printed
 * on a host the units run on.
 */
import type { Config, ConfigRequirements, LooseConfig, ParseResult } from '../config/types.js';
import { loadConfig, colorWanted } from '../config/load.js';
import { isDumbTerminal, journalStream } from '../config/terminal.js';
import { UsageError } from '../errors.js';
import { networkSecrets } from '../net/settings.js';
import type { CliIO } from './io.js';
import { createOutput, stderrIsJournal, type Output } from './output.js';

/** Parse flags + config file + env into a full Config (repo and dest required); the pinned-keys files are read too (a sync needs them). */
export async function loadCommandConfig(flags: Readonly<Record<string, unknown>>, io: CliIO): Promise<{ config: Config; output: Output }> {
  return finish(await loadConfig(flags, { defaultConfigFile: true, readTrustPins: true, env: io.env, cwd: io.cwd, isRoot: io.isRoot }), io);
}

/** The same for commands that can do without some settings (history, rollback, validate). */
export async function loadLooseCommandConfig(flags: Readonly<Record<string, unknown>>, io: CliIO, require: ConfigRequirements): Promise<{ config: LooseConfig; output: Output }> {
  return finish(await loadConfig(flags, { require, defaultConfigFile: true, env: io.env, cwd: io.cwd, isRoot: io.isRoot }), io);
}

/** The output of a command that reads no config (install-units). */
export function plainOutput(io: CliIO, json: boolean): Output {
  if (json) io.reportJson?.();
  return createOutput({ json, verbose: false, quiet: false, color: colorWanted(io.stdout.isTTY === true, io.env), stdout: io.stdout, stderr: io.stderr, redact: io.redact });
}

function finish<C extends LooseConfig>(result: ParseResult<C>, io: CliIO): { config: C; output: Output } {
  const journal = stderrIsJournal(journalStream(io.env));
  if (!result.ok) {
    const early = createOutput({ json: false, verbose: false, quiet: false, color: colorWanted(io.stderr.isTTY === true, io.env), journal, stdout: io.stdout, stderr: io.stderr, redact: io.redact });
    for (const warning of result.warnings) early.log('warn', warning);
    throw new UsageError(result.errors.length === 1 ? result.errors[0]! : `${result.errors.length} configuration problems:\n  ${result.errors.join('\n  ')}`);
  }
  const { config } = result;
  io.redact.add(config.token?.value);
  io.redact.add(config.githubApp?.privateKey);
  for (const secret of networkSecrets(config)) io.redact.add(secret);
  if (config.json) io.reportJson?.();
  const output = createOutput({
    json: config.json,
    verbose: config.verbose,
    quiet: config.quiet,
    color: colorWanted(io.stdout.isTTY === true, io.env),
    stderrColor: colorWanted(io.stderr.isTTY === true, io.env),
    interactive: io.stderr.isTTY === true && !isDumbTerminal(io.env),
    journal,
    stdout: io.stdout,
    stderr: io.stderr,
    redact: io.redact,
    now: io.timing?.progressNow,
    schedule: io.timing?.schedule,
  });
  for (const warning of result.warnings) output.log('warn', warning);
  return { config, output };
}
