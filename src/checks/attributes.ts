/**
 * Modes and owners: `ownership` (every managed path owned by the config's `owner`/`group`),
 * `permissions` (configured paths with a configured mode/owner/group) and `executable`
 * (configured scripts have the executable bit). Facts are gathered by `sampleTargets`; the
 * evaluations are pure and return the attribute changes `--fix` would make.
 */
import { isAbsolute, join } from 'node:path';
import picomatch from 'picomatch';
import type { GitMode } from '../model.js';
import type { Accounts, Check, CheckContext, CheckOutcome, FileFacts } from './types.js';
import { formatMode, listPaths, outcome } from './outcome.js';
import type { Params } from './params.js';

/** One path whose attributes are looked at. */
export interface AttributeSample {
  /** As shown: relative to DEST when inside it, else absolute. */
  readonly path: string;
  /** Relative path when inside DEST (fixable there only). */
  readonly rel: string | undefined;
  readonly facts: FileFacts | undefined;
}

/** A change `--fix` would make (paths relative to DEST). */
export interface PlannedChange {
  readonly path: string;
  readonly mode?: number | undefined;
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
}

export interface AttributeEvaluation {
  readonly outcome: CheckOutcome;
  readonly changes: readonly PlannedChange[];
}

/** A user or group (name or numeric id) as an id; undefined when the name is unknown. Pure. */
export function resolveAccount(value: string, names: ReadonlyMap<string, number>): number | undefined {
  return /^\d+$/.test(value) ? Number(value) : names.get(value);
}

/** What the configured mode/owner/group resolve to, or the message of an unknown name. */
export interface WantedAttributes {
  readonly mode?: number | undefined;
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
  /** Names as configured, for messages. */
  readonly owner?: string | undefined;
  readonly group?: string | undefined;
}

/** Resolve owner/group names; returns an error message for an unknown one. Pure. */
export function resolveWanted(want: { mode?: number | undefined; owner?: string | undefined; group?: string | undefined }, accounts: Accounts): WantedAttributes | string {
  const uid = want.owner === undefined ? undefined : resolveAccount(want.owner, accounts.users);
  if (want.owner !== undefined && uid === undefined) return `Unknown user '${want.owner}' (not in /etc/passwd); use an existing name or a numeric id.`;
  const gid = want.group === undefined ? undefined : resolveAccount(want.group, accounts.groups);
  if (want.group !== undefined && gid === undefined) return `Unknown group '${want.group}' (not in /etc/group); use an existing name or a numeric id.`;
  return { mode: want.mode, uid, gid, owner: want.owner, group: want.group };
}

/**
 * Compare samples with the wanted attributes. Missing paths fail unfixably; wrong modes are
 * fixable inside DEST; wrong owners inside DEST when running as root. Symlinks are skipped. Pure.
 */
export function evaluateAttributes(samples: readonly AttributeSample[], want: WantedAttributes, isRoot: boolean, noun: string): AttributeEvaluation {
  const problems: string[] = [];
  const paths: string[] = [];
  const changes: PlannedChange[] = [];
  let unfixable = false;
  for (const sample of samples) {
    const { facts } = sample;
    if (facts === undefined) {
      problems.push(`${sample.path} (missing)`);
      paths.push(sample.path);
      unfixable = true;
      continue;
    }
    if (facts.kind === 'symlink') continue;
    const wrong: string[] = [];
    const change: { mode?: number; uid?: number; gid?: number } = {};
    if (want.mode !== undefined && facts.mode !== want.mode) {
      wrong.push(`mode ${formatMode(facts.mode)}, expected ${formatMode(want.mode)}`);
      change.mode = want.mode;
    }
    if (want.uid !== undefined && facts.uid !== want.uid) {
      wrong.push(`owner ${facts.uid}, expected ${want.owner ?? want.uid}`);
      change.uid = want.uid;
    }
    if (want.gid !== undefined && facts.gid !== want.gid) {
      wrong.push(`group ${facts.gid}, expected ${want.group ?? want.gid}`);
      change.gid = want.gid;
    }
    if (wrong.length === 0) continue;
    problems.push(`${sample.path} (${wrong.join(', ')})`);
    paths.push(sample.path);
    const needsRoot = change.uid !== undefined || change.gid !== undefined;
    if (sample.rel === undefined || (needsRoot && !isRoot)) unfixable = true;
    else changes.push({ path: sample.rel, ...change });
  }
  if (problems.length === 0) return { outcome: outcome('pass', `${samples.length} ${noun} path(s) have the configured mode and owner.`), changes: [] };
  const hint = unfixable ? ' Paths outside DEST, missing paths and owners (unless running as root) are not fixed by --fix.' : ' --fix sets them.';
  return { outcome: outcome('fail', `${problems.length} ${noun} path(s) differ: ${listPaths(problems)}.${hint}`, paths, changes.length > 0), changes };
}

