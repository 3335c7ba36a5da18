/**
 * The apply journal (format: docs/decisions/0002-journal.md). Written and fsynced before DEST is
 * touched; holds, for every path the apply changes, its state before and after. The content of
 * both sides is in the object store by then, so an interrupted apply can always be completed
 * (roll forward) or undone (roll back) offline, and both are idempotent.
 *
 * The manifests on either side are files beside it, not copies inside it (version 2): the new one
 * is written as `journal-manifest.json` and renamed over `manifest.json` when the apply is done; the
 * old one is kept as a hard link `journal-previous.json` for an undo. A 20,000-file update thus
 * writes its manifest once, where version 1 wrote three copies of two manifests.
 */
import { link, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HostsyncError, errorCode } from '../errors.js';
import type { Manifest } from '../model.js';
import { readJson, syncDir, writeJsonAtomic } from '../state/files.js';
import type { DestPaths } from '../state/layout.js';
import { loadManifest, saveManifest } from '../state/manifest.js';
import type { PathState, ReconcileStep } from './reconcile.js';

export interface JournalOp {
  readonly path: string;
  readonly before: PathState;
  readonly after: PathState;
  readonly chmodOnly?: boolean | undefined;
}

/** The journal file as written (version 2). */
interface JournalFile {
  readonly version: 2;
  readonly dest: string;
  readonly startedAt: string;
  /** The commit being applied. */
  readonly commit: string;
  /** The commit applied before (undefined on a first install). */
  readonly previousCommit?: string | undefined;
  readonly ops: readonly JournalOp[];
}

/** An apply in progress, as read back (from either version of the file). */
export interface Journal {
  readonly dest: string;
  readonly startedAt: string;
  readonly commit: string;
  readonly previousCommit: string | undefined;
  readonly ops: readonly JournalOp[];
  /** Version 1 carried the manifests inside the journal. */
  readonly embedded?: { readonly manifest: Manifest; readonly previous: Manifest | undefined } | undefined;
}

/** The manifest files of an apply in progress. */
export function journalFiles(root: string): { readonly next: string; readonly previous: string } {
  return { next: join(root, 'journal-manifest.json'), previous: join(root, 'journal-previous.json') };
}

/**
 * Start an apply: the new manifest beside the journal (fsynced), the current one kept by a hard
 * link, then the journal (fsynced, and the directory with it: the link's entry is durable too).
 */
export async function beginJournal(paths: DestPaths, manifest: Manifest, previous: Manifest | undefined, ops: readonly JournalOp[], startedAt: string): Promise<void> {
  const files = journalFiles(paths.root);
  await rm(files.previous, { force: true });
  await saveManifest(files.next, manifest);
  if (previous !== undefined) {
    try {
      await link(paths.manifest, files.previous);
    } catch (error) {
      // No manifest file (it was damaged and stood in for by a generation), or no hard links here: a copy.
      if (errorCode(error) !== 'ENOENT' && errorCode(error) !== 'EPERM' && errorCode(error) !== 'EXDEV') throw error;
      await saveManifest(files.previous, previous);
    }
  }
  const journal: JournalFile = { version: 2, dest: paths.dest, startedAt, commit: manifest.commit, previousCommit: previous?.commit, ops };
  await writeJsonAtomic(paths.journal, journal, { pretty: false });
}

/** The journal of an interrupted apply, or undefined. */
export async function readJournal(file: string): Promise<Journal | undefined> {
  let data: unknown;
  try {
    data = await readJson(file);
  } catch (error) {
    throw new HostsyncError(`The apply journal ${file} is unreadable (${String(error)}); DEST may be between two commits. Inspect it, then remove it and run 'hostsync sync' to repair.`);
  }
  if (data === undefined) return undefined;
  const j = data as Partial<JournalFile> & { manifest?: Manifest; previous?: Manifest | null };
  if (j.version === 2 && Array.isArray(j.ops) && typeof j.commit === 'string') {
    return { dest: String(j.dest), startedAt: String(j.startedAt), commit: j.commit, previousCommit: j.previousCommit, ops: j.ops };
  }
  if ((j.version as number) === 1 && Array.isArray(j.ops) && typeof j.manifest === 'object' && j.manifest !== null) {
    const previous = j.previous ?? undefined;
    return { dest: String(j.dest), startedAt: String(j.startedAt), commit: j.manifest.commit, previousCommit: previous?.commit, ops: j.ops, embedded: { manifest: j.manifest, previous } };
  }
  throw new HostsyncError(`The apply journal ${file} is not in a format this hostsync understands. Remove it and run 'hostsync sync' to repair.`);
}

/**
 * The apply is done (forward) or undone (backward): make `manifest.json` say so, then remove the
 * journal and its files. Each step is idempotent, so a crash in here is finished by the next run.
 */
export async function endJournal(paths: DestPaths, journal: Journal, outcome: 'forward' | 'backward'): Promise<void> {
  const files = journalFiles(paths.root);
  if (journal.embedded !== undefined) {
    const manifest = outcome === 'forward' ? journal.embedded.manifest : journal.embedded.previous;
    if (manifest !== undefined) await saveManifest(paths.manifest, manifest);
  } else if (outcome === 'forward') {
    // Absent once renamed: manifest.json already is the new manifest.
    if (await renameIfPresent(files.next, paths.manifest)) await syncDir(paths.root);
  } else if (await renameIfPresent(files.previous, paths.manifest)) {
    await syncDir(paths.root);
  } else if (journal.previousCommit === undefined && (await loadManifest(paths.manifest).catch(() => undefined))?.commit === journal.commit) {
    // A first install undone after its manifest was recorded: there was none.
    await rm(paths.manifest, { force: true });
  }
  await rm(paths.journal, { force: true });
  await rm(files.next, { force: true });
  await rm(files.previous, { force: true });
}

async function renameIfPresent(from: string, to: string): Promise<boolean> {
  try {
    await rename(from, to);
    return true;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw error;
  }
}

/** The steps that finish the apply. */
export function forwardSteps(journal: Journal): ReconcileStep[] {
  return journal.ops.map((op) => ({ path: op.path, state: op.after, chmodOnly: op.chmodOnly }));
}

/** The steps that put every path back as it was. */
export function backwardSteps(journal: Journal): ReconcileStep[] {
  return journal.ops.map((op) => ({ path: op.path, state: op.before, chmodOnly: op.chmodOnly }));
}
