/**
 * Command-line options in cac's syntax, and the flags a command receives. Every setting's option
 * comes from the settings table (src/config/settings.ts), so a command offers exactly the settings
 * its `commands` list names; a few options are a command's own (`--to`, `--fix`, install-units').
 */

import { allSettings, flagOf, kebabOf, type CommandName } from '../config/settings.js';
import { DEFAULT_CONFIG_FILE } from '../config/load.js';

export interface OptionSpec {
  /** cac syntax: `--ref <ref>`, `--json`, `--no-prune`, `-h, --help`. */
  readonly flag: string;
  readonly description: string;
  /** Repeatable: every occurrence is kept, in order (`--preserve a --preserve b`). */
  readonly list?: true;
  /** A deprecated alias: the option to use instead. Accepted, left out of --help, warned about. */
  readonly deprecatedFor?: string;
  /** What completion offers as its value: files, folders, or these words. */
  readonly complete?: 'file' | 'dir' | readonly string[];
}

/** The `--config` option of every command that reads configuration. */
const CONFIG_OPTION: OptionSpec = {
  flag: '--config <file>',
  description: `JSON config file; flags override its keys (default: ${DEFAULT_CONFIG_FILE} when it exists, or $HOSTSYNC_CONFIG)`,
  complete: 'file',
};

/**
 * The options of a command, from the settings table: every setting whose `commands` name it, with
 * its help text and default, plus `--config`. A negatable boolean also gets its `--no-` form,
 * described as what it does (never cac's "(default: true)").
 */
export function settingOptions(command: CommandName): OptionSpec[] {
  const options: OptionSpec[] = [CONFIG_OPTION];
  for (const [key, spec] of allSettings()) {
    if (!spec.commands.includes(command)) continue;
    const flag = `--${kebabOf(flagOf(key) ?? key)}`;
    const shown = 'default' in spec && spec.default !== undefined && spec.default !== '' && (spec.kind === 'integer' || spec.kind === 'enum') ? ` (default ${String(spec.default)})` : '';
    if (spec.kind === 'boolean') {
      options.push({ flag, description: spec.summary });
      if (spec.negatable !== undefined) options.push({ flag: `--no-${kebabOf(flagOf(key) ?? key)}`, description: spec.negatable });
      continue;
    }
    const complete = spec.kind === 'enum' ? spec.values : spec.kind === 'path' ? 'file' : spec.placeholder === 'dir' ? 'dir' : undefined;
    options.push({
      flag: `${flag} <${spec.placeholder ?? 'value'}>`,
      description: `${spec.summary}${shown}`,
      ...(key === 'preserve' ? { list: true as const } : {}),
      ...(complete !== undefined ? { complete } : {}),
    });
  }
  return options;
}

/** The long name as typed: `-h, --help` → `--help`. */
function longName(flag: string): string {
  return flag.split(',').map((part) => part.trim().split(/\s+/)[0] ?? '').find((part) => part.startsWith('--')) ?? '';
}

const camel = (text: string): string => text.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

/** `--state-dir <dir>` → `stateDir`; `--no-prune` → `prune` (a negation); `--no-proxy <hosts>` → `noProxy` (a value). */
export function optionKey(flag: string): string {
  const long = longName(flag);
  return camel(/[<[]/.test(flag) ? long.slice(2) : long.replace(/^--(no-)?/, ''));
}

/** Whether an option takes a value (`--ref <ref>`). */
export function takesValue(spec: OptionSpec): boolean {
  return /[<[]/.test(spec.flag);
}

/**
 * Value options whose name starts with `no-` (`--no-proxy <hosts>`): cac would read them as the
 * negation of another option (`--proxy`) and leave the value behind as a stray argument. Take
 * them out of argv before cac parses it; returns the rest and their values (the last one wins).
 */
export function takeNoValueOptions(argv: readonly string[], specs: readonly OptionSpec[]): { argv: string[]; values: Record<string, string> } {
  const names = new Set(specs.filter((spec) => takesValue(spec) && longName(spec.flag).startsWith('--no-')).map((spec) => longName(spec.flag)));
  const rest: string[] = [];
  const values: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const value = eq === -1 ? argv[i + 1] : arg.slice(eq + 1);
    if (!names.has(name) || value === undefined) {
      rest.push(arg);
      continue;
    }
    values[camel(name.slice(2))] = value;
    if (eq === -1) i++;
  }
  return { argv: rest, values };
}

/**
 * The flags a command acts on, from cac's parse and the argv it came from:
 * - a value option given more than once: the last one wins (wrappers append overrides), except
 *   repeatable ones (`--preserve`), which keep every value in order;
 * - values exactly as typed: cac (via mri) turns number-looking values into numbers (`--ref 1.10`
 *   would become 1.1), so the text is taken from argv.
 */
export function commandFlags(flags: Readonly<Record<string, unknown>>, argv: readonly string[], specs: readonly OptionSpec[]): Record<string, unknown> {
  const lists = new Set(specs.filter((spec) => spec.list === true).map((spec) => optionKey(spec.flag)));
  const valued = new Set(specs.filter(takesValue).map((spec) => optionKey(spec.flag)));
  const typed = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    const key = (eq === -1 ? arg.slice(2) : arg.slice(2, eq)).replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
    if (!valued.has(key)) continue;
    const value = eq === -1 ? argv[i + 1] : arg.slice(eq + 1);
    if (value === undefined) continue;
    typed.set(key, [...(typed.get(key) ?? []), value]);
    if (eq === -1) i++;
  }
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(flags)) {
    if (key === '--') continue;
    const values: unknown[] = Array.isArray(raw) ? [...(raw as unknown[])] : [raw];
    const texts = typed.get(key);
    // Put back the typed text of every value cac made a number, position by position.
    if (texts !== undefined) {
      let next = 0;
      for (let i = 0; i < values.length; i++) {
        if (typeof values[i] === 'number' || typeof values[i] === 'string') values[i] = texts[next] ?? values[i];
        if (typeof values[i] !== 'boolean') next++;
      }
    }
    out[key] = lists.has(key) ? (Array.isArray(raw) ? values : values[0]) : values[values.length - 1];
  }
  return out;
}
