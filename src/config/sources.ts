/**
 * The three layers a setting can come from (flag > config file > environment), and the strict
 * coercion of a raw value into a string, integer, boolean, list or path. Every value remembers its
 * source so a message names the setting exactly as the user wrote it and shows the fix in that
 * layer's own syntax.
 */

import path from 'node:path';
import { kebabOf } from './settings.js';

/** An inclusive integer range. */
export interface IntegerRange {
  readonly min: number;
  readonly max: number;
}
import type { ConfigInput } from './types.js';

/** Where a value came from; higher layers win. */
export type Layer = 'flag' | 'file' | 'env';

/** Rank of a layer: a higher number wins. */
export const LAYER_RANK: Readonly<Record<Layer, number>> = { flag: 3, file: 2, env: 1 };

/** A raw value's origin, and how to talk about it. */
export interface Source {
  readonly layer: Layer;
  /** The setting as the user wrote it, in backticks: `` `--ref` ``, `` `ref` in /etc/hostsync/config.json ``, `` `HOSTSYNC_REF` ``. */
  readonly label: string;
  /** Suffix naming a file or variable (`' in /etc/…'`, `' in HOSTSYNC_REF'`); empty for flags, whose example names them. */
  readonly where: string;
  /** Directory relative paths from this source resolve against: the config file's, else the working directory. */
  readonly baseDir: string;
  /** The setting written with a value, as a fix the user can copy. */
  example(value: string | number | boolean): string;
}

/** A raw value and where it came from. */
export interface Found {
  readonly raw: unknown;
  readonly source: Source;
}

/** Where one setting lives in each layer. */
export interface Setting {
  /** Key path in the config file, e.g. `['rebuild', 'when']`. */
  readonly file: readonly string[];
  /** camelCase flag key, if a flag sets it. */
  readonly flag?: string | undefined;
  /** Environment variables, first non-empty wins. */
  readonly env?: readonly string[] | undefined;
}

/** Errors and warnings collected along the way. */
export interface Problems {
  readonly errors: string[];
  readonly warnings: string[];
}

/** Looks a setting up across the layers; `undefined` when no layer sets it. */
export type Lookup = (setting: Setting) => Found | undefined;

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

function flagSource(flag: string, cwd: string): Source {
  const typed = `--${kebabOf(flag)}`;
  return {
    layer: 'flag',
    label: `\`${typed}\``,
    where: '',
    baseDir: cwd,
    example: (value) => {
      if (value === true) return typed;
      if (value === false) return `--no-${kebabOf(flag)}`;
      return `${typed} ${shellQuote(String(value))}`;
    },
  };
}

function fileSource(keyPath: readonly string[], file: string): Source {
  const last = keyPath[keyPath.length - 1] ?? '';
  return {
    layer: 'file',
    label: `\`${keyPath.join('.')}\` in ${file}`,
    where: ` in ${file}`,
    baseDir: path.dirname(file),
    example: (value) => `${JSON.stringify(last)}: ${JSON.stringify(value)}`,
  };
}

function envSource(name: string, cwd: string): Source {
  return {
    layer: 'env',
    label: `\`${name}\``,
    where: ` in ${name}`,
    baseDir: cwd,
    example: (value) => `${name}=${shellQuote(String(value))}`,
  };
}

/** A plain JSON object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Build the lookup over `input`'s flags, config file and environment. */
export function createLookup(input: Pick<ConfigInput, 'flags' | 'file' | 'env' | 'cwd'>): Lookup {
  return (setting) => {
    if (setting.flag !== undefined) {
      const raw = input.flags[setting.flag];
      if (raw !== undefined) return { raw, source: flagSource(setting.flag, input.cwd) };
    }
    if (input.file !== undefined) {
      let node: unknown = input.file.data;
      for (const key of setting.file) {
        node = isRecord(node) && Object.hasOwn(node, key) ? node[key] : undefined;
      }
      if (node !== undefined) return { raw: node, source: fileSource(setting.file, input.file.path) };
    }
    for (const name of setting.env ?? []) {
      const raw = input.env[name];
      if (raw !== undefined && raw !== '') return { raw, source: envSource(name, input.cwd) };
    }
    return undefined;
  };
}

/** A raw value as a message shows it: strings quoted and escaped, long ones cut. */
export function describe(raw: unknown): string {
  if (typeof raw === 'string') {
    const cut = raw.length > 120 ? `${raw.slice(0, 117)}...` : raw;
    const shown = cut.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
    return `'${shown}'`;
  }
  if (typeof raw === 'number' || typeof raw === 'boolean' || raw === null) return String(raw);
  if (Array.isArray(raw)) return 'an array';
  if (typeof raw === 'object') return 'an object';
  return typeof raw;
}

/** cac gives an array when a flag is repeated; one value is fine, more is ambiguous. */
function single(found: Found, problems: Problems): { ok: true; raw: unknown } | { ok: false } {
  const { raw, source } = found;
  if (source.layer !== 'flag' || !Array.isArray(raw)) return { ok: true, raw };
  if (raw.length === 1) return { ok: true, raw: raw[0] };
  problems.errors.push(`${source.label} was given ${raw.length} times; give it once.`);
  return { ok: false };
}

