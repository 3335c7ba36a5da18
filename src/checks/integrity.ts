/**
 * The checks of DEST against the last applied manifest: `dest` (DEST is a directory), `integrity`
 * (drift: content, presence, executable bit, symlink targets, types) and `unmanaged` (paths
 * hostsync did not place). Evaluation is pure (`evaluateDest`, `findDrift`, `findUnmanaged`).
 */
import type { LocalEntry, ManifestEntry } from '../model.js';
import { kindOfMode, permOfMode } from '../model.js';
import type { Check, CheckContext, CheckOutcome, FileFacts } from './types.js';
import { listPaths, outcome, short } from './outcome.js';

/** `dest`: DEST exists and is a directory. Pure. */
export function evaluateDest(dest: string, facts: FileFacts | undefined, appliedCommit: string | undefined): CheckOutcome {
  if (facts === undefined) {
    if (appliedCommit === undefined) return outcome('skip', `DEST ${dest} does not exist yet; the first sync creates it.`);
    return outcome('fail', `DEST ${dest} is missing although commit ${short(appliedCommit)} was applied to it; --fix recreates it and restores its files.`, [dest], true);
  }
  if (facts.kind !== 'dir') return outcome('fail', `DEST ${dest} is a ${facts.kind}, not a directory; move it away, then run 'hostsync sync'.`, [dest]);
  return outcome('pass', `DEST ${dest} is a directory.`);
}

/** One way a managed path differs from the manifest. */
export interface Drift {
  readonly path: string;
  readonly kind: 'modified' | 'missing' | 'mode' | 'symlink' | 'type';
  /** Words for the report, e.g. "mode 100644, expected 100755". */
  readonly detail: string;
}

const localKindWords: Record<LocalEntry['kind'], string> = { file: 'a file', dir: 'a folder', symlink: 'a symlink', other: 'a special file' };

/**
 * Every managed path that is not what the manifest says, sorted by path. A missing folder is
 * named only when nothing beneath it is (its files name the problem better). Pure.
 */
export function findDrift(entries: readonly ManifestEntry[], local: ReadonlyMap<string, LocalEntry>, isPreserved: (path: string) => boolean): Drift[] {
  const drift: Drift[] = [];
  for (const entry of entries) {
    if (isPreserved(entry.path)) continue;
    const kind = kindOfMode(entry.mode);
    if (kind === 'submodule') continue;
    const found = local.get(entry.path);
    if (found === undefined) {
      drift.push({ path: entry.path, kind: 'missing', detail: 'missing' });
      continue;
    }
    if (found.kind !== kind) {
      drift.push({ path: entry.path, kind: 'type', detail: `${localKindWords[found.kind]}, expected ${kind === 'dir' ? 'a folder' : `a ${kind}`}` });
      continue;
    }
    if (kind === 'symlink' && found.sha !== entry.sha) drift.push({ path: entry.path, kind: 'symlink', detail: 'symlink target changed' });
    if (kind !== 'file') continue;
    if (found.sha !== entry.sha) drift.push({ path: entry.path, kind: 'modified', detail: 'content modified' });
    if (found.mode !== entry.mode) {
      drift.push({ path: entry.path, kind: 'mode', detail: entry.mode === '100755' ? 'executable bit removed' : 'executable bit added' });
    } else if (found.perm !== undefined && found.perm !== permOfMode(entry.mode)) {
      drift.push({ path: entry.path, kind: 'mode', detail: `mode ${found.perm.toString(8).padStart(4, '0')}, expected ${permOfMode(entry.mode).toString(8).padStart(4, '0')}` });
    }
  }
  const dirs = new Set(entries.filter((entry) => entry.mode === '040000').map((entry) => entry.path));
  const missingWithin = new Set<string>();
  for (const d of drift) for (let slash = d.path.lastIndexOf('/'); slash !== -1; slash = d.path.lastIndexOf('/', slash - 1)) missingWithin.add(d.path.slice(0, slash));
  const kept = drift.filter((d) => !(d.kind === 'missing' && dirs.has(d.path) && missingWithin.has(d.path)));
  return kept.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.kind < b.kind ? -1 : 1));
}

