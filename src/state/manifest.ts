/**
 * The manifest: what hostsync placed in DEST at the last applied commit. Read to plan deletions
 * (only files hostsync placed are deleted), to detect drift, and to answer polls that GitHub says
 * are unchanged without fetching the tree again.
 */
import { HostsyncError } from '../errors.js';
import type { Manifest, ManifestEntry } from '../model.js';
import { readJson, writeJsonAtomic } from './files.js';
import type { Logger } from '../model.js';
import type { DestPaths } from './layout.js';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Load the manifest, or undefined before the first sync. A corrupt one is an error naming the file. */
export async function loadManifest(file: string): Promise<Manifest | undefined> {
  let data: unknown;
  try {
    data = await readJson(file);
  } catch (error) {
    throw new HostsyncError(`The manifest ${file} is unreadable (${String(error)}). Run 'hostsync validate --fix' or remove it to re-sync from scratch.`);
  }
  if (data === undefined) return undefined;
  if (!isManifest(data)) throw new HostsyncError(`The manifest ${file} is not a hostsync manifest. Remove it to re-sync from scratch.`);
  return data;
}

/** Save a manifest atomically and durably, on one line (a 20,000-entry manifest is 2 MB so). */
export async function saveManifest(file: string, manifest: Manifest): Promise<void> {
  await writeJsonAtomic(file, manifest, { pretty: false });
}

function isManifest(data: unknown): data is Manifest {
  if (typeof data !== 'object' || data === null) return false;
  const m = data as Partial<Record<keyof Manifest, unknown>>;
  return m.version === 1 && typeof m.commit === 'string' && typeof m.repo === 'string' && Array.isArray(m.entries) && m.entries.every(isEntry);
}

function isEntry(entry: unknown): entry is ManifestEntry {
  if (typeof entry !== 'object' || entry === null) return false;
  const e = entry as Partial<Record<keyof ManifestEntry, unknown>>;
  return typeof e.path === 'string' && typeof e.mode === 'string' && typeof e.sha === 'string';
}

/**
 * The applied manifest, surviving damage to its file: a manifest that cannot be parsed (a
 * truncated write on a failing disk) is replaced by the newest generation that can — the same
 * record, kept by history — with a warning; with none, DEST is re-adopted by hashing (like a first
 * install, nothing is deleted that hostsync cannot prove it placed).
 */
export async function loadManifestOrGeneration(paths: DestPaths, log: Logger): Promise<Manifest | undefined> {
  try {
    return await loadManifest(paths.manifest);
  } catch (error) {
    const dir = join(paths.root, 'generations');
    const ids = (await readdir(dir).catch(() => [] as string[]))
      .map((name) => /^(\d+)\.json$/.exec(name)?.[1])
      .filter((id): id is string => id !== undefined)
      .map(Number)
      .sort((a, b) => b - a);
    for (const id of ids) {
      const data = await readJson(join(dir, `${id}.json`)).catch(() => undefined);
      if (isManifest(data)) {
        log('warn', `${error instanceof Error ? error.message : String(error)} Using generation ${id} (${data.commit.slice(0, 12)}) from the history instead; the next apply rewrites the manifest.`);
        return data;
      }
    }
    log('warn', `${error instanceof Error ? error.message : String(error)} No generation in the history can stand in for it: DEST is re-adopted by hashing, and nothing in it is deleted as hostsync-placed until the next apply records a manifest.`);
    return undefined;
  }
}
