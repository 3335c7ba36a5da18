/**
 * git's wire protocol as a source (src/git/, decision 0004): the commit, its changed trees and its
 * changed blobs in one thin, delta-compressed pack — what `git fetch --depth 1` moves — with no git
 * binary and no `.git` on the host, and no REST quota.
 *
 *   ref:     GitHub's conditional REST request (a 304 is free), or `ls-refs` (other hosts, `transport:
 *            git`, a spent quota)
 *   tree:    `fetch` want C, deepen 1, and — when DEST holds P — have P, shallow P: the pack's trees
 *            plus P's unchanged subtrees (known from the manifest) give C's entries; its blobs stream
 *            into the verifying object store as they arrive (with --check-only: `filter blob:none`)
 *   bases:   a thin pack's REF_DELTAs name objects of P: trees rebuilt from the manifest (their SHAs
 *            checked), blobs from the object store or from DEST files that hash to them. A base that
 *            cannot be found makes the fetch run again without `have` (logged), never a missing object.
 *   trust:   the downgrade guard from the commits themselves (C's parent is P, or a commits-only fetch
 *            `filter tree:0` walked back to P); pinned keys verify C as it came in the pack
 *            (`commitObject`; a commits-only fetch when no pack was read); `--require-signed` without
 *            them asks GitHub's API
 *   content: blobs the plan still misses by `want <blob>` (then REST blobs, tarball, clone)
 */
import { open, stat } from 'node:fs/promises';
import type { Config } from '../config/types.js';
import { HostsyncError, UnknownRefError } from '../errors.js';
import type { Capabilities } from '../git/capabilities.js';
import { parseCommit } from '../git/commit.js';
import { GitHttpError, GitProtocolError, GitServerError, GitTransportError, MissingBasesError, PackError, ProtocolVersionError } from '../git/errors.js';
import { withRetry, type RetryPolicy } from '../github/retry.js';
import { fetchPack, lsRefs } from '../git/fetch-pack.js';
import { createGitHttpTransport, type GitHttpTransport } from '../git/http-transport.js';
import type { BaseProvider, BlobWriter, PackObjectSink, StoredObject } from '../git/object-sink.js';
import { hashBlobFile } from '../local/hash.js';
import type { NetSettings } from '../net/settings.js';
import { hasFeature, parseCapabilityLines } from '../git/capabilities.js';
import type { Logger, Manifest, WantedBlob, WorkProgress } from '../model.js';
import { guardIterable, LowSpeedError, type LowSpeed } from '../net/low-speed.js';
import type { StrategyChoice, TransferName } from '../plan/strategy.js';
import type { CapabilityMemo } from '../state/capabilities.js';
import type { ObjectStore } from '../state/objects.js';
import { refCandidates } from '../transfer/git-source.js';
import type { TransferContext, TransferResult, TransferStrategy } from '../transfer/types.js';
import { createTreeIndex, flattenTrees, type TreeIndex } from './trees.js';
import { pinsConfigured } from '../trust/pins.js';
import { memoryWriter, withHeld } from './held-blobs.js';
import type { KnownRef, ReadTreeOptions, RemoteSource, RemoteTree, ResolvedCommit, SourceStats, TransferNeeds } from './types.js';

/** What the host already has: the source's delta bases. */
export interface HostObjects {
  readonly store: ObjectStore;
  /** An absolute path in DEST that held this blob at the applied commit (checked before use). */
  localPath(sha: string): string | undefined;
}

