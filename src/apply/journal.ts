/**
 * The apply journal (format: docs/decisions/0002-journal.md). Written and fsynced before DEST is
 * touched; holds, for every path the apply changes, its state before and after. The content of
 * both sides is in the object store by then, so an interrupted apply can always be completed
 * (roll forward) or undone (roll back) offline, and both are idempotent.
 */
import { rm } from 'node:fs/promises';
import { HostsyncError } from '../errors.js';
import type { Manifest } from '../model.js';
import { readJson, writeJsonAtomic } from '../state/files.js';
import type { PathState, ReconcileStep } from './reconcile.js';

export interface JournalOp {
  readonly path: string;
  readonly before: PathState;
  readonly after: PathState;
  readonly chmodOnly?: boolean | undefined;
}

export interface Journal {
  readonly version: 1;
  readonly dest: string;
  readonly startedAt: string;
  /** The commit being applied, and the manifest to record once it is. */
  readonly manifest: Manifest;
  /** The manifest before this apply (undefined on a first install), restored by an undo. */
  readonly previous: Manifest | undefined;
  readonly ops: readonly JournalOp[];
}

export async function writeJournal(file: string, journal: Journal): Promise<void> {
  await writeJsonAtomic(file, journal);
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
  const j = data as Partial<Journal>;
  if (j.version !== 1 || !Array.isArray(j.ops) || typeof j.manifest !== 'object') {
    throw new HostsyncError(`The apply journal ${file} is not in a format this hostsync understands. Remove it and run 'hostsync sync' to repair.`);
  }
  return data as Journal;
}

export async function removeJournal(file: string): Promise<void> {
  await rm(file, { force: true });
}

/** The steps that finish the apply. */
export function forwardSteps(journal: Journal): ReconcileStep[] {
  return journal.ops.map((op) => ({ path: op.path, state: op.after, chmodOnly: op.chmodOnly }));
}

/** The steps that put every path back as it was. */
export function backwardSteps(journal: Journal): ReconcileStep[] {
  return journal.ops.map((op) => ({ path: op.path, state: op.before, chmodOnly: op.chmodOnly }));
}
