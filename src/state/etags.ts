/**
 * ETags of conditional requests, so an unchanged poll is one 304 that costs no quota
 * (https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate).
 */
import type { Manifest } from '../model.js';
import { readJson, writeJsonAtomic } from './files.js';

export interface RefCacheEntry {
  readonly etag: string;
  readonly sha: string;
}

/** Cached ref resolutions, keyed by `refKey`. */
export type RefCache = Record<string, RefCacheEntry>;

/** The cache key of a ref resolution: API, repository and ref together. */
export function refKey(apiUrl: string, repo: string, ref: string): string {
  return `${apiUrl} ${repo}@${ref}`;
}

export async function loadRefCache(file: string): Promise<RefCache> {
  try {
    const data = await readJson(file);
    return typeof data === 'object' && data !== null ? (data as RefCache) : {};
  } catch {
    return {}; // a corrupt cache only costs one full request
  }
}

/** Saved without an fsync: a cache lost in a power cut costs one full ref request (loadRefCache reads a damaged one as empty). */
export async function saveRefCache(file: string, cache: RefCache): Promise<void> {
  await writeJsonAtomic(file, cache, { durable: false });
}

/** Whether the manifest records exactly this commit of this repository and folder. */
export function manifestMatches(manifest: Manifest | undefined, repo: string, path: string, commit: string): manifest is Manifest {
  return manifest !== undefined && manifest.repo === repo && manifest.path === path && manifest.commit === commit;
}
