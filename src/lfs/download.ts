/**
 * LFS objects into the object store: the batch API for download actions, then one GET per object
 * (the `basic` transfer), resumed with `Range` where an earlier attempt — or an earlier run —
 * stopped, checked against the pointer's SHA-256 and size, and only then put into the store under
 * the git blob SHA of the content (which the store checks again as it writes). Nothing unverified
 * is ever in the store, so nothing unverified can reach DEST.
 *
 * Partial downloads live in `<stateDir>/lfs/partial/` (not the store's temp dir, whose sweep removes
 * what dead runs left): `<oid>.<pid>-<start>` while a run downloads it, `<oid>` when a run gave up on
 * it; a later run claims either (by rename, so two runs never share one) and carries on from its end.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { errorCode, errorMessage, HostsyncError, LocalStorageError, throwIfAborted } from '../errors.js';
import { HttpStatusError, SecondaryRateLimitError } from '../github/errors.js';
import { withRetry, type RetryPolicy } from '../github/retry.js';
import { createBlobHasher } from '../local/hash.js';
import type { Logger } from '../model.js';
import type { ObjectStore } from '../state/objects.js';
import { processTag, tagAlive } from '../state/owner-process.js';
import { BATCH_SIZE, isExpired, objectErrorMessage, requestBatch, type BatchAnswer, type DownloadAction, type LfsWant } from './batch.js';
import { originOf, type LfsEndpoint } from './endpoint.js';
import { withoutQuery, type LfsHttp } from './http.js';

/** Partial downloads nobody resumed for this long are removed. */
const PARTIAL_MAX_AGE_MS = 7 * 24 * 3600_000;

/** A downloaded object whose bytes do not match its pointer: never stored, never applied. */
export class LfsIntegrityError extends HostsyncError {
  /** Worth one more download from scratch (the retry policy reads this). */
  readonly retryable: boolean;
  constructor(message: string, retryable = true) {
    super(message);
    this.name = 'LfsIntegrityError';
    this.retryable = retryable;
  }
}

/** Everything a download needs from the run. */
export interface LfsDownloadContext {
  readonly http: LfsHttp;
  readonly endpoint: LfsEndpoint;
  readonly store: ObjectStore;
  /** `<stateDir>/lfs/partial`. */
  readonly partialDir: string;
  readonly repo: string;
  readonly ref: string;
  readonly concurrency: number;
  readonly retry: RetryPolicy | undefined;
  readonly signal: AbortSignal | undefined;
  readonly log: Logger;
  readonly now: () => number;
  /** Bytes of objects that arrived (or were already there from an earlier attempt). */
  readonly onBytes?: ((bytes: number) => void) | undefined;
  /** An object is in the store, under the git blob SHA of its content. */
  readonly onObject?: ((want: LfsWant, content: string) => void) | undefined;
}

/** What a download brought: the content's git blob SHA per oid, and bytes received over the network. */
export interface LfsDownloadResult {
  readonly content: ReadonlyMap<string, string>;
  readonly bytes: number;
}

/** Oids this process is downloading right now (their partial files are not another run's to claim). */
const inFlight = new Set<string>();

/** Take over a partial download of `oid` if one can be resumed; the path this run writes to. */
async function claimPartial(dir: string, oid: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const mine = join(dir, `${oid}.${processTag()}`);
  for (const name of await readdir(dir)) {
    if (name !== oid && !name.startsWith(`${oid}.`)) continue;
    const tag = name === oid ? undefined : name.slice(oid.length + 1);
    const free = tag === undefined || (tag === processTag() ? !inFlight.has(oid) : !tagAlive(tag));
    if (!free) continue;
    try {
      await rename(join(dir, name), mine);
      return mine;
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error; // another run took it first
    }
  }
  return mine;
}

/** Leave a partial download for a later run to resume (a run that stops, fails or is killed). */
async function releasePartial(dir: string, oid: string, mine: string): Promise<void> {
  await rename(mine, join(dir, oid)).catch(() => undefined);
}