/** The executable bits a file gets: owner-execute plus execute wherever it is readable. */
export function withExecBits(mode: number): number {
  return mode | 0o100 | ((mode & 0o444) >> 2);
}

/**
 * `executable`: every sample is a regular file with the owner-execute bit (git's notion).
 * `manifestModes` says which are managed and how the commit has them. Pure.
 */
export function evaluateExecutable(samples: readonly AttributeSample[], manifestModes: ReadonlyMap<string, GitMode>): AttributeEvaluation {
  const problems: string[] = [];
  const paths: string[] = [];
  const changes: PlannedChange[] = [];
  for (const sample of samples) {
    const { facts } = sample;
    if (facts === undefined || facts.kind !== 'file') {
      problems.push(`${sample.path} (${facts === undefined ? 'missing' : `a ${facts.kind}, not a file`})`);
      paths.push(sample.path);
      continue;
    }
    if ((facts.mode & 0o100) !== 0) continue;
    paths.push(sample.path);
    if (sample.rel !== undefined && manifestModes.get(sample.rel) === '100644') {
      problems.push(`${sample.path} (not executable, and the commit has it so: run 'git update-index --chmod=+x ${sample.rel}' in the repository)`);
    } else if (sample.rel === undefined) {
      problems.push(`${sample.path} (not executable; outside DEST, so --fix leaves it)`);
    } else {
      problems.push(`${sample.path} (not executable)`);
      changes.push({ path: sample.rel, mode: withExecBits(facts.mode) });
    }
  }
  if (problems.length === 0) return { outcome: outcome('pass', `${samples.length} script(s) are executable.`), changes: [] };
  const fix = changes.length > 0 ? ` --fix makes ${changes.length} of them executable.` : '';
  return { outcome: outcome('fail', `${problems.length} script(s) are not executable: ${listPaths(problems)}.${fix}`, paths, changes.length > 0), changes };
}

/**
 * The paths `patterns` name: globs (relative to DEST) matched against the scan, literal paths
 * (relative to DEST or absolute) looked up directly, so a missing one is reported as missing.
 */
