/**
 * Garbage collection that is safe on a state dir shared by several destinations. A run pins the
 * SHAs it is about to rely on (the commit's entries and what it found in DEST) before it asks the
 * store what it holds; the collector deletes only what no manifest, generation, journal or live pin
 * names. Both take one state-wide lock, so a pin lands either before a collection reads the pins (and
 * is honoured) or after the collection ended (and the store answers truthfully about what is gone).
 * Objects younger than {@link GC_GRACE_MS} are never collected: content a live run wrote before
 * it pinned anything (a pack streamed in) survives. Pins of dead runs are swept.
 *
 *   <stateDir>/pins/<pid>-<start time>.<random>   one SHA per line
 */
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile, realpath, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCode } from '../errors.js';
import { acquireLock } from './lock.js';
import { processTag, tagAlive } from './owner-process.js';

/** New objects are kept this long whatever references them. */
export const GC_GRACE_MS = 60 * 60 * 1000;
/** How long a run waits for a collection (or a pin) to finish. */
const GC_LOCK_WAIT_SEC = 300;

/** One run's pins; released when the run closes its destination. */
export interface Pins {
  add(shas: Iterable<string>): Promise<void>;
  release(): Promise<void>;
}

const pinsDir = (stateDir: string): string => join(stateDir, 'pins');

/** Run `work` holding the state dir's GC lock. */
export async function withGcLock<T>(stateDir: string, work: () => Promise<T>): Promise<T> {
  let key: string;
  try {
    key = await realpath(stateDir);
  } catch {
    key = stateDir;
  }
  const lock = await acquireLock(`gc-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`, {
    timeoutSec: GC_LOCK_WAIT_SEC,
    fallbackDir: stateDir,
    what: `the object store of ${stateDir}`,
  });
  try {
    return await work();
  } finally {
    await lock.release();
  }
}

/** Start pinning for this run (no file exists until the first `add`). */
export function openPins(stateDir: string): Pins {
  const file = join(pinsDir(stateDir), `${processTag()}.${randomBytes(4).toString('hex')}`);
  const pinned = new Set<string>();
  let written = false;
  return {
    async add(shas) {
      const fresh = [...shas].filter((sha) => !pinned.has(sha));
      if (fresh.length === 0) return;
      await withGcLock(stateDir, async () => {
        await mkdir(pinsDir(stateDir), { recursive: true, mode: 0o700 });
        await appendFile(file, fresh.map((sha) => `${sha}\n`).join(''), { mode: 0o600 });
      });
      for (const sha of fresh) pinned.add(sha);
      written = true;
    },
    async release() {
      if (written) await rm(file, { force: true });
      written = false;
      pinned.clear();
    },
  };
}

/** SHAs pinned by live runs; pin files of dead runs are removed. Call with the GC lock held. */
export async function livePins(stateDir: string): Promise<Set<string>> {
  const shas = new Set<string>();
  let names: string[];
  try {
    names = await readdir(pinsDir(stateDir));
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return shas;
    throw error;
  }
  for (const name of names) {
    const file = join(pinsDir(stateDir), name);
    const tag = /^(\d+-\d+)\./.exec(name)?.[1];
    if (tag !== undefined && !tagAlive(tag)) {
      await rm(file, { force: true });
      continue;
    }
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n')) if (/^[0-9a-f]{40}$/.test(line)) shas.add(line);
  }
  return shas;
}
