/**
 * The thin CLI: parse with the cac program (./program.ts), answer --help and --version, catch
 * typos, then run the command's module, imported only when that command runs. Only this file sets
 * the exit code. A `--json` run prints one JSON document on stdout whatever happens: the
 * command's, or `{format, command, ok: false, error}` when it failed before printing one.
 */
import type { Command } from 'cac';
import { ExitCode, HostsyncError, InterruptedError, UsageError, errorCode, errorMessage, summarize } from '../errors.js';
import { commandFlags, optionKey, takeNoValueOptions, type OptionSpec } from './options.js';
import { processIO, type CliIO } from './io.js';
import { formatFailure, formatPlainLog, stderrIsJournal } from './progress.js';
import { journalStream } from '../config/terminal.js';
import { buildProgram, commandSpec, COMMANDS, GLOBAL_OPTIONS, type CommandSpec } from './program.js';
import { commandHelp, programHelp, versionLine } from './help.js';
import { unknownCommand, unknownOption } from './suggest.js';
import { failureDocument } from './render/json.js';

export { buildProgram } from './program.js';

/**
 * Run the CLI with `argv` (as process.argv). Resolves with the exit code and sets process.exitCode
 * when run on the real process; never calls process.exit. SIGINT/SIGTERM abort the run: child
 * processes are stopped, the apply step in progress is finished or undone, the lock is released,
 * and the run ends with 130 (SIGINT) or 143 (SIGTERM). A second signal ends the process at once
 * (the next run's recovery completes or undoes what the journal recorded).
 */
export async function main(argv: readonly string[], given?: CliIO): Promise<number> {
  const controller = new AbortController();
  const base = given ?? processIO(controller.signal);
  const stopSignals = given === undefined ? trapSignals(controller) : undefined;
  if (given === undefined) {
    // `hostsync history | head`: a closed pipe is the reader's choice, not a failure.
    for (const stream of [process.stdout, process.stderr]) {
      stream.on('error', (error: unknown) => {
        if (errorCode(error) !== 'EPIPE') throw error;
      });
    }
  }
  const args = argv.slice(2);
  const untilDashes = args.indexOf('--') === -1 ? args : args.slice(0, args.indexOf('--'));
  let json = untilDashes.includes('--json');
  let printed = false;
  const io: CliIO = {
    ...base,
    stdout: {
      write: (text: string) => {
        printed = true;
        return base.stdout.write(text);
      },
      isTTY: base.stdout.isTTY,
      columns: base.stdout.columns,
    },
    reportJson: () => {
      json = true;
      base.reportJson?.();
    },
  };
  let name: string | undefined;
  let code: number;
  try {
    code = await dispatch(argv, io, (matched) => (name = matched));
  } catch (error) {
    const failure = describeFailure(error, io);
    fail(failure.text, io);
    code = failure.exitCode;
    if (json && !printed) io.stdout.write(`${JSON.stringify(failureDocument(name, failure.message, code), null, 2)}\n`);
  }
  const final = io.signal.aborted ? interruptedCode(io.signal) ?? code : code;
  stopSignals?.();
  if (given === undefined) process.exitCode = final;
  return final;
}

