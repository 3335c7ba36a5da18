/**
 * The `tarball` strategy: one API request for the commit's tarball
 * (https://docs.github.com/rest/repos/contents#download-a-repository-archive-tar), followed through
 * GitHub's redirect to codeload, gunzipped and parsed as a stream with node-tar's `Parser`. Only
 * entries at a wanted path are kept, and each goes through the verifying object store; nothing is
 * ever extracted to disk. Entries an extractor could be tricked with (absolute paths, `..`, paths
 * outside the single top-level folder or below a symlink, hard links, devices, FIFOs) fail the run.
 * A dropped connection restarts the whole tarball; blobs stored by an earlier attempt are skipped.
 */
import { once } from 'node:events';
import { PassThrough, Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { errorMessage, HostsyncError, IntegrityError } from '../errors.js';
import { networkError, rootCode } from '../github/errors.js';
import { withRetry } from '../github/retry.js';
import type { GitHubClient } from '../github/types.js';
import type { WantedBlob } from '../model.js';
import type { ObjectStore } from '../state/objects.js';
import type { TransferContext, TransferResult, TransferStrategy } from './types.js';

/** Options of {@link createTarballStrategy}. */
export interface TarballStrategyOptions {
  readonly client: GitHubClient;
  /** The commit whose tarball is read; every wanted blob must be in it. */
  readonly commit: string;
  /** The synced subfolder of the repository (`--path`), '' for all. @default '' */
  readonly root?: string | undefined;
  /** Whole-tarball attempts after the first, on network failures and damaged archives. @default 4 */
  readonly retries?: number | undefined;
  /** Blob bytes of the whole repository, when known: the tarball's content, for an honest percentage. */
  readonly archiveBytes?: number | undefined;
}

/**
 * The tarball did not yield the tree's bytes: a damaged archive, or an entry whose content does
 * not hash to the tree's SHA (typically `export-subst` in .gitattributes). The caller may fall
 * back to the clone strategy.
 */
export class TarballIntegrityError extends IntegrityError {
  constructor(message: string, expected: string, actual: string) {
    super(expected, actual, 'tarball');
    this.name = 'TarballIntegrityError';
    this.message = message;
  }
}

const ATTRIBUTES_HINT =
  'GitHub builds tarballs with .gitattributes applied: files marked export-subst differ from the tree and export-ignore ones are left out, so this repository needs the clone (or blobs) strategy.';

/**
 * Body bytes buffered ahead of gunzip and the parser. Without this slack, undici (7.30) answers
 * each stretch of backpressure by re-reading and unshifting its whole socket buffer; on loopback
 * half the runs of a 50 MiB tarball then took 36–57 s and peaked near 500 MiB RSS. With 8 MiB they
 * take 3–5 s and stay ~45 MiB above the process's baseline, even with a 10 MB/s sink.
 */
const SLACK_BYTES = 8 << 20;

/** Entry types a `git archive` tarball holds; anything else is refused. */
const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

/** Create the tarball strategy for one commit. */
export function createTarballStrategy(options: TarballStrategyOptions): TransferStrategy {
  const { client, commit } = options;
  if (!/^[0-9a-f]{40}$/.test(commit)) throw new Error(`Expected \`commit\` to be a full SHA, got '${commit}'.`);
  return {
    name: 'tarball',
    async fetch(wanted: readonly WantedBlob[], context: TransferContext): Promise<TransferResult> {
      const targets = indexWanted(wanted, options.root ?? '');
      const missing: string[] = [];
      for (const sha of targets.sizes.keys()) if (!(await context.store.has(sha))) missing.push(sha);
      if (missing.length === 0) return { bytes: 0, blobs: 0 };
      const progress = {
        doneBlobs: 0,
        totalBlobs: missing.length,
        doneBytes: 0,
        totalBytes: missing.reduce((sum, sha) => sum + (targets.sizes.get(sha) ?? 0), 0),
        // Every entry's bytes, wanted or not: the stream moves on while nothing wanted comes past.
        streamedBytes: 0,
        streamTotal: options.archiveBytes,
      };
      const stored = (bytes: number): void => {
        progress.doneBlobs++;
        progress.doneBytes += bytes;
        context.onProgress?.({ ...progress });
      };
      const seen = (bytes: number): void => {
        progress.streamedBytes += bytes;
        context.onProgress?.({ ...progress });
      };
      let url: string | undefined;
      try {
        await withRetry(
          async () => {
            // A retry skips what an earlier attempt already stored.
            const need = new Set<string>();
            for (const sha of missing) if (!(await context.store.has(sha))) need.add(sha);
            if (need.size === 0) return;
            progress.streamedBytes = 0; // an attempt reads the archive from its start
            const response = await client.openTarball(commit, context.signal);
            url = withoutQuery(response.url);
            await readArchive(response.body, { commit, targets, need, url, store: context.store, stored, seen });
          },
          {
            ...client.retry,
            ...(options.retries !== undefined ? { retries: options.retries } : {}),
            signal: context.signal,
            isRetryable: isDamagedArchive,
            onRetry: (error, attempt) => context.log?.('warn', `Retrying the tarball of ${commit.slice(0, 12)} (attempt ${attempt + 1}): ${errorMessage(error)}`),
          },
        );
      } catch (error) {
        throw finalError(error, commit, url, context.signal);
      }
      return { bytes: progress.doneBytes, blobs: progress.doneBlobs };
    },
  };
}

/** Wanted blobs of one fetch: repository paths → SHA, SHA → size, SHA → one path for messages. */
interface Targets {
  readonly byPath: ReadonlyMap<string, string>;
  readonly sizes: ReadonlyMap<string, number | undefined>;
  readonly pathOf: ReadonlyMap<string, string>;
}

function indexWanted(wanted: readonly WantedBlob[], root: string): Targets {
  const prefix = root.replace(/^\/+|\/+$/g, '');
  const byPath = new Map<string, string>();
  const sizes = new Map<string, number | undefined>();
  const pathOf = new Map<string, string>();
  for (const blob of wanted) {
    byPath.set(prefix === '' ? blob.path : `${prefix}/${blob.path}`, blob.sha);
    if (!sizes.has(blob.sha) || sizes.get(blob.sha) === undefined) sizes.set(blob.sha, blob.size);
    if (!pathOf.has(blob.sha)) pathOf.set(blob.sha, blob.path);
  }
  return { byPath, sizes, pathOf };
}

interface ReadOptions {
  readonly commit: string;
  readonly targets: Targets;
  /** SHAs still to be stored; entries are removed as they are. */
  readonly need: Set<string>;
  readonly url: string;
  readonly store: ObjectStore;
  readonly stored: (bytes: number) => void;
  /** Called with each entry's size once the parser is past it, wanted or not. */
  readonly seen?: ((bytes: number) => void) | undefined;
}

/**
 * Parse one tarball body, storing every needed entry. A broken stream (network, zlib, tar framing)
 * or a failing store ends the read at once. A refused entry or a SHA mismatch stops storing but
 * the archive is read to its end first: if gzip's CRC then shows the bytes were damaged in
 * transit, that (retryable) damage is the verdict; otherwise the entry's own failure is.
 */
async function readArchive(body: Readable, opts: ReadOptions): Promise<void> {
  const parser = new Parser({ strict: true, brotli: false, zstd: false });
  const guard = createEntryGuard(opts.commit);
  const claimed = new Set<string>();
  const puts: Promise<void>[] = [];
  const open = new Map<PassThrough, ReadEntry>();
  let failure: { readonly error: unknown } | undefined;
  let verdict: { readonly error: unknown } | undefined;
  const defer = (error: unknown): void => {
    verdict ??= { error };
  };
  let rejectStop: (error: unknown) => void = () => undefined;
  const stop = new Promise<never>((_resolve, reject) => (rejectStop = reject));
  stop.catch(() => undefined);
  const fail = (error: unknown): void => {
    if (failure !== undefined) return;
    failure = { error };
    rejectStop(error);
    // Entries being stored when the archive broke would never end: end their puts now. Ending
    // (not destroying) lets the store see a short body and clean up after its temp file exists;
    // a put destroyed before its temp file is open can leave that file behind.
    for (const [stream, entry] of open) {
      entry.unpipe(stream);
      stream.end();
    }
    open.clear();
  };

  parser.on('error', fail);
  parser.on('entry', (entry: ReadEntry) => {
    if (opts.seen !== undefined && entry.type !== 'Directory') {
      const size = entry.size ?? 0;
      entry.on('end', () => opts.seen?.(size));
    }
    try {
      const kept = guard(entry);
      const sha = kept === undefined ? undefined : opts.targets.byPath.get(kept.path);
      if (kept === undefined || sha === undefined || !opts.need.has(sha) || claimed.has(sha) || failure !== undefined || verdict !== undefined) {
        entry.resume();
        return;
      }
      claimed.add(sha);
      const where = `tarball entry '${entry.path}' of ${opts.commit.slice(0, 12)} from ${opts.url}`;
      let content: Readable;
      if (kept.symlink !== undefined) {
        // A symlink's blob is its target's bytes; the entry itself has no body.
        entry.resume();
        content = Readable.from([Buffer.from(kept.symlink, 'utf8')]);
      } else {
        const stream = new PassThrough();
        // The store's pipeline reports this stream's failures; this keeps a late one from going uncaught.
        stream.on('error', () => undefined);
        open.set(stream, entry);
        stream.on('close', () => {
          open.delete(stream);
          // The store gave up on it (a mismatch): the rest of the entry is skipped, or the parser would wait on it forever.
          entry.unpipe(stream);
          entry.resume();
        });
        entry.pipe(stream);
        content = stream;
      }
      const size = opts.targets.sizes.get(sha) ?? (kept.symlink !== undefined ? Buffer.byteLength(kept.symlink) : entry.size);
      puts.push(
        opts.store.put(sha, size, content, where).then(
          (written) => {
            opts.need.delete(sha);
            opts.stored(written);
          },
          (error: unknown) => {
            if (error instanceof IntegrityError) defer(new TarballIntegrityError(`${error.message} ${ATTRIBUTES_HINT}`, error.expected, error.actual));
            else fail(error);
          },
        ),
      );
    } catch (error) {
      entry.resume();
      defer(error);
    }
  });

  const chunks = tarChunks(body);
  try {
    for await (const chunk of chunks) {
      if (failure !== undefined) break;
      if (!parser.write(chunk)) await Promise.race([once(parser, 'drain'), stop]);
    }
    if (failure === undefined) {
      const ended = once(parser, 'end');
      parser.end();
      await Promise.race([ended, stop]);
    }
  } catch (error) {
    fail(error);
  } finally {
    await chunks.return(undefined);
    body.destroy();
  }
  await Promise.allSettled(puts);
  if (failure !== undefined) throw failure.error;
  if (verdict !== undefined) throw verdict.error;
  if (opts.need.size > 0) {
    const paths = [...opts.need].map((sha) => opts.targets.pathOf.get(sha) ?? sha);
    const named = paths.slice(0, 5).map((path) => `'${path}'`).join(', ');
    throw new HostsyncError(
      `The tarball of ${opts.commit} from ${opts.url} lacks ${paths.length} wanted file(s): ${named}${paths.length > 5 ? ` and ${paths.length - 5} more` : ''}. ${ATTRIBUTES_HINT}`,
    );
  }
}

/** What the guard lets through: a file or symlink, by its path below the top-level folder. */
interface KeptEntry {
  readonly path: string;
  /** The link target, for symlinks. */
  readonly symlink?: string | undefined;
}

/**
 * Check every entry as an extractor would need it checked, and map it to its path below GitHub's
 * single top-level folder (`owner-repo-sha7/`). Directories pass as `undefined`; anything hostile
 * throws. Stateful: the first entry fixes the top-level folder.
 */
function createEntryGuard(commit: string): (entry: ReadEntry) => KeptEntry | undefined {
  let top: string | undefined;
  const symlinks = new Set<string>();
  return (entry) => {
    const refuse = (why: string): HostsyncError =>
      new HostsyncError(
        `Refusing the tarball of ${commit}: entry '${entry.path}' ${why}. A GitHub tarball never holds such an entry; nothing of it was written. Check --api-url, or use the clone strategy.`,
      );
    if (top === undefined) {
      const comment = entry.globalExtended?.comment;
      if (comment !== undefined && /^[0-9a-f]{40}$/.test(comment) && comment !== commit) {
        throw new HostsyncError(`The tarball asked for commit ${commit} is of commit ${comment}; nothing of it was used. Run hostsync again.`);
      }
    }
    if (entry.path.startsWith('/')) throw refuse('has an absolute path');
    const parts = entry.path.replace(/\/+$/, '').split('/');
    if (parts.some((part) => part === '..')) throw refuse("has a '..' component");
    if (parts.some((part) => part === '' || part === '.')) throw refuse('has an empty or "." component');
    const [first = ''] = parts;
    top ??= first;
    if (first !== top) throw refuse(`is outside the archive's single top-level folder '${top}/'`);
    const type = entry.type;
    if (type === 'Link') throw refuse(`is a hard link (to '${entry.linkpath ?? ''}')`);
    if (type === 'CharacterDevice' || type === 'BlockDevice' || type === 'FIFO') throw refuse(`is a ${type}`);
    if (type !== 'Directory' && type !== 'SymbolicLink' && !FILE_TYPES.has(type)) throw refuse(`has unsupported type ${type}`);
    if (parts.length === 1) {
      if (type !== 'Directory') throw refuse('is not under the top-level folder');
      return undefined;
    }
    const path = parts.slice(1).join('/');
    for (let at = path.indexOf('/'); at !== -1; at = path.indexOf('/', at + 1)) {
      if (symlinks.has(path.slice(0, at))) throw refuse(`lies below the symlink '${top}/${path.slice(0, at)}'`);
    }
    if (type === 'Directory') return undefined;
    if (type === 'SymbolicLink') {
      symlinks.add(path);
      return { path, symlink: entry.linkpath ?? '' };
    }
    return { path };
  };
}

/**
 * The tar bytes of a body: gunzipped when it is gzip (GitHub's `legacy.tar.gz`), as is otherwise.
 * Gunzipping here rather than inside node-tar keeps backpressure (node-tar inflates each written
 * chunk whole) and avoids node-tar's 1000:1 ratio guard, which aborts on a legitimate file of
 * zeros; what is kept is bounded by the wanted sizes and verified anyway.
 */
async function* tarChunks(body: Readable): AsyncGenerator<Buffer, void, undefined> {
  const slack = new PassThrough({ highWaterMark: SLACK_BYTES });
  pipeline(body, slack, () => undefined);
  const source = slack[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head = Buffer.alloc(0);
  let done = false;
  while (head.length < 2 && !done) {
    const next = await source.next();
    if (next.done === true) done = true;
    else head = Buffer.concat([head, next.value]);
  }
  async function* replay(): AsyncGenerator<Buffer, void, undefined> {
    try {
      if (head.length > 0) yield head;
      while (!done) {
        const next = await source.next();
        if (next.done === true) return;
        yield next.value;
      }
    } finally {
      await source.return?.();
    }
  }
  if (head[0] !== 0x1f || head[1] !== 0x8b) {
    yield* replay();
    return;
  }
  const gunzip = createGunzip();
  pipeline(Readable.from(replay(), { objectMode: false }), gunzip, () => undefined);
  for await (const chunk of gunzip) yield chunk as Buffer;
}

/** A damaged archive (zlib or tar framing): worth downloading again, unlike a SHA mismatch. */
function isDamagedArchive(error: unknown): boolean {
  const code = rootCode(error);
  return code !== undefined && (code.startsWith('Z_') || code.startsWith('TAR_'));
}

function finalError(error: unknown, commit: string, url: string | undefined, signal: AbortSignal | undefined): unknown {
  if (error instanceof HostsyncError || signal?.aborted === true) return error;
  if (isDamagedArchive(error)) {
    return new TarballIntegrityError(
      `The tarball of ${commit} from ${url ?? 'GitHub'} is damaged (${rootCode(error) ?? 'format'}: ${errorMessage(error)}) on every attempt; nothing from the damaged part was stored and nothing was applied. Try again later, or use the blobs or clone strategy.`,
      commit,
      'a damaged archive',
    );
  }
  if (url !== undefined) return networkError(error, url);
  return new HostsyncError(`Downloading the tarball of ${commit} failed: ${rootCode(error) ?? errorMessage(error)}.`, 1, { cause: error });
}

function withoutQuery(url: string): string {
  // A private repository's codeload URL carries a short-lived token in its query: never show it.
  try {
    const parsed = new URL(url);
    parsed.search = '';
    return parsed.href;
  } catch {
    return url.replace(/\?.*$/, '');
  }
}
