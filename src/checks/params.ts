/**
 * Reading a check's parameters from its config object (`{"type": "...", ...params}`), validated
 * once, every problem collected with a message that names the check, the key and the value.
 */
import type { CheckConfig } from '../config/types.js';

/** Keys every check accepts besides its own. */
export const COMMON_KEYS = ['type', 'id', 'enabled'] as const;

/** Reads typed parameters of one check config, collecting errors. */
export class Params {
  readonly errors: string[] = [];
  private readonly used = new Set<string>(COMMON_KEYS);

  constructor(
    private readonly raw: CheckConfig,
    /** How messages name the check, e.g. "check 'tools' (checks[2])". */
    readonly label: string,
  ) {}

  private fail(key: string, expected: string, value: unknown, example: string): undefined {
    this.errors.push(`Expected \`${key}\` of ${this.label} to be ${expected}, got ${JSON.stringify(value) ?? String(value)}, e.g. "${key}": ${example}.`);
    return undefined;
  }

  /** A non-empty string. */
  string(key: string, example: string): string | undefined {
    this.used.add(key);
    const value = this.raw[key];
    if (value === undefined) return undefined;
    return typeof value === 'string' && value.trim() !== '' ? value : this.fail(key, 'a non-empty string', value, JSON.stringify(example));
  }

  /** A non-empty string that must be present. */
  requiredString(key: string, example: string): string | undefined {
    if (this.raw[key] === undefined) {
      this.used.add(key);
      this.errors.push(`${this.label} needs \`${key}\`, e.g. "${key}": ${JSON.stringify(example)}.`);
      return undefined;
    }
    return this.string(key, example);
  }

  /** An array of non-empty strings (a single string is accepted as a one-element list). */
  strings(key: string, example: readonly string[]): string[] | undefined {
    this.used.add(key);
    const value = this.raw[key];
    if (value === undefined) return undefined;
    if (typeof value === 'string' && value.trim() !== '') return [value];
    if (Array.isArray(value) && value.every((item): item is string => typeof item === 'string' && item.trim() !== '')) return value;
    return this.fail(key, 'an array of non-empty strings', value, JSON.stringify(example));
  }

  /** An integer within bounds. */
  integer(key: string, min: number, max: number, example: number): number | undefined {
    this.used.add(key);
    const value = this.raw[key];
    if (value === undefined) return undefined;
    return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max ? value : this.fail(key, `an integer from ${min} to ${max}`, value, String(example));
  }

  /** A permission mode as an octal string ("0640", "755"). */
  mode(key: string): number | undefined {
    this.used.add(key);
    const value = this.raw[key];
    if (value === undefined) return undefined;
    if (typeof value === 'string' && /^0?[0-7]{3,4}$/.test(value)) return parseInt(value, 8);
    return this.fail(key, 'an octal mode in a string', value, '"0640"');
  }

  /** One of a few strings. */
  oneOf<T extends string>(key: string, values: readonly T[]): T | undefined {
    this.used.add(key);
    const value = this.raw[key];
    if (value === undefined) return undefined;
    return (values as readonly unknown[]).includes(value) ? (value as T) : this.fail(key, `one of ${values.map((v) => `"${v}"`).join(', ')}`, value, `"${values[0]}"`);
  }

  /** Report keys no reader asked for. Call after reading every parameter. */
  finish(): string[] {
    for (const key of Object.keys(this.raw)) {
      if (!this.used.has(key)) {
        const known = [...this.used].filter((k) => !(COMMON_KEYS as readonly string[]).includes(k));
        this.errors.push(`Unknown key \`${key}\` in ${this.label}; ${known.length === 0 ? 'this check takes no parameters' : `it takes ${known.map((k) => `\`${k}\``).join(', ')}`}.`);
      }
    }
    return this.errors;
  }
}

/** Expand `{hostname}` in a configured path. Pure. */
export function expandPath(path: string, hostname: string): string {
  return path.replaceAll('{hostname}', hostname);
}
