/**
 * A rollback for people and programs, worded by direction: "back" to a commit that came to DEST
 * before the current one, "forward" to one that came after (a second rollback, or returning to the
 * commit a first one left). Pure.
 */
import type { Generation } from '../../apply/history.js';
import type { RollbackResult } from '../../pipeline/rollback.js';
import { countChanges } from '../../pipeline/summary.js';
import { files } from './sync.js';

export type Direction = 'back' | 'forward';

/**
 * Which way `from` → `to` goes: by when each commit first came to DEST (its oldest generation
 * still recorded, the rollback's own generation left out). Unknown order reads as "back".
 */
export function rollbackDirection(history: readonly Generation[], from: string, to: string, ownGeneration: number | undefined): Direction {
  const first = (commit: string): number | undefined => history.find((g) => g.commit === commit && g.id !== ownGeneration)?.id;
  const toId = first(to);
  const fromId = first(from);
  return toId !== undefined && fromId !== undefined && toId > fromId ? 'forward' : 'back';
}

/** The `--json` fields (docs/output.md); `generation` is null for --check-only. */
export function rollbackJson(result: RollbackResult, direction: Direction): Record<string, unknown> & { ok: boolean } {
  return {
    ok: true,
    dest: result.dest,
    from: result.from,
    to: result.to,
    direction,
    generation: result.generation ?? null,
    checkOnly: result.checkOnly,
    changes: result.changes,
  };
}

/** One line: what was (or would be) done. */
export function rollbackLine(result: RollbackResult, direction: Direction): string {
  const count = countChanges(result.changes);
  const move = `${result.dest} ${direction} from ${result.from.slice(0, 12)} to ${result.to.slice(0, 12)}`;
  if (result.checkOnly) return `would roll ${move}: ${files(count)} would change`;
  return `rolled ${move} (generation ${result.generation}): ${files(count)} changed`;
}
