/**
 * Git LFS files as their real content, behind one substitution: an entry whose blob is an LFS
 * pointer gets the git blob SHA and size of the object the pointer names (the pointer kept in
 * `entry.lfs`), so plan, store, apply, journal, rollback, the stat cache and drift checks all work
 * on what DEST holds, unchanged. Decision: docs/decisions/0011-git-lfs.md.
 *
 *   before the scan   pointers already known — from the applied manifest or the state dir's map
 *                     (pointer-map.ts) — are substituted without a request
 *   after the scan    small blobs whose bytes are at hand (the store, or a DEST file that hashes to
 *                     them) are read; a pointer found is substituted if its object is known, adopted
 *                     if DEST already holds content with its SHA-256, else marked pending: a
 *                     placeholder SHA (no blob has it) makes the plan show the change and keeps the
 *                     object out of git's transfers. `--check-only` fetches the blobs of paths
 *                     `.gitattributes` gives `filter=lfs` to see their pointers.
 *   after the fetch   blobs the transfer just brought are read too; pending objects and known
 *                     objects the store lacks are downloaded, verified, stored (complete.ts)
 *   with lfs: off     nothing is substituted (a manifest's LFS files go back to their pointers);
 *                     a run that writes pointers says so once.
 */
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { constants, open } from 'node:fs/promises';
import { join } from 'node:path';
import { hashBlob } from '../local/hash.js';
import type { ScanResult } from '../local/scan.js';
import type { LfsLink, Logger, Manifest, RemoteEntry, WantedBlob } from '../model.js';
import type { Plan } from '../plan/plan.js';
import type { ObjectStore } from '../state/objects.js';
import { lfsPaths } from './attributes.js';
import { mayBePointer, parsePointer, POINTER_SIZE_LIMIT, type LfsPointer } from './pointer.js';
import { loadPointerMap, type PointerMap } from './pointer-map.js';

export type LfsMode = 'auto' | 'off';

/** The LFS side of one run over one destination. */
export interface LfsRun {
  readonly mode: LfsMode;
  readonly store: ObjectStore;
  readonly map: PointerMap;
  /** Where DEST's current content is (the current generation with layout symlink). */
  readonly scanRoot: string;
  readonly previous: Manifest | undefined;
  readonly log: Logger;
}

/** Blobs brought into the store, verified, by the run's source (its transfer strategies, in order). */
export type FetchBlobs = (blobs: readonly WantedBlob[]) => Promise<void>;

/** What a plan holds of LFS: for `--check-only` and `--json`. */
export interface LfsSummary {
  readonly mode: LfsMode;
  /** LFS files in the synced tree. */
  readonly files: number;
  /** Objects to download (or downloaded), distinct by SHA-256. */
  readonly objects: number;
  /** Their bytes. */
  readonly bytes: number;
}

/** Open the LFS side of a run (reads the state dir's pointer map). */
export async function openLfs(options: { readonly mode: LfsMode; readonly stateDir: string; readonly store: ObjectStore; readonly scanRoot: string; readonly previous: Manifest | undefined; readonly log: Logger }): Promise<LfsRun> {
  const map = await loadPointerMap(options.stateDir);
  return { mode: options.mode, store: options.store, map, scanRoot: options.scanRoot, previous: options.previous, log: options.log };
}

/** The SHA a pending LFS file gets until its object is downloaded: derived from the oid, no blob's SHA. */
export function placeholderOf(oid: string): string {
  return createHash('sha1').update(`hostsync: Git LFS object not downloaded yet\0${oid}`).digest('hex');
}

/** A regular or executable file (what a pointer can be). */
export function isFile(entry: RemoteEntry): boolean {
  return entry.mode === '100644' || entry.mode === '100755';
}

/** An entry as git's tree has it: a Git LFS file as its pointer. */
function asPointer(entry: RemoteEntry): RemoteEntry {
  return entry.lfs === undefined ? entry : { path: entry.path, mode: entry.mode, sha: entry.lfs.pointer, size: entry.lfs.pointerSize };
}

function asContent(entry: RemoteEntry, link: LfsLink, content: string, size: number): RemoteEntry {
  return { path: entry.path, mode: entry.mode, sha: content, size, lfs: link };
}

/**
 * Before the scan: entries whose pointer is already known (the applied manifest, the map) become
 * their content. With lfs off, a manifest's LFS files go back to their pointers.
 */