export interface WireSourceOptions {
  readonly config: Config;
  /** The repository's smart-HTTP URL, e.g. https://github.com/acme/hypervisor.git. */
  readonly url: string;
  /** Request headers: Authorization (Basic), User-Agent. */
  readonly headers: Readonly<Record<string, string>>;
  readonly dispatcher?: import('undici').Dispatcher | undefined;
  /** Proxy and CA file of the smart-HTTP requests (the transport's own dispatcher, made on first use). */
  readonly net?: NetSettings | undefined;
  /** Milliseconds to connect / wait for headers, and without a body byte. */
  readonly timeouts?: { readonly timeoutMs: number; readonly stallMs: number } | undefined;
  /** Another transport than smart HTTP at `url` (SSH); closed with the source. */
  readonly transport?: GitHttpTransport | undefined;
  /** GitHub's REST API: the conditional poll, signatures, and fallback strategies. Absent for other hosts. */
  readonly rest?: RemoteSource | undefined;
  /** Resolve the ref with ls-refs even when a REST source is there (`transport: git`). */
  readonly refsOverGit: boolean;
  readonly host: () => HostObjects;
  readonly lowSpeed: LowSpeed;
  readonly log: Logger;
  readonly signal?: AbortSignal | undefined;
  readonly gitAvailable: () => Promise<boolean>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Retries of a failed fetch (a dropped connection, a 5xx, a damaged pack). */
  readonly retry?: RetryPolicy | undefined;
  /** The commit's pack as it arrives: bytes received and objects read (of this fetch attempt). */
  readonly onProgress?: ((progress: WorkProgress) => void) | undefined;
  /**
   * The server's advertisement remembered from an earlier run (src/state/capabilities.ts): commands
   * go out without the `info/refs` GET first, and a fresh advertisement read during the run is
   * handed back to be remembered.
   */
  readonly capabilities?: Pick<CapabilityMemo, 'known' | 'remember' | 'forget'> | undefined;
}

/** Failures of a fetch worth another attempt: the connection, the server's 5xx, a pack damaged on the way. */
function retryableWire(error: unknown): boolean {
  if (error instanceof MissingBasesError || error instanceof ProtocolVersionError || error instanceof GitServerError) return false;
  // A garbled pkt-line or pack on the way (a flaky proxy, a cut connection) may well come right the next time.
  if (error instanceof GitTransportError || error instanceof PackError || error instanceof GitProtocolError || error instanceof LowSpeedError) return true;
  return error instanceof GitHttpError && (error.status >= 500 || error.status === 429 || error.status === 408);
}

/**
 * Failures that may come from asking with capabilities the server no longer offers (or at a URL it
 * has since moved): its protocol errors, and HTTP answers other than about credentials, the rate or
 * the server's health. Worth one more try after a fresh advertisement.
 */
function refusedAsAsked(error: unknown): boolean {
  if (error instanceof GitServerError || error instanceof GitProtocolError || error instanceof ProtocolVersionError) return true;
  return error instanceof GitHttpError && error.status >= 300 && error.status < 500 && ![401, 403, 407, 408, 429].includes(error.status);
}

/** How deep the downgrade guard walks history when the new commit is not a child of the applied one. */
export const ANCESTRY_DEPTH = 10_000;

/** Failures that mean "this server does not serve the wire protocol to us": fall back to REST. */
export function isWireUnavailable(error: unknown): boolean {
  return error instanceof ProtocolVersionError || (error instanceof GitHttpError && [404, 405, 406, 410, 415, 501].includes(error.status));
}

