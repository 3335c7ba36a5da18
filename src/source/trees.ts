/**
 * Between git's tree objects and hostsync's flat entries (path, mode, sha, size). Both ways:
 * - `flattenTrees`: the new commit's entries below `--path`, read from the tree objects a pack
 *   brought plus the subtrees the host already knows (unchanged folders come as their SHA only);
 * - `createTreeIndex`: the tree objects of a known listing (the applied manifest), rebuilt on
 *   demand — git's tree format is deterministic, so a rebuilt tree hashes to the SHA recorded for
 *   it, which is checked — to serve as delta bases of a thin pack.
 * Pure: no I/O.
 */
import { hashObject } from '../git/objects.js';
import { entryKind, parseTree, serializeTree, type TreeEntry } from '../git/tree.js';
import type { GitMode, ManifestEntry, RemoteEntry } from '../model.js';
import { MAX_PATH_BYTES, unsafeEntry, unsafeNameReason, unsafePathReason } from '../plan/remote.js';

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** A tree entry's name as text; bytes that are not UTF-8 become U+FFFD (the planner skips such entries). */
function nameOf(entry: TreeEntry): string {
  try {
    return UTF8.decode(entry.name);
  } catch {
    return entry.name.toString('utf8');
  }
}

/** hostsync's mode of a tree entry (git may write old non-canonical file modes such as 100664). */
export function gitModeOf(mode: string): GitMode | undefined {
  switch (entryKind(mode)) {
    case 'tree':
      return '040000';
    case 'file':
      return '100644';
    case 'executable':
      return '100755';
    case 'symlink':
      return '120000';
    case 'gitlink':
      return '160000';
    default:
      return undefined;
  }
}

/** A tree entry's mode as git writes it. */
function treeModeOf(mode: GitMode): string {
  return mode === '040000' ? '40000' : mode;
}

const baseOf = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/** The trees of a flat listing, by folder and by SHA, each rebuilt on demand and checked. */
export interface TreeIndex {
  /** The raw tree object with this SHA, when the listing holds it (the root included, given its SHA). */
  tree(sha: string): Buffer | undefined;
  /**
   * The entries below the folder whose tree has this SHA, with `prefix` in front of their paths
   * relative to that folder; undefined when unknown. Where the folder is at `prefix` already (an
   * unchanged folder of an update), the listing's own entry objects come back: no copies (Git LFS
   * files excepted: they come back as their pointers, as git's trees hold them).
   */
  entriesAt(sha: string, prefix: string): readonly RemoteEntry[] | undefined;
  /** Blob size by SHA, where the listing records it. */
  sizeOf(sha: string): number | undefined;
}

const byPath = (a: { readonly path: string }, b: { readonly path: string }): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** The first index of sorted `entries` whose path is not below `key` in sort order. */
function lowerBound(entries: readonly ManifestEntry[], key: string): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((entries[mid] as ManifestEntry).path < key) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * Index a listing (entries relative to one folder) whose folder tree is `rootSha` (undefined when
 * unknown). Extra raw trees (the chain above `--path`) may be added as they are.
 */
export function createTreeIndex(listing: readonly ManifestEntry[], rootSha: string | undefined, extra: ReadonlyMap<string, Buffer> = new Map()): TreeIndex {
  // Sorted by path (a manifest already is), so everything below a folder is one run of entries.
  let sorted = true;
  for (let i = 1; i < listing.length && sorted; i++) sorted = (listing[i - 1] as ManifestEntry).path < (listing[i] as ManifestEntry).path;
  const entries = sorted ? listing : [...listing].sort(byPath);
  const dirBySha = new Map<string, string>();
  const sizes = new Map<string, number>();
  if (rootSha !== undefined) dirBySha.set(rootSha, '');
  for (const entry of entries) {
    if (entry.mode === '040000' && !dirBySha.has(entry.sha)) dirBySha.set(entry.sha, entry.path);
    // A Git LFS file is in git's trees as its pointer (src/lfs): that blob and its size.
    if (entry.lfs !== undefined) sizes.set(entry.lfs.pointer, entry.lfs.pointerSize);
    else if (entry.size !== undefined) sizes.set(entry.sha, entry.size);
  }
  /** The run of entries below `dir` ('' for all). */
  const below = (dir: string): readonly ManifestEntry[] => {
    if (dir === '') return entries;
    const prefix = `${dir}/`;
    const start = lowerBound(entries, prefix);
    let end = start;
    while (end < entries.length && (entries[end] as ManifestEntry).path.startsWith(prefix)) end++;
    return entries.slice(start, end);
  };
  const built = new Map<string, Buffer | null>();
  const build = (sha: string): Buffer | undefined => {
    const cached = built.get(sha);
    if (cached !== undefined) return cached ?? undefined;
    const dir = dirBySha.get(sha);
    let data: Buffer | undefined;
    if (dir !== undefined) {
      const prefix = dir === '' ? '' : `${dir}/`;
      const children = below(dir).filter((entry) => !entry.path.includes('/', prefix.length));
      try {
        const candidate = serializeTree(children.map((entry) => ({ mode: treeModeOf(entry.mode), name: Buffer.from(baseOf(entry.path), 'utf8'), sha: entry.lfs?.pointer ?? entry.sha })));
        // Only a tree that hashes to its recorded SHA may serve (a name git stored in another encoding would not).
        if (hashObject('tree', candidate) === sha) data = candidate;
      } catch {
        data = undefined;
      }
    }
    built.set(sha, data ?? null);
    return data;
  };
  return {
    tree: (sha) => extra.get(sha) ?? build(sha),
    entriesAt(sha, prefix) {
      const dir = dirBySha.get(sha);
      if (dir === undefined) return undefined;
      const run = below(dir);
      const from = dir === '' ? '' : `${dir}/`;
      // As git's tree has it: a Git LFS file as its pointer (the pipeline resolves it again).
      const asInTree = (entry: ManifestEntry, path: string): RemoteEntry =>
        entry.lfs === undefined ? (path === entry.path ? entry : { ...entry, path }) : { path, mode: entry.mode, sha: entry.lfs.pointer, size: entry.lfs.pointerSize };
      if (from === prefix && !run.some((entry) => entry.lfs !== undefined)) return run;
      return run.map((entry) => asInTree(entry, `${prefix}${entry.path.slice(from.length)}`));
    },
    sizeOf: (sha) => sizes.get(sha),
  };
}