/** `integrity`: the outcome for a list of drifts. Pure. */
export function evaluateIntegrity(commit: string, managed: number, drift: readonly Drift[]): CheckOutcome {
  if (drift.length === 0) return outcome('pass', `All ${managed} managed path(s) match commit ${short(commit)}.`);
  const paths = [...new Set(drift.map((d) => d.path))];
  return outcome(
    'fail',
    `${paths.length} managed path(s) differ from commit ${short(commit)}: ${listPaths(drift.map((d) => `${d.path} (${d.detail})`))}. --fix restores them from the commit.`,
    paths,
    true,
  );
}

/**
 * Top-most local paths that are neither in the manifest nor beneath a path that is — a whole
 * unmanaged folder is one path. Pure; `local` comes from a scan that already left out preserved paths.
 */
export function findUnmanaged(managed: ReadonlySet<string>, local: ReadonlyMap<string, LocalEntry>): string[] {
  const result: string[] = [];
  const unmanagedDirs = new Set<string>();
  for (const path of [...local.keys()].sort()) {
    if (managed.has(path)) continue;
    let covered = false;
    for (let slash = path.lastIndexOf('/'); slash !== -1; slash = path.lastIndexOf('/', slash - 1)) {
      if (unmanagedDirs.has(path.slice(0, slash))) covered = true;
    }
    if (covered) continue;
    result.push(path);
    if (local.get(path)?.kind === 'dir') unmanagedDirs.add(path);
  }
  return result;
}

/** `unmanaged`: a warning naming them; fixable only with --prune. Pure. */
export function evaluateUnmanaged(commit: string, unmanaged: readonly string[], prune: boolean): CheckOutcome {
  if (unmanaged.length === 0) return outcome('pass', `DEST holds nothing besides commit ${short(commit)} (and preserved paths).`);
  const what = `${unmanaged.length} path(s) in DEST are not in commit ${short(commit)} and were not placed by hostsync: ${listPaths(unmanaged)}.`;
  return outcome(
    'warn',
    prune ? `${what} --fix --prune deletes them.` : `${what} They are kept; --fix --prune deletes them, or add them to 'preserve'.`,
    unmanaged,
    prune,
  );
}

const notApplied = (): CheckOutcome => outcome('skip', 'Nothing was applied to DEST yet (no manifest); run a sync first.');

async function destIsDir(context: CheckContext): Promise<boolean> {
  return (await context.host.fileFacts(context.root))?.kind === 'dir';
}

/** The `dest` check. */
export function destCheck(id: string): Check {
  return {
    id,
    type: 'dest',
    // stat, not lstat: DEST may be a symlink to a directory (always, with layout "symlink").
    run: async (context) => evaluateDest(context.dest, await context.host.statFacts(context.dest), context.manifest?.commit),
    fix: async (context) => context.repair.createDest(),
  };
}

/** The `integrity` check. */
export function integrityCheck(id: string): Check {
  return {
    id,
    type: 'integrity',
    async run(context) {
      if (context.manifest === undefined) return notApplied();
      if (!(await destIsDir(context))) {
        return evaluateIntegrity(context.manifest.commit, context.manifest.entries.length, findDrift(context.manifest.entries, new Map(), context.isPreserved));
      }
      const scan = await context.host.scan();
      return evaluateIntegrity(context.manifest.commit, context.manifest.entries.length, findDrift(context.manifest.entries, scan.entries, context.isPreserved));
    },
    fix: async (context) => context.repair.restore(context.prune),
  };
}

/** The `unmanaged` check. */
export function unmanagedCheck(id: string): Check {
  return {
    id,
    type: 'unmanaged',
    async run(context) {
      if (context.manifest === undefined) return notApplied();
      if (!(await destIsDir(context))) return outcome('skip', 'DEST is not a directory (see the dest check).');
      const scan = await context.host.scan();
      const managed = new Set(context.manifest.entries.map((entry) => entry.path));
      // Folders a check requires are expected, not unmanaged (their other contents still are).
      for (const dir of context.expectedDirs) if (scan.entries.get(dir)?.kind === 'dir') managed.add(dir);
      return evaluateUnmanaged(context.manifest.commit, findUnmanaged(managed, scan.entries), context.prune);
    },
    fix: async (context) => context.repair.restore(true),
  };
}