/** Create the wire-protocol source. */
export function createWireSource(options: WireSourceOptions): RemoteSource {
  const { config, log } = options;
  const stats: SourceStats = options.rest?.stats ?? { apiRequests: 0, notModified: 0, httpRequests: 0, bytesReceived: 0, rateLimit: undefined };
  const inner =
    options.transport ??
    createGitHttpTransport({
      url: options.url,
      headers: options.headers,
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
      ...(options.net ? { net: options.net } : {}),
      ...(options.timeouts ? { timeouts: options.timeouts } : {}),
    });
  /** The current fetch's pack so far, for `onProgress`. */
  const received = { bytes: 0, items: 0 };
  const report = options.onProgress === undefined ? undefined : (bytes: number, items: number): void => {
    received.bytes += bytes;
    received.items += items;
    options.onProgress?.({ bytes: received.bytes, items: received.items, unit: 'objects' });
  };
  const transport = meteredTransport(inner, stats, options.lowSpeed, report === undefined ? undefined : (bytes) => report(bytes, 0));
  const known = options.capabilities?.known;
  let capabilities: Capabilities | undefined = known === undefined ? undefined : parseCapabilityLines(known);
  /** `capabilities` came from an earlier run, not from the server during this one. */
  let remembered = capabilities !== undefined;
  /** What a call answered with: a new advertisement (the call made the GET itself) is remembered. */
  const home = transport.url;
  const learn = (answered: Capabilities): void => {
    if (answered === capabilities) return;
    capabilities = answered;
    remembered = false;
    // An advertisement served from another URL (a redirect) is not remembered: the next run's POST
    // would go to the configured URL, which only redirects.
    if (transport.url === home) options.capabilities?.remember(answered.lines);
    else options.capabilities?.forget();
  };
  /** Commits and trees the pack of this run brought, by SHA. */
  const objects = new Map<string, Buffer>();
  const sizes = new Map<string, number>();
  const call = { transport, agent: 'hostsync', ...(options.signal ? { signal: options.signal } : {}) };
  /**
   * One fetch, tried again on transient failures (each attempt starts the pack over). While the
   * capabilities are remembered from an earlier run, a refusal that may come from asking as remembered
   * (a feature the server dropped — often found by hostsync itself, before any request) ends the
   * retries at once, and the fetch runs again after a fresh advertisement: one GET, no back-off.
   */
  const retried = async <T>(what: string, attempt: () => Promise<T>): Promise<T> => {
    const withRetries = (): Promise<T> =>
      withRetry(attempt, {
        ...options.retry,
        signal: options.signal,
        isRetryable: (error) => !(remembered && refusedAsAsked(error)) && retryableWire(error),
        onRetry: (error, n) => log('warn', `retry ${n} of ${what}: ${error instanceof Error ? error.message : String(error)}`),
      });
    try {
      return await withRetries();
    } catch (error) {
      if (!remembered || !refusedAsAsked(error)) throw error;
      log('debug', `${what} failed with the capabilities remembered from an earlier run (${error instanceof Error ? error.message : String(error)}); asking ${transport.url} for them again.`);
      capabilities = undefined;
      remembered = false;
      return withRetries();
    }
  };

  /** Whether the server offers `filter` (partial clone); asks for the advertisement when not known yet. */
  const filters = async (): Promise<boolean> => {
    if (capabilities === undefined) learn(await retried(`the capabilities of ${transport.url}`, () => transport.advertise(options.signal)));
    return capabilities !== undefined && hasFeature(capabilities, 'fetch', 'filter');
  };

  /** The first of `alternatives` that exists, with one ls-refs (no API quota); UnknownRefError when none does. */
  const resolveFirstOverGit = async (alternatives: readonly string[]): Promise<{ ref: string; sha: string }> => {
    const candidates = alternatives.filter((ref) => !/^[0-9a-f]{40}$/i.test(ref)).flatMap(refCandidates);
    const listed = candidates.length === 0 ? undefined : await retried(`the refs of ${transport.url}`, () => lsRefs({ ...call, ...(capabilities ? { capabilities } : {}), refPrefixes: candidates, peel: true, symrefs: true }));
    if (listed !== undefined) learn(listed.capabilities);
    const byName = new Map((listed?.refs ?? []).map((r) => [r.name, r]));
    for (const ref of alternatives) {
      if (/^[0-9a-f]{40}$/i.test(ref)) return { ref, sha: ref.toLowerCase() };
      for (const name of refCandidates(ref)) {
        const found = byName.get(name);
        if (found?.oid !== undefined) return { ref, sha: found.peeled ?? found.oid };
      }
    }
    const [only] = alternatives;
    if (alternatives.length > 1) throw new UnknownRefError(`None of the refs ${alternatives.map((r) => `'${r}'`).join(', ')} exists in ${config.repo}: ${transport.url} lists no branch or tag by those names. Create one, or change the ref (case matters).`);
    if (only === 'HEAD') throw new HostsyncError(`${config.repo} has no default branch at ${transport.url} (ls-refs lists no HEAD): the repository is empty, or not visible to this token.`);
    throw new UnknownRefError(`Unknown ref '${only}' in ${config.repo}: ${transport.url} lists no branch or tag by that name (abbreviated SHAs need GitHub's API). Check the ref (case matters).`);
  };
  const resolveOverGit = async (ref: string): Promise<string> => (await resolveFirstOverGit([ref])).sha;

  /** Fetch `commit` with the host's state as bases; on missing bases, once more without `have`. */
  const fetchCommit = async (commit: string, read: ReadTreeOptions): Promise<{ blobs: number; bytes: number }> => {
    const previous = read.previous;
    const index = previous === undefined ? undefined : indexOf(previous);
    const host = options.host();
    let counts = { blobs: 0, bytes: 0 };
    const thin = previous !== undefined && previous.commit !== commit;
    /** One attempt; `againstPrevious`: a thin fetch with `have` (else the commit on its own). */
    const attempt = async (againstPrevious: boolean): Promise<void> => {
      // Without blobs (--check-only): `filter blob:none`, or — a server without partial clone (plain
      // git-http-backend, uploadpack.allowFilter off) — the blobs come, held in memory and dropped.
      // Decided per attempt: remembered capabilities may be replaced by the server's own in between.
      const filter = read.withContent ? undefined : (await filters()) ? 'blob:none' : undefined;
      // Blobs that came although not wanted stay in memory (they may be delta bases of the pack), never in the store.
      const held = read.withContent || filter !== undefined ? undefined : new Map<string, Buffer>();
      counts = { blobs: 0, bytes: 0 };
      received.bytes = 0;
      received.items = 0;
      const stored = packSink(host.store, objects, sizes, counts, `the pack of ${commit.slice(0, 12)} from ${transport.url}`, report === undefined ? undefined : () => report(0, 1));
      const sink: PackObjectSink = held === undefined ? stored : { object: stored.object, blob: (size) => memoryWriter(held, size, transport.url, '--check-only') };
      const result = await fetchPack({
        ...call,
        ...(capabilities ? { capabilities } : {}),
        wants: [commit],
        deepen: 1,
        ...(filter === undefined ? {} : { filter }),
        ...(againstPrevious && thin ? { haves: [previous.commit], shallow: [previous.commit] } : {}),
        sink,
        bases: withHeld(baseProvider(host, objects, againstPrevious ? index : undefined), held),
      });
      learn(result.capabilities);
    };
    const what = `the pack of ${commit.slice(0, 12)}`;
    try {
      await retried(what, () => attempt(true));
    } catch (error) {
      if (!(error instanceof MissingBasesError) || !thin) throw error;
      log('warn', `The pack for ${commit.slice(0, 12)} named ${error.missing.length} delta base(s) this host does not hold (e.g. ${error.missing[0]}); fetching the commit again without them.`);
      await retried(what, () => attempt(false));
    }
    return counts;
  };

  const readTree = async (commit: string, read: ReadTreeOptions): Promise<RemoteTree> => {
    let prefetched = await fetchCommit(commit, read);
    const commitData = objects.get(commit);
    if (commitData === undefined) throw new GitProtocolError(`The pack for ${commit.slice(0, 12)} from ${transport.url} did not hold that commit.`);
    const { tree: rootTree } = parseCommit(commitData);
    const known = read.previous === undefined ? createTreeIndex([], undefined) : indexOf(read.previous);
    const sizeOf = (sha: string): number | undefined => sizes.get(sha) ?? known.sizeOf(sha);
    let flat = flattenTrees(rootTree, read.path, (sha) => objects.get(sha), known, sizeOf, commit);
    if (flat.missing.length > 0) {
      // The server took trees for granted that DEST's manifest does not describe (a folder outside --path, say).
      log('warn', `The pack for ${commit.slice(0, 12)} left out ${flat.missing.length} tree(s) this host does not know (e.g. ${flat.missing[0]}); fetching the commit's trees in full.`);
      const again = await fetchCommit(commit, { ...read, previous: undefined });
      prefetched = { blobs: prefetched.blobs + again.blobs, bytes: prefetched.bytes + again.bytes };
      flat = flattenTrees(rootTree, read.path, (sha) => objects.get(sha), createTreeIndex([], undefined), sizeOf, commit);
      if (flat.missing.length > 0) throw new GitProtocolError(`The server did not send tree ${flat.missing[0]} of ${commit.slice(0, 12)}; refusing an incomplete tree.`);
    }
    if (flat.folderTree === '') throw new HostsyncError(`--path '${read.path}' does not exist in commit ${commit.slice(0, 12)}. Check the folder name (case matters).`, 2);
    // Names were checked as the trees were read (flattenTrees); the folder's entries are relative already.
    return { entries: flat.entries, repoBytes: undefined, prefetched, tree: flat.folderTree, chain: flat.chain, root: rootTree };
  };

  /** The commit object: from this run's pack, else a commits-only fetch (`filter tree:0`, depth 1). */
  const commitObject = async (commit: string): Promise<Buffer> => {
    const known = objects.get(commit);
    if (known !== undefined) return known;
    await retried(`commit ${commit.slice(0, 12)}`, async () => {
      const filter = (await filters()) ? { filter: 'tree:0' } : {};
      return fetchPack({ ...call, ...(capabilities ? { capabilities } : {}), wants: [commit], deepen: 1, ...filter, thinPack: false, sink: commitsOnly(objects) });
    });
    const data = objects.get(commit);
    if (data === undefined) throw new GitProtocolError(`The server answered a fetch of commit ${commit.slice(0, 12)} from ${transport.url} without it.`);
    return data;
  };

  const checkAncestry = async (commit: string, previous: Manifest): Promise<void> => {
    const parents = (sha: string): readonly string[] | undefined => {
      const data = objects.get(sha);
      return data === undefined ? undefined : parseCommit(data).parents;
    };
    if (parents(commit)?.includes(previous.commit) === true) return; // one push, one commit: proven for free
    // Commits only, back from C until P (or the depth): small, and no quota.
    const commits = new Map<string, Buffer>();
    const sink: PackObjectSink = {
      object: (object) => {
        if (object.type === 'commit') commits.set(object.sha, object.data);
      },
      blob: () => discardWriter(),
    };
    // A server without partial clone sends the trees and blobs too: more bytes, same answer. The blobs
    // are held in memory while the pack is read (later entries may be deltas against them), then dropped.
    await retried(`the history of ${commit.slice(0, 12)}`, async () => {
      const filtered = await filters();
      if (!filtered) log('debug', `${transport.url} offers no partial clone (filter): the history walk from ${commit.slice(0, 12)} back to ${previous.commit.slice(0, 12)} brings trees and blobs too.`);
      const held = new Map<string, Buffer>();
      const walk: PackObjectSink = filtered ? sink : { object: sink.object, blob: (size) => memoryWriter(held, size, transport.url, 'the downgrade guard (or pass --allow-downgrade)') };
      return fetchPack({ ...call, ...(capabilities ? { capabilities } : {}), wants: [commit], haves: [previous.commit], deepen: ANCESTRY_DEPTH, ...(filtered ? { filter: 'tree:0' } : {}), thinPack: false, sink: walk, bases: withHeld({ get: () => undefined }, held) });
    });
    const seen = new Set<string>();
    const queue = [commit];
    while (queue.length > 0) {
      const sha = queue.pop()!;
      if (sha === previous.commit) return;
      if (seen.has(sha)) continue;
      seen.add(sha);
      const data = commits.get(sha) ?? objects.get(sha);
      if (data === undefined) continue; // beyond what was sent: the server left out what P reaches
      queue.push(...parseCommit(data).parents);
    }
    throw new HostsyncError(
      `Refusing commit ${commit.slice(0, 12)}: ${config.ref} moved from the last applied commit ${previous.commit.slice(0, 12)} to one that is not its descendant (within ${ANCESTRY_DEPTH} commits) — a force-push or rewind on the server? DEST keeps ${previous.commit.slice(0, 12)}. Pass --allow-downgrade to apply it anyway.`,
    );
  };

  return {
    name: 'wire',
    reason: '',
    stats,
    async resolveRef(ref: string, known: KnownRef | undefined): Promise<ResolvedCommit> {
      if (options.rest !== undefined && !options.refsOverGit) {
        try {
          return await options.rest.resolveRef(ref, known);
        } catch (error) {
          if (!(error instanceof HostsyncError) || error.name !== 'RateLimitError') throw error;
          log('warn', `${error.message} Resolving ${ref} with git's ls-refs instead (no API requests).`);
        }
      }
      return { sha: await resolveOverGit(ref), etag: undefined, changed: true };
    },
    resolveFirst: resolveFirstOverGit,
    readTree,
    commitObject,
    async checkTrust(commit, previous) {
      // With pinned keys the host verifies the signature itself (pipeline/signatures.ts); GitHub is not asked.
      if (config.requireSigned && !pinsConfigured(config.trust)) {
        if (options.rest === undefined) throw new HostsyncError(`--require-signed asks GitHub's API whether ${commit.slice(0, 12)} is verified, and ${config.repo} is not on GitHub's API. Drop requireSigned.`, 2);
        await options.rest.checkTrust(commit, undefined);
      }
      if (config.allowDowngrade || previous === undefined || previous.commit === commit || previous.repo !== config.repo || previous.ref !== config.ref) return;
      await checkAncestry(commit, previous);
    },
    async chooseTransfer(needs: TransferNeeds): Promise<StrategyChoice> {
      if (needs.wanted.length === 0) return { order: [], reason: 'nothing to download' };
      const rest: TransferName[] = options.rest === undefined ? [] : ['blobs', 'tarball'];
      return { order: ['pack', ...rest], reason: `${needs.wanted.length} blob(s) the commit's pack took for granted: fetched by SHA over git's protocol` };
    },
    describeRead(commit: string, previous: Manifest | undefined): string {
      const what = previous === undefined || previous.commit === commit ? 'the whole tree' : `what changed since ${previous.commit.slice(0, 12)}`;
      return `source wire: fetching ${commit.slice(0, 12)} as one pack over git's wire protocol (${what}, verified as it arrives)`;
    },
    async createStrategy(name, commit) {
      if (name === 'pack') return packStrategy(transport, () => capabilities, learn, call.signal);
      return options.rest?.createStrategy(name, commit);
    },
    close: async () => {
      objects.clear();
      await inner.close?.();
      await options.rest?.close();
    },
  };
}