export function applyKnownPointers(run: LfsRun, entries: readonly RemoteEntry[]): RemoteEntry[] {
  if (run.mode === 'off') return entries.some((entry) => entry.lfs !== undefined) ? entries.map(asPointer) : [...entries];
  const known = new Map<string, { link: LfsLink; content: string; size: number }>();
  for (const entry of run.previous?.entries ?? []) if (entry.lfs !== undefined && entry.size !== undefined) known.set(entry.lfs.pointer, { link: entry.lfs, content: entry.sha, size: entry.size });
  return entries.map((entry) => {
    if (entry.lfs !== undefined || !isFile(entry)) return entry;
    const previous = known.get(entry.sha);
    if (previous !== undefined) return asContent(entry, previous.link, previous.content, previous.size);
    const mapped = run.map.get(entry.sha);
    if (mapped !== undefined) return asContent(entry, { pointer: entry.sha, pointerSize: mapped.pointerSize, oid: mapped.oid }, mapped.content, mapped.size);
    return entry;
  });
}

/** Blob SHAs the applied manifest shows are not pointers (it was resolved with lfs auto). */
function knownPlain(previous: Manifest | undefined): ReadonlySet<string> {
  if (previous?.lfs !== 'auto') return new Set();
  const plain = new Set<string>();
  for (const entry of previous.entries) if (entry.lfs === undefined) plain.add(entry.sha);
  return plain;
}

/** A blob at hand that is `limit` bytes or more: not a pointer, not a text read here. */
export const LARGE = 'large';

/**
 * The bytes of a blob, when this host has them and they are under `limit` bytes: the store, or
 * DEST at the entry's path when the scan says it holds that blob (hashed again, never through a symlink).
 */