/** A non-empty string without NUL. Flags may arrive as numbers (cac coerces them): they become strings. */
export function asString(found: Found, problems: Problems): string | undefined {
  const one = single(found, problems);
  if (!one.ok) return undefined;
  const { raw } = one;
  const { source } = found;
  if (source.layer === 'flag' && typeof raw === 'number') return String(raw);
  if (source.layer === 'flag' && typeof raw === 'boolean') {
    problems.errors.push(`${source.label} needs a value.`);
    return undefined;
  }
  if (typeof raw !== 'string') {
    problems.errors.push(`Expected ${source.label} to be a string, got ${describe(raw)}.`);
    return undefined;
  }
  if (raw.trim() === '') {
    problems.errors.push(`Expected ${source.label} to be a non-empty string, got ${describe(raw)}.`);
    return undefined;
  }
  if (raw.includes('\0')) {
    problems.errors.push(`Expected ${source.label} to be a string without NUL characters, got ${describe(raw)}.`);
    return undefined;
  }
  return raw;
}

/** An integer within `range`; strings must be plain decimal digits. */
export function asInteger(found: Found, range: IntegerRange, problems: Problems): number | undefined {
  const one = single(found, problems);
  if (!one.ok) return undefined;
  const { raw } = one;
  let value: number | undefined;
  if (typeof raw === 'number' && found.source.layer !== 'env') value = raw;
  else if (typeof raw === 'string' && found.source.layer !== 'file' && /^\d{1,15}$/.test(raw)) value = Number(raw);
  if (value === undefined || !Number.isInteger(value) || value < range.min || value > range.max) {
    problems.errors.push(
      `Expected ${found.source.label} to be an integer from ${range.min} to ${range.max}, got ${describe(raw)}.`,
    );
    return undefined;
  }
  return value;
}

const ENV_TRUE = new Set(['1', 'true', 'yes', 'on']);
const ENV_FALSE = new Set(['0', 'false', 'no', 'off']);

/** A boolean: JSON booleans in the file, `true`/`false` on flags, also 1/0/yes/no/on/off in the environment. */
export function asBoolean(found: Found, problems: Problems): boolean | undefined {
  const one = single(found, problems);
  if (!one.ok) return undefined;
  const { raw } = one;
  const { layer, label } = found.source;
  if (typeof raw === 'boolean' && layer !== 'env') return raw;
  if (typeof raw === 'string' && layer === 'flag' && (raw === 'true' || raw === 'false')) return raw === 'true';
  if (typeof raw === 'string' && layer === 'env') {
    const word = raw.trim().toLowerCase();
    if (ENV_TRUE.has(word)) return true;
    if (ENV_FALSE.has(word)) return false;
    problems.errors.push(`Expected ${label} to be 1, 0, true or false, got ${describe(raw)}.`);
    return undefined;
  }
  problems.errors.push(`Expected ${label} to be true or false, got ${describe(raw)}.`);
  return undefined;
}

/** One of `values`. */
export function asEnum<T extends string>(found: Found, values: readonly T[], problems: Problems): T | undefined {
  const value = asString(found, problems);
  if (value === undefined) return undefined;
  const match = values.find((v) => v === value);
  if (match === undefined) {
    problems.errors.push(`Expected ${found.source.label} to be one of ${values.join(', ')}, got ${describe(value)}.`);
  }
  return match;
}

/** A list of non-empty strings: an array in the file; one flag, or an array of repeated flags. */
export function asStringList(found: Found, problems: Problems): string[] | undefined {
  const { raw, source } = found;
  if (!Array.isArray(raw) && source.layer !== 'flag') {
    problems.errors.push(`Expected ${source.label} to be an array of strings, got ${describe(raw)}.`);
    return undefined;
  }
  const items: readonly unknown[] = Array.isArray(raw) ? raw : [raw];
  const out: string[] = [];
  items.forEach((item, index) => {
    const value = source.layer === 'flag' && typeof item === 'number' ? String(item) : item;
    if (typeof value === 'string' && value.trim() !== '') out.push(value);
    else {
      const at = Array.isArray(raw) ? ` at index ${index}` : '';
      problems.errors.push(`Expected every entry of ${source.label} to be a non-empty string, got ${describe(value)}${at}.`);
    }
  });
  return out.length === items.length ? out : undefined;
}

/** Expand a leading `~` and make `value` absolute against `baseDir`. */
export function resolvePath(value: string, baseDir: string, home: string): string {
  if (value === '~') return path.resolve(home);
  if (value.startsWith('~/')) return path.resolve(home, value.slice(2));
  return path.resolve(baseDir, value);
}

/** A filesystem path, made absolute: `~` expands to the home directory, relative paths resolve against the source's base. */
export function asPath(found: Found, home: string, problems: Problems): string | undefined {
  const value = asString(found, problems);
  return value === undefined ? undefined : resolvePath(value, found.source.baseDir, home);
}
