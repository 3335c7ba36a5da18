/**
 * Where things live in the state dir. One state dir serves any number of destinations, each
 * keyed by its real path; objects are shared so identical content is stored once.
 *
 *   <stateDir>/objects/ab/cdef…            content-addressed blobs (shared)
 *   <stateDir>/dests/<key>/manifest.json   last applied commit and its entries
 *   <stateDir>/dests/<key>/stat-cache    path → stat + SHA (binary, local/stat-cache.ts)
 *   <stateDir>/dests/<key>/etags.json      ETags of conditional requests
 *   <stateDir>/dests/<key>/git-capabilities.json  git servers' protocol v2 advertisements (state/capabilities.ts)
 *   <stateDir>/dests/<key>/journal.json    an apply in progress (absent when idle)
 *   <stateDir>/dests/<key>/history.json    applied generations, newest last
 */
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';

export interface DestPaths {
  readonly stateDir: string;
  readonly dest: string;
  readonly root: string;
  readonly manifest: string;
  readonly statCache: string;
  readonly etags: string;
  readonly capabilities: string;
  readonly journal: string;
  readonly history: string;
  readonly objects: string;
}

/** A stable, readable key for a destination: its base name plus a hash of its real path. */
export function destKey(realDest: string): string {
  const name = basename(realDest).replace(/[^A-Za-z0-9._-]/g, '_') || 'root';
  return `${name}-${createHash('sha256').update(realDest).digest('hex').slice(0, 12)}`;
}

/** Paths of one destination's state. `realDest` must already be resolved (realpath). */
export function destPaths(stateDir: string, realDest: string): DestPaths {
  const root = join(stateDir, 'dests', destKey(realDest));
  return {
    stateDir,
    dest: realDest,
    root,
    manifest: join(root, 'manifest.json'),
    statCache: join(root, 'stat-cache'),
    etags: join(root, 'etags.json'),
    capabilities: join(root, 'git-capabilities.json'),
    journal: join(root, 'journal.json'),
    history: join(root, 'history.json'),
    objects: join(stateDir, 'objects'),
  };
}