/** A transport whose traffic counts in the source's stats and whose bodies must keep the minimum rate. */
function meteredTransport(inner: GitHttpTransport, stats: SourceStats, low: LowSpeed, onBytes?: (bytes: number) => void): GitHttpTransport {
  const sync = (before: { requests: number; bytesReceived: number }): void => {
    stats.httpRequests += inner.stats.requests - before.requests;
    stats.serverDate = inner.stats.serverDate ?? stats.serverDate;
  };
  return {
    get url() {
      return inner.url;
    },
    stats: inner.stats,
    async advertise(signal) {
      const before = { ...inner.stats };
      try {
        return await inner.advertise(signal);
      } finally {
        sync(before);
        stats.bytesReceived += inner.stats.bytesReceived - before.bytesReceived;
      }
    },
    async post(body, signal) {
      const before = { ...inner.stats };
      const answer = await inner.post(body, signal);
      sync(before);
      const counted = async function* (): AsyncGenerator<Buffer> {
        let last = inner.stats.bytesReceived;
        for await (const chunk of guardIterable(answer, low, `The answer of ${inner.url}/git-upload-pack`)) {
          stats.bytesReceived += inner.stats.bytesReceived - last;
          onBytes?.(inner.stats.bytesReceived - last);
          last = inner.stats.bytesReceived;
          yield chunk;
        }
      };
      return counted();
    },
    close: () => inner.close?.() ?? Promise.resolve(),
  };
}

