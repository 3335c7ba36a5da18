/**
 * The structured parts of the config: the file's overall shape (unknown keys are errors, with a
 * suggestion), and the `rebuild`, `hooks` and `checks` sections.
 */

import { flagOf, IGNORED_FILE_KEYS, sectionKeys, settingOf, topLevelKeys } from './settings.js';
import { asBoolean, asEnum, asInteger, asString, describe, isRecord } from './sources.js';
import type { Lookup, Problems } from './sources.js';
import { closestMatch } from './suggest.js';
import type { CheckConfig, ConfigFile, HooksConfig, RebuildConfig } from './types.js';

function unknownKey(key: string, prefix: string, names: readonly string[], file: string): string {
  const start = `Unknown key \`${prefix}${key}\` in ${file}.`;
  if (prefix === '' && /^(?:github[-_]?)?token$/i.test(key)) {
    return `${start} hostsync never reads a token from the config file: put it in a file only you can read (chmod 600) and set "tokenFile" to its path.`;
  }
  const guess = closestMatch(key, names);
  if (guess !== undefined) return `${start} Did you mean \`${prefix}${guess}\`?`;
  return `${start} Remove it; known keys are ${names.map((n) => prefix + n).join(', ')}.`;
}

function checkKeys(data: Record<string, unknown>, prefix: string, known: readonly string[], file: string, problems: Problems): void {
  for (const key of Object.keys(data)) {
    if (prefix === '' && IGNORED_FILE_KEYS.includes(key)) continue;
    if (!known.includes(key)) problems.errors.push(unknownKey(key, prefix, known, file));
  }
}

/**
 * Check the config file's structure: a JSON object with known keys only, and objects where the
 * sections need them. Values are checked where they are parsed.
 */
export function checkFileShape(file: ConfigFile, problems: Problems): void {
  const { data, path } = file;
  if (!isRecord(data)) {
    problems.errors.push(`Expected ${path} to hold a JSON object, got ${describe(data)}.`);
    return;
  }
  checkKeys(data, '', topLevelKeys(), path, problems);
  for (const [section, known] of [
    ['rebuild', sectionKeys('rebuild')],
    ['hooks', sectionKeys('hooks')],
    ['trust', sectionKeys('trust')],
  ] as const) {
    const value = data[section];
    if (value === undefined) continue;
    if (isRecord(value)) checkKeys(value, `${section}.`, known, path, problems);
    else {
      const shape = section === 'rebuild' ? '{"command": "..."}' : section === 'hooks' ? '{"preSync": "...", "postSync": "..."}' : '{"allowedSignersFile": "/etc/hostsync/allowed_signers"}';
      problems.errors.push(`Expected \`${section}\` in ${path} to be an object like ${shape}, got ${describe(value)}.`);
    }
  }
}

/**
 * The rebuild step: `--rebuild COMMAND` or `rebuild.command`, and its options. `--no-rebuild`
 * (flag `false`) turns a configured rebuild off.
 */
export function readRebuild(find: Lookup, disabled: boolean, file: ConfigFile | undefined, problems: Problems): RebuildConfig | undefined {
  if (disabled) return undefined;
  const setting = (key: string) => ({ file: ['rebuild', key], flag: flagOf(`rebuild.${key}`) });
  const when = settingOf('rebuild.when');
  const timeout = settingOf('rebuild.timeoutSec');
  if (when.kind !== 'enum' || timeout.kind !== 'integer') throw new Error('BUG: rebuild settings changed kind');
  const commandFound = find(setting('command'));
  const whenFound = find(setting('when'));
  const timeoutFound = find(setting('timeoutSec'));
  const rollbackFound = find(setting('rollbackOnFailure'));
  const command = commandFound === undefined ? undefined : asString(commandFound, problems);
  const whenValue = whenFound === undefined ? when.default : asEnum(whenFound, when.values, problems);
  const timeoutSec = timeoutFound === undefined ? timeout.default : asInteger(timeoutFound, timeout, problems);
  const rollbackOnFailure = rollbackFound === undefined ? false : asBoolean(rollbackFound, problems);
  if (commandFound === undefined) {
    const orphan = [whenFound, timeoutFound, rollbackFound].find((f) => f !== undefined);
    const fileSection = file !== undefined && isRecord(file.data) && isRecord(file.data['rebuild']);
    if (fileSection && file !== undefined) {
      problems.errors.push(`Expected \`rebuild\` in ${file.path} to have a "command", e.g. "command": "nixos-rebuild switch".`);
    } else if (orphan !== undefined) {
      problems.errors.push(`${orphan.source.label} needs a rebuild command: add --rebuild COMMAND, or "rebuild": {"command": "..."} to the config file.`);
    }
    return undefined;
  }
  if (command === undefined || whenValue === undefined || timeoutSec === undefined || rollbackOnFailure === undefined) return undefined;
  return { command, when: whenValue as RebuildConfig['when'], timeoutSec, rollbackOnFailure };
}

/** `hooks.preSync` / `hooks.postSync` / `hooks.onOutcome`, or `--pre-sync` / `--post-sync` / `--on-outcome`. */
export function readHooks(find: Lookup, problems: Problems): HooksConfig {
  const read = (key: keyof HooksConfig): string | undefined => {
    const found = find({ file: ['hooks', key], flag: flagOf(`hooks.${key}`) });
    return found === undefined ? undefined : asString(found, problems);
  };
  const preSync = read('preSync');
  const postSync = read('postSync');
  const onOutcome = read('onOutcome');
  return { ...(preSync === undefined ? {} : { preSync }), ...(postSync === undefined ? {} : { postSync }), ...(onOutcome === undefined ? {} : { onOutcome }) };
}

/** `checks`: an array of objects, each with a non-empty string `type`; other fields belong to the check. */
export function readChecks(find: Lookup, problems: Problems): CheckConfig[] {
  const found = find({ file: ['checks'] });
  if (found === undefined) return [];
  const { raw, source } = found;
  if (!Array.isArray(raw)) {
    problems.errors.push(`Expected ${source.label} to be an array of objects like {"type": "..."}, got ${describe(raw)}.`);
    return [];
  }
  const checks: CheckConfig[] = [];
  raw.forEach((item: unknown, index) => {
    const label = `\`checks[${index}]\`${source.where}`;
    if (!isRecord(item)) {
      problems.errors.push(`Expected ${label} to be an object like {"type": "..."}, got ${describe(item)}.`);
      return;
    }
    const type = item['type'];
    if (type === undefined) {
      problems.errors.push(`${label} has no \`type\`; name the check, e.g. {"type": "..."}.`);
      return;
    }
    if (typeof type !== 'string' || type.trim() === '') {
      problems.errors.push(`Expected \`checks[${index}].type\`${source.where} to be a non-empty string naming a check, got ${describe(type)}.`);
      return;
    }
    checks.push({ ...item, type });
  });
  return checks;
}
