/**
 * `planUpdate`: the pure heart of hostsync. Given what the commit says (remote entries), what the
 * host holds (local entries), what hostsync placed last time (the previous manifest) and which
 * blobs are already in the object store, decide every change and where each needed blob comes
 * from. No I/O, no clock; output sorted, so the same input always gives the same plan.
 */
import type { LocalEntry, ManifestEntry, RemoteEntry, WantedBlob } from '../model.js';
import { kindOfMode, permOfMode } from '../model.js';

export type ChangeKind = 'added' | 'modified' | 'deleted' | 'modeChanged' | 'typeChanged';

export interface Change {
  readonly path: string;
  readonly kind: ChangeKind;
  /** What the path must become; undefined for deletions. */
  readonly target?: RemoteEntry | undefined;
  /** What is there now; undefined for additions. */
  readonly before?: LocalEntry | undefined;
}

export interface PlanInput {
  readonly remote: readonly RemoteEntry[];
  readonly local: ReadonlyMap<string, LocalEntry>;
  /** Entries of the last applied manifest; empty before the first sync. */
  readonly previous: readonly ManifestEntry[];
  /** Blob SHAs already in the object store. */
  readonly stored: ReadonlySet<string>;
  /** Paths hostsync must never touch (the config's `preserve` globs). */
  readonly isPreserved: (path: string) => boolean;
  /** Delete unmanaged files too. */
  readonly prune: boolean;
}

export interface Plan {
  /** Every change, sorted by path. Directories appear as entries with mode 040000. */
  readonly changes: readonly Change[];
  /** Top-most local paths hostsync did not place and the commit does not have (kept unless prune). */
  readonly unmanaged: readonly string[];
  /** Submodules and other entries left alone, with why. */
  readonly skipped: readonly { readonly path: string; readonly reason: string }[];
  /** Preserved paths that stand where the commit needs something else: the plan cannot apply. */
  readonly conflicts: readonly string[];
  /** Blobs to download: needed, not in the store, not on the host under another path. */
  readonly fetch: readonly WantedBlob[];
  /** Blobs already on the host under another path (moved or copied files): copied, not downloaded. */
  readonly localCopies: readonly { readonly sha: string; readonly path: string }[];
  /** Sum of the sizes of `fetch`, as the tree reports them. */
  readonly downloadBytes: number;
  /** The manifest entries after applying: remote minus skipped and preserved. */
  readonly entries: readonly ManifestEntry[];
}

const parentOf = (path: string): string => {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
};

const byPath = (a: { path: string }, b: { path: string }): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** What a remote entry becomes on disk: a submodule is an (empty) folder. */
function placedKind(mode: RemoteEntry['mode']): 'file' | 'symlink' | 'dir' {
  const kind = kindOfMode(mode);
  return kind === 'submodule' ? 'dir' : kind;
}

/** Whether a local entry already is what the remote entry asks for (ignoring content). */
function sameKind(local: LocalEntry, remote: RemoteEntry): boolean {
  return placedKind(remote.mode) === local.kind;
}

/** The keys of `map` in sorted order (a scan's map already is: then no sort). */
function sortedKeys(map: ReadonlyMap<string, unknown>): string[] {
  const keys = [...map.keys()];
  for (let i = 1; i < keys.length; i++) if ((keys[i - 1] as string) > (keys[i] as string)) return keys.sort();
  return keys;
}

