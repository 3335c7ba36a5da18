/**
 * What a commit must satisfy before it may be applied: GitHub's signature verification with
 * `--require-signed` and no pinned keys — the server's word, not a check on this host
 * (https://docs.github.com/rest/commits/commits#get-a-commit, `commit.verification`),
 * and the downgrade guard — a commit that is not a descendant of the last applied one (a
 * force-push or a rewind on the server) is refused unless `--allow-downgrade`
 * (https://docs.github.com/rest/commits/commits#compare-two-commits).
 */
import type { Config } from '../config/types.js';
import { HostsyncError } from '../errors.js';
import { HttpStatusError } from '../github/errors.js';
import type { GitHubClient } from '../github/types.js';
import type { Manifest } from '../model.js';
import { pinsConfigured } from '../trust/pins.js';

/**
 * Throw when `commit` may not be applied; costs one request per enabled check. With pinned keys
 * (`trust.*`) the host verifies signatures itself (signatures.ts) and GitHub's flag is not asked.
 */
export async function checkTrust(client: GitHubClient, config: Pick<Config, 'requireSigned' | 'allowDowngrade' | 'repo' | 'ref' | 'trust'>, previous: Manifest | undefined, commit: string): Promise<void> {
  if (config.requireSigned && !pinsConfigured(config.trust)) {
    const info = await client.getCommit(commit);
    if (!info.verified) {
      throw new HostsyncError(
        `Refusing commit ${commit.slice(0, 12)} of ${config.repo}: GitHub does not report it as verified (reason: ${info.verificationReason}) and --require-signed is set, which trusts GitHub's verification. Sign the commit with a key GitHub knows, or pin the signers' keys on this host (--allowed-signers FILE, --openpgp-keys FILE) to verify it here instead.`,
      );
    }
  }
  if (config.allowDowngrade || previous === undefined || previous.commit === commit) return;
  if (previous.repo !== config.repo || previous.ref !== config.ref) return; // the user chose another ref: not a downgrade
  let status: string;
  try {
    status = await client.compare(previous.commit, commit);
  } catch (error) {
    // GitHub answers 404 when the old commit is gone from the repository (a force-push).
    if (error instanceof HttpStatusError && error.status === 404) status = 'unrelated (the last applied commit no longer exists on the server)';
    else throw error;
  }
  if (status === 'ahead' || status === 'identical') return;
  throw new HostsyncError(
    `Refusing commit ${commit.slice(0, 12)}: ${config.ref} moved from the last applied commit ${previous.commit.slice(0, 12)} to one that is ${status === 'behind' ? 'its ancestor' : status === 'diverged' ? 'not its descendant (history was rewritten)' : status} — a force-push or rewind on the server? DEST keeps ${previous.commit.slice(0, 12)}. Pass --allow-downgrade to apply it anyway.`,
  );
}
