/**
 * The Git LFS batch API, download side (https://github.com/git-lfs/git-lfs/blob/main/docs/api/batch.md):
 * `POST <endpoint>/objects/batch` with `Accept`/`Content-Type: application/vnd.git-lfs+json`,
 * `{operation: "download", transfers: ["basic"], ref, objects: [{oid, size}], hash_algo: "sha256"}`;
 * the answer gives each object an `actions.download` (`href`, `header`, `expires_in`/`expires_at`)
 * or an `error` (404 missing, 410 removed, 422 invalid). Requests go in groups of 100, as git-lfs's.
 */
import { HostsyncError } from '../errors.js';
import { HttpStatusError, SecondaryRateLimitError } from '../github/errors.js';
import type { LfsEndpoint } from './endpoint.js';
import { withoutQuery, type LfsHttp } from './http.js';

export const LFS_MEDIA_TYPE = 'application/vnd.git-lfs+json';

/** Objects per batch request (git-lfs: `lfs.transfer.batchSize`, default 100). */
export const BATCH_SIZE = 100;

/** An href is renewed when it expires within this margin (git-lfs: 5 s). */
export const EXPIRY_MARGIN_MS = 5_000;

/** What one object's download takes. */
export interface DownloadAction {
  readonly href: string;
  /** Headers the server asks for on this request (`actions.download.header`). */
  readonly header: Readonly<Record<string, string>>;
  /** When the href stops working (ms since the epoch), when the server says. */
  readonly expiresAt: number | undefined;
}

/** An object to ask for, with the path it is at (for messages). */
export interface LfsWant {
  readonly oid: string;
  readonly size: number;
  readonly path: string;
}

/** The batch API's answer for one object. */
export type BatchAnswer = { readonly action: DownloadAction } | { readonly error: { readonly code: number; readonly message: string } };

/** Whether an action is (about to be) expired at `now`. */
export function isExpired(action: DownloadAction, now: number): boolean {
  return action.expiresAt !== undefined && action.expiresAt - EXPIRY_MARGIN_MS <= now;
}

/** The git ref the objects belong to, as the batch API's `ref.name` (omitted for a SHA or HEAD). */
export function refNameOf(ref: string): string | undefined {
  if (ref === 'HEAD' || /^[0-9a-f]{40}$/i.test(ref)) return undefined;
  return ref.startsWith('refs/') ? ref : `refs/heads/${ref}`;
}

function header(value: unknown): Record<string, string> | undefined {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) return undefined;
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string' || /[\r\n]/.test(v) || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) return undefined;
    out[key] = v;
  }
  return out;
}

/** The download action of an answer object, read per the spec (`expires_in` preferred over `expires_at`). */
function actionOf(value: unknown, now: number): DownloadAction | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const href = v['href'];
  if (typeof href !== 'string' || !/^https?:\/\//i.test(href)) return undefined;
  const headers = header(v['header']);
  if (headers === undefined) return undefined;
  const expiresIn = v['expires_in'];
  const expiresAtText = v['expires_at'];
  let expiresAt: number | undefined;
  if (typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn !== 0) expiresAt = now + expiresIn * 1000;
  else if (typeof expiresAtText === 'string' && expiresAtText !== '' && !expiresAtText.startsWith('0001-01-01')) {
    const parsed = Date.parse(expiresAtText);
    if (Number.isFinite(parsed)) expiresAt = parsed;
  }
  return { href, header: headers, expiresAt };
}

/** A batch answer that is not 200: one line naming the server, the status and what to do. */
function batchError(status: number, headers: Readonly<Record<string, string | undefined>>, json: unknown, endpoint: LfsEndpoint, repo: string): HostsyncError {
  const said = typeof json === 'object' && json !== null && typeof (json as { message?: unknown }).message === 'string' ? ` ${(json as { message: string }).message}` : '';
  const where = `the LFS server ${endpoint.url}${endpoint.from === '.lfsconfig' ? " (lfs.url from the repository's .lfsconfig)" : ''}`;
  const retryAfter = headers['retry-after'];
  if (status === 429 || ((status === 503 || status === 509) && retryAfter !== undefined)) {
    const seconds = retryAfter !== undefined && /^\d+$/.test(retryAfter) ? Number(retryAfter) : 60;
    return new SecondaryRateLimitError(`${where} is rate-limiting downloads (${status}${said}); retry after ${seconds} s.`, status, seconds);
  }
  switch (status) {
    case 401:
    case 403:
      return new HttpStatusError(
        endpoint.authorization === undefined
          ? `${where} refused the LFS objects of ${repo} (${status}${said}) and no token was sent to it${endpoint.from === '.lfsconfig' ? ' (the token goes only to the origin the repository is served from)' : ''}. Give a token with read access (tokenFile, GITHUB_TOKEN), or set lfs to off to keep the pointers.`
          : `${where} refused the token for the LFS objects of ${repo} (${status}${said}). Check that the token can read the repository (contents: read), or set lfs to off to keep the pointers.`,
        status,
        false,
      );
    case 404:
      return new HttpStatusError(`${where} does not know ${repo} (404${said}): Git LFS is not enabled for it, lfs.url is wrong, or the token cannot see it. Fix the server or .lfsconfig, or set lfs to off to keep the pointers.`, status, false);
    case 413:
      return new HttpStatusError(`${where} refused a batch of LFS objects as too large (413${said}).`, status, false);
    default:
      return new HttpStatusError(`${where} answered ${status}${said} to the batch request for ${repo}'s LFS objects${status >= 500 ? ' (a server-side failure; retried)' : ''}.`, status, status >= 500 || status === 408);
  }
}

