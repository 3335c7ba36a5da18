/**
 * Tying GitHub's tree listing to the tree a signed commit names. The REST API lists a tree as JSON
 * (`GET /git/trees/{sha}?recursive=1`): paths, modes and SHAs that the server asserts. With pinned
 * signers that assertion is not enough — the signature covers the commit object, which names one
 * root tree SHA, and the listing must be *that* tree. Git's tree format is deterministic, so every
 * folder's tree object can be rebuilt from its listed children and hashed: when each folder from
 * the root down to `--path`, and every folder below it, hashes to the SHA its parent gives it, the
 * listing is the signed tree (blobs are then tied to it by the object store's check, decision 0001).
 *
 * Folders are checked by path, not by SHA: two folders with the same SHA must each list the same
 * children, or one of them would slip through unchecked. Pure: no I/O.
 */
import { hashObject } from '../git/objects.js';
import { serializeTree, type TreeEntry } from '../git/tree.js';
import type { GitMode } from '../model.js';

/** One entry of a listing, its path from the repository root. */
export interface ListedEntry {
  readonly path: string;
  readonly mode: GitMode;
  readonly sha: string;
}

/** Whether a listing is the tree it claims to be, and where it is not. */
export type ListingCheck = { readonly ok: true } | { readonly ok: false; readonly folder: string; readonly problem: string };

const parentOf = (path: string): string => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');
const baseOf = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/**
 * Check that `listing` (a whole recursive listing, paths from the root) is the tree `rootSha`, as
 * far as `path` needs it: the folders from the root down to `path` and every folder at or below
 * it. Folders elsewhere are not applied and need not be complete.
 */
export function checkListing(listing: readonly ListedEntry[], rootSha: string, path: string): ListingCheck {
  const children = new Map<string, ListedEntry[]>();
  const folders = new Map<string, string>([['', rootSha]]);
  for (const entry of listing) {
    const parent = parentOf(entry.path);
    let list = children.get(parent);
    if (list === undefined) children.set(parent, (list = []));
    list.push(entry);
    if (entry.mode === '040000') folders.set(entry.path, entry.sha);
  }
  // The chain above `path` (the root included) and everything at or below it.
  const inScope = (folder: string): boolean => path === '' || folder === '' || folder === path || folder.startsWith(`${path}/`) || path.startsWith(`${folder}/`);
  for (const [folder, sha] of folders) {
    if (!inScope(folder)) continue;
    const entries: TreeEntry[] = (children.get(folder) ?? []).map((entry) => ({
      mode: entry.mode === '040000' ? '40000' : entry.mode,
      name: Buffer.from(baseOf(entry.path), 'utf8'),
      sha: entry.sha,
    }));
    let actual: string;
    try {
      actual = hashObject('tree', serializeTree(entries));
    } catch (error) {
      return { ok: false, folder, problem: `its entries do not form a git tree (${error instanceof Error ? error.message : String(error)})` };
    }
    if (actual !== sha) return { ok: false, folder, problem: `its listed entries hash to tree ${actual.slice(0, 12)}, not ${sha.slice(0, 12)}` };
  }
  // A `path` the checked chain does not hold really is absent: the caller says so as for any commit.
  return { ok: true };
}
