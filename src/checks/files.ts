/**
 * Files the host needs: `required` (folders and files present, `{hostname}` expanded) and `json`
 * (files that must parse as JSON, like flake.lock). Paths are relative to DEST unless absolute.
 */
import { isAbsolute, join } from 'node:path';
import { parseJson } from '../config/json.js';
import type { Check, CheckContext, CheckOutcome, FileFacts } from './types.js';
import { listPaths, outcome } from './outcome.js';
import { expandPath, type Params } from './params.js';

/** One required path and what is there (stat: symlinks followed). */
export interface RequiredSample {
  /** As configured (expanded): relative to DEST or absolute. */
  readonly path: string;
  readonly want: 'file' | 'dir';
  readonly facts: FileFacts | undefined;
  /** Whether the last applied commit has this path (relative ones only). */
  readonly managed: boolean;
}

/** What `--fix` can do for `required`. */
export interface RequiredRepairs {
  /** Missing folders inside DEST to create. */
  readonly dirs: readonly string[];
  /** Missing managed files: restored from the commit. */
  readonly restore: boolean;
}

/** Evaluate required paths. Pure. */
export function evaluateRequired(samples: readonly RequiredSample[]): { outcome: CheckOutcome; repairs: RequiredRepairs } {
  const problems: string[] = [];
  const paths: string[] = [];
  const dirs: string[] = [];
  let restore = false;
  let unfixable = false;
  for (const sample of samples) {
    const noun = sample.want === 'dir' ? 'folder' : 'file';
    if (sample.facts === undefined) {
      paths.push(sample.path);
      if (sample.want === 'dir' && !isAbsolute(sample.path)) {
        problems.push(`${sample.path} (missing folder)`);
        dirs.push(sample.path);
      } else if (sample.managed) {
        problems.push(`${sample.path} (missing ${noun}; the commit has it)`);
        restore = true;
      } else {
        problems.push(`${sample.path} (missing ${noun})`);
        unfixable = true;
      }
      continue;
    }
    if (sample.facts.kind !== sample.want) {
      problems.push(`${sample.path} (a ${sample.facts.kind}, expected a ${noun})`);
      paths.push(sample.path);
      if (sample.managed) restore = true;
      else unfixable = true;
    }
  }
  if (problems.length === 0) return { outcome: outcome('pass', `${samples.length} required path(s) present.`), repairs: { dirs: [], restore: false } };
  const fixable = dirs.length > 0 || restore;
  const hint = unfixable
    ? ' Add the missing ones to the repository (or create them on the host); --fix only creates folders inside DEST and restores files of the commit.'
    : ' --fix creates the folders and restores the files from the commit.';
  return { outcome: outcome('fail', `${problems.length} required path(s) missing or wrong: ${listPaths(problems)}.${hint}`, paths, fixable), repairs: { dirs, restore } };
}

/** One file that must be JSON: its text, or undefined when missing. */
export interface JsonSample {
  readonly path: string;
  readonly text: string | undefined;
}

/** Evaluate JSON files. Pure. */
export function evaluateJson(samples: readonly JsonSample[]): CheckOutcome {
  const problems: string[] = [];
  const paths: string[] = [];
  for (const sample of samples) {
    const parsed = sample.text === undefined ? undefined : parseJson(sample.text);
    if (parsed?.ok === true) continue;
    paths.push(sample.path);
    problems.push(parsed === undefined ? `${sample.path} is missing` : `${sample.path} is not valid JSON: ${parsed.reason} at line ${parsed.line}, column ${parsed.column}`);
  }
  if (problems.length === 0) return outcome('pass', `${samples.length} file(s) parse as JSON.`);
  return outcome('fail', `${listPaths(problems)}. Fix the file in the repository (if it differs from the commit, the integrity fix restores it).`, paths);
}

const absolute = (context: CheckContext, path: string): string => (isAbsolute(path) ? path : join(context.root, path));
const notApplied = (): CheckOutcome => outcome('skip', 'Nothing was applied to DEST yet (no manifest); run a sync first.');

/** The `required` check: `files` and/or `dirs`. */
export function requiredCheck(id: string, params: Params): Check {
  const files = params.strings('files', ['flake.nix']) ?? [];
  const dirs = params.strings('dirs', ['hosts']) ?? [];
  if (files.length === 0 && dirs.length === 0) params.errors.push(`${params.label} needs \`files\` or \`dirs\`, e.g. "files": ["flake.nix"].`);
  const sample = async (context: CheckContext): Promise<RequiredSample[]> => {
    const managed = new Set(context.manifest?.entries.map((entry) => entry.path));
    const result: RequiredSample[] = [];
    for (const [list, want] of [[files, 'file'], [dirs, 'dir']] as const) {
      for (const raw of list) {
        const path = expandPath(raw, context.host.hostname).replace(/^\.\/|\/$/g, '');
        if (!isAbsolute(path) && context.manifest === undefined) continue;
        result.push({ path, want, facts: await context.host.statFacts(absolute(context, path)), managed: managed.has(path) });
      }
    }
    return result;
  };
  return {
    id,
    type: 'required',
    expects: (hostname) => dirs.map((raw) => expandPath(raw, hostname).replace(/^\.\/|\/$/g, '')).filter((path) => !isAbsolute(path)),
    async run(context) {
      const samples = await sample(context);
      return samples.length === 0 ? notApplied() : evaluateRequired(samples).outcome;
    },
    async fix(context) {
      const { repairs } = evaluateRequired(await sample(context));
      const done: string[] = [];
      if (repairs.restore) done.push(await context.repair.restore(false));
      if (repairs.dirs.length > 0) done.push(await context.repair.ensureDirectories(repairs.dirs));
      return done.join(' ');
    },
  };
}

/** The `json` check: `paths` of files that must parse as JSON. */
export function jsonCheck(id: string, params: Params): Check {
  const paths = params.strings('paths', ['flake.lock']) ?? [];
  if (paths.length === 0) params.errors.push(`${params.label} needs \`paths\`, e.g. "paths": ["flake.lock"].`);
  return {
    id,
    type: 'json',
    async run(context) {
      const samples: JsonSample[] = [];
      for (const raw of paths) {
        const path = expandPath(raw, context.host.hostname);
        if (!isAbsolute(path) && context.manifest === undefined) continue;
        samples.push({ path, text: await context.host.readText(absolute(context, path)) });
      }
      return samples.length === 0 ? notApplied() : evaluateJson(samples);
    },
  };
}
