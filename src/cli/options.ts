/**
 * Command-line options shared by commands, in cac's syntax. Every option has a camelCase config
 * key of the same name (`--state-dir` ↔ `stateDir`); docs/configuration.md lists them all.
 */

import { allSettings, flagOf, kebabOf, type CommandName } from '../config/settings.js';

export interface OptionSpec {
  readonly flag: string;
  readonly description: string;
  readonly default?: unknown;
}

/** The `--config` option of every command that reads configuration. */
const CONFIG_OPTION: OptionSpec = { flag: '--config <file>', description: 'JSON config file; flags override its keys' };

/**
 * The options of a command, from the settings table (src/config/settings.ts): every setting the
 * command's flags may set, with its help text and default, plus `--config`.
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
    } else {
      options.push({ flag: `${flag} <${spec.placeholder ?? 'value'}>`, description: `${spec.summary}${shown}` });
    }
  }
  return options;
}

/**
 * cac (via mri) turns number-looking values into numbers: `--ref 1.10` would become 1.1. Put back
 * the exact text the user typed for every value option.
 */
export function restoreStrings(flags: Record<string, unknown>, argv: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...flags };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const key = name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
    if (typeof out[key] !== 'number') continue;
    const value = eq === -1 ? argv[i + 1] : arg.slice(eq + 1);
    if (value !== undefined) out[key] = value;
  }
  return out;
}