/**
 * Ask the batch API for download actions of `wants` (at most {@link BATCH_SIZE}). Throws for an
 * answer that is not 200 (429 and 5xx retryable); per-object errors come back as answers.
 */
export async function requestBatch(http: LfsHttp, endpoint: LfsEndpoint, wants: readonly LfsWant[], options: { readonly ref: string; readonly repo: string; readonly now: () => number }): Promise<Map<string, BatchAnswer>> {
  const refName = refNameOf(options.ref);
  const body = {
    operation: 'download',
    transfers: ['basic'],
    ...(refName === undefined ? {} : { ref: { name: refName } }),
    objects: wants.map((want) => ({ oid: want.oid, size: want.size })),
    hash_algo: 'sha256',
  };
  const headers: Record<string, string> = { accept: LFS_MEDIA_TYPE, 'content-type': LFS_MEDIA_TYPE, ...(endpoint.authorization === undefined ? {} : { authorization: endpoint.authorization }) };
  const url = `${endpoint.url}/objects/batch`;
  const answer = await http.postJson(url, headers, body);
  const now = options.now();
  if (answer.status !== 200) throw batchError(answer.status, answer.headers, answer.json, endpoint, options.repo);
  const json = answer.json as { transfer?: unknown; objects?: unknown; hash_algo?: unknown } | undefined;
  if (typeof json !== 'object' || json === null || !Array.isArray(json.objects)) {
    throw new HttpStatusError(`The LFS server ${withoutQuery(url)} answered the batch request with something that is not a batch response (${answer.text.slice(0, 120).replace(/\s+/g, ' ')}).`, 502, true);
  }
  if (json.transfer !== undefined && json.transfer !== 'basic') throw new HostsyncError(`The LFS server ${endpoint.url} chose the '${String(json.transfer)}' transfer, which hostsync did not offer (only 'basic'). Fix the server, or set lfs to off.`);
  if (json.hash_algo !== undefined && json.hash_algo !== 'sha256') throw new HostsyncError(`The LFS server ${endpoint.url} names objects by '${String(json.hash_algo)}', not sha256. hostsync verifies only sha256 objects; set lfs to off to keep the pointers.`);
  const wanted = new Map(wants.map((want) => [want.oid, want]));
  const answers = new Map<string, BatchAnswer>();
  for (const item of json.objects as unknown[]) {
    if (typeof item !== 'object' || item === null) continue;
    const object = item as { oid?: unknown; size?: unknown; actions?: unknown; error?: unknown };
    const want = typeof object.oid === 'string' ? wanted.get(object.oid) : undefined;
    if (want === undefined) continue; // not asked for: ignored
    const error = object.error as { code?: unknown; message?: unknown } | undefined;
    if (typeof error === 'object' && error !== null) {
      answers.set(want.oid, { error: { code: typeof error.code === 'number' ? error.code : 0, message: typeof error.message === 'string' ? error.message : '' } });
      continue;
    }
    const action = actionOf((object.actions as { download?: unknown } | undefined)?.download, now);
    if (action !== undefined) answers.set(want.oid, { action });
  }
  return answers;
}

/** One line for a per-object error of the batch answer. */
export function objectErrorMessage(want: LfsWant, error: { readonly code: number; readonly message: string }, endpoint: LfsEndpoint, repo: string): string {
  const object = `LFS object ${want.oid.slice(0, 12)}… (${want.size} bytes) of ${want.path}`;
  const said = error.message === '' ? '' : `: ${error.message}`;
  switch (error.code) {
    case 404:
      return `${object} is not on the LFS server ${endpoint.url} (404${said}): it was never pushed. Push it (git lfs push --all origin) from a clone that has it, or set lfs to off to keep the pointers. Nothing was applied.`;
    case 410:
      return `${object} was removed from the LFS server ${endpoint.url} (410${said}). Restore it there, or set lfs to off to keep the pointers. Nothing was applied.`;
    case 422:
      return `The LFS server ${endpoint.url} refused ${object} as invalid (422${said}); the pointer in ${repo} may be damaged. Nothing was applied.`;
    default:
      return `The LFS server ${endpoint.url} cannot give ${object} (${error.code}${said}). Nothing was applied.`;
  }
}