/** Parse, answer help and version, check the options, run the command. Throws what the run throws. */
async function dispatch(argv: readonly string[], io: CliIO, matched: (name: string) => void): Promise<number> {
  let running: CommandSpec | undefined;
  const taken = takeNoValueOptions(argv, COMMANDS.flatMap((command) => command.options));
  const program = buildProgram(async (name, flags, positional) => {
    const spec = commandSpec(name);
    if (spec === undefined) throw new Error(`BUG: no module for command ${name}`);
    running = spec;
    for (const key of Object.keys(taken.values)) {
      if (!spec.options.some((option) => optionKey(option.flag) === key)) throw unknownOption(`--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, spec.options, spec.name);
    }
    return (await spec.load()).runCommand({ ...commandFlags(flags, taken.argv, spec.options), ...taken.values }, argv, io, positional);
  });
  program.parse([...taken.argv], { run: false });
  const options = program.options;
  const command = program.matchedCommand;
  const spec = command === undefined ? undefined : commandSpec(command.name);
  if (command === undefined || spec === undefined) {
    const word = program.args[0];
    if (word !== undefined) throw unknownCommand(word);
    checkOptions(program.globalCommand, undefined, argv, GLOBAL_OPTIONS, undefined);
    if (options['version'] === true) return print(io, versionLine());
    if (options['help'] === true) return print(io, programHelp());
    throw new UsageError('No command given. Run `hostsync --help` for the commands, e.g. `hostsync sync --help`.');
  }
  matched(spec.name);
  checkOptions(command, program.globalCommand, argv, spec.options, spec.name);
  if (options['help'] === true) return print(io, commandHelp(spec));
  if (options['version'] === true && spec.name !== 'version') return print(io, versionLine());
  for (const option of spec.options) {
    if (option.deprecatedFor !== undefined && argv.includes(option.flag.split(/\s/)[0]!)) {
      io.stderr.write(formatPlainLog('warn', `${option.flag.split(/\s/)[0]} is deprecated; use ${option.deprecatedFor}.`, stderrIsJournal(journalStream(io.env))));
    }
  }
  await program.runMatchedCommand();
  if (running === undefined) throw new Error(`BUG: command ${spec.name} did not run`);
  return program.pending === undefined ? ExitCode.Ok : await program.pending;
}

function print(io: CliIO, text: string): number {
  io.stdout.write(text);
  return ExitCode.Ok;
}

/**
 * Refuse options the command does not take, naming the closest one it does. cac reports them too,
 * but only once a command matched, and without a suggestion.
 */
function checkOptions(command: Command, global: Command | undefined, argv: readonly string[], specs: readonly OptionSpec[], name: string | undefined): void {
  const parsed = command.cli.options;
  for (const key of Object.keys(parsed)) {
    if (key === '--' || command.hasOption(key) !== undefined || global?.hasOption(key) !== undefined) continue;
    throw unknownOption(typedOption(key, argv), specs, name);
  }
}

/** How the user typed the option cac calls `key` (`stateDirr` → `--state-dirr`). */
function typedOption(key: string, argv: readonly string[]): string {
  const camel = (text: string): string => text.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
  for (const arg of argv) {
    if (arg === '--') break;
    const flag = arg.split('=')[0]!;
    if (!flag.startsWith('-')) continue;
    const bare = flag.replace(/^-+/, '');
    if (camel(bare) === key || camel(bare.replace(/^no-/, '')) === key) return flag;
    // A cluster of short flags: `-xz`.
    if (!flag.startsWith('--') && bare.includes(key)) return `-${key}`;
  }
  return key.length === 1 ? `-${key}` : `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
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

/** What a failure prints (`text`, on stderr), its message alone (for JSON) and its exit code. */
export interface Failure {
  readonly text: string;
  readonly message: string;
  readonly exitCode: number;
}

/** An expected failure is one line; anything else carries its stack (a bug). */
export function describeFailure(error: unknown, io: Pick<CliIO, 'redact'>): Failure {
  const redact = io.redact;
  if (error instanceof HostsyncError) {
    const message = summarize(redact(error.message));
    return { text: `hostsync: ${message}`, message, exitCode: error.exitCode };
  }
  const code = errorCode(error);
  if (code !== undefined && code in SYSTEM_ERRORS) {
    const path = typeof (error as { path?: unknown }).path === 'string' ? ` ${(error as { path: string }).path}` : '';
    const message = `${redact(`${SYSTEM_ERRORS[code]}${path ? ` (${path.trim()})` : ''}`)}. Nothing was applied.`;
    return { text: `hostsync: ${message}`, message, exitCode: ExitCode.Failure };
  }
  if (error instanceof Error && error.name === 'CACError') {
    const message = `${redact(error.message)}. Run \`hostsync --help\` for the options.`;
    return { text: `hostsync: ${message}`, message, exitCode: ExitCode.Usage };
  }
  const text = error instanceof Error ? (error.stack ?? error.message) : errorMessage(error);
  return { text: `hostsync: internal error (a bug; please report it with this output):\n${redact(text)}`, message: `internal error: ${redact(errorMessage(error))}`, exitCode: ExitCode.Failure };
}

/** Print an expected failure as one line, anything else with its stack. Returns the exit code. */
export function handleError(error: unknown, io: CliIO): number {
  const failure = describeFailure(error, io);
  fail(failure.text, io);
  return failure.exitCode;
}
