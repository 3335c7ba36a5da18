/**
 * The fleet settings (issue 19): `rollout` (waves and their interval), `hostId` (the identity a
 * host's wave is derived from), `poll` (how the ref is polled), and a `ref` with alternatives and
 * per-host placeholders (`canary/%H|main`). Pure: readers over the lookup, and the small grammars
 * they check (durations, waves, ref alternatives), which src/rollout/ uses at run time.
 */

import { refProblem } from './validate.js';
import { asString, describe, isRecord } from './sources.js';
import type { Found, Lookup, Problems, Source } from './sources.js';
import { closestMatch } from './suggest.js';

/** Waves and their interval: wave `i` (from 0) applies a new commit once it has been visible for `i × intervalSec`. */
export interface RolloutConfig {
  /** Cumulative percentages of the fleet, rising to 100: `[1, 10, 100]`. */
  readonly waves: readonly number[];
  /** Seconds between one wave and the next. */
  readonly intervalSec: number;
}

/** Most waves a rollout may have. */
export const MAX_WAVES = 20;
/** Longest interval between waves: 30 days. */
export const MAX_INTERVAL_SEC = 30 * 86_400;
/** Most alternatives a ref may list. */
export const MAX_REF_ALTERNATIVES = 5;

const UNITS: Readonly<Record<string, number>> = { d: 86_400, h: 3600, m: 60, s: 1 };

/**
 * Seconds of a duration: `"30m"`, `"1h30m"`, `"90s"`, `"2d"`, `"45"` (seconds), or a number of
 * seconds. Undefined when it is none of these.
 */
export function parseDuration(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isInteger(raw) ? raw : undefined;
  if (typeof raw !== 'string') return undefined;
  const text = raw.trim().toLowerCase();
  if (/^\d{1,9}$/.test(text)) return Number(text);
  const match = /^(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,9})s)?$/.exec(text);
  if (match === null || text === '') return undefined;
  const [, d, h, m, s] = match;
  return [d, h, m, s].reduce((sum, part, i) => sum + Number(part ?? 0) * (UNITS['dhms'[i] ?? 's'] ?? 1), 0);
}

/** A duration as people write it: 1800 → "30m", 5400 → "1h30m", 45 → "45s". */
export function formatDuration(seconds: number): string {
  if (seconds <= 0) return '0s';
  let rest = Math.round(seconds);
  let text = '';
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNITS[unit] ?? 1;
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) text += `${n}${unit}`;
  }
  return text;
}

/** Why `waves` is not a valid wave list, or undefined when it is. */
export function wavesProblem(waves: unknown): string | undefined {
  if (!Array.isArray(waves)) return `got ${describe(waves)}`;
  if (waves.length === 0) return 'got an empty list';
  if (waves.length > MAX_WAVES) return `got ${waves.length} waves; at most ${MAX_WAVES}`;
  let last = 0;
  for (const [index, value] of waves.entries()) {
    if (typeof value !== 'number' || !Number.isFinite(value)) return `item ${index} is ${describe(value)}, not a number`;
    if (value <= 0 || value > 100) return `item ${index} is ${value}, outside 0 (exclusive) to 100`;
    if (value <= last) return `item ${index} (${value}) is not above the one before (${last}): the percentages are cumulative`;
    last = value;
  }
  if (last !== 100) return `the last item is ${last}, so ${100 - last}% of the fleet would be in no wave; end the list with 100`;
  return undefined;
}

/**
 * `rollout`: an object with `waves` and `interval`, both required. Problems name the key and the
 * file, with an example to copy.
 */
export function readRollout(find: Lookup, problems: Problems): RolloutConfig | undefined {
  const found = find({ file: ['rollout'] });
  if (found === undefined) return undefined;
  const { raw, source } = found;
  const example = '{"waves": [1, 10, 100], "interval": "30m"}';
  if (!isRecord(raw)) {
    problems.errors.push(`Expected ${source.label} to be an object like ${example}, got ${describe(raw)}.`);
    return undefined;
  }
  const keys = ['waves', 'interval'];
  for (const key of Object.keys(raw)) {
    if (keys.includes(key)) continue;
    const guess = closestMatch(key, keys);
    problems.errors.push(`Unknown key \`rollout.${key}\`${source.where}.${guess === undefined ? ` Known keys are rollout.waves and rollout.interval.` : ` Did you mean \`rollout.${guess}\`?`}`);
  }
  const where = (key: string): string => `\`rollout.${key}\`${source.where}`;
  const waves = raw['waves'];
  const interval = raw['interval'];
  let ok = true;
  if (waves === undefined || interval === undefined) {
    const missing = ['waves', 'interval'].filter((key) => raw[key] === undefined).join(' and ');
    problems.errors.push(`${source.label} needs ${missing}, e.g. ${example}.`);
    ok = false;
  }
  const wavesWrong = waves === undefined ? undefined : wavesProblem(waves);
  if (wavesWrong !== undefined) {
    problems.errors.push(`Expected ${where('waves')} to be cumulative percentages of the fleet rising to 100, e.g. [1, 10, 100]: ${wavesWrong}.`);
    ok = false;
  }
  const seconds = interval === undefined ? undefined : parseDuration(interval);
  if (interval !== undefined && (seconds === undefined || seconds < 1 || seconds > MAX_INTERVAL_SEC)) {
    const why = seconds === undefined ? `got ${describe(interval)}` : `got ${describe(interval)}, outside 1 second to 30 days`;
    problems.errors.push(`Expected ${where('interval')} to be a duration such as "30m", "1h30m" or "90s", or a number of seconds: ${why}.`);
    ok = false;
  }
  if (!ok || seconds === undefined) return undefined;
  return { waves: [...(waves as number[])], intervalSec: seconds };
}

/** Why `id` cannot be a host id (it must also fit in a ref name, for `%I`), or undefined. */
export function hostIdProblem(id: string): string | undefined {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id)) return 'use 1 to 64 letters, digits, dots, dashes and underscores, starting with a letter or digit';
  if (id.includes('..') || id.endsWith('.') || id.endsWith('.lock')) return "avoid '..' and a trailing '.' or '.lock' (it must fit in a git ref name for %I)";
  return undefined;
}