/** What `flattenTrees` found. */
export interface Flattened {
  /** Sorted by path. */
  readonly entries: RemoteEntry[];
  /** The synced folder's tree SHA. */
  readonly folderTree: string;
  /** Raw trees from the repository root down to the synced folder's parent (empty without --path). */
  readonly chain: readonly { readonly sha: string; readonly data: Buffer }[];
  /** Trees the listing needs that neither the pack nor the host knows. */
  readonly missing: readonly string[];
}

/**
 * The entries below `path` of the commit whose root tree is `rootTree`, from `trees` (the tree
 * objects at hand: a pack's) and `known` (subtrees the host already has, by SHA). Sizes of blobs
 * come from `sizeOf`. Paths are relative to `path`; names that are not UTF-8 hold U+FFFD.
 *
 * Every name read from a tree object is checked as it is read (`unsafeNameReason`: '..', '.git',
 * a backslash, names twice in one tree, paths too long to write); a folder the host already knows
 * was checked when it was first applied.
 * @throws {HostsyncError} naming the first unsafe entry.
 */
export function flattenTrees(
  rootTree: string,
  path: string,
  trees: (sha: string) => Buffer | undefined,
  known: TreeIndex,
  sizeOf: (sha: string) => number | undefined,
  commit: string,
): Flattened {
  const missing: string[] = [];
  const chain: { sha: string; data: Buffer }[] = [];
  let folder = rootTree;
  if (path !== '') {
    for (const component of path.split('/')) {
      const data = trees(folder) ?? known.tree(folder);
      if (data === undefined) return { entries: [], folderTree: folder, chain, missing: [folder] };
      chain.push({ sha: folder, data });
      const child = parseTree(data).find((entry) => nameOf(entry) === component);
      if (child === undefined || entryKind(child.mode) !== 'tree') return { entries: [], folderTree: '', chain, missing: [] };
      folder = child.sha;
    }
  }
  const entries: RemoteEntry[] = [];
  const walk = (sha: string, prefix: string): void => {
    const data = trees(sha);
    if (data === undefined) {
      const below = known.entriesAt(sha, prefix);
      if (below === undefined) {
        missing.push(sha);
        return;
      }
      const moved = below.length > 0 && !(below[0] as RemoteEntry).path.startsWith(prefix);
      for (const entry of below) {
        if (moved && Buffer.byteLength(entry.path) > MAX_PATH_BYTES) throw unsafeEntry(entry.path, unsafePathReason(entry.path) ?? 'is too long', commit);
        entries.push(entry);
      }
      return;
    }
    const names = new Set<string>();
    for (const entry of parseTree(data)) {
      const name = nameOf(entry);
      const childPath = `${prefix}${name}`;
      const reason = names.has(name) ? 'appears twice' : unsafeNameReason(name) ?? (Buffer.byteLength(childPath) > MAX_PATH_BYTES ? unsafePathReason(childPath) : undefined);
      if (reason !== undefined) throw unsafeEntry(childPath, reason, commit);
      names.add(name);
      const mode = gitModeOf(entry.mode);
      if (mode === undefined) {
        missing.push(`${entry.sha} (mode ${entry.mode} at ${childPath})`);
        continue;
      }
      if (mode === '040000') {
        entries.push({ path: childPath, mode, sha: entry.sha });
        walk(entry.sha, `${childPath}/`);
      } else {
        const size = mode === '160000' ? undefined : sizeOf(entry.sha);
        entries.push(size === undefined ? { path: childPath, mode, sha: entry.sha } : { path: childPath, mode, sha: entry.sha, size });
      }
    }
  };
  walk(folder, '');
  // git orders a folder as if its name ended in '/'; hostsync's listings are in plain path order.
  entries.sort(byPath);
  return { entries, folderTree: folder, chain, missing };
}

/**
 * The synced folder's tree SHA and the raw chain of trees above it, rebuilt from a whole
 * repository listing (GitHub's recursive tree: paths from the root, every folder listed). Undefined
 * parts when the listing cannot rebuild them exactly.
 */
export function treesOfListing(
  listing: readonly { readonly path: string; readonly mode: GitMode; readonly sha: string; readonly size?: number | undefined }[],
  rootSha: string,
  path: string,
): { tree?: string; chain?: { sha: string; data: Buffer }[] } {
  if (path === '') return { tree: rootSha };
  const index = createTreeIndex(listing, rootSha);
  const chain: { sha: string; data: Buffer }[] = [];
  let folder = rootSha;
  let at = '';
  for (const component of path.split('/')) {
    const data = index.tree(folder);
    if (data === undefined) return {};
    chain.push({ sha: folder, data });
    at = at === '' ? component : `${at}/${component}`;
    const next = listing.find((entry) => entry.path === at);
    if (next === undefined || next.mode !== '040000') return {};
    folder = next.sha;
  }
  return { tree: folder, chain };
}