/** Compute the plan. Pure: see the module comment. */
export function planUpdate(input: PlanInput): Plan {
  const changes: Change[] = [];
  const skipped: { path: string; reason: string }[] = [];
  const entries: ManifestEntry[] = [];
  const wanted = new Map<string, RemoteEntry>();
  const remoteByPath = new Map<string, RemoteEntry>();
  const skippedPaths: string[] = [];

  for (const entry of input.remote) {
    if (input.isPreserved(entry.path)) continue;
    if (skippedPaths.some((prefix) => entry.path.startsWith(`${prefix}/`))) continue;
    if (entry.mode === '160000') {
      // Like git's checkout without --recurse-submodules: an empty folder, its content left alone.
      skipped.push({ path: entry.path, reason: 'submodule (an empty folder is placed, as git does; sync its repository separately)' });
      skippedPaths.push(entry.path);
    }
    if (entry.path.includes('\uFFFD')) {
      // The server could not tell the name's bytes (GitHub's JSON replaces invalid UTF-8 with U+FFFD):
      // writing U+FFFD would silently change the name.
      skipped.push({ path: entry.path, reason: 'its name is not valid UTF-8 in the repository (shown with U+FFFD), so hostsync cannot write it byte-exactly; rename it in the repository' });
      skippedPaths.push(entry.path);
      continue;
    }
    remoteByPath.set(entry.path, entry);
    entries.push(
      entry.lfs !== undefined
        ? { path: entry.path, mode: entry.mode, sha: entry.sha, size: entry.size, lfs: entry.lfs }
        : entry.size === undefined
          ? { path: entry.path, mode: entry.mode, sha: entry.sha }
          : { path: entry.path, mode: entry.mode, sha: entry.sha, size: entry.size },
    );
    const before = input.local.get(entry.path);
    const kind = placedKind(entry.mode);
    let change: Change['kind'] | undefined;
    if (before === undefined) change = 'added';
    else if (!sameKind(before, entry)) change = 'typeChanged';
    else if (kind !== 'dir' && before.sha !== entry.sha) change = 'modified';
    else if (kind === 'file' && (before.mode !== entry.mode || (before.perm !== undefined && before.perm !== permOfMode(entry.mode)))) change = 'modeChanged';
    if (change === undefined) continue;
    changes.push({ path: entry.path, kind: change, target: entry, before });
    if (kind !== 'dir' && change !== 'modeChanged') wanted.set(entry.sha, entry);
  }

  // Paths that must become a file or symlink: anything local beneath them is in the way.
  const becomingLeaf = new Set(changes.filter((c) => c.kind === 'typeChanged' && placedKind(c.target!.mode) !== 'dir').map((c) => c.path));
  const underLeaf = (path: string): boolean => {
    for (let p = parentOf(path); p !== ''; p = parentOf(p)) if (becomingLeaf.has(p)) return true;
    return false;
  };

  const previousPaths = new Set(input.previous.map((entry) => entry.path));
  const unmanaged: string[] = [];
  const conflicts: string[] = [];
  const unmanagedDirs = new Set<string>();
  const localPaths = sortedKeys(input.local);
  for (const path of localPaths) {
    if (remoteByPath.has(path)) continue;
    const before = input.local.get(path)!;
    if (input.isPreserved(path)) {
      if (underLeaf(path)) conflicts.push(path);
      continue;
    }
    if (skippedPaths.some((prefix) => path.startsWith(`${prefix}/`))) continue;
    if (previousPaths.has(path) || underLeaf(path)) {
      changes.push({ path, kind: 'deleted', before });
      continue;
    }
    if (input.prune) {
      changes.push({ path, kind: 'deleted', before });
      continue;
    }
    // Report the top-most unmanaged path only: a whole unmanaged folder is one line.
    let covered = false;
    for (let p = parentOf(path); p !== ''; p = parentOf(p)) if (unmanagedDirs.has(p)) covered = true;
    if (!covered) unmanaged.push(path);
    if (before.kind === 'dir') unmanagedDirs.add(path);
  }

  // Where each wanted blob comes from: the store, the host (another path), or the network.
  const localBySha = new Map<string, string>();
  if (wanted.size > 0) {
    for (const path of localPaths) {
      const entry = input.local.get(path)!;
      if (entry.kind === 'file' && entry.sha !== undefined && !localBySha.has(entry.sha)) localBySha.set(entry.sha, path);
    }
  }
  const fetch: WantedBlob[] = [];
  const localCopies: { sha: string; path: string }[] = [];
  let downloadBytes = 0;
  for (const [sha, entry] of wanted) {
    if (input.stored.has(sha)) continue;
    const localPath = localBySha.get(sha);
    if (localPath !== undefined) {
      localCopies.push({ sha, path: localPath });
      continue;
    }
    fetch.push({ sha, size: entry.size, path: entry.path });
    downloadBytes += entry.size ?? 0;
  }

  return {
    changes: changes.sort(byPath),
    unmanaged,
    skipped: skipped.sort(byPath),
    conflicts: conflicts.sort(),
    fetch: fetch.sort(byPath),
    localCopies: localCopies.sort(byPath),
    downloadBytes,
    entries: entries.sort(byPath),
  };
}

/**
 * The plan `planUpdate` gives for the same input once the store is known to hold `stored`: the
 * blobs it holds are neither fetched nor copied. Equal to planning again (test/plan/plan.test.ts),
 * without going over every entry a second time (a 20,000-file update spent ~35 ms on that).
 */
export function withStored(plan: Plan, stored: ReadonlySet<string>): Plan {
  if (stored.size === 0) return plan;
  const fetch = plan.fetch.filter((blob) => !stored.has(blob.sha));
  let downloadBytes = 0;
  for (const blob of fetch) downloadBytes += blob.size ?? 0;
  return { ...plan, fetch, localCopies: plan.localCopies.filter((copy) => !stored.has(copy.sha)), downloadBytes };
}

/** Whether the plan changes nothing on the host. */
export function isEmptyPlan(plan: Plan): boolean {
  return plan.changes.length === 0;
}