/** `hostId`: the host's identity for its rollout wave (default: from /etc/machine-id, src/rollout/identity.ts). */
export function readHostId(find: Lookup, setting: { file: readonly string[]; flag?: string | undefined; env?: readonly string[] | undefined }, problems: Problems): string | undefined {
  const found = find(setting);
  const value = found === undefined ? undefined : asString(found, problems)?.trim();
  if (found === undefined || value === undefined) return undefined;
  const problem = hostIdProblem(value);
  if (problem === undefined) return value;
  problems.errors.push(`Invalid host id ${describe(value)}${found.source.where}: ${problem}, e.g. ${found.source.example('hv-017')}.`);
  return undefined;
}

/** One alternative of a `ref`, before the host's values are put in. */
export interface RefAlternative {
  /** As written, placeholders included: `canary/%H`. */
  readonly template: string;
  /** Names this host (`%H`, `%I`): a per-host ref, outside the fleet's waves. */
  readonly hostSpecific: boolean;
}

/** Whether `ref` uses the alternatives/placeholder syntax. */
export function isRefPattern(ref: string): boolean {
  return ref.includes('|') || ref.includes('%');
}

/** The host's values for the placeholders. */
export interface RefPlaceholders {
  /** `%H`: the host name. */
  readonly hostName: string;
  /** `%I`: the host id. */
  readonly hostId: string;
}

/** The problem with one alternative's placeholders, or undefined. */
function placeholderProblem(template: string): string | undefined {
  for (let i = 0; i < template.length; i++) {
    if (template[i] !== '%') continue;
    const next = template[i + 1];
    if (next === undefined) return "end with a lone '%' (write %% for a percent sign)";
    if (next !== 'H' && next !== 'I' && next !== '%') return `use the placeholder '%${next}' (known: %H the host name, %I the host id, %% a percent sign)`;
    i++;
  }
  return undefined;
}

/** Put the host's values in: `%H` → host name, `%I` → host id, `%%` → `%`. */
export function fillRef(template: string, values: RefPlaceholders): string {
  return template.replace(/%([HI%])/g, (_m, c: string) => (c === 'H' ? values.hostName : c === 'I' ? values.hostId : '%'));
}

/**
 * The alternatives of a `ref`, in order: `canary/%H|main` → `canary/%H`, `main`. A plain ref is one
 * alternative. Throws on a malformed one (the config reader checks first with {@link checkRefAlternatives}).
 */
export function refAlternatives(ref: string): RefAlternative[] {
  if (!isRefPattern(ref)) return [{ template: ref, hostSpecific: false }];
  return ref.split('|').map((template) => {
    const problem = placeholderProblem(template);
    if (template === '' || problem !== undefined) throw new Error(`BUG: unchecked ref alternative ${JSON.stringify(template)}`);
    return { template, hostSpecific: /%[HI]/.test(template.replace(/%%/g, '')) };
  });
}

/**
 * A `ref`: a git ref, or alternatives separated by `|` whose first existing one wins, each of
 * which may name the host with `%H` (host name) or `%I` (host id). Returns the problem as a whole
 * sentence, or undefined.
 */
export function checkRefAlternatives(value: string, source: Source): string | undefined {
  const parts = value.split('|');
  const shown = describe(value);
  if (parts.length > MAX_REF_ALTERNATIVES) return `Invalid ref ${shown}${source.where}: at most ${MAX_REF_ALTERNATIVES} alternatives, got ${parts.length}.`;
  for (const part of parts) {
    if (part === '') return `Invalid ref ${shown}${source.where}: an alternative between '|' is empty. Write e.g. ${source.example('canary/%H|main')}.`;
    const placeholder = placeholderProblem(part);
    if (placeholder !== undefined) return `Invalid ref ${shown}${source.where}: a ref cannot ${placeholder}. Write e.g. ${source.example('canary/%H|main')}.`;
    // A host name or id is letters, digits, '.', '-' and '_': check the rest of the name around it.
    const problem = refProblem(fillRef(part, { hostName: 'host', hostId: 'host' }));
    if (problem !== undefined) return `Invalid ref ${shown}${source.where}: git ref names cannot ${problem}${parts.length > 1 ? ` (in '${part}')` : ''}. Use a branch, tag or commit SHA, e.g. ${source.example('main')}, or alternatives like ${source.example('canary/%H|main')}.`;
  }
  return undefined;
}

/** Contradictions between `poll` and the transport, when `poll` is set explicitly. */
export function checkPoll(poll: string, found: Found | undefined, transport: string, gitUrl: string | undefined, problems: Problems): void {
  if (found === undefined) return;
  if (poll === 'ls-refs' && transport === 'rest') {
    problems.errors.push(`${found.source.label} is 'ls-refs', which polls with git's protocol, and transport 'rest' allows only GitHub's REST API. Use transport auto (the default) with poll ls-refs, or poll rest.`);
  }
  if (poll === 'rest' && (transport === 'git' || gitUrl !== undefined)) {
    const why = gitUrl !== undefined ? `${describe(gitUrl)} is a git URL, read without the REST API` : "transport 'git' makes no API request";
    problems.errors.push(`${found.source.label} is 'rest', which polls GitHub's REST API, and ${why}. Drop poll (auto), or set it to ls-refs.`);
  }
}
