/**
 * Generations: every applied commit is recorded (a summary in history.json, its full manifest in
 * generations/<id>.json) so `hostsync history` can list them and `hostsync rollback` can restore
 * one from the object store without network. Old generations are pruned to `historyLimit`, and
 * objects no generation, manifest or journal of any destination references are deleted.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCode } from '../errors.js';
import type { Manifest } from '../model.js';
import { readJson, writeFileAtomic, writeJsonAtomic } from '../state/files.js';
import type { DestPaths } from '../state/layout.js';
import type { ObjectStore } from '../state/objects.js';
import { GC_GRACE_MS, livePins, withGcLock } from '../state/pins.js';
import { journalFiles, readJournal } from './journal.js';

export type GenerationKind = 'sync' | 'rollback' | 'fix' | 'recovered' | 'restore';

export interface ChangeCounts {
  readonly added: number;
  readonly modified: number;
  readonly deleted: number;
  readonly modeChanged: number;
  readonly typeChanged: number;
}

export interface Generation {
  readonly id: number;
  readonly kind: GenerationKind;
  readonly appliedAt: string;
  readonly repo: string;
  readonly ref: string;
  readonly path: string;
  readonly commit: string;
  readonly previousCommit: string | null;
  readonly strategy: string;
  readonly changes: ChangeCounts;
}

const generationsDir = (paths: DestPaths): string => join(paths.root, 'generations');
const generationFile = (paths: DestPaths, id: number): string => join(generationsDir(paths), `${id}.json`);

/** Applied generations, oldest first. */
export async function listHistory(paths: DestPaths): Promise<Generation[]> {
  const data = await readJson(paths.history).catch(() => undefined);
  return Array.isArray(data) ? (data as Generation[]) : [];
}

/** The full manifest of a generation, or undefined when it was pruned. */
export async function loadGeneration(paths: DestPaths, id: number): Promise<Manifest | undefined> {
  const data = await readJson(generationFile(paths, id)).catch(() => undefined);
  return data === undefined ? undefined : (data as Manifest);
}

/** Record an applied manifest as the newest generation, then prune to `limit` generations. */
export async function recordGeneration(
  paths: DestPaths,
  manifest: Manifest,
  details: { kind: GenerationKind; previousCommit: string | undefined; changes: ChangeCounts },
  limit: number,
): Promise<Generation> {
  const history = await listHistory(paths);
  const id = (history.at(-1)?.id ?? 0) + 1;
  const generation: Generation = {
    id,
    kind: details.kind,
    appliedAt: manifest.appliedAt,
    repo: manifest.repo,
    ref: manifest.ref,
    path: manifest.path,
    commit: manifest.commit,
    previousCommit: details.previousCommit ?? null,
    strategy: manifest.strategy,
    changes: details.changes,
  };
  // One line, and not fsynced: a generation torn by a power cut reads as pruned (history only).
  await writeFileAtomic(generationFile(paths, id), `${JSON.stringify(manifest)}\n`, 0o600, false);
  const kept = [...history, generation].slice(-Math.max(1, limit));
  await writeJsonAtomic(paths.history, kept);
  const keptIds = new Set(kept.map((g) => g.id));
  for (const old of history) if (!keptIds.has(old.id)) await rm(generationFile(paths, old.id), { force: true });
  return generation;
}

/** SHAs referenced by anything a destination may still need: manifests, generations, journals. */
async function referencedShas(stateDir: string): Promise<Set<string>> {
  const refs = new Set<string>();
  const addManifest = (data: unknown): void => {
    const entries = typeof data === 'object' && data !== null ? (data as { entries?: unknown }).entries : undefined;
    if (Array.isArray(entries)) for (const entry of entries) if (typeof entry?.sha === 'string') refs.add(entry.sha);
  };
  let dests: string[] = [];
  try {
    dests = await readdir(join(stateDir, 'dests'));
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
  for (const dest of dests) {
    const root = join(stateDir, 'dests', dest);
    addManifest(await readJson(join(root, 'manifest.json')));
    const journal = await readJournal(join(root, 'journal.json'));
    if (journal !== undefined) {
      const files = journalFiles(root);
      addManifest(journal.embedded?.manifest ?? (await readJson(files.next)));
      addManifest(journal.embedded?.previous ?? (await readJson(files.previous)));
      for (const op of journal.ops) {
        if ('sha' in op.before) refs.add(op.before.sha);
        if ('sha' in op.after) refs.add(op.after.sha);
      }
    }
    let files: string[] = [];
    try {
      files = await readdir(join(root, 'generations'));
    } catch {
      // no generations yet
    }
    for (const file of files) if (file.endsWith('.json')) addManifest(await readJson(join(root, 'generations', file)));
  }
  return refs;
}

/**
 * How often the object store is collected: each collection reads every kept generation of every
 * destination (historyLimit × entries) and lists the store, which on a 20,000-file repository is
 * most of a one-file update's work. Garbage is only space, and objects younger than the grace period
 * are kept anyway, so once an hour is enough (git's `gc --auto` is lazier still).
 */
export const GC_INTERVAL_MS = 60 * 60 * 1000;

const gcRecord = (stateDir: string): string => join(stateDir, 'gc.json');

/**
 * Delete objects nothing references any more: no manifest, generation or journal of any
 * destination, no live run's pin (state/pins.ts), and not written within the grace period.
 * Conservative: a state file that exists but cannot be parsed makes this throw before anything is
 * deleted (the caller warns and carries on). Holds the state dir's GC lock throughout. Runs at most
 * once per {@link GC_INTERVAL_MS} (recorded in `<stateDir>/gc.json`) unless `force`.
 */
export async function collectGarbage(stateDir: string, store: ObjectStore, now: () => number = Date.now, options: { readonly force?: boolean } = {}): Promise<{ removed: number; skipped: boolean }> {
  return withGcLock(stateDir, async () => {
    const last = (await readJson(gcRecord(stateDir)).catch(() => undefined)) as { lastAt?: unknown } | undefined;
    const lastAt = typeof last?.lastAt === 'number' ? last.lastAt : undefined;
    // A clock set back makes the record look young: collect then too.
    if (options.force !== true && lastAt !== undefined && lastAt <= now() && now() - lastAt < GC_INTERVAL_MS) return { removed: 0, skipped: true };
    const refs = await referencedShas(stateDir);
    for (const sha of await livePins(stateDir)) refs.add(sha);
    const youngest = now() - GC_GRACE_MS;
    let removed = 0;
    for (const sha of await store.list()) {
      if (refs.has(sha)) continue;
      const modified = await store.modifiedAt(sha);
      if (modified === undefined || modified > youngest) continue;
      await store.remove(sha);
      removed++;
    }
    await writeFileAtomic(gcRecord(stateDir), `${JSON.stringify({ lastAt: now(), removed })}\n`, 0o600, false);
    return { removed, skipped: false };
  });
}