export async function sampleTargets(context: CheckContext, patterns: readonly string[]): Promise<AttributeSample[]> {
  const samples = new Map<string, AttributeSample>();
  const globs = patterns.filter((pattern) => !isAbsolute(pattern) && picomatch.scan(pattern).isGlob);
  if (globs.length > 0 && (await context.host.fileFacts(context.root))?.kind === 'dir') {
    const matches = picomatch(globs, { dot: true });
    for (const rel of (await context.host.scan()).entries.keys()) {
      if (matches(rel)) samples.set(rel, { path: rel, rel, facts: await context.host.fileFacts(join(context.root, rel)) });
    }
  }
  for (const pattern of patterns) {
    if (globs.includes(pattern)) continue;
    const rel = isAbsolute(pattern) ? undefined : pattern.replace(/^\.\/|\/$/g, '');
    const abs = rel === undefined ? pattern : join(context.root, rel);
    samples.set(rel ?? abs, { path: rel ?? abs, rel, facts: await context.host.fileFacts(abs) });
  }
  return [...samples.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
}

const notApplied = (): CheckOutcome => outcome('skip', 'Nothing was applied to DEST yet (no manifest); run a sync first.');
const inDestOnly = (patterns: readonly string[]): boolean => patterns.every((pattern) => !isAbsolute(pattern));

/** The `ownership` check (on when the config sets `owner` or `group`): every managed path. */
export function ownershipCheck(id: string): Check {
  const evaluate = async (context: CheckContext): Promise<AttributeEvaluation> => {
    const wanted = resolveWanted({ owner: context.owner, group: context.group }, await context.host.accounts());
    if (typeof wanted === 'string') return { outcome: outcome('fail', wanted), changes: [] };
    const samples: AttributeSample[] = [];
    for (const entry of context.manifest?.entries ?? []) {
      if (entry.mode === '120000' || entry.mode === '160000' || context.isPreserved(entry.path)) continue;
      const facts = await context.host.fileFacts(join(context.root, entry.path));
      if (facts !== undefined) samples.push({ path: entry.path, rel: entry.path, facts }); // missing ones are integrity's
    }
    return evaluateAttributes(samples, wanted, context.host.isRoot, 'managed');
  };
  return {
    id,
    type: 'ownership',
    run: async (context) => (context.manifest === undefined ? notApplied() : (await evaluate(context)).outcome),
    fix: async (context) => context.repair.setAttributes((await evaluate(context)).changes),
  };
}

/** The `permissions` check: `paths` (globs or paths), and `mode`, `owner` and/or `group`. */
export function permissionsCheck(id: string, params: Params): Check {
  const patterns = params.strings('paths', ['secrets/*']) ?? [];
  if (patterns.length === 0) params.errors.push(`${params.label} needs \`paths\`, e.g. "paths": ["secrets/*"].`);
  const want = { mode: params.mode('mode'), owner: params.string('owner', 'root'), group: params.string('group', 'wheel') };
  if (want.mode === undefined && want.owner === undefined && want.group === undefined) params.errors.push(`${params.label} needs \`mode\`, \`owner\` or \`group\`, e.g. "mode": "0640".`);
  const evaluate = async (context: CheckContext): Promise<AttributeEvaluation> => {
    const wanted = resolveWanted(want, await context.host.accounts());
    if (typeof wanted === 'string') return { outcome: outcome('fail', wanted), changes: [] };
    return evaluateAttributes(await sampleTargets(context, patterns), wanted, context.host.isRoot, 'configured');
  };
  return {
    id,
    type: 'permissions',
    run: async (context) => (context.manifest === undefined && inDestOnly(patterns) ? notApplied() : (await evaluate(context)).outcome),
    fix: async (context) => context.repair.setAttributes((await evaluate(context)).changes),
  };
}

/** The `executable` check: `paths` (globs or paths) of scripts that must be executable. */
export function executableCheck(id: string, params: Params): Check {
  const patterns = params.strings('paths', ['scripts/*.sh']) ?? [];
  if (patterns.length === 0) params.errors.push(`${params.label} needs \`paths\`, e.g. "paths": ["scripts/*.sh"].`);
  const evaluate = async (context: CheckContext): Promise<AttributeEvaluation> => {
    const modes = new Map((context.manifest?.entries ?? []).map((entry) => [entry.path, entry.mode] as const));
    return evaluateExecutable(await sampleTargets(context, patterns), modes);
  };
  return {
    id,
    type: 'executable',
    run: async (context) => (context.manifest === undefined && inDestOnly(patterns) ? notApplied() : (await evaluate(context)).outcome),
    fix: async (context) => context.repair.setAttributes((await evaluate(context)).changes),
  };
}
