/**
 * Whether a sync kept DEST back after a rollback: the ref names the commit DEST was rolled back
 * from, so the sync kept the older one. The result carries both commits (`commit`, `refCommit`,
 * `held`), so the summary can say both instead of "in sync".
 */
import type { SyncResult } from '../pipeline/sync.js';

/** DEST held at `commit` while `ref` is at `refCommit`. */
export interface Held {
  readonly commit: string;
  readonly ref: string;
  readonly refCommit: string;
}

/** The hold a sync result ran under, if it kept DEST back. Pure. */
export function heldState(result: Pick<SyncResult, 'held' | 'ref' | 'commit' | 'refCommit'>): Held | undefined {
  if (!result.held || result.refCommit === result.commit) return undefined;
  return { commit: result.commit, ref: result.ref, refCommit: result.refCommit };
}

/** "held at 1a2b3c4d5e6f after a rollback; main is at 9f8e7d6c5b4a (`hostsync rollback --to 9f8e7d6c5b4a` moves DEST there)". */
export function describeHeld(held: Held): string {
  const to = held.refCommit.slice(0, 12);
  return `held at ${held.commit.slice(0, 12)} after a rollback; ${held.ref} is at ${to} (\`hostsync rollback --to ${to}\` moves DEST there)`;
}