/** The manifest's trees, indexed (chain trees above --path included). */
function indexOf(previous: Manifest): TreeIndex {
  const extra = new Map((previous.chain ?? []).map((tree) => [tree.sha, Buffer.from(tree.data, 'base64')]));
  return createTreeIndex(previous.entries, previous.tree, extra);
}

/** Where the pack's objects go: commits and trees to memory, blobs into the verifying store. */
function packSink(store: ObjectStore, objects: Map<string, Buffer>, sizes: Map<string, number>, counts: { blobs: number; bytes: number }, where: string, onObject?: () => void): PackObjectSink {
  return {
    object(object) {
      if (object.type === 'commit' || object.type === 'tree') objects.set(object.sha, object.data);
      onObject?.();
    },
    blob(size): BlobWriter {
      const writer = store.openWriter(size, where);
      return {
        write: (chunk) => writer.write(chunk),
        async finish(sha) {
          await writer.finish(sha);
          sizes.set(sha, size);
          counts.blobs += 1;
          counts.bytes += size;
          onObject?.();
        },
        abort: () => writer.abort(),
      };
    },
  };
}

/** A sink that keeps the commits of a pack (their SHAs computed from their bytes) and drops the rest. */
function commitsOnly(objects: Map<string, Buffer>): PackObjectSink {
  return {
    object: (object) => {
      if (object.type === 'commit') objects.set(object.sha, object.data);
    },
    blob: () => discardWriter(),
  };
}

