/**
 * From config data to checks: the built-in checks every validate runs, those a preset turns on,
 * and the `checks` array of the config file, each `{type, id?, enabled?, ...params}`. A
 * configured check whose `id` equals a built-in or preset one replaces it (to change its
 * parameters); `"enabled": false` turns it off. Problems come back all at once.
 */
import type { CheckConfig } from '../config/types.js';
import { executableCheck, ownershipCheck, permissionsCheck } from './attributes.js';
import { diskSpaceCheck } from './disk.js';
import { jsonCheck, requiredCheck } from './files.js';
import { destCheck, integrityCheck, unmanagedCheck } from './integrity.js';
import { Params } from './params.js';
import { PRESETS } from './presets.js';
import { stateCheck } from './state.js';
import { commandCheck, deviceCheck, nixCheck, toolsCheck } from './system.js';
import type { Check } from './types.js';

type Factory = (id: string, params: Params) => Check;

const noParams = (create: (id: string) => Check): Factory => (id) => create(id);

/** Every check type, by the `type` the config names it with. */
export const CHECK_TYPES: Readonly<Record<string, Factory>> = {
  state: noParams(stateCheck),
  dest: noParams(destCheck),
  integrity: noParams(integrityCheck),
  unmanaged: noParams(unmanagedCheck),
  ownership: noParams(ownershipCheck),
  'disk-space': diskSpaceCheck,
  required: requiredCheck,
  json: jsonCheck,
  executable: executableCheck,
  permissions: permissionsCheck,
  tools: toolsCheck,
  command: commandCheck,
  nix: nixCheck,
  device: deviceCheck,
};

/** What decides which checks run. */
export interface CheckSelection {
  readonly checks: readonly CheckConfig[];
  readonly preset: string | undefined;
  /** The config sets `owner` or `group`: the `ownership` check runs. */
  readonly ownership: boolean;
}

/** The built-in checks, in the order they run (and fix: state first, then DEST, then content). */
export function builtinChecks(ownership: boolean): CheckConfig[] {
  const list: CheckConfig[] = [{ type: 'state' }, { type: 'dest' }, { type: 'integrity' }, { type: 'unmanaged' }];
  if (ownership) list.push({ type: 'ownership' });
  list.push({ type: 'disk-space' });
  return list;
}

/** The check configs that will run, in order, after presets and overrides. Pure. */
export function selectCheckConfigs(selection: CheckSelection): { configs: { config: CheckConfig; id: string; label: string }[]; errors: string[] } {
  const errors: string[] = [];
  const entries: { config: CheckConfig; id: string; label: string }[] = [];
  const add = (config: CheckConfig, label: string): void => {
    entries.push({ config, id: typeof config['id'] === 'string' ? config['id'] : config.type, label });
  };
  for (const config of builtinChecks(selection.ownership)) add(config, `built-in check '${config.type}'`);
  if (selection.preset !== undefined) {
    const preset = PRESETS[selection.preset];
    if (preset === undefined) errors.push(`Unknown preset '${selection.preset}'; known presets: ${Object.keys(PRESETS).join(', ')}.`);
    else for (const config of preset) add(config, `check '${String(config['id'])}' of preset ${selection.preset}`);
  }
  const used = new Set(entries.map((entry) => entry.id));
  const fixed = new Set(used);
  const builtinIds = new Set(builtinChecks(true).map((config) => config.type));
  selection.checks.forEach((config, index) => {
    const label = `check '${config.type}' (checks[${index}])`;
    // A built-in type without an id configures the built-in check itself.
    const explicit = config['id'] ?? (builtinIds.has(config.type) ? config.type : undefined);
    if (explicit !== undefined && (typeof explicit !== 'string' || !/^[A-Za-z0-9._-]+$/.test(explicit))) {
      errors.push(`Expected \`id\` of ${label} to be a name of letters, digits, '.', '_' or '-', got ${JSON.stringify(explicit)}.`);
      return;
    }
    const enabled = config['enabled'];
    if (enabled !== undefined && typeof enabled !== 'boolean') errors.push(`Expected \`enabled\` of ${label} to be true or false, got ${JSON.stringify(enabled)}.`);
    if (explicit !== undefined && fixed.has(explicit)) {
      // Replace (or, with enabled: false, remove) a built-in or preset check.
      const at = entries.findIndex((entry) => entry.id === explicit);
      if (at !== -1) entries.splice(at, 1, ...(enabled === false ? [] : [{ config, id: explicit, label: `check '${explicit}' (checks[${index}])` }]));
      fixed.delete(explicit);
      return;
    }
    if (enabled === false) return;
    let id = explicit ?? config.type;
    if (used.has(id)) {
      if (explicit !== undefined) {
        errors.push(`Two checks have the id '${id}' (checks[${index}]); give each a different \`id\`.`);
        return;
      }
      let n = 2;
      while (used.has(`${config.type}-${n}`)) n++;
      id = `${config.type}-${n}`;
    }
    used.add(id);
    entries.push({ config, id, label });
  });
  return { configs: entries, errors };
}

/** Build the checks to run; `errors` lists every problem with the configuration (exit 2). */
export function buildChecks(selection: CheckSelection): { checks: Check[]; errors: string[] } {
  const { configs, errors } = selectCheckConfigs(selection);
  const checks: Check[] = [];
  for (const { config, id, label } of configs) {
    const factory = CHECK_TYPES[config.type];
    if (factory === undefined) {
      errors.push(`Unknown check type '${config.type}' in ${label}; known types: ${Object.keys(CHECK_TYPES).join(', ')}.`);
      continue;
    }
    const params = new Params(config, label);
    const check = factory(id, params);
    const problems = params.finish();
    if (problems.length > 0) errors.push(...problems);
    else checks.push(check);
  }
  return { checks, errors };
}
