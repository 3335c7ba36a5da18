/** "Did you mean" for commands and options typed wrong, with the closest match (src/config/suggest.ts). */
import { closestMatch } from '../config/suggest.js';
import { UsageError } from '../errors.js';
import { COMMANDS, GLOBAL_OPTIONS } from './program.js';
import type { OptionSpec } from './options.js';

/** `hostsync synk` → "Unknown command 'synk'. Did you mean `hostsync sync`?". */
export function unknownCommand(word: string): UsageError {
  const guess = closestMatch(word, COMMANDS.map((command) => command.name));
  const hint = guess === undefined ? '' : ` Did you mean \`hostsync ${guess}\`?`;
  return new UsageError(`Unknown command '${word}'.${hint} Run \`hostsync --help\` for the list.`);
}

/** The long option names a command accepts, as typed (`--state-dir`), global ones included. */
export function longNames(options: readonly OptionSpec[]): string[] {
  return [...options, ...GLOBAL_OPTIONS].flatMap((option) => option.flag.split(',').map((part) => part.trim().split(/\s+/)[0] ?? '')).filter((name) => name.startsWith('--'));
}

/** `--verison` → "Unknown option `--verison`. Did you mean `--version`?". `command` names where it was given. */
export function unknownOption(typed: string, options: readonly OptionSpec[], command: string | undefined): UsageError {
  const known = longNames(options);
  const bare = typed.replace(/^-+/, '');
  const guess = closestMatch(bare, known.map((name) => name.slice(2)));
  const where = command === undefined ? 'hostsync' : `hostsync ${command}`;
  const hint = guess === undefined ? '' : ` Did you mean \`--${guess}\`?`;
  return new UsageError(`Unknown option \`${typed}\` for \`${where}\`.${hint} Run \`${where} --help\` for the options.`);
}