function discardWriter(): BlobWriter {
  return { write: () => undefined, finish: () => undefined, abort: () => undefined };
}

/** A file read at random: a delta base from the store or from DEST. */
async function fileObject(path: string, size: number): Promise<StoredObject> {
  const handle = await open(path, 'r');
  return {
    type: 'blob',
    size,
    async read(offset, length) {
      const buffer = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(buffer, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done === length ? buffer : buffer.subarray(0, done);
    },
    close: () => handle.close(),
  };
}

/** Delta bases: this pack's trees, the manifest's rebuilt trees, blobs from the store or DEST. */
function baseProvider(host: HostObjects, objects: ReadonlyMap<string, Buffer>, index: TreeIndex | undefined): BaseProvider {
  return {
    async get(sha) {
      const tree = objects.get(sha) ?? index?.tree(sha);
      if (tree !== undefined) return { type: 'tree', size: tree.length, read: (offset, length) => tree.subarray(offset, offset + length) };
      if (await host.store.holds(sha)) {
        const path = host.store.pathOf(sha);
        return fileObject(path, (await stat(path)).size);
      }
      const local = host.localPath(sha);
      if (local !== undefined) {
        // Only a file that really holds the blob may serve as its base.
        const actual = await hashBlobFile(local).catch(() => undefined);
        if (actual === sha) return fileObject(local, (await stat(local)).size);
      }
      return undefined;
    },
  };
}

/** Blobs the plan still misses, fetched by SHA (`want <blob>`) into the store. */
function packStrategy(transport: GitHttpTransport, capabilities: () => Capabilities | undefined, remember: (c: Capabilities) => void, signal: AbortSignal | undefined): TransferStrategy {
  return {
    name: 'pack',
    async fetch(wanted: readonly WantedBlob[], context: TransferContext): Promise<TransferResult> {
      const need: WantedBlob[] = [];
      for (const blob of wanted) if (!(await context.store.holds(blob.sha))) need.push(blob);
      if (need.length === 0) return { bytes: 0, blobs: 0 };
      const counts = { blobs: 0, bytes: 0 };
      const known = capabilities();
      const runSignal = context.signal ?? signal;
      const result = await fetchPack({
        transport,
        agent: 'hostsync',
        ...(known ? { capabilities: known } : {}),
        ...(runSignal ? { signal: runSignal } : {}),
        wants: need.map((blob) => blob.sha),
        sink: packSink(context.store, new Map(), new Map(), counts, `blobs from ${transport.url}`),
        bases: { get: () => undefined },
      });
      remember(result.capabilities);
      const still: string[] = [];
      for (const blob of need) if (!(await context.store.holds(blob.sha))) still.push(blob.sha);
      if (still.length > 0) throw new GitProtocolError(`The server answered a fetch of ${need.length} blob(s) without ${still.length} of them (e.g. ${still[0]}).`);
      context.onProgress?.({ doneBlobs: counts.blobs, totalBlobs: need.length, doneBytes: counts.bytes, totalBytes: counts.bytes });
      return counts;
    },
  };
}

/**
 * Failures of the wire transport after its retries, worth one line and a fallback to the REST API:
 * the server does not speak protocol v2 to us, the connection or the pack kept failing. Anything
 * else — a hostile tree, a full disk, a stop — fails the run as it is.
 */
export function describeWireFailure(error: unknown): string | undefined {
  const isGit = error instanceof GitProtocolError || error instanceof GitHttpError || error instanceof GitTransportError || error instanceof PackError || error instanceof LowSpeedError;
  if (!isGit || error instanceof MissingBasesError) return undefined;
  return error.message;
}
