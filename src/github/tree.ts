/**
 * `readCommitTree`: the full tree of a commit, even past GitHub's truncation limit.
 * GitHub truncates a recursive tree at 100,000 entries or 7 MB
 * (https://docs.github.com/rest/git/trees#get-a-tree); then we walk it: each folder is read
 * recursively on its own, and only a folder that is itself truncated is split one level further.
 */
import pLimit from 'p-limit';
import { HostsyncError } from '../errors.js';

/** Bounds of a walk: git trees are not deeper than this in practice, and GitHub's limit is 100,000 entries. */
const MAX_DEPTH = 256;
const MAX_REQUESTS = 20_000;
import type { GitHubClient, GitTreeEntry } from './types.js';

export interface TreeReadResult {
  readonly entries: readonly GitTreeEntry[];
  /** True when the recursive tree was truncated and subtrees were walked. */
  readonly walked: boolean;
  /** The commit's root tree SHA. */
  readonly rootSha: string;
}

/**
 * Read the tree of `commit`, restricted to `subPath` ('' for all) when walking (the one-request
 * recursive answer is returned whole). Paths are always relative to the repository root.
 */
export async function readCommitTree(client: GitHubClient, commit: string, subPath: string, concurrency: number): Promise<TreeReadResult> {
  const whole = await client.getTree(commit, true);
  if (!whole.truncated) return { entries: whole.entries, walked: false, rootSha: whole.sha };

  const limit = pLimit(Math.max(1, Math.min(concurrency, 8)));
  const entries: GitTreeEntry[] = [];
  const prefixOf = (path: string): string => (path === '' ? '' : `${path}/`);
  const inScope = (path: string): boolean => subPath === '' || path === subPath || path.startsWith(`${subPath}/`) || subPath.startsWith(`${path}/`);

  let requests = 0;
  /** Read one folder: recursively if GitHub can serve it whole, else level by level. */
  const readFolder = async (sha: string, path: string, tryRecursive: boolean): Promise<void> => {
    // A hostile server could answer "truncated" forever: bound the walk.
    if (path.split('/').length > MAX_DEPTH || ++requests > MAX_REQUESTS) {
      throw new HostsyncError(`Walking the truncated tree of ${commit.slice(0, 12)} went past ${MAX_DEPTH} levels or ${MAX_REQUESTS} requests at ${path || '/'}; refusing it. Use --path for a smaller folder.`);
    }
    if (tryRecursive) {
      const tree = await limit(() => client.getTree(sha, true));
      if (!tree.truncated) {
        for (const entry of tree.entries) entries.push({ ...entry, path: prefixOf(path) + entry.path });
        return;
      }
    }
    const level = await limit(() => client.getTree(sha, false));
    if (level.truncated) throw new HostsyncError(`GitHub truncated even the single level of folder ${path || '/'} in ${commit.slice(0, 12)}; it cannot be walked. Use --path for a smaller folder.`);
    const children: Promise<void>[] = [];
    for (const entry of level.entries) {
      const full = prefixOf(path) + entry.path;
      if (!inScope(full)) continue;
      entries.push({ ...entry, path: full });
      // Above the synced folder, walk level by level; at or below it, try whole subtrees first.
      if (entry.type === 'tree') children.push(readFolder(entry.sha, full, subPath === '' || full === subPath || full.startsWith(`${subPath}/`)));
    }
    await Promise.all(children);
  };

  await readFolder(commit, '', false);
  return { entries, walked: true, rootSha: whole.sha };
}
