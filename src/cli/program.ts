/**
 * The commands: one table of what each is called, says, takes and shows as examples. The cac
 * program (parsing), `--help` (./help.ts) and bash completion (./completion.ts) all derive from it;
 * setting options come from the settings table (./options.ts).
 */
import { cac, type CAC } from 'cac';
import { settingOptions, type OptionSpec } from './options.js';
import type { CliIO } from './io.js';

type Flags = Record<string, unknown>;

/** What a command module exports. */
export type CommandModule = { runCommand: (flags: Flags, argv: readonly string[], io: CliIO, args: readonly string[]) => Promise<number> };

export interface CommandSpec {
  readonly name: string;
  /** Positional arguments in cac syntax: `[command]`, `<shell>`. */
  readonly args?: string;
  /** One line for the command list. */
  readonly summary: string;
  readonly options: readonly OptionSpec[];
  /** Shown by --help; test/cli/hints.test.ts runs every one that needs no host of its own. */
  readonly examples: readonly string[];
  /** The command's module, imported only when it runs (static thunks, so a bundler can see them). */
  readonly load: () => Promise<CommandModule>;
}

/** `-h, --help` and `-v, --version`: accepted by every command. */
export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { flag: '-h, --help', description: 'Show this help' },
  { flag: '-v, --version', description: 'Print the version' },
];

const JSON_OPTION: OptionSpec = { flag: '--json', description: 'Print one JSON document on stdout, also on failure (docs/output.md)' };