/** Remove partial downloads nobody resumed for a week. */
export async function sweepPartials(dir: string, now: number): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const tag = name.includes('.') ? name.slice(name.indexOf('.') + 1) : undefined;
    if (tag !== undefined && tagAlive(tag)) continue;
    const info = await stat(join(dir, name)).catch(() => undefined);
    if (info !== undefined && now - info.mtimeMs > PARTIAL_MAX_AGE_MS) await rm(join(dir, name), { force: true });
  }
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return 0;
    throw error;
  }
}

/** SHA-256 and git blob SHA of a file of `size` bytes, read once. */
async function hashBoth(file: string, size: number): Promise<{ oid: string; content: string; bytes: number }> {
  const sha256 = createHash('sha256');
  const blob = createBlobHasher(size);
  let bytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    const data = chunk as Buffer;
    bytes += data.length;
    if (bytes > size) return { oid: '', content: '', bytes };
    sha256.update(data);
    blob.update(data);
  }
  if (bytes !== size) return { oid: sha256.digest('hex'), content: '', bytes };
  return { oid: sha256.digest('hex'), content: blob.digest(), bytes };
}

const DISK = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EIO']);

/** A disk failure while writing a partial download: final, named. */
function diskError(error: unknown, dir: string): LocalStorageError | undefined {
  const code = errorCode(error);
  if (code === undefined || !DISK.has(code)) return undefined;
  return new LocalStorageError(`Cannot write LFS downloads to ${dir} (${code}): free some space or make the state dir writable, then run again. DEST was not touched.`, { cause: error });
}

/** `start` of a `Content-Range: bytes start-end/total` that ends at the object's end. */
function rangeStart(header: string | undefined, size: number): number | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header?.trim() ?? '');
  if (!match) return undefined;
  if (Number(match[2]) !== size - 1 || (match[3] !== '*' && Number(match[3]) !== size)) return undefined;
  return Number(match[1]);
}

/** The download actions of a run: asked for in batches up front, renewed one by one when they expire or are refused. */
function createActions(context: LfsDownloadContext, wants: readonly LfsWant[]) {
  const actions = new Map<string, DownloadAction>();
  const ask = async (group: readonly LfsWant[]): Promise<void> => {
    const answers: Map<string, BatchAnswer> = await withRetry(() => requestBatch(context.http, context.endpoint, group, { ref: context.ref, repo: context.repo, now: context.now }), {
      ...context.retry,
      signal: context.signal,
      onRetry: (error, n) => context.log('warn', `retry ${n} of the LFS batch request to ${context.endpoint.url}: ${errorMessage(error)}`),
    });
    const failed: string[] = [];
    for (const want of group) {
      const answer = answers.get(want.oid);
      if (answer === undefined) failed.push(`The LFS server ${context.endpoint.url} gave no download for LFS object ${want.oid.slice(0, 12)}… of ${want.path}. Nothing was applied.`);
      else if ('error' in answer) failed.push(objectErrorMessage(want, answer.error, context.endpoint, context.repo));
      else actions.set(want.oid, answer.action);
    }
    if (failed.length > 0) throw new HostsyncError(failed.length === 1 ? failed[0]! : `${failed[0]} (${failed.length - 1} more LFS object(s) failed the same way.)`);
  };
  return {
    async prepare(): Promise<void> {
      for (let i = 0; i < wants.length; i += BATCH_SIZE) await ask(wants.slice(i, i + BATCH_SIZE));
    },
    /** The object's action, renewed first when it expired (or is about to). */
    async get(want: LfsWant): Promise<DownloadAction> {
      const action = actions.get(want.oid);
      if (action !== undefined && !isExpired(action, context.now())) return action;
      if (action !== undefined) context.log('debug', `The download link of LFS object ${want.oid.slice(0, 12)}… expired; asking the batch API for a new one.`);
      await ask([want]);
      return actions.get(want.oid)!;
    },
    /** Forget an action the object server refused (a link expired early): the next get asks anew. */
    drop(want: LfsWant): void {
      actions.delete(want.oid);
    },
  };
}

