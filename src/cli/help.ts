/**
 * The help texts, from the command table (./program.ts): `hostsync --help` lists the commands with
 * examples, where configuration comes from, and the exit codes; `hostsync COMMAND --help` lists
 * the command's options as declared — a `--no-x` option says what it does, never cac's
 * "(default: true)", which read as if the setting were on by default.
 */
import { ExitCode } from '../errors.js';
import { DEFAULT_CONFIG_FILE } from '../config/load.js';
import { VERSION } from '../version.js';
import { COMMANDS, GLOBAL_OPTIONS, type CommandSpec } from './program.js';
import type { OptionSpec } from './options.js';

/** What each exit code means, in the words of docs/exit-codes.md. */
export const EXIT_CODE_HELP: Readonly<Record<keyof typeof ExitCode, string>> = {
  Ok: 'done, or already in sync',
  Failure: 'failed (network, GitHub, disk, a check or the rebuild); DEST is as it was or fully updated',
  Usage: 'usage or configuration error; nothing was attempted',
  Pending: '--check-only found pending changes, diff found differences (install-units --dry-run: units would change)',
  Locked: 'another hostsync run holds the lock for this DEST',
  Interrupted: 'stopped by SIGINT; the apply step was finished or undone',
  Terminated: 'stopped by SIGTERM; the apply step was finished or undone',
};

function table(rows: readonly (readonly [string, string])[], indent = '  '): string {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `${indent}${left.padEnd(width)}  ${right}`.trimEnd()).join('\n');
}

function usage(spec: CommandSpec): string {
  return `hostsync ${spec.name}${spec.args === undefined ? '' : ` ${spec.args}`}${spec.options.length > 0 ? ' [options]' : ''}`;
}

/** `hostsync --help`. */
export function programHelp(): string {
  const examples = ['hostsync sync --repo acme/hypervisor --ref main --dest /etc/hypervisor', 'hostsync dev-update --check-only', 'hostsync diff', 'hostsync history', 'hostsync rollback --check-only', 'hostsync validate --fix', 'sudo hostsync install-units'];
  const codes = (Object.keys(ExitCode) as (keyof typeof ExitCode)[]).map((name) => [String(ExitCode[name]), EXIT_CODE_HELP[name]] as const);
  return [
    `hostsync ${VERSION}: keep a directory byte-identical to a GitHub repository at a ref`,
    'Usage: hostsync <command> [options]',
    `Commands:\n${table(COMMANDS.map((spec) => [`${spec.name}${spec.args === undefined ? '' : ` ${spec.args}`}`, spec.summary]))}`,
    `Examples:\n${examples.map((line) => `  ${line}`).join('\n')}`,
    `Configuration:\n  Every command reads ${DEFAULT_CONFIG_FILE} when it exists ($HOSTSYNC_CONFIG names another;\n  --config FILE reads FILE instead). Flags override the file's keys; the environment fills in the rest.`,
    `Exit codes:\n${table(codes)}`,
    'Run `hostsync help COMMAND` or `hostsync COMMAND --help` for its options. Docs: docs/ in the package.',
  ].join('\n\n') + '\n';
}

function optionRows(options: readonly OptionSpec[]): [string, string][] {
  return [...options, ...GLOBAL_OPTIONS].filter((option) => option.deprecatedFor === undefined).map((option) => [option.flag, option.description]);
}

/** `hostsync COMMAND --help`. */
export function commandHelp(spec: CommandSpec): string {
  const sections = [`Usage: ${usage(spec)}`, spec.summary, `Options:\n${table(optionRows(spec.options))}`];
  if (spec.examples.length > 0) sections.push(`Examples:\n${spec.examples.map((line) => `  ${line}`).join('\n')}`);
  return sections.join('\n\n') + '\n';
}

/** `hostsync --version`: the same line the single-executable build checks for. */
export function versionLine(): string {
  return `hostsync/${VERSION} ${process.platform}-${process.arch} node-${process.version}\n`;
}
