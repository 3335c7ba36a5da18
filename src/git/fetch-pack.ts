/**
 * A whole fetch over smart HTTP, protocol v2: the capability advertisement (unless the caller
 * already has it), one `fetch` request ending in `done`, and the response's pack streamed straight
 * into the pack reader — what `git fetch --depth 1 <sha>` moves, without git or a `.git`.
 *
 * Round trips: 2 (GET advertisement + POST fetch), or 1 when `capabilities` from an earlier call
 * are passed. `git fetch` of a SHA takes 3 (it also lists refs). See decision 0004.
 */
import type { Capabilities } from './capabilities.js';
import { GitProtocolError } from './errors.js';
import type { GitHttpTransport } from './http-transport.js';
import type { BaseProvider, PackObjectSink } from './object-sink.js';
import { readPack, type PackCounts } from './pack.js';
import { readFetchResponse } from './fetch-response.js';
import { buildFetchRequest, buildLsRefsRequest, readLsRefsResponse, type FetchRequest, type LsRefsRequest, type RemoteRef } from './upload-pack.js';

/** What every call of this module needs. */
export interface GitCallOptions {
  readonly transport: GitHttpTransport;
  /** A previous advertisement from the same server: saves the GET. */
  readonly capabilities?: Capabilities;
  /** Sent as `agent=…` when the server advertises `agent`. @default 'hostsync' */
  readonly agent?: string;
  readonly signal?: AbortSignal;
}

/** Options of {@link fetchPack}. */
export interface FetchPackOptions extends GitCallOptions, FetchRequest {
  /** Receives every object of the pack. */
  readonly sink: PackObjectSink;
  /** Objects the caller has: thin-pack bases, and the sink's own objects read back. */
  readonly bases?: BaseProvider;
  /** Progress text from the server (only with `progress: true`). */
  readonly onProgress?: (text: string) => void;
  /** Passed to the pack reader. */
  readonly baseCacheBytes?: number;
}

/** The outcome of {@link fetchPack}. */
export interface FetchPackResult {
  /** The new shallow boundary (commits whose parents were not sent). */
  readonly shallow: readonly string[];
  readonly unshallow: readonly string[];
  /** Objects in the pack, by type and by how they were stored. */
  readonly objects: PackCounts;
  readonly objectCount: number;
  /** Bytes of the pack itself. */
  readonly packBytes: number;
  /** HTTP response body bytes of this call (advertisement included). */
  readonly bytesReceived: number;
  /** HTTP requests this call made. */
  readonly requests: number;
  /** The advertisement used, to pass to the next call. */
  readonly capabilities: Capabilities;
}

async function capabilitiesOf(options: GitCallOptions): Promise<Capabilities> {
  return options.capabilities ?? options.transport.advertise(options.signal);
}

/**
 * Fetch a pack for `wants` (with `haves`, `shallow`, `deepen`, `filter`) and stream it into
 * `sink`. Resolves once the pack's trailer is verified and the response has ended.
 * @throws PackError for a bad pack, `GitServerError`
 * for a server-reported failure, `GitHttpError` for an HTTP status,
 * `ProtocolVersionError` for a server not speaking v2.
 */
export async function fetchPack(options: FetchPackOptions): Promise<FetchPackResult> {
  const { transport } = options;
  const before = { ...transport.stats };
  const capabilities = await capabilitiesOf(options);
  const body = buildFetchRequest(options, { capabilities, agent: options.agent ?? 'hostsync' });
  const response = await readFetchResponse(await transport.post(body, options.signal), {
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  if (response.pack === undefined) throw new GitProtocolError('The server answered the fetch without a packfile although the request said "done".');
  const summary = await readPack(response.pack, {
    sink: options.sink,
    ...(options.bases === undefined ? {} : { bases: options.bases }),
    ...(options.baseCacheBytes === undefined ? {} : { baseCacheBytes: options.baseCacheBytes }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  return {
    shallow: response.shallow,
    unshallow: response.unshallow,
    objects: summary.counts,
    objectCount: summary.objects,
    packBytes: summary.packBytes,
    bytesReceived: transport.stats.bytesReceived - before.bytesReceived,
    requests: transport.stats.requests - before.requests,
    capabilities,
  };
}

/** Options of {@link lsRefs}. */
export interface LsRefsOptions extends GitCallOptions, LsRefsRequest {}

/**
 * List the server's refs (`ls-refs`), with symref targets and peeled tags. An empty repository
 * answers no refs, or only an unborn HEAD (`oid: undefined`) when the server supports `unborn`.
 */
export async function lsRefs(options: LsRefsOptions): Promise<{ refs: RemoteRef[]; capabilities: Capabilities }> {
  const capabilities = await capabilitiesOf(options);
  const body = buildLsRefsRequest(options, { capabilities, agent: options.agent ?? 'hostsync' });
  const refs = await readLsRefsResponse(await options.transport.post(body, options.signal));
  return { refs, capabilities };
}
