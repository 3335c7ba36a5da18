/**
 * `hostsync diff`: the content of what differs, as unified diffs in git's format (like `chezmoi
 * diff`), in one of two directions —
 *
 *   pending  DEST as it is → the commit at --ref: what `hostsync sync` would change. The remote is
 *            read through the same sources as a sync (the plan of src/pipeline/sync.ts); content DEST
 *            lacks is fetched, verified, into the object store (where the next sync finds it).
 *   drift    the last applied commit → DEST as it is: what changed by hand since (offline; the
 *            applied content comes from the store, which keeps it for rollback).
 *
 * Nothing is written to DEST, the manifest or the history, and no lock is taken (a look, like
 * `sync --check-only`). Binary files (a NUL in the first 8000 bytes, as git decides, or bytes that
 * are not UTF-8) and files over {@link MAX_TEXT_BYTES} are summarised; mode changes and symlink
 * targets are shown as git shows them. Line diffs come from jsdiff (`diff` on npm).
 */
import { lstat, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { structuredPatch } from 'diff';
import type { Config } from '../config/types.js';
import { HostsyncError } from '../errors.js';
import { formatBytes } from '../format.js';
import { withDestination, type Destination, type DestinationSettings } from '../apply/destination.js';
import { scanAndPlan } from '../apply/local-plan.js';
import type { GitMode, LocalEntry, Logger, RemoteEntry } from '../model.js';
import type { Change } from '../plan/plan.js';
import type { ObjectStore } from '../state/objects.js';
import { fetchContent } from './fetch.js';
import { planSync, transferWork, type SyncDeps } from './sync.js';

/** Larger files are summarised, not diffed (each side). */
export const MAX_TEXT_BYTES = 1024 * 1024;

export type DiffMode = 'pending' | 'drift';

/** One side of a file's diff: what a path holds (a file or symlink), and how to read it. */
interface Side {
  readonly mode: GitMode;
  readonly sha: string | undefined;
  /** Its bytes, or undefined when they cannot be had (not in the store); `large` past the limit. */
  read(): Promise<Buffer | 'large' | undefined>;
  size(): Promise<number | undefined>;
}

/** How a file's content is shown. */
export type ContentKind = 'text' | 'binary' | 'large' | 'unavailable' | 'mode' | 'special';

/** One file's difference, with its git-style patch text. */
export interface FileDiff {
  readonly path: string;
  readonly status: 'added' | 'deleted' | 'modified' | 'modeChanged';
  readonly oldMode: GitMode | null;
  readonly newMode: GitMode | null;
  readonly oldSha: string | null;
  readonly newSha: string | null;
  readonly content: ContentKind;
  /** `diff --git …` and its hunks, lines ending in "\n"; a summary line for binary and large files. */
  readonly patch: string;
}

export interface DiffResult {
  readonly mode: DiffMode;
  readonly dest: string;
  readonly repo: string;
  readonly ref: string | null;
  /** The commit DEST is compared with: the ref's (pending) or the applied one (drift). */
  readonly commit: string;
  /** The commit DEST was last synced to (undefined before the first sync). */
  readonly appliedCommit: string | undefined;
  /** DEST is held after a rollback: a sync keeps it, so nothing is pending. */
  readonly held: boolean;
  readonly files: readonly FileDiff[];
  /** Paths hostsync did not place, kept by a sync (deleted with --prune, then part of `files`). */
  readonly unmanaged: readonly string[];
}

/** What a sync would change in DEST, read through the sync's own sources; fetches missing content into the store. */
export async function diffPending(config: Config, deps: SyncDeps): Promise<DiffResult> {
  return withDestination(config, { log: deps.log, lock: false, write: false }, async (destination) => {
    const plan = await planSync(destination, { ...config, checkOnly: false }, deps);
    try {
      if (plan.wanted.length > 0) {
        await fetchContent({
          plan: plan.plan,
          wanted: plan.wanted,
          choice: plan.transfer,
          commit: plan.commit,
          store: destination.store,
          scanRoot: plan.scanRoot,
          log: deps.log,
          onProgress: deps.onProgress === undefined ? undefined : (progress) => deps.onProgress?.(transferWork(progress)),
          signal: plan.deadline.signal,
          createStrategy: (name) => plan.source.createStrategy(name, plan.commit),
        });
      } else {
        for (const copy of plan.plan.localCopies) await destination.store.importFile(copy.sha, join(plan.scanRoot, copy.path));
      }
    } catch (error) {
      throw plan.deadline.explain(error, 'downloading content to compare');
    } finally {
      plan.deadline.dispose();
      await plan.source.close();
    }
    const files = await fileDiffs(plan.plan.changes, 'pending', plan.scanRoot, destination.store);
    return { mode: 'pending', dest: destination.paths.dest, repo: config.repo, ref: config.ref, commit: plan.commit, appliedCommit: plan.previous?.commit, held: plan.held, files, unmanaged: plan.plan.unmanaged };
  });
}

/** What changed in DEST since the last apply, offline. */
export async function diffDrift(settings: DestinationSettings & Pick<Config, 'preserve'>, log: Logger): Promise<DiffResult> {
  return withDestination(settings, { log, lock: false, write: false }, async (destination: Destination) => {
    const manifest = destination.manifest;
    if (manifest === undefined) {
      throw new HostsyncError(`Nothing was ever applied to ${destination.paths.dest} with state dir ${settings.stateDir}, so there is no drift to show. Run 'hostsync diff' to see what a sync would place.`);
    }
    const root = await destination.scanRoot();
    const { plan } = await scanAndPlan({ paths: destination.paths, store: destination.store, remote: manifest.entries, previous: manifest.entries, preserve: settings.preserve, prune: false, scanRoot: root });
    const files = await fileDiffs(plan.changes, 'drift', root, destination.store);
    return { mode: 'drift', dest: destination.paths.dest, repo: manifest.repo, ref: manifest.ref, commit: manifest.commit, appliedCommit: manifest.commit, held: false, files, unmanaged: plan.unmanaged };
  });
}

/** The sides of every change, oriented by mode (pending: DEST → commit; drift: commit → DEST), diffed. */
async function fileDiffs(changes: readonly Change[], mode: DiffMode, root: string, store: ObjectStore): Promise<FileDiff[]> {
  const out: FileDiff[] = [];
  for (const change of changes) {
    const dest = change.before === undefined ? undefined : destSide(change.before, root);
    const commit = change.target === undefined ? undefined : storeSide(change.target, store);
    const [from, to] = mode === 'pending' ? [dest, commit] : [commit, dest];
    const special = change.before?.kind === 'other';
    // A path that becomes another kind of thing is, as in git, one path deleted and one added.
    if (from !== undefined && to !== undefined && kindOf(from.mode) !== kindOf(to.mode)) {
      out.push(await fileDiff(change.path, from, undefined, false));
      out.push(await fileDiff(change.path, undefined, to, false));
    } else if (from !== undefined || to !== undefined) {
      out.push(await fileDiff(change.path, from, to, special));
    } else if (special) {
      out.push(specialDiff(change.path, mode));
    }
  }
  return out;
}

const kindOf = (mode: GitMode): string => (mode === '120000' ? 'symlink' : 'file');

/** A DEST path as a side (files and symlinks; folders and special files have none). */
function destSide(entry: LocalEntry, root: string): Side | undefined {
  if ((entry.kind !== 'file' && entry.kind !== 'symlink') || entry.mode === undefined) return undefined;
  const file = join(root, entry.path);
  return {
    mode: entry.mode,
    sha: entry.sha,
    size: async () => (await lstat(file)).size,
    async read() {
      if (entry.kind === 'symlink') return Buffer.from(await readlink(file, 'utf8'), 'utf8');
      if ((await lstat(file)).size > MAX_TEXT_BYTES) return 'large';
      return readFile(file);
    },
  };
}

/** A commit's entry as a side, its content from the object store. */
function storeSide(entry: RemoteEntry, store: ObjectStore): Side | undefined {
  if (entry.mode === '040000' || entry.mode === '160000') return undefined;
  const file = store.pathOf(entry.sha);
  return {
    mode: entry.mode,
    sha: entry.sha,
    size: async () => entry.size ?? (await stat(file).then((info) => info.size, () => undefined)),
    async read() {
      if (!(await store.has(entry.sha))) return undefined;
      if ((await stat(file)).size > MAX_TEXT_BYTES) return 'large';
      return readFile(file);
    },
  };
}

const ZERO = '0000000';
const abbrev = (sha: string | undefined): string => (sha === undefined ? ZERO : sha.slice(0, 7));

/** Whether bytes are shown as text: no NUL in the first 8000 bytes (git's test) and valid UTF-8. */
export function isText(data: Buffer): boolean {
  if (data.subarray(0, 8000).includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(data);
    return true;
  } catch {
    return false;
  }
}

/** One file's patch in git's format. */
async function fileDiff(path: string, from: Side | undefined, to: Side | undefined, special: boolean): Promise<FileDiff> {
  const status: FileDiff['status'] = from === undefined ? 'added' : to === undefined ? 'deleted' : from.sha === to.sha ? 'modeChanged' : 'modified';
  const head = [`diff --git a/${path} b/${path}`];
  if (special) head.push('# DEST holds a special file here (FIFO, socket or device)');
  if (from === undefined) head.push(`new file mode ${to!.mode}`);
  else if (to === undefined) head.push(`deleted file mode ${from.mode}`);
  else if (from.mode !== to.mode) head.push(`old mode ${from.mode}`, `new mode ${to.mode}`);
  const base = { path, status, oldMode: from?.mode ?? null, newMode: to?.mode ?? null, oldSha: from?.sha ?? null, newSha: to?.sha ?? null };
  if (status === 'modeChanged') return { ...base, content: 'mode', patch: lines(head) };
  head.push(`index ${abbrev(from?.sha)}..${abbrev(to?.sha)}${from !== undefined && to !== undefined && from.mode === to.mode ? ` ${to.mode}` : ''}`);
  const [before, after] = await Promise.all([from?.read() ?? Buffer.alloc(0), to?.read() ?? Buffer.alloc(0)]);
  const a = from === undefined ? '/dev/null' : `a/${path}`;
  const b = to === undefined ? '/dev/null' : `b/${path}`;
  if (before === undefined || after === undefined) {
    const missing = before === undefined ? from : to;
    return { ...base, content: 'unavailable', patch: lines([...head, `# content of ${abbrev(missing?.sha)} is not in the local object store (a later sync fetches it)`]) };
  }
  if (before === 'large' || after === 'large') {
    const [oldSize, newSize] = await Promise.all([from?.size(), to?.size()]);
    const size = (n: number | undefined, side: Side | undefined): string => (side === undefined ? 'nothing' : n === undefined ? '?' : formatBytes(n));
    return { ...base, content: 'large', patch: lines([...head, `# content not shown: ${size(oldSize, from)} → ${size(newSize, to)} (over ${formatBytes(MAX_TEXT_BYTES)}; compare the files directly)`]) };
  }
  if (!isText(before) || !isText(after)) return { ...base, content: 'binary', patch: lines([...head, `Binary files ${a} and ${b} differ`]) };
  return { ...base, content: 'text', patch: lines([...head, `--- ${a}`, `+++ ${b}`, ...hunks(before.toString('utf8'), after.toString('utf8'))]) };
}

/** A path DEST holds a FIFO, socket or device at, which a sync replaces: no content to show. */
function specialDiff(path: string, mode: DiffMode): FileDiff {
  const patch = lines([`diff --git a/${path} b/${path}`, `# DEST holds a special file here (FIFO, socket or device)${mode === 'pending' ? '; a sync removes it' : ''}`]);
  return { path, status: mode === 'pending' ? 'deleted' : 'added', oldMode: null, newMode: null, oldSha: null, newSha: null, content: 'special', patch };
}

/** The hunks of a line diff with 3 lines of context, headers as git writes them (`-0,0`, a count of 1 left out). */
export function hunks(before: string, after: string): string[] {
  const out: string[] = [];
  const oldLines = before.split('\n');
  for (const hunk of structuredPatch('a', 'b', before, after, '', '', { context: 3 }).hunks) {
    const range = (start: number, count: number): string => (count === 1 ? `${start}` : `${count === 0 ? start - 1 : start},${count}`);
    const context = hunk.oldLines === 0 ? '' : functionLine(oldLines, hunk.oldStart - 1);
    out.push(`@@ -${range(hunk.oldStart, hunk.oldLines)} +${range(hunk.newStart, hunk.newLines)} @@${context}`, ...hunk.lines);
  }
  return out;
}

/**
 * What git shows after a hunk's `@@`: the nearest line above the hunk (index `first` is its first
 * line) that starts with a letter, `_` or `$` — git's default "function name" — cut to 80 bytes,
 * trailing blanks removed; '' when there is none.
 */
function functionLine(lines: readonly string[], first: number): string {
  for (let i = first - 1; i >= 0; i--) {
    const line = lines[i]!;
    if (!/^[A-Za-z_$]/.test(line)) continue;
    const cut = Buffer.from(line, 'utf8').subarray(0, 80).toString('utf8').replace(/\s+$/, '');
    return ` ${cut}`;
  }
  return '';
}

function lines(list: readonly string[]): string {
  return list.map((line) => `${line}\n`).join('');
}
