/**
 * The Git LFS step after the transfer (resolve.ts has the ones before): pointers in the blobs the
 * transfer just brought, then every object the plan needs that neither the store nor DEST holds —
 * pending ones (placeholders) and known ones — downloaded from the repository's LFS server
 * (endpoint.ts, download.ts), verified and stored; the pointers remembered in the state dir.
 * Decision: docs/decisions/0011-git-lfs.md.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Config } from '../config/types.js';
import { errorMessage, HostsyncError } from '../errors.js';
import type { RetryPolicy } from '../github/retry.js';
import { parseTree } from '../git/tree.js';
import { formatBytes } from '../format.js';
import { hashBlob } from '../local/hash.js';
import type { ScanResult } from '../local/scan.js';
import type { RemoteEntry } from '../model.js';
import { netSettingsOf } from '../net/settings.js';
import type { Plan } from '../plan/plan.js';
import type { TransferProgress } from '../transfer/types.js';
import type { LfsWant } from './batch.js';
import { downloadObjects } from './download.js';
import { lfsEndpoint, lfsUrlOf } from './endpoint.js';
import { createLfsHttp, type LfsTraffic } from './http.js';
import { mayBePointer, parsePointer } from './pointer.js';
import { isFile, LARGE, placeholderOf, pointerIn, readAtHand, resolveFound, TEXT_LIMIT, type FetchBlobs, type LfsRun } from './resolve.js';

/** SHA-256 of no bytes: the oid of an empty object. */
const EMPTY_SHA256 = createHash('sha256').digest('hex');

/** The `.lfsconfig` blob at the repository's root: an entry without --path, in the root tree of the chain with it. */
function lfsConfigEntry(remote: readonly RemoteEntry[], path: string, chain: readonly { readonly sha: string; readonly data: Buffer }[] | undefined): RemoteEntry | undefined {
  if (path === '') return remote.find((entry) => entry.path === '.lfsconfig' && isFile(entry));
  const root = chain?.[0];
  if (root === undefined) return undefined;
  try {
    const found = parseTree(root.data).find((entry) => entry.name.toString('utf8') === '.lfsconfig' && (entry.mode === '100644' || entry.mode === '100755'));
    return found === undefined ? undefined : { path: '.lfsconfig', mode: '100644', sha: found.sha };
  } catch {
    return undefined;
  }
}

/** What completing a run's LFS files needs besides the run. */
export interface CompleteInput {
  readonly config: Config;
  readonly remote: readonly RemoteEntry[];
  readonly unexamined: readonly string[];
  readonly scan: ScanResult;
  /** The plan made so far (with lfs off: the files it writes are checked for pointers). */
  readonly plan: Plan;
  readonly chain: readonly { readonly sha: string; readonly data: Buffer }[] | undefined;
  readonly fetchBlobs: FetchBlobs;
  /** Keep these SHAs from another run's garbage collection. */
  readonly pin: (shas: readonly string[]) => Promise<void>;
  readonly traffic: LfsTraffic;
  readonly retry: RetryPolicy | undefined;
  readonly signal: AbortSignal | undefined;
  readonly onProgress?: ((progress: TransferProgress) => void) | undefined;
  readonly userAgent: string;
  readonly now: () => number;
}

/** What completing brought. */
export interface Completed {
  readonly remote: readonly RemoteEntry[];
  /** Whether any entry changed (the plan must be made again). */
  readonly changed: boolean;
  readonly objects: number;
  readonly bytes: number;
}

/**
 * After the fetch: look at the blobs it brought, download every object the plan needs that the
 * store lacks (pending ones and known ones), verified, and remember the pointers. Throws with
 * nothing applied when an object cannot be had or does not match its pointer.
 */
