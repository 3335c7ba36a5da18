/**
 * `createGitSource`: everything a sync needs from GitHub, over git smart HTTP alone — for runs whose
 * REST quota is spent (git traffic is not rate-limited). The ref is resolved with `git ls-remote`,
 * the commit is fetched once (`--depth 1`) into a throwaway repository under the state dir, its
 * tree is listed with `git ls-tree`, and its blobs are streamed from that same repository into the
 * verifying object store. git checks every object's hash while indexing the pack; the store checks
 * each blob's bytes again against the tree's SHA.
 *
 * Every git call goes through the session of clone.ts: allow-listed environment, the token only as
 * an `http.extraHeader` in `GIT_CONFIG_*` variables of the calls that reach the network, no hooks,
 * prompts, helpers or redirects, secrets redacted from messages.
 */
import { HostsyncError, UsageError, UnknownRefError } from '../errors.js';
import type { GitTreeEntry } from '../github/types.js';
import type { GitMode, WantedBlob } from '../model.js';
import { FULL_SHA, missingBlobs, openGitSession, remoteUrl, type GitProcess, type GitRemoteOptions, type GitSession } from './clone.js';
import type { TransferContext, TransferResult, TransferStrategy } from './types.js';

/** Options of {@link createGitSource}: the clone strategy's, without a commit. */
export type GitSourceOptions = GitRemoteOptions;

/** A repository read over git alone. Call `close` when done: it deletes the throwaway repository. */
export interface GitSource {
  /**
   * The commit `ref` names on the server, by `git ls-remote`: `HEAD` (the default branch), a
   * branch, a tag (annotated tags peeled to their commit) or a full ref. A full 40-hex SHA is
   * returned as is; an abbreviated one cannot be expanded without the API and is refused.
   */
  resolveRef(ref: string, signal?: AbortSignal): Promise<string>;
  /**
   * The commit's whole tree, recursively and with repository-root-relative paths, as GitHub's
   * recursive tree lists it (`path`, `mode`, `type`, `sha`, `size` for blobs). Fetches the commit
   * once; later calls and {@link strategy} reuse that fetch.
   */
  readTree(commit: string, signal?: AbortSignal): Promise<GitTreeEntry[]>;
  /** The raw commit object (`git cat-file commit`) from the same fetch: what its signature covers. */
  commitObject(commit: string, signal?: AbortSignal): Promise<Buffer>;
  /** A transfer strategy (reported as `clone`) reading blobs of `commit` from the same fetch. */
  strategy(commit: string): TransferStrategy;
  close(): Promise<void>;
}

