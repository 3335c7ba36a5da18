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

const parentOf = (path: string): string => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');
const baseOf = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/** The trees of a flat listing, by folder and by SHA, each rebuilt on demand and checked. */
export interface TreeIndex {
  /** The raw tree object with this SHA, when the listing holds it (the root included, given its SHA). */
  tree(sha: string): Buffer | undefined;
  /** The entries below the folder whose tree has this SHA, relative to that folder; undefined when unknown. */
  entriesBelow(sha: string): RemoteEntry[] | undefined;
  /** Blob size by SHA, where the listing records it. */
  sizeOf(sha: string): number | undefined;
}

/**
 * Index a listing (entries relative to one folder) whose folder tree is `rootSha` (undefined when
 * unknown). Extra raw trees (the chain above `--path`) may be added as they are.
 */
export function createTreeIndex(entries: readonly ManifestEntry[], rootSha: string | undefined, extra: ReadonlyMap<string, Buffer> = new Map()): TreeIndex {
  const children = new Map<string, ManifestEntry[]>();
  const dirBySha = new Map<string, string>();
  const sizes = new Map<string, number>();
  if (rootSha !== undefined) dirBySha.set(rootSha, '');
  for (const entry of entries) {
    const parent = parentOf(entry.path);
    let list = children.get(parent);
    if (list === undefined) children.set(parent, (list = []));
    list.push(entry);
    if (entry.mode === '040000' && !dirBySha.has(entry.sha)) dirBySha.set(entry.sha, entry.path);
    // A Git LFS file is in git's trees as its pointer (src/lfs): that blob and its size.
    if (entry.lfs !== undefined) sizes.set(entry.lfs.pointer, entry.lfs.pointerSize);
    else if (entry.size !== undefined) sizes.set(entry.sha, entry.size);
  }
  const built = new Map<string, Buffer | null>();
  const build = (sha: string): Buffer | undefined => {
    const cached = built.get(sha);
    if (cached !== undefined) return cached ?? undefined;
    const dir = dirBySha.get(sha);
    let data: Buffer | undefined;
    if (dir !== undefined) {
      const list = children.get(dir) ?? [];
      try {
        const candidate = serializeTree(list.map((entry) => ({ mode: treeModeOf(entry.mode), name: Buffer.from(baseOf(entry.path), 'utf8'), sha: entry.lfs?.pointer ?? entry.sha })));
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
    entriesBelow(sha) {
      const dir = dirBySha.get(sha);
      if (dir === undefined) return undefined;
      const prefix = dir === '' ? '' : `${dir}/`;
      const below: RemoteEntry[] = [];
      for (const entry of entries) {
        if (prefix !== '' && !entry.path.startsWith(prefix)) continue;
        const path = entry.path.slice(prefix.length);
        // As git's tree has it: a Git LFS file as its pointer.
        below.push(entry.lfs === undefined ? { ...entry, path } : { path, mode: entry.mode, sha: entry.lfs.pointer, size: entry.lfs.pointerSize });
      }
      return below;
    },
    sizeOf: (sha) => sizes.get(sha),
  };
}

/** What `flattenTrees` found. */
export interface Flattened {
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
 */
export function flattenTrees(
  rootTree: string,
  path: string,
  trees: (sha: string) => Buffer | undefined,
  known: TreeIndex,
  sizeOf: (sha: string) => number | undefined,
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
      const below = known.entriesBelow(sha);
      if (below === undefined) {
        missing.push(sha);
        return;
      }
      for (const entry of below) entries.push({ ...entry, path: `${prefix}${entry.path}` });
      return;
    }
    for (const entry of parseTree(data)) {
      const mode = gitModeOf(entry.mode);
      const childPath = `${prefix}${nameOf(entry)}`;
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