export async function completeLfs(run: LfsRun, input: CompleteInput): Promise<Completed> {
  if (run.mode === 'off') {
    await notePointers(run, input.plan);
    return { remote: input.remote, changed: false, objects: 0, bytes: 0 };
  }
  const unexamined = new Set(input.unexamined);
  let changed = false;
  let remote: RemoteEntry[] = [];
  for (const entry of input.remote) {
    if (!unexamined.has(entry.path)) {
      remote.push(entry);
      continue;
    }
    const data = await readAtHand(run, entry, input.scan);
    const pointer = data === undefined || data === LARGE ? undefined : pointerIn(run, entry, data);
    if (pointer === undefined) remote.push(entry);
    else {
      remote.push(await resolveFound(run, entry, pointer, input.scan));
      changed = true;
    }
  }
  const lfs = remote.filter((entry) => entry.lfs !== undefined);
  if (lfs.length === 0) return { remote, changed, objects: 0, bytes: 0 };
  await input.pin(lfs.map((entry) => entry.sha));

  // Objects to download: pending ones, and known ones neither the store nor DEST holds.
  const local = new Set<string>();
  for (const entry of input.scan.entries.values()) if (entry.kind === 'file' && entry.sha !== undefined) local.add(entry.sha);
  const wants = new Map<string, LfsWant>();
  for (const entry of lfs) {
    const link = entry.lfs!;
    if (wants.has(link.oid)) continue;
    const pending = entry.sha === placeholderOf(link.oid);
    if (pending || (!local.has(entry.sha) && !(await run.store.holds(entry.sha)))) wants.set(link.oid, { oid: link.oid, size: entry.size ?? 0, path: entry.path });
  }
  const { content, objects, bytes } = await fetchObjects(run, input, wants);

  remote = remote.map((entry) => {
    const link = entry.lfs;
    if (link === undefined) return entry;
    const downloaded = content.get(link.oid);
    if (downloaded === undefined || downloaded === entry.sha) return entry;
    changed = true;
    return { ...entry, sha: downloaded };
  });
  const left = remote.find((entry) => entry.lfs !== undefined && entry.sha === placeholderOf(entry.lfs.oid));
  if (left !== undefined) throw new HostsyncError(`BUG: LFS object ${left.lfs!.oid} of ${left.path} was neither downloaded nor found on the host.`);
  for (const entry of remote) {
    if (entry.lfs === undefined || entry.size === undefined) continue;
    if (run.map.get(entry.lfs.pointer)?.content !== entry.sha) run.map.record(entry.lfs.pointer, { oid: entry.lfs.oid, size: entry.size, content: entry.sha, pointerSize: entry.lfs.pointerSize });
  }
  await saveMap(run, new Set(remote.filter((entry) => entry.lfs !== undefined).map((entry) => entry.sha)));
  return { remote, changed, objects, bytes };
}

/** Write the pointers learnt (a failure to is a warning: the next run asks again). */
async function saveMap(run: LfsRun, keep: ReadonlySet<string>): Promise<void> {
  await run.map.save(run.store, keep).catch((error: unknown) => run.log('warn', `Could not record the LFS pointers in the state dir (${errorMessage(error)}); the next run looks them up again.`));
}

/**
 * The objects in `wants` (by oid) into the store: an empty one without a request, the rest from the
 * LFS server. The content's git SHA per oid, objects downloaded, bytes received.
 */
