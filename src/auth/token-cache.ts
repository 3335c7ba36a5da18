/**
 * The installation token kept between runs: one JSON file, mode 0600, written atomically in the
 * state dir, so a timer firing every few minutes mints one token an hour instead of one a run.
 * A file that does not parse, or that belongs to another App, installation or repository, is
 * treated as absent.
 */
import { unlink } from 'node:fs/promises';
import { errorCode } from '../errors.js';
import { readJson, writeJsonAtomic } from '../state/files.js';

/** The file's format version; another one is ignored. */
const VERSION = 1;

/** One cached installation token. */
export interface CachedAppToken {
  readonly appId: string;
  readonly installationId: number;
  /** OWNER/NAME the token was scoped to (lower case). */
  readonly repository: string;
  readonly token: string;
  /** When the token expires, on this host's clock (GitHub's `expires_at` corrected for clock difference), ISO 8601. */
  readonly expiresAt: string;
  /** When it was minted, on this host's clock, ISO 8601. */
  readonly mintedAt: string;
}

/** What a cached token must match to be used. */
export interface CacheKey {
  readonly appId: string;
  /** Undefined: any installation (the configured one is looked up from the repository). */
  readonly installationId: number | undefined;
  readonly repository: string;
}

/** Read the cached token for `key`; undefined when missing, unreadable, corrupt or foreign. */
export async function readCachedToken(file: string, key: CacheKey): Promise<CachedAppToken | undefined> {
  let data: unknown;
  try {
    data = await readJson(file);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null) return undefined;
  const record = data as Record<string, unknown>;
  const { appId, installationId, repository, token, expiresAt, mintedAt } = record;
  if (record['version'] !== VERSION) return undefined;
  if (typeof appId !== 'string' || typeof installationId !== 'number' || !Number.isSafeInteger(installationId)) return undefined;
  if (typeof repository !== 'string' || typeof token !== 'string' || typeof expiresAt !== 'string' || typeof mintedAt !== 'string') return undefined;
  // A token goes into a header: one line of printable ASCII.
  if (!/^[\x21-\x7e]{8,}$/.test(token) || !Number.isFinite(Date.parse(expiresAt))) return undefined;
  if (appId !== key.appId || repository !== key.repository.toLowerCase()) return undefined;
  if (key.installationId !== undefined && installationId !== key.installationId) return undefined;
  return { appId, installationId, repository, token, expiresAt, mintedAt };
}

/** Write the cached token (0600, atomically). */
export async function writeCachedToken(file: string, token: CachedAppToken): Promise<void> {
  await writeJsonAtomic(file, { version: VERSION, ...token, repository: token.repository.toLowerCase() });
}

/** Remove the cached token; a missing file is fine. */
export async function dropCachedToken(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
}