/** Every command, in the order `hostsync --help` lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'sync',
    summary: 'Make DEST byte-identical to the repository (or --path of it) at --ref',
    options: settingOptions('sync'),
    examples: ['hostsync sync --repo acme/hypervisor --ref main --dest /etc/hypervisor', 'hostsync sync --check-only'],
    load: () => import('./commands/sync.js'),
  },
  {
    name: 'history',
    summary: 'List the generations applied to DEST (works offline)',
    options: [...settingOptions('history'), { flag: '--file <path>', description: 'List the versions of one file (relative to DEST) across the kept generations', complete: 'file' }],
    examples: ['hostsync history', 'hostsync history --dest /etc/hypervisor --json', 'hostsync history --file flake.nix'],
    load: () => import('./commands/history.js'),
  },
  {
    name: 'diff',
    summary: 'Show what a sync would change in DEST (or, with --drift, what changed there by hand) as unified diffs',
    options: [...settingOptions('diff'), { flag: '--drift', description: 'Compare DEST with the commit last applied instead of --ref (offline): the changes made by hand' }],
    examples: ['hostsync diff', 'hostsync diff --ref feature/new-bridge', 'hostsync diff --drift'],
    load: () => import('./commands/diff.js'),
  },
  {
    name: 'rollback',
    summary: 'Restore the previous generation (or --to COMMIT) from the local store, without network',
    options: [...settingOptions('rollback'), { flag: '--to <commit>', description: 'Commit (SHA or prefix, from `hostsync history`) of the generation to restore' }],
    examples: ['hostsync rollback --check-only', 'hostsync rollback --to 1a2b3c4d'],
    load: () => import('./commands/rollback.js'),
  },
  {
    name: 'restore',
    args: '<path>',
    summary: 'Put one file of DEST back to its version at a kept commit, from the local store (offline)',
    options: [...settingOptions('restore'), { flag: '--to <commit>', description: 'Commit (SHA or prefix, from `hostsync history --file PATH`) whose version to put back' }],
    examples: ['hostsync history --file flake.nix', 'hostsync restore flake.nix --to 1a2b3c4d'],
    load: () => import('./commands/restore.js'),
  },
  {
    name: 'install-units',
    summary: 'Install the systemd service and timer units (plain and templated) into <prefix>/etc/systemd/system',
    options: [
      { flag: '--prefix <dir>', description: 'Install under DIR/etc/systemd/system, e.g. to copy them to another host (default: /)', complete: 'dir' },
      { flag: '--bin <path>', description: 'Executable the units run (default: this hostsync); under --prefix it need not exist on this host', complete: 'file' },
      { flag: '--force', description: 'Replace unit files whose content differs (keep local changes in drop-ins)' },
      { flag: '--dry-run', description: 'Show what would be written, with a diff of each unit that differs; write nothing (exit 3 when something would change)' },
      JSON_OPTION,
    ],
    examples: ['sudo hostsync install-units', 'hostsync install-units --dry-run', 'hostsync install-units --prefix ./units --bin /run/current-system/sw/bin/hostsync'],
    load: () => import('./commands/install-units.js'),
  },
  {
    name: 'validate',
    summary: 'Run health checks of the install (pass / warn / fail / skip); --fix repairs what it can',
    options: [...settingOptions('validate'), { flag: '--fix', description: 'Repair what can be repaired, then check again (with --prune, also delete what hostsync did not place)' }],
    examples: ['hostsync validate', 'hostsync validate --fix', 'hostsync validate --dest /etc/hypervisor --preset nixos-hypervisor'],
    load: () => import('./commands/validate.js'),
  },
  {
    name: 'dev-update',
    summary: 'validate → sync → rebuild → validate in one run (what the systemd units run)',
    options: [
      ...settingOptions('dev-update'),
      { flag: '--no-rebuild', description: 'Sync (and run the hooks), but not the rebuild; the next run without it rebuilds' },
      { flag: '--skip-rebuild', description: 'Deprecated alias of --no-rebuild', deprecatedFor: '--no-rebuild' },
      { flag: '--fix', description: 'Let the first validate repair what it can' },
    ],
    examples: ['hostsync dev-update', 'hostsync dev-update --ref feature/new-bridge --check-only', 'hostsync dev-update --no-rebuild'],
    load: () => import('./commands/dev-update.js'),
  },
  {
    name: 'completion',
    args: '<shell>',
    summary: 'Print the shell completion script (bash)',
    options: [],
    examples: ['hostsync completion bash > /etc/bash_completion.d/hostsync', 'source <(hostsync completion bash)'],
    load: () => import('./commands/completion.js'),
  },
  {
    name: 'help',
    args: '[command]',
    summary: 'Show the help of hostsync or of one command',
    options: [],
    examples: ['hostsync help', 'hostsync help sync'],
    load: () => import('./commands/help.js'),
  },
  {
    name: 'version',
    summary: 'Print the version',
    options: [JSON_OPTION],
    examples: ['hostsync version'],
    load: () => import('./commands/version.js'),
  },
];

/** The command called `name`, if there is one. */
export function commandSpec(name: string): CommandSpec | undefined {
  return COMMANDS.find((command) => command.name === name);
}

/**
 * The cac program, for parsing only: help, version and errors are printed by main.ts. Commands are
 * declared with `ignoreOptionDefaultValue` (defaults live in src/config, not here).
 * `run` receives the command name, its flags and its positional arguments.
 */
export function buildProgram(run: (name: string, flags: Flags, args: readonly string[]) => Promise<number>): CAC & { pending: Promise<number> | undefined } {
  const program = cac('hostsync') as CAC & { pending: Promise<number> | undefined };
  program.pending = undefined;
  for (const option of GLOBAL_OPTIONS) program.option(option.flag, option.description);
  for (const spec of COMMANDS) {
    const command = program.command(`${spec.name}${spec.args === undefined ? '' : ` ${spec.args}`}`, spec.summary, { ignoreOptionDefaultValue: true });
    for (const option of spec.options) command.option(option.flag, option.description);
    for (const example of spec.examples) command.example(example);
    command.action((...params: unknown[]) => {
      const flags = params[params.length - 1] as Flags;
      const args = params.slice(0, -1).filter((arg) => arg !== undefined).map(String);
      program.pending = run(spec.name, flags, args);
    });
  }
  return program;
}