async function fetchObjects(run: LfsRun, input: CompleteInput, wants: Map<string, LfsWant>): Promise<{ content: Map<string, string>; objects: number; bytes: number }> {
  const content = new Map<string, string>();
  // An empty object is known without asking anyone (its oid is checked like any download's).
  for (const [oid, want] of wants) {
    if (want.size !== 0) continue;
    if (oid !== EMPTY_SHA256) throw new HostsyncError(`The Git LFS pointer of ${want.path} names an empty object whose SHA-256 is not that of empty content (${oid}); the pointer is damaged. Nothing was applied.`);
    const empty = hashBlob(Buffer.alloc(0));
    await run.store.put(empty, 0, Readable.from([]), `the empty Git LFS object of ${want.path}`);
    content.set(oid, empty);
    wants.delete(oid);
  }
  if (wants.size === 0) return { content, objects: 0, bytes: 0 };
  const { config } = input;
  const endpoint = lfsEndpoint(config, await lfsUrl(run, input));
  const totalBytes = [...wants.values()].reduce((sum, want) => sum + want.size, 0);
  run.log('info', `Git LFS: downloading ${wants.size} object(s), ${formatBytes(totalBytes)}, from ${endpoint.url}.`);
  const http = createLfsHttp({
    net: netSettingsOf(config),
    timeoutMs: config.timeoutSec * 1000,
    stallMs: config.stallSec * 1000,
    lowSpeed: { limit: config.lowSpeedLimit, windowMs: config.lowSpeedTimeSec * 1000 },
    userAgent: input.userAgent,
    traffic: input.traffic,
    signal: input.signal,
  });
  let doneBytes = 0;
  let doneBlobs = 0;
  const report = (): void => input.onProgress?.({ doneBlobs, totalBlobs: wants.size, doneBytes, totalBytes });
  try {
    const result = await downloadObjects(
      {
        http,
        endpoint,
        store: run.store,
        partialDir: join(config.stateDir, 'lfs', 'partial'),
        repo: config.repo,
        ref: config.ref,
        concurrency: config.concurrency,
        retry: input.retry,
        signal: input.signal,
        log: run.log,
        now: input.now,
        onBytes: (n) => {
          doneBytes += n;
          report();
        },
        onObject: (want, sha) => {
          doneBlobs++;
          report();
          // Remembered at once: a run that fails later does not download this one again.
          for (const entry of input.remote) if (entry.lfs?.oid === want.oid) run.map.record(entry.lfs.pointer, { oid: want.oid, size: want.size, content: sha, pointerSize: entry.lfs.pointerSize });
        },
      },
      [...wants.values()],
    );
    for (const [oid, sha] of result.content) content.set(oid, sha);
    await input.pin([...content.values()]);
    return { content, objects: result.content.size, bytes: result.bytes };
  } catch (error) {
    await saveMap(run, new Set());
    throw error;
  } finally {
    await http.close();
  }
}

/** `lfs.url` of the repository's `.lfsconfig`, when it has one (fetched when not at hand). */
async function lfsUrl(run: LfsRun, input: CompleteInput): Promise<string | undefined> {
  const entry = lfsConfigEntry(input.remote, input.config.path, input.chain);
  if (entry === undefined) return undefined;
  let data = await readAtHand(run, entry, input.config.path === '' ? input.scan : undefined, TEXT_LIMIT);
  if (data === undefined) {
    await input.fetchBlobs([{ sha: entry.sha, size: entry.size, path: entry.path }]).catch((error: unknown) => run.log('warn', `Could not read the repository's .lfsconfig (${errorMessage(error)}); using the default LFS server.`));
    data = await readAtHand(run, entry, undefined, TEXT_LIMIT);
  }
  return data === undefined || data === LARGE ? undefined : lfsUrlOf(data.toString('utf8'));
}

/** With lfs off: one line when the run writes pointers instead of their content. */
async function notePointers(run: LfsRun, plan: Plan): Promise<void> {
  const pointers: string[] = [];
  for (const change of plan.changes) {
    const target = change.target;
    if (target === undefined || !isFile(target) || !mayBePointer(target.size) || change.kind === 'modeChanged') continue;
    const data = await readAtHand(run, target, undefined);
    if (data !== undefined && data !== LARGE && parsePointer(data) !== undefined) pointers.push(target.path);
  }
  if (pointers.length > 0) run.log('warn', `${pointers.length} file(s) this run writes are Git LFS pointers (e.g. ${pointers[0]}); lfs is off, so DEST gets the pointers, not the content. Set lfs to auto (--lfs auto) to download the content.`);
}
