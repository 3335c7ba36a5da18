/**
 * The change lists users see (`--json` `changes`, the human summary): paths by kind, files and
 * symlinks only — folders come and go with their contents, except where a path changes type.
 */
import type { Plan } from '../plan/plan.js';

export interface ChangeSummary {
  readonly added: readonly string[];
  readonly modified: readonly string[];
  readonly deleted: readonly string[];
  readonly modeChanged: readonly string[];
  readonly typeChanged: readonly string[];
}

/** Group a plan's changes by kind, leaving out folders that are merely created or removed. */
export function summarizeChanges(plan: Plan): ChangeSummary {
  const summary = { added: [] as string[], modified: [] as string[], deleted: [] as string[], modeChanged: [] as string[], typeChanged: [] as string[] };
  for (const change of plan.changes) {
    const isDir = change.kind === 'deleted' ? change.before?.kind === 'dir' : change.target?.mode === '040000' || change.target?.mode === '160000';
    if (isDir && change.kind !== 'typeChanged') continue;
    summary[change.kind].push(change.path);
  }
  return summary;
}

/** Number of paths changed, across all kinds. */
export function countChanges(summary: ChangeSummary): number {
  return summary.added.length + summary.modified.length + summary.deleted.length + summary.modeChanged.length + summary.typeChanged.length;
}

/** The number of paths of each kind, as history records them. */
export function countByKind(summary: ChangeSummary): { added: number; modified: number; deleted: number; modeChanged: number; typeChanged: number } {
  return {
    added: summary.added.length,
    modified: summary.modified.length,
    deleted: summary.deleted.length,
    modeChanged: summary.modeChanged.length,
    typeChanged: summary.typeChanged.length,
  };
}

/** Whether a change is of a folder (created, removed) rather than of a file or symlink. */
function isFolderChange(change: Plan['changes'][number]): boolean {
  return change.kind === 'deleted' ? change.before?.kind === 'dir' : change.target?.mode === '040000' || change.target?.mode === '160000';
}

/** "150 files, 31 folders": the unit every phase line counts in (files include symlinks; a submodule is a folder). */
export function filesAndFolders(files: number, folders: number): string {
  return `${files} ${files === 1 ? 'file' : 'files'}, ${folders} ${folders === 1 ? 'folder' : 'folders'}`;
}

/** Files (and symlinks) and folders of a tree's entries. */
export function countEntries(entries: readonly { readonly mode: string }[]): { files: number; folders: number } {
  let folders = 0;
  for (const entry of entries) if (entry.mode === '040000' || entry.mode === '160000') folders++;
  return { files: entries.length - folders, folders };
}

/** Files (and symlinks) and folders a plan changes, type changes counted by what the path becomes. */
export function countPlanChanges(plan: Plan): { files: number; folders: number } {
  let folders = 0;
  for (const change of plan.changes) if (isFolderChange(change)) folders++;
  return { files: plan.changes.length - folders, folders };
}
