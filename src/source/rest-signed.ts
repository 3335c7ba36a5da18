/**
 * The REST source's part in host-side signature verification (decision 0012). GitHub has no
 * endpoint for a raw commit object, but "get a commit" carries `verification.payload` (the object
 * without its `gpgsig` header) and `verification.signature`
 * (https://docs.github.com/rest/commits/commits#get-a-commit): joined as git joins them, they must
 * hash to the commit SHA, or the answer is not that commit. With pinned keys the tree is then read
 * by the SHA the signed object names, and the listing is rebuilt and hashed up to it
 * (signed-listing.ts), so nothing the signature does not cover reaches the plan.
 */
import type { GitHubClient, GitTreeEntry } from '../github/types.js';
import { commitTree, rebuildSignedCommit } from '../trust/commit-object.js';
import { CommitReassemblyError, SignatureRefusedError } from '../trust/errors.js';
import { checkListing } from './signed-listing.js';

/** What the REST source needs for pinned keys. */
export interface RestSignatures {
  /** The raw commit object rebuilt from GitHub's answer; undefined when GitHub reports no signature. */
  commitObject(commit: string): Promise<Buffer | undefined>;
  /** What to list for `commit`: with pinned keys, the tree its signed object names (when there is one). */
  treeToRead(commit: string): Promise<string>;
  /**
   * The root tree a listing read from `read` is proven to be (undefined without pinned keys or without
   * a signed object); throws `SignatureRefusedError` when the listing is not that tree.
   */
  bind(commit: string, read: string, listing: readonly GitTreeEntry[], path: string, walked: boolean): string | undefined;
}

/** Create the REST side of verification; `pinned` is whether any keys are pinned. */
export function createRestSignatures(client: GitHubClient, pinned: boolean): RestSignatures {
  const objects = new Map<string, Promise<Buffer | undefined>>();

  const commitObject = (commit: string): Promise<Buffer | undefined> => {
    let object = objects.get(commit);
    if (object === undefined) {
      object = (async () => {
        const info = await client.getCommit(commit);
        if (info.signature === null || info.signature === '') return undefined;
        if (info.payload === null) {
          throw new CommitReassemblyError(
            commit,
            `GitHub's answer for commit ${commit.slice(0, 12)} has a signature but no signed payload, so the signature cannot be tied to the commit. It was refused; use transport auto (git's wire protocol), or check --api-url.`,
          );
        }
        return rebuildSignedCommit(info.payload, info.signature, commit);
      })();
      objects.set(commit, object);
      // A failed request may be tried again; a failed reassembly would fail the same way.
      object.catch((error: unknown) => {
        if (!(error instanceof CommitReassemblyError)) objects.delete(commit);
      });
    }
    return object;
  };

  return {
    commitObject,
    async treeToRead(commit) {
      if (!pinned) return commit;
      try {
        const object = await commitObject(commit);
        return (object === undefined ? undefined : commitTree(object)) ?? commit;
      } catch (error) {
        // The signature step names the failure; the tree is read as GitHub lists it meanwhile.
        if (error instanceof CommitReassemblyError) return commit;
        throw error;
      }
    },
    bind(commit, read, listing, path, walked) {
      if (!pinned || read === commit) return undefined;
      const check = checkListing(listing, read, path);
      if (check.ok) return read;
      const short = commit.slice(0, 12);
      if (walked && path !== '') {
        throw new SignatureRefusedError(commit, {
          reason: 'unsupported',
          format: undefined,
          key: undefined,
          message: `GitHub truncated the tree of commit ${short}, and the folders it listed for --path '${path}' cannot be tied to the tree the signed commit names (${read.slice(0, 12)}), so the commit was refused. Use transport auto or git (git's wire protocol, whose objects are hashed as they arrive).`,
        });
      }
      throw new SignatureRefusedError(commit, {
        reason: 'sha-mismatch',
        format: undefined,
        key: undefined,
        message: `The tree GitHub listed for commit ${short} is not the tree its signed object names (${read.slice(0, 12)}): at ${check.folder === '' ? 'the root' : `'${check.folder}'`}, ${check.problem}. The server altered it (or something between), so the commit was refused and DEST was not touched. Check --api-url and the network path to the server.`,
      });
    },
  };
}