/** Whether a header set already carries credentials. */
function hasAuthorization(headers: Readonly<Record<string, string>>): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === 'authorization');
}

/** One GET of the rest of an object into `file` (from `offset`); returns bytes received. */
async function fetchRest(context: LfsDownloadContext, want: LfsWant, action: DownloadAction, file: string, offset: number): Promise<number | 'refused'> {
  const token = context.endpoint.authorization;
  const own = token !== undefined && !hasAuthorization(action.header) && originOf(action.href) === originOf(context.endpoint.url) ? { authorization: token } : {};
  const response = await context.http.get(action.href, { ...action.header, 'accept-encoding': 'identity', ...(offset > 0 ? { range: `bytes=${offset}-` } : {}) }, own, context.signal);
  const where = withoutQuery(response.url);
  const status = response.status;
  if (status === 401 || status === 403 || status === 404 || status === 410) {
    response.body.resume();
    return 'refused';
  }
  if (status === 416) {
    response.body.resume();
    await truncate(file, 0).catch(() => undefined);
    throw new HttpStatusError(`${where} refused the range from byte ${offset} of LFS object ${want.oid.slice(0, 12)}… (416); starting it over.`, status, true);
  }
  if (status === 429 || (status === 503 && response.headers['retry-after'] !== undefined)) {
    response.body.resume();
    const after = response.headers['retry-after'];
    const seconds = after !== undefined && /^\d+$/.test(after) ? Number(after) : 60;
    throw new SecondaryRateLimitError(`${where} is rate-limiting LFS downloads (${status}); retry after ${seconds} s.`, status, seconds);
  }
  if (status !== 200 && status !== 206) {
    response.body.resume();
    throw new HttpStatusError(`${where} answered ${status} for LFS object ${want.oid.slice(0, 12)}… of ${want.path}${status >= 500 ? ' (a server-side failure; retried)' : ''}.`, status, status >= 500 || status === 408);
  }
  let start = 0;
  if (status === 206) {
    const at = rangeStart(response.headers['content-range'], want.size);
    if (at === undefined || at > offset) {
      response.body.destroy();
      await truncate(file, 0).catch(() => undefined);
      throw new HttpStatusError(`${where} answered a range request for LFS object ${want.oid.slice(0, 12)}… with another range (${response.headers['content-range'] ?? 'none'}); starting it over.`, status, true);
    }
    start = at;
  } else if (offset > 0) {
    context.log('debug', `${where} ignores Range: LFS object ${want.oid.slice(0, 12)}… starts over.`);
  }
  // A 200 is the whole object: written from the start. A 206 may repeat bytes before `offset` (a
  // server resuming from an earlier point): those are skipped.
  const whole = status === 200;
  let skip = whole ? 0 : offset - start;
  let position = whole ? 0 : offset;
  let received = 0;
  const handle = await open(file, whole ? 'w' : 'a', 0o600).catch((error: unknown) => {
    throw diskError(error, context.partialDir) ?? error;
  });
  try {
    for await (const chunk of response.body) {
      let data = chunk as Buffer;
      received += data.length;
      if (skip > 0) {
        const drop = Math.min(skip, data.length);
        skip -= drop;
        data = data.subarray(drop);
        if (data.length === 0) continue;
      }
      if (position + data.length > want.size) {
        response.body.destroy();
        await handle.truncate(0);
        throw new LfsIntegrityError(`${where} sent more than the ${want.size} bytes the pointer of ${want.path} names for LFS object ${want.oid}; it was discarded and nothing was applied.`);
      }
      for (let done = 0; done < data.length; ) done += (await handle.write(data, done, data.length - done)).bytesWritten;
      position += data.length;
      context.onBytes?.(data.length);
    }
  } catch (error) {
    throw diskError(error, context.partialDir) ?? error;
  } finally {
    await handle.close();
  }
  return received;
}