export async function readAtHand(run: LfsRun, entry: RemoteEntry, scan: ScanResult | undefined, limit = POINTER_SIZE_LIMIT): Promise<Buffer | typeof LARGE | undefined> {
  try {
    if (await run.store.holds(entry.sha)) {
      // A blob of unknown size (a pack's, with --check-only) is measured before it is read.
      if (entry.size === undefined && statSync(run.store.pathOf(entry.sha)).size >= limit) return LARGE;
      const data = run.store.readSmall(entry.sha, `blob ${entry.sha} (${entry.path}) in the object store`);
      return data !== undefined && data.length < limit ? data : LARGE;
    }
  } catch {
    return undefined; // rotted: the store removed it; not at hand
  }
  const local = scan?.entries.get(entry.path);
  if (local?.kind !== 'file' || local.sha !== entry.sha) return undefined;
  if (local.size >= limit) return LARGE;
  let handle;
  try {
    handle = await open(join(run.scanRoot, entry.path), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const info = await handle.stat();
    if (!info.isFile() || info.size >= limit) return undefined;
    const data = await handle.readFile();
    return hashBlob(data) === entry.sha ? data : undefined;
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}

/** SHA-256 of a DEST file (streamed, never through a symlink), or undefined. */
async function sha256OfDestFile(root: string, path: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(join(root, path), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    if (!(await handle.stat()).isFile()) return undefined;
    const hash = createHash('sha256');
    for await (const chunk of createReadStream('', { fd: handle.fd, autoClose: false, highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}

/**
 * The entry for a pointer just found: its content when the object is known (the map) or already in
 * DEST at this path (its SHA-256 checked), else pending (the placeholder).
 */
export async function resolveFound(run: LfsRun, entry: RemoteEntry, pointer: LfsPointer, scan: ScanResult | undefined): Promise<RemoteEntry> {
  const pointerSize = entry.size ?? 0;
  const link: LfsLink = { pointer: entry.sha, pointerSize, oid: pointer.oid };
  const known = run.map.contentOf(pointer.oid);
  if (known !== undefined) return asContent(entry, link, known, pointer.size);
  const local = scan?.entries.get(entry.path);
  if (local?.kind === 'file' && local.sha !== undefined && local.size === pointer.size && (await sha256OfDestFile(run.scanRoot, entry.path)) === pointer.oid) {
    run.map.record(entry.sha, { oid: pointer.oid, size: pointer.size, content: local.sha, pointerSize });
    return asContent(entry, link, local.sha, pointer.size);
  }
  return asContent(entry, link, placeholderOf(pointer.oid), pointer.size);
}

/** A pointer's bytes parsed; pointers with extensions are refused by name (hostsync runs no LFS extension). */
export function pointerIn(run: LfsRun, entry: RemoteEntry, data: Buffer): LfsPointer | undefined {
  const pointer = parsePointer(data);
  if (pointer !== undefined && pointer.extensions.length > 0) {
    run.log('warn', `${entry.path} is a Git LFS pointer with extensions (${pointer.extensions.join(', ')}), which hostsync does not run: it is written as the pointer.`);
    return undefined;
  }
  return pointer;
}

/** What the examination after the scan found. */
export interface LfsExamined {
  readonly remote: readonly RemoteEntry[];
  /** Paths of small blobs whose bytes were not at hand: looked at after the fetch. */
  readonly unexamined: readonly string[];
  /** Whether any entry changed (the plan must be made again). */
  readonly changed: boolean;
}

/**
 * After the scan: read the small blobs at hand for pointers. `fetchPointers` (--check-only) brings
 * the blobs of `.gitattributes` and of the paths they give `filter=lfs` first.
 */
export async function examineAtHand(run: LfsRun, remote: readonly RemoteEntry[], scan: ScanResult, plan: Plan, fetchPointers?: FetchBlobs): Promise<LfsExamined> {
  if (run.mode === 'off') return { remote, unexamined: [], changed: false };
  const plain = knownPlain(run.previous);
  const all = remote.filter((entry) => isFile(entry) && entry.lfs === undefined && mayBePointer(entry.size) && !plain.has(entry.sha));
  if (all.length === 0) return { remote, unexamined: [], changed: false };
  // Blobs the plan must fetch are not at hand (the plan asked the store): looked at after the transfer.
  const fetching = new Set(plan.fetch.map((blob) => blob.sha));
  let missing: RemoteEntry[] = all.filter((entry) => fetching.has(entry.sha));
  const candidates = all.filter((entry) => !fetching.has(entry.sha));
  const found = new Map<string, RemoteEntry>();
  const look = async (entries: readonly RemoteEntry[]): Promise<void> => {
    for (const entry of entries) {
      const data = await readAtHand(run, entry, scan);
      if (data === undefined) missing.push(entry);
      else if (data !== LARGE) {
        const pointer = pointerIn(run, entry, data);
        if (pointer !== undefined) found.set(entry.path, await resolveFound(run, entry, pointer, scan));
      }
    }
  };
  await look(candidates);
  if (fetchPointers !== undefined && missing.length > 0) {
    const tracked = await trackedPaths(run, remote, scan, fetchPointers);
    const wanted = missing.filter((entry) => tracked(entry.path));
    if (wanted.length > 0) {
      await fetchPointers(wanted.map((entry) => ({ sha: entry.sha, size: entry.size, path: entry.path })));
      const again = missing;
      missing = [];
      await look(again.filter((entry) => tracked(entry.path)));
      missing.push(...again.filter((entry) => !tracked(entry.path)));
    }
  }
  if (found.size === 0) return { remote, unexamined: missing.map((entry) => entry.path), changed: false };
  return { remote: remote.map((entry) => found.get(entry.path) ?? entry), unexamined: missing.map((entry) => entry.path), changed: true };
}

/** `filter=lfs` per the `.gitattributes` files of the synced tree (fetched when not at hand). */
async function trackedPaths(run: LfsRun, remote: readonly RemoteEntry[], scan: ScanResult, fetchBlobs: FetchBlobs): Promise<(path: string) => boolean> {
  const files = remote.filter((entry) => isFile(entry) && (entry.path === '.gitattributes' || entry.path.endsWith('/.gitattributes')));
  const absent: RemoteEntry[] = [];
  for (const file of files) if ((await readAtHand(run, file, scan, TEXT_LIMIT)) === undefined) absent.push(file);
  if (absent.length > 0) await fetchBlobs(absent.map((file) => ({ sha: file.sha, size: file.size, path: file.path })));
  const texts = [];
  for (const file of files) {
    const data = await readAtHand(run, file, scan, TEXT_LIMIT);
    if (data !== undefined && data !== LARGE) texts.push({ dir: file.path.includes('/') ? file.path.slice(0, file.path.lastIndexOf('/')) : '', text: data.toString('utf8') });
  }
  return lfsPaths(texts);
}

/** Text files (`.gitattributes`, `.lfsconfig`) are read up to this size. */
export const TEXT_LIMIT = 1 << 20;

/** Blob SHAs of LFS files (their content, or the placeholder of a pending one): never a git transfer's to fetch. */
export function lfsShas(remote: readonly RemoteEntry[]): ReadonlySet<string> {
  const shas = new Set<string>();
  for (const entry of remote) if (entry.lfs !== undefined) shas.add(entry.sha);
  return shas;
}

/** The LFS files of `remote` and the objects among `fetch` (a plan's blobs to download). */
export function summarizeLfs(mode: LfsMode, remote: readonly RemoteEntry[], fetch: readonly WantedBlob[]): LfsSummary {
  const files = remote.filter((entry) => entry.lfs !== undefined);
  const needed = new Set(fetch.map((blob) => blob.sha));
  const objects = new Map<string, number>();
  for (const entry of files) if (needed.has(entry.sha)) objects.set(entry.lfs!.oid, entry.size ?? 0);
  return { mode, files: files.length, objects: objects.size, bytes: [...objects.values()].reduce((sum, size) => sum + size, 0) };
}