const TREE_MODES: ReadonlySet<string> = new Set<GitMode>(['100644', '100755', '120000', '160000', '040000']);
const TREE_TYPES: ReadonlySet<string> = new Set<GitTreeEntry['type']>(['blob', 'tree', 'commit']);
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Create a git-only source for one repository. Nothing runs until a method is called. */
export function createGitSource(options: GitSourceOptions): GitSource {
  const remote = remoteUrl(options);
  const repo = `${options.owner}/${options.repo}`;
  const commitWhat = (commit: string): string => `commit ${commit} of ${repo} from ${remote}`;
  let session: Promise<GitSession> | undefined;
  const fetches = new Map<string, Promise<void>>();

  const open = (signal: AbortSignal | undefined): Promise<GitSession> => {
    if (session !== undefined) return session;
    const opening = openGitSession(options, `${repo} from ${remote}`, signal);
    session = opening;
    // A failed open (git missing, disk full) may be retried by the next call.
    opening.catch(() => {
      if (session === opening) session = undefined;
    });
    return opening;
  };

  /** Fetch `commit` into the repository unless this source already did. */
  const fetchOnce = (commit: string, signal: AbortSignal | undefined): Promise<void> => {
    if (!FULL_SHA.test(commit)) throw new Error(`Expected \`commit\` to be a full lowercase SHA, got '${commit}'.`);
    let fetched = fetches.get(commit);
    if (fetched === undefined) {
      fetched = open(signal).then((git) => git.fetchCommit(commit, commitWhat(commit), signal));
      fetched.catch(() => fetches.delete(commit));
      fetches.set(commit, fetched);
    }
    return fetched;
  };

  return {
    async resolveRef(ref, signal) {
      if (/^[0-9a-f]{40}$/i.test(ref)) return ref.toLowerCase();
      // The config already checked the name; this guards the argv and the line format of ls-remote.
      if (ref === '' || ref.startsWith('-') || /[\u0000-\u0020\u007f]/.test(ref)) {
        throw new UsageError(`Invalid ref ${JSON.stringify(ref)}: git ref names cannot be empty, start with '-' or contain spaces or control characters. Use a branch, tag or full commit SHA.`);
      }
      const candidates = refCandidates(ref);
      const git = await open(signal);
      const patterns = candidates.flatMap((name) => (name === 'HEAD' ? [name] : [name, `${name}^{}`]));
      const { stdout } = await git.run('ls-remote', ['ls-remote', '--', remote, ...patterns], `ref '${ref}' of ${repo} from ${remote}`, { network: true, signal });
      const advertised = parseLsRemote(stdout);
      for (const name of candidates) {
        const sha = advertised.get(`${name}^{}`) ?? advertised.get(name);
        if (sha !== undefined) return sha;
      }
      throw unknownRef(ref, repo, remote);
    },

    async readTree(commit, signal) {
      await fetchOnce(commit, signal);
      const git = await open(signal);
      const { stdout } = await git.run('cat-file', ['cat-file', '-t', commit], commitWhat(commit), { signal });
      if (stdout.trim() !== 'commit') {
        throw new HostsyncError(`${repo}: ${commit} is a ${stdout.trim() || 'missing object'}, not a commit, on ${remote}. Point the ref at a commit.`);
      }
      return listTree(git, commit, commitWhat(commit), signal);
    },

    async commitObject(commit, signal) {
      await fetchOnce(commit, signal);
      const git = await open(signal);
      return readAll(git.spawn(['cat-file', 'commit', commit]), signal, `git cat-file of ${commitWhat(commit)}`, git.redact);
    },

    strategy(commit) {
      return {
        name: 'clone',
        async fetch(wanted: readonly WantedBlob[], context: TransferContext): Promise<TransferResult> {
          const batch = await missingBlobs(wanted, context.store);
          if (batch.shas.length === 0) return { bytes: 0, blobs: 0 };
          if (!fetches.has(commit)) context.log?.('info', `Fetching ${commitWhat(commit)} with git (depth 1).`);
          await fetchOnce(commit, context.signal);
          return (await open(context.signal)).storeBlobs(batch, context, commitWhat(commit));
        },
      };
    },

    async close() {
      const opened = session;
      session = undefined;
      fetches.clear();
      await (await opened?.catch(() => undefined))?.close();
    },
  };
}

/**
 * The refs `ref` may name, in git's precedence (`git rev-parse`'s rules, which GitHub's commits API
 * follows): a full ref as given, then `refs/<ref>`, `refs/tags/<ref>`, `refs/heads/<ref>`.
 * https://git-scm.com/docs/gitrevisions#Documentation/gitrevisions.txt-emltrefnamegtemegemmasterememheadsmasterememrefsheadsmasterem
 */
export function refCandidates(ref: string): string[] {
  if (ref === 'HEAD') return ['HEAD'];
  return [...(ref.startsWith('refs/') ? [ref] : []), `refs/${ref}`, `refs/tags/${ref}`, `refs/heads/${ref}`];
}

/** `<sha>\t<name>` lines of `git ls-remote` as a map from name to SHA (peeled tags keep their `^{}`). */
export function parseLsRemote(output: string): Map<string, string> {
  const refs = new Map<string, string>();
  for (const line of output.split('\n')) {
    const match = /^([0-9a-f]{40})\t(\S+)$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) refs.set(match[2], match[1]);
  }
  return refs;
}

function unknownRef(ref: string, repo: string, remote: string): HostsyncError {
  if (ref === 'HEAD') return new HostsyncError(`${repo} has no default branch at ${remote} (git ls-remote lists no HEAD): the repository is empty, or not visible to this token.`);
  if (/^[0-9a-f]{4,39}$/i.test(ref)) {
    return new HostsyncError(
      `Ref '${ref}' of ${repo} is no branch or tag at ${remote}, and git cannot expand an abbreviated commit SHA (only GitHub's API can). Give the full 40-character SHA, or wait for the API rate limit to reset.`,
    );
  }
  return new UnknownRefError(`Unknown ref '${ref}' in ${repo}: git ls-remote at ${remote} lists no branch or tag by that name. Check the ref (case matters).`);
}

