/**
 * Signatures verified on the host, as a step of a sync (decision 0012). With pinned keys
 * (`trust.allowedSignersFile`, `trust.openpgpKeysFile`), the commit a sync is about to place must
 * carry its own signature by a pinned key, over the exact commit object, and the entries the plan
 * uses must be the tree that object names:
 *
 *   source.commitObject(C)  → the raw object: from the pack (wire), from git (clone fallback), or
 *                             rebuilt from GitHub's signed payload (REST)
 *   verifyCommitSignature   → hashes to C? signed by a pinned key, valid when it signed? (src/trust)
 *   tree                    → the signed object's tree = the root the source's entries were hashed up to
 *
 * The verdict is a value in the plan: `--check-only` prints it, `applySync` throws
 * `SignatureRefusedError` (exit 1) before anything is fetched into DEST. Without pinned keys nothing
 * happens here; `--require-signed` then asks GitHub (trust.ts) and this says that it does.
 */
import type { Config } from '../config/types.js';
import type { Logger, Manifest } from '../model.js';
import type { RemoteSource } from '../source/types.js';
import { manifestMatches } from '../state/etags.js';
import { CommitReassemblyError, SignatureRefusedError } from '../trust/errors.js';
import { loadTrustPins, pinsConfigured } from '../trust/pins.js';
import type { RefusalReason, SignatureFormat } from '../trust/types.js';
import { verifyCommitSignature } from '../trust/verify.js';

/** What the host concluded about a commit's signature (the `signature` field of a sync's result). */
export type SignatureStatus =
  | { readonly status: 'verified'; readonly format: SignatureFormat; readonly signer: string; readonly key: string; readonly message: string }
  | { readonly status: 'refused'; readonly reason: RefusalReason; readonly format: SignatureFormat | undefined; readonly key: string | undefined; readonly message: string }
  /** DEST already holds the commit and the plan's entries are its recorded ones: nothing new is trusted. */
  | { readonly status: 'not-checked'; readonly message: string };

/** What {@link checkSignature} looks at. */
export interface SignatureCheck {
  readonly config: Pick<Config, 'trust' | 'requireSigned' | 'checkOnly' | 'repo' | 'path'>;
  /** The source that read the plan's entries: it gives the raw commit object. */
  readonly source: Pick<RemoteSource, 'commitObject'>;
  /** The commit the plan places. */
  readonly commit: string;
  /** What DEST holds. */
  readonly previous: Manifest | undefined;
  /** The root tree the plan's entries were hashed up to (`RemoteTree.root`). */
  readonly root: string | undefined;
  readonly log: Logger;
  readonly now: () => number;
}

/**
 * The verdict on the commit a sync places; undefined without pinned keys. Never throws for a bad
 * commit (only for a failed request or an unreadable pinned-keys file).
 */
export async function checkSignature(check: SignatureCheck): Promise<SignatureStatus | undefined> {
  const { config, commit, previous, log } = check;
  const short = commit.slice(0, 12);
  if (!pinsConfigured(config.trust)) {
    if (config.requireSigned && previous?.commit !== commit) {
      log('info', `--require-signed: trusting GitHub's verification of ${short} (the server's word; hostsync does not check the signature itself). Pin the signers' keys with --allowed-signers or --openpgp-keys to verify it on this host.`);
    }
    return undefined;
  }
  // The entries are DEST's own record of this commit (a poll that found nothing new, a rollback hold, drift):
  // it was judged when it was first applied, and nothing the server says now is used.
  const fromManifest = manifestMatches(previous, config.repo, config.path, commit);
  if (fromManifest && !config.checkOnly) {
    const message = `Commit ${short} is the one DEST holds; its signature was checked when it was applied and is not checked again.`;
    log('debug', message);
    return { status: 'not-checked', message };
  }

  const pins = config.trust.pins ?? (await loadTrustPins(config.trust)).pins;
  let object: Buffer | undefined;
  try {
    object = await check.source.commitObject(commit);
  } catch (error) {
    if (error instanceof CommitReassemblyError) return refused({ reason: 'sha-mismatch', format: undefined, key: undefined, message: error.message }, log);
    throw error;
  }
  if (object === undefined) {
    const files = [config.trust.allowedSignersFile, config.trust.openpgpKeysFile].filter((file) => file !== undefined).join(' or ');
    return refused(
      {
        reason: 'unsigned',
        format: undefined,
        key: undefined,
        message: `Commit ${short} is not signed (GitHub reports no signature), and this host only applies commits signed by a key in ${files}. Sign it with a pinned key (git commit -S) and push again.`,
      },
      log,
    );
  }
  const verdict = await verifyCommitSignature(object, commit, pins, { now: check.now() });
  if (!verdict.ok) return refused(verdict, log);

  // The signature covers the object, which names one tree: the plan must be made of that tree.
  const root = check.root ?? (fromManifest ? manifestRoot(previous) : undefined);
  if (root !== verdict.tree && !(fromManifest && root === undefined)) {
    const what = root === undefined ? `the entries read for it could not be tied to that tree` : `the entries read for it are tree ${root.slice(0, 12)}`;
    return refused(
      {
        reason: 'sha-mismatch',
        format: verdict.format,
        key: verdict.key,
        message: `Commit ${short} is signed (${verdict.signer}), but its signature covers tree ${verdict.tree.slice(0, 12)} and ${what}. The server sent other content than the signed commit's, so it was refused and DEST was not touched. Check --api-url and the network path to the server.`,
      },
      log,
    );
  }
  log('info', verdict.message);
  return { status: 'verified', format: verdict.format, signer: verdict.signer, key: verdict.key, message: verdict.message };
}

/** Throw the refusal a plan carries, before anything is fetched or applied. */
export function throwIfRefused(status: SignatureStatus | undefined, commit: string): void {
  if (status?.status === 'refused') throw new SignatureRefusedError(commit, status);
}

function refused(verdict: { readonly reason: RefusalReason; readonly format: SignatureFormat | undefined; readonly key: string | undefined; readonly message: string }, log: Logger): SignatureStatus {
  log('debug', `signature refused (${verdict.reason}): ${verdict.message}`);
  return { status: 'refused', reason: verdict.reason, format: verdict.format, key: verdict.key, message: verdict.message };
}

/** The root tree a manifest recorded: the synced tree itself, or the first of the chain above --path. */
function manifestRoot(manifest: Manifest | undefined): string | undefined {
  if (manifest === undefined) return undefined;
  return manifest.path === '' ? manifest.tree : manifest.chain?.[0]?.sha;
}
