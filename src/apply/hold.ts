/**
 * After `hostsync rollback`, the ref still names the commit that was rolled back from; without a
 * hold the next timer run would re-apply it at once. The hold keeps DEST at the rolled-back
 * generation until the ref moves to another commit (or the operator rolls forward explicitly).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readJson, writeJsonAtomic } from '../state/files.js';
import type { DestPaths } from '../state/layout.js';

export interface Hold {
  /** The commit DEST was rolled back from; it is not re-applied while the ref still names it. */
  readonly rolledBackFrom: string;
  readonly since: string;
}

const holdFile = (paths: DestPaths): string => join(paths.root, 'hold.json');

export async function readHold(paths: DestPaths): Promise<Hold | undefined> {
  const data = await readJson(holdFile(paths)).catch(() => undefined);
  return typeof data === 'object' && data !== null && typeof (data as Hold).rolledBackFrom === 'string' ? (data as Hold) : undefined;
}

export async function writeHold(paths: DestPaths, hold: Hold): Promise<void> {
  await writeJsonAtomic(holdFile(paths), hold);
}

export async function clearHold(paths: DestPaths): Promise<void> {
  await rm(holdFile(paths), { force: true });
}