/** Parse one NUL-terminated record of `git ls-tree -l -z`: `<mode> <type> <sha> <size>\t<path>`. */
export function parseTreeRecord(record: Buffer): GitTreeEntry {
  const tab = record.indexOf(0x09);
  const head = (tab === -1 ? record : record.subarray(0, tab)).toString('latin1');
  const [mode = '', type = '', sha = '', size = '', extra] = head.trim().split(/ +/);
  if (tab === -1 || extra !== undefined || !TREE_MODES.has(mode) || !TREE_TYPES.has(type) || !FULL_SHA.test(sha) || !/^(\d+|-)$/.test(size)) {
    throw new HostsyncError(`git ls-tree printed an unexpected record '${head.slice(0, 120)}'; refusing the tree.`);
  }
  let path: string;
  try {
    path = UTF8.decode(record.subarray(tab + 1));
  } catch {
    throw new HostsyncError(`Tree entry ${JSON.stringify(record.subarray(tab + 1).toString('latin1'))} (${sha}) has a name that is not valid UTF-8; hostsync cannot place it byte-exactly. Rename it in the repository.`);
  }
  const entry = { path, mode: mode as GitMode, type: type as GitTreeEntry['type'], sha };
  return size === '-' ? entry : { ...entry, size: Number(size) };
}

/** `git ls-tree -r -t -l --full-tree -z <commit>`, parsed as it streams (trees can be large). */
async function listTree(git: GitSession, commit: string, what: string, signal: AbortSignal | undefined): Promise<GitTreeEntry[]> {
  const child = git.spawn(['ls-tree', '-r', '-t', '-l', '--full-tree', '-z', commit]);
  const entries: GitTreeEntry[] = [];
  const { code, stderr } = await readRecords(child, signal, (record) => entries.push(parseTreeRecord(record)));
  if (code !== 0) throw new HostsyncError(`git ls-tree of ${what} failed (exit ${String(code)}): ${git.redact(stderr.trim()).split('\n').slice(-3).join(' / ') || 'no message'}.`);
  return entries;
}

/**
 * What both readers below share: the child's stdin closed, the last 64 KiB of its stderr kept, the child
 * killed when `signal` aborts (and when `kill` is called), and `settled` to call once it has exited.
 */
function attach(child: GitProcess, signal: AbortSignal | undefined): { readonly stderr: () => string; readonly kill: () => void; readonly settled: () => void } {
  let stderr = '';
  const kill = (): void => {
    child.kill();
  };
  signal?.addEventListener('abort', kill, { once: true });
  child.stdin.on('error', () => undefined);
  child.stdin.end();
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-65_536)));
  return { stderr: () => stderr, kill, settled: () => signal?.removeEventListener('abort', kill) };
}

/** A child's whole stdout as bytes (small outputs: a commit object); throws naming `what` unless it exits 0. */
function readAll(child: GitProcess, signal: AbortSignal | undefined, what: string, redact: (text: string) => string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const io = attach(child, signal);
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', (error) => {
      io.settled();
      reject(error);
    });
    child.on('close', (code) => {
      io.settled();
      if (code === 0) resolve(Buffer.concat(chunks));
      else reject(new HostsyncError(`${what} failed (exit ${String(code)}): ${redact(io.stderr().trim()).split('\n').slice(-3).join(' / ') || 'no message'}.`));
    });
  });
}

/** Hand every NUL-terminated record of a child's stdout to `onRecord`; resolves with its exit. */
function readRecords(child: GitProcess, signal: AbortSignal | undefined, onRecord: (record: Buffer) => void): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    let rest = Buffer.alloc(0);
    let failed: unknown;
    const io = attach(child, signal);
    child.stdout.on('data', (chunk: Buffer) => {
      if (failed !== undefined) return;
      let data = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
      try {
        for (let nul = data.indexOf(0); nul !== -1; nul = data.indexOf(0)) {
          onRecord(data.subarray(0, nul));
          data = data.subarray(nul + 1);
        }
      } catch (error) {
        failed = error;
        io.kill();
      }
      rest = Buffer.from(data);
    });
    child.on('error', (error) => {
      io.settled();
      reject(error);
    });
    child.on('close', (code) => {
      io.settled();
      if (failed !== undefined) reject(failed);
      else if (code === 0 && rest.length > 0) reject(new HostsyncError(`git ls-tree output ended inside a record; refusing the tree.`));
      else resolve({ code, stderr: io.stderr() });
    });
  });
}
