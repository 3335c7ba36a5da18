/**
 * The manifest: what hostsync placed in DEST at the last applied commit. Read to plan deletions
 * (only files hostsync placed are deleted), to detect drift, and to answer polls that GitHub says
 * are unchanged without fetching the tree again.
 */
import { HostsyncError } from '../errors.js';
import type { Manifest, ManifestEntry } from '../model.js';
import { readJson, writeJsonAtomic } from './files.js';

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

export async function saveManifest(file: string, manifest: Manifest): Promise<void> {
  await writeJsonAtomic(file, manifest);
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
