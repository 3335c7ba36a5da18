/**
 * The thin CLI: a cac program whose commands each live in their own module, imported only when
 * that command runs. Only this file sets the exit code.
 */
import { cac, type CAC, type Command } from 'cac';
import { ExitCode, HostsyncError, InterruptedError, errorCode, errorMessage, summarize } from '../errors.js';
import { settingOptions, type OptionSpec } from './options.js';
import { processIO, type CliIO } from './io.js';
import { formatFailure, stderrIsJournal } from './progress.js';
import { journalStream } from '../config/terminal.js';
import { VERSION } from '../version.js';

type Flags = Record<string, unknown>;
type CommandModule = { runCommand: (flags: Flags, argv: readonly string[], io: CliIO) => Promise<number> };

/** Each command's module, imported only when it runs (static thunks, so a bundler can see them). */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  sync: () => import('./commands/sync.js'),
  history: () => import('./commands/history.js'),
  rollback: () => import('./commands/rollback.js'),
  'install-units': () => import('./commands/install-units.js'),
  validate: () => import('./commands/validate.js'),
  'dev-update': () => import('./commands/dev-update.js'),
};

/**
 * Commands are declared with `ignoreOptionDefaultValue`: a declared `--no-x` would otherwise make
 * cac report `x: true` when neither flag is given, overriding the config file (and breaking
 * `--x <value>` with "value is missing"). Defaults live in src/config, not here.
 */
function addOptions(command: Command, specs: readonly OptionSpec[]): Command {
  for (const spec of specs) command.option(spec.flag, spec.description, spec.default !== undefined ? { default: spec.default } : undefined);
  return command;
}

/** Build the program. `run` receives the command name, its flags and the raw argv. */
export function buildProgram(run: (name: string, flags: Flags, args: readonly string[]) => Promise<number>): CAC & { pending: Promise<number> | undefined } {
  const program = cac('hostsync') as CAC & { pending: Promise<number> | undefined };
  program.pending = undefined;
  const action = (name: string) => (...params: unknown[]): void => {
    const flags = params[params.length - 1] as Flags;
    const args = params.slice(0, -1).map(String);
    program.pending = run(name, flags, args);
  };

  addOptions(
    program
      .command('sync', 'Make DEST byte-identical to the repository (or --path of it) at --ref', { ignoreOptionDefaultValue: true })
      .example('hostsync sync --repo acme/hypervisor --ref main --dest /etc/hypervisor')
      .example('hostsync sync --config /etc/hostsync/config.json --check-only'),
    settingOptions('sync'),
  ).action(action('sync'));

  addOptions(
    program
      .command('history', 'List the generations applied to DEST (works offline)', { ignoreOptionDefaultValue: true })
      .example('hostsync history --dest /etc/hypervisor'),
    settingOptions('history'),
  ).action(action('history'));

  addOptions(
    program
      .command('rollback', 'Restore the previous generation (or --to COMMIT) from the local store, without network', { ignoreOptionDefaultValue: true })
      .example('hostsync rollback --dest /etc/hypervisor')
      .example('hostsync rollback --dest /etc/hypervisor --to 1a2b3c4d'),
    [...settingOptions('rollback'), { flag: '--to <commit>', description: 'Commit (SHA or prefix) of the generation to restore' }],
  ).action(action('rollback'));

  program
    .command('install-units', 'Install the systemd service and timer units (plain and templated) into <prefix>/etc/systemd/system', { ignoreOptionDefaultValue: true })
    .option('--prefix <dir>', 'Install under DIR/etc/systemd/system (default: /)')
    .option('--bin <path>', 'Executable the units run (default: this hostsync)')
    .option('--force', 'Replace unit files whose content differs')
    .option('--dry-run', 'Show what would be written; write nothing')
    .option('--json', 'Print one JSON object on stdout')
    .example('sudo hostsync install-units')
    .example('hostsync install-units --prefix /tmp/units --bin /run/current-system/sw/bin/hostsync')
    .action(action('install-units'));

  addOptions(
    program
      .command('validate', 'Run health checks of the install (pass / warn / fail / skip); --fix repairs what it can', { ignoreOptionDefaultValue: true })
      .example('hostsync validate --dest /etc/hypervisor')
      .example('hostsync validate --config /etc/hostsync/config.json --fix'),
    [...settingOptions('validate'), { flag: '--fix', description: 'Repair what can be repaired, then check again (with --prune, also delete what hostsync did not place)' }],
  ).action(action('validate'));

  addOptions(
    program
      .command('dev-update', 'validate → sync → rebuild → validate, from --config (default /etc/hostsync/config.json)', { ignoreOptionDefaultValue: true })
      .example('hostsync dev-update')
      .example('hostsync dev-update --ref feature/new-bridge --check-only'),
    [
      ...settingOptions('dev-update'),
      { flag: '--no-rebuild', description: 'Do not run a configured rebuild' },
      { flag: '--fix', description: 'Let the first validate repair what it can' },
      { flag: '--skip-rebuild', description: 'Sync, but do not run the rebuild command' },
    ],
  ).action(action('dev-update'));

  program.help();
  program.version(VERSION);
  return program;
}