/** Download one object (resuming what is there), verify it, put it in the store; the content's git SHA. */
async function downloadOne(context: LfsDownloadContext, actions: ReturnType<typeof createActions>, want: LfsWant): Promise<{ content: string; bytes: number }> {
  const file = await claimPartial(context.partialDir, want.oid);
  inFlight.add(want.oid);
  let received = 0;
  let integrityRetries = 0;
  try {
    const already = await sizeOf(file);
    if (already > 0 && already <= want.size) {
      context.log('info', `Resuming LFS object ${want.oid.slice(0, 12)}… (${want.path}) at byte ${already} of ${want.size}.`);
      context.onBytes?.(already);
    }
    const content = await withRetry(
      async () => {
        throwIfAborted(context.signal);
        let offset = await sizeOf(file);
        if (offset > want.size) {
          await truncate(file, 0);
          offset = 0;
        }
        // An empty object needs no request (git-lfs writes it without one); its file must exist to be hashed.
        if (offset === 0 && want.size === 0) await (await open(file, 'a', 0o600)).close();
        for (let refusals = 0; offset < want.size; refusals++) {
          const action = await actions.get(want);
          const got = await fetchRest(context, want, action, file, offset);
          if (got !== 'refused') {
            received += got;
            break;
          }
          // A link that stopped working before its expiry (or had none): one new link, then give up.
          if (refusals > 0) throw new HostsyncError(`The LFS object server refused the download of ${want.oid.slice(0, 12)}… (${want.path}) twice, with a fresh link the second time. Check the LFS server; nothing was applied.`);
          actions.drop(want);
        }
        const actual = await hashBoth(file, want.size);
        if (actual.bytes !== want.size || actual.oid !== want.oid) {
          await rm(file, { force: true });
          const what = actual.bytes !== want.size ? `${actual.bytes} bytes instead of ${want.size}` : `SHA-256 ${actual.oid}`;
          // One more try from scratch (a proxy may have damaged it on the way); a second bad copy is final.
          throw new LfsIntegrityError(
            `LFS object ${want.oid} for ${want.path} from ${context.endpoint.url} arrived with ${what}, not what the pointer in the commit names; it was discarded and nothing was applied. The object on the server may be damaged: push it again (git lfs push --all), or set lfs to off to keep the pointers.`,
            integrityRetries++ === 0,
          );
        }
        return actual.content;
      },
      {
        ...context.retry,
        signal: context.signal,
        isRetryable: (error) => error instanceof LfsIntegrityError && error.retryable,
        onRetry: (error, n) => context.log('warn', `retry ${n} of LFS object ${want.oid.slice(0, 12)}… (${want.path}): ${errorMessage(error)}`),
      },
    );
    try {
      await context.store.put(content, want.size, createReadStream(file, { highWaterMark: 1 << 20 }), `LFS object ${want.oid} (${want.path})`);
    } catch (error) {
      await rm(file, { force: true });
      throw error;
    }
    await rm(file, { force: true });
    context.onObject?.(want, content);
    return { content, bytes: received };
  } finally {
    inFlight.delete(want.oid);
    await releasePartial(context.partialDir, want.oid, file);
  }
}

/**
 * Download `wants` (distinct oids) into the store: download actions from the batch API, then the
 * objects in parallel. Throws — with nothing applied — on the first object that cannot be had.
 */
export async function downloadObjects(context: LfsDownloadContext, wants: readonly LfsWant[]): Promise<LfsDownloadResult> {
  const content = new Map<string, string>();
  if (wants.length === 0) return { content, bytes: 0 };
  await sweepPartials(context.partialDir, context.now());
  const actions = createActions(context, wants);
  await actions.prepare();
  const limit = pLimit(context.concurrency);
  const controller = new AbortController();
  const signal = context.signal === undefined ? controller.signal : AbortSignal.any([context.signal, controller.signal]);
  const inner = { ...context, signal };
  let bytes = 0;
  try {
    await Promise.all(
      wants.map((want) =>
        limit(async () => {
          const done = await downloadOne(inner, actions, want);
          content.set(want.oid, done.content);
          bytes += done.bytes;
        }),
      ),
    );
  } catch (error) {
    controller.abort();
    limit.clearQueue();
    throw error;
  }
  return { content, bytes };
}