/**
 * Run the CLI with `argv` (as process.argv). Resolves with the exit code and sets process.exitCode
 * when run on the real process; never calls process.exit. SIGINT/SIGTERM abort the run: child
 * processes are stopped, the apply step in progress is finished or undone, the lock is released,
 * and the run ends with 130 (SIGINT) or 143 (SIGTERM). A second signal ends the process at once
 * (the next run's recovery completes or undoes what the journal recorded).
 */
export async function main(argv: readonly string[], given?: CliIO): Promise<number> {
  const controller = new AbortController();
  const io = given ?? processIO(controller.signal);
  const stopSignals = given === undefined ? trapSignals(controller) : undefined;
  if (given === undefined) {
    // `hostsync history | head`: a closed pipe is the reader's choice, not a failure.
    for (const stream of [process.stdout, process.stderr]) {
      stream.on('error', (error: unknown) => {
        if (errorCode(error) !== 'EPIPE') throw error;
      });
    }
  }
  let code: number;
  try {
    const program = buildProgram(async (name, flags) => {
      const load = COMMANDS[name];
      if (load === undefined) throw new Error(`BUG: no module for command ${name}`);
      return (await load()).runCommand(flags, argv, io);
    });
    const parsed = program.parse([...argv], { run: false });
    if (parsed.options['help'] === true || parsed.options['version'] === true) return finish(ExitCode.Ok);
    if (program.matchedCommand === undefined) {
      const word = program.args[0];
      throw new HostsyncError(
        word === undefined ? 'No command given. Run `hostsync --help` for the commands, e.g. `hostsync sync --help`.' : `Unknown command '${word}'. Run \`hostsync --help\` for the list.`,
        ExitCode.Usage,
      );
    }
    await program.runMatchedCommand();
    code = program.pending === undefined ? ExitCode.Ok : await program.pending;
  } catch (error) {
    code = handleError(error, io);
  }
  return finish(code);

  function finish(exitCode: number): number {
    const final = io.signal.aborted ? interruptedCode(io.signal) ?? exitCode : exitCode;
    stopSignals?.();
    if (given === undefined) process.exitCode = final;
    return final;
  }
}

/** SIGINT/SIGTERM abort the run once; a second one ends the process at once. Returns the untrap. */
function trapSignals(controller: AbortController): () => void {
  const onSignal = (signal: 'SIGINT' | 'SIGTERM'): void => {
    if (controller.signal.aborted) {
      process.exit(signal === 'SIGINT' ? ExitCode.Interrupted : ExitCode.Terminated);
    }
    controller.abort(new InterruptedError(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/** 130 or 143 for a run stopped by a signal. */
function interruptedCode(signal: AbortSignal): number | undefined {
  const reason: unknown = signal.reason;
  return reason instanceof InterruptedError ? reason.exitCode : undefined;
}

/** The final failure line(s), with journald's err priority when stderr is the journal. */
function fail(text: string, io: CliIO): void {
  io.stderr.write(formatFailure(text, stderrIsJournal(journalStream(io.env))));
}

/** Operating-system failures that are the host's state, not a bug: one line with the fix. */
const SYSTEM_ERRORS: Record<string, string> = {
  EACCES: 'permission denied: run hostsync as a user that may write DEST and the state dir (usually root), or fix their ownership',
  EPERM: 'operation not permitted: run hostsync as a user that may write DEST and the state dir (usually root)',
  EROFS: 'read-only file system: remount it read-write, or add the path to ReadWritePaths= in the unit',
  ENOSPC: 'no space left on the device: free some space and run again',
  EDQUOT: 'disk quota exceeded: free some space and run again',
};

/** Print an expected failure as one line, anything else with its stack. Returns the exit code. */
export function handleError(error: unknown, io: CliIO): number {
  const redact = io.redact;
  if (error instanceof HostsyncError) {
    fail(`hostsync: ${summarize(redact(error.message))}`, io);
    return error.exitCode;
  }
  const code = errorCode(error);
  if (code !== undefined && code in SYSTEM_ERRORS) {
    const path = typeof (error as { path?: unknown }).path === 'string' ? ` ${(error as { path: string }).path}` : '';
    fail(`hostsync: ${redact(`${SYSTEM_ERRORS[code]}${path ? ` (${path.trim()})` : ''}`)}. Nothing was applied.`, io);
    return ExitCode.Failure;
  }
  if (error instanceof Error && error.name === 'CACError') {
    fail(`hostsync: ${redact(error.message)}. Run \`hostsync --help\` for the options.`, io);
    return ExitCode.Usage;
  }
  const text = error instanceof Error ? (error.stack ?? error.message) : errorMessage(error);
  fail(`hostsync: internal error (a bug; please report it with this output):\n${redact(text)}`, io);
  return ExitCode.Failure;
}
