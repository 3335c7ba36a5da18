/**
 * The `clone` strategy: `git fetch --depth 1` of the one commit into a throwaway bare repository
 * under the state dir, then every wanted blob streamed out of one `git cat-file --batch` into the
 * verifying object store. It needs no REST quota and is immune to .gitattributes export rules.
 *
 * The token never reaches argv, the remote URL or a file: git gets it as an `http.extraHeader`
 * through `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n` (git ≥ 2.31) in its
 * environment, which is otherwise rebuilt from an allow-list (no inherited GIT_DIR, no user or
 * system config, no credential helpers, no prompts, no hooks, no redirects). The run's proxy
 * decision (src/net/proxy-rules.ts, curl's NO_PROXY rules) reaches git the same way, as
 * `http.proxy`, and `caFile` as GIT_SSL_CAINFO pointing at Node's roots plus that file.
 * https://git-scm.com/docs/git-config#Documentation/git-config.txt-GITCONFIGCOUNT
 *
 * `openGitSession` holds that machinery (throwaway repository, safe runner, fetch, cat-file into the
 * store); the git-only source of a quota-less run (git-source.ts) uses it too.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { errorMessage, HostsyncError } from '../errors.js';
import { createRedactor } from '../redact.js';
import { caBundle } from '../net/ca.js';
import { proxyFor, proxyPassword } from '../net/proxy-rules.js';
import type { NetSettings } from '../net/settings.js';
import { processTag } from '../state/owner-process.js';
import type { WantedBlob } from '../model.js';
import type { ObjectStore } from '../state/objects.js';
import type { TransferContext, TransferResult, TransferStrategy } from './types.js';

/** A spawned git with piped stdio. */
export type GitProcess = ChildProcessByStdio<Writable, Readable, Readable>;

/** Where and with what environment git runs. */
export interface GitSpawnOptions {
  readonly cwd: string;
  /** The complete environment of the child (nothing else is inherited). */
  readonly env: Readonly<Record<string, string>>;
}

/** How git is started; tests pass one that records the calls. */
export type SpawnGit = (git: string, args: readonly string[], options: GitSpawnOptions) => GitProcess;

/** Start git with node's `spawn`, piped stdio, exactly the given environment. */
export const spawnGit: SpawnGit = (git, args, options) =>
  spawn(git, [...args], { cwd: options.cwd, env: { ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });

/** Options of {@link createCloneStrategy}. */
export interface CloneStrategyOptions {
  /** Web/git root, like https://github.com (no trailing slash needed). */
  readonly serverUrl: string;
  readonly owner: string;
  readonly repo: string;
  /** Sent only as an `http.extraHeader` in git's environment; undefined for a public repository. */
  readonly token: string | undefined;
  /** Named in messages instead of the token, e.g. `GITHUB_TOKEN`. */
  readonly tokenSource?: string | undefined;
  /** The full SHA fetched (GitHub allows fetching any reachable SHA). */
  readonly commit: string;
  /** Where the throwaway repository is made (under the state dir); created if missing. */
  readonly tmpDir: string;
  /** The git binary. @default 'git' */
  readonly git?: string | undefined;
  /** Starts git. @default {@link spawnGit} */
  readonly exec?: SpawnGit | undefined;
  /** Where git's allow-listed variables (PATH, proxies, CA bundles) come from: the process environment, read by src/config. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Seconds a fetch may move under `lowSpeedLimit` before git gives up. @default 60 */
  readonly stallSec?: number | undefined;
  /** git's http.lowSpeedLimit in bytes/s. @default 1024 */
  readonly lowSpeedLimit?: number | undefined;
  /** Proxy and CA file (the run's own decision; git inherits no proxy variable). @default direct */
  readonly net?: NetSettings | undefined;
}

/**
 * Variables git may inherit: finding binaries and trusting its CA. Not the proxy variables: src/config
 * read them into the run's proxy settings, and git gets the decision for its one URL as http.proxy.
 */
const INHERITED = [
  'PATH', 'TMPDIR', 'SYSTEMROOT',
  'SSL_CERT_FILE', 'SSL_CERT_DIR', 'NIX_SSL_CERT_FILE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'GIT_SSL_CAPATH',
];

/** Settings for every git call: no hooks, helpers, prompts, redirects, maintenance or submodules. */
const SAFE_CONFIG = [
  'protocol.version=2',
  'core.hooksPath=/dev/null',
  'core.fsmonitor=false',
  'core.askPass=',
  'credential.helper=',
  'http.followRedirects=false',
  'fetch.recurseSubmodules=false',
  'maintenance.auto=false',
  'gc.auto=0',
];

/** The lowest git that reads GIT_CONFIG_COUNT; older ones would silently fetch without the token. */
const MIN_GIT = [2, 31] as const;

/** Whether `git` runs and is new enough (≥ 2.31) for this strategy. Never throws. */
export async function isGitAvailable(git: string, exec: SpawnGit = spawnGit, env: Readonly<Record<string, string | undefined>>): Promise<boolean> {
  try {
    const { code, stdout } = await run(exec, git, ['--version'], { cwd: '/', env: baseEnv(env, '/') }, undefined, 10_000);
    const match = /^git version (\d+)\.(\d+)/.exec(stdout);
    if (code !== 0 || !match) return false;
    const [major, minor] = [Number(match[1]), Number(match[2])];
    return major > MIN_GIT[0] || (major === MIN_GIT[0] && minor >= MIN_GIT[1]);
  } catch {
    return false;
  }
}

/** Create the clone strategy for one commit of one repository. */
export function createCloneStrategy(options: CloneStrategyOptions): TransferStrategy {
  const { commit } = options;
  if (!FULL_SHA.test(commit)) throw new Error(`Expected \`commit\` to be a full SHA, got '${commit}'.`);
  const what = `commit ${commit} of ${options.owner}/${options.repo} from ${remoteUrl(options)}`;

  return {
    name: 'clone',
    async fetch(wanted: readonly WantedBlob[], context: TransferContext): Promise<TransferResult> {
      const batch = await missingBlobs(wanted, context.store);
      if (batch.shas.length === 0) return { bytes: 0, blobs: 0 };
      const session = await openGitSession(options, what, context.signal);
      try {
        context.log?.('info', `Fetching ${what} with git (depth 1).`);
        await session.fetchCommit(commit, what, context.signal);
        return await session.storeBlobs(batch, context, what);
      } finally {
        await session.close();
      }
    },
  };
}

/** A full lowercase commit SHA. */
export const FULL_SHA = /^[0-9a-f]{40}$/;

/** Options of {@link openGitSession}: those of the clone strategy without the commit. */
export type GitRemoteOptions = Omit<CloneStrategyOptions, 'commit'>;

/** `{serverUrl}/{owner}/{repo}.git`, the smart HTTP address of the repository. */
export function remoteUrl(options: Pick<GitRemoteOptions, 'serverUrl' | 'owner' | 'repo'>): string {
  return `${options.serverUrl.replace(/\/+$/, '')}/${encodeURIComponent(options.owner)}/${encodeURIComponent(options.repo)}.git`;
}

/** Blobs of a wanted list that the store lacks: each SHA once, with a size and one path for messages. */
export interface BlobBatch {
  readonly shas: readonly string[];
  readonly sizeOf: ReadonlyMap<string, number | undefined>;
  readonly pathOf: ReadonlyMap<string, string>;
}

/** Which of `wanted` are missing from the store (checked before any git runs). */
export async function missingBlobs(wanted: readonly WantedBlob[], store: ObjectStore): Promise<BlobBatch> {
  const sizeOf = new Map<string, number | undefined>();
  const pathOf = new Map<string, string>();
  for (const blob of wanted) {
    if (!pathOf.has(blob.sha)) pathOf.set(blob.sha, blob.path);
    if (sizeOf.get(blob.sha) === undefined) sizeOf.set(blob.sha, blob.size);
  }
  const shas: string[] = [];
  for (const sha of sizeOf.keys()) if (!(await store.has(sha))) shas.push(sha);
  return { shas, sizeOf, pathOf };
}

/**
 * A throwaway bare repository under `tmpDir` for one remote, with every git call made the safe
 * way: allow-listed environment, {@link SAFE_CONFIG}, the token only in the environment of the
 * calls that reach the network, secrets redacted from messages. `close` deletes it.
 */
export interface GitSession {
  /** The smart HTTP address of the repository. */
  readonly remote: string;
  /**
   * Run `git <args>` in the repository to completion; throws a HostsyncError naming `what` unless
   * it exits 0. `network` adds the token and the stall limit. Keeps the last 64 KiB of output.
   */
  run(step: string, args: readonly string[], what: string, options?: { readonly network?: boolean; readonly signal?: AbortSignal | undefined }): Promise<GitRunResult>;
  /** Start `git <args>` in the repository (no network, no token) for output read as a stream. */
  spawn(args: readonly string[]): GitProcess;
  /** `git fetch --depth 1` of exactly one commit (GitHub serves any reachable SHA). */
  fetchCommit(commit: string, what: string, signal: AbortSignal | undefined): Promise<void>;
  /** Stream the batch's blobs out of one `git cat-file --batch` into the verifying store. */
  storeBlobs(batch: BlobBatch, context: TransferContext, what: string): Promise<TransferResult>;
  /** Replace the token and its encoded forms with `***`. */
  redact(text: string): string;
  /** Delete the repository. */
  close(): Promise<void>;
}

/** What a finished git call printed. */
export interface GitRunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Make the throwaway repository (`git init --bare`); `what` names the work in messages. */
export async function openGitSession(options: GitRemoteOptions, what: string, signal?: AbortSignal): Promise<GitSession> {
  const { token } = options;
  const git = options.git ?? 'git';
  const exec = options.exec ?? spawnGit;
  const remote = remoteUrl(options);
  const redact = createRedactor([token]);
  await mkdir(options.tmpDir, { recursive: true, mode: 0o700 });
  // Named after this process, so the next run can sweep it if this one is killed (apply/destination.ts).
  const dir = await mkdtemp(join(options.tmpDir, `clone-${processTag()}-`));
  const env = baseEnv(options.env, dir);
  if (options.net?.caFile !== undefined) {
    // git's sslCAInfo replaces the default roots: hand it both, as undici gets them.
    const bundle = join(dir, 'ca-bundle.pem');
    await writeFile(bundle, `${caBundle(options.net.caFile).join('\n')}\n`, { mode: 0o600 });
    env['GIT_SSL_CAINFO'] = bundle;
  }
  const proxy = proxyFor(remote, options.net?.proxy);
  const auth = gitConfigEnv([
    ...(token === undefined || token === '' ? [] : [['http.extraHeader', `Authorization: Basic ${basicAuth(token)}`] as const]),
    ...(proxy === undefined ? [] : [['http.proxy', proxy] as const]),
  ]);
  redact.add(proxyPassword(proxy));
  const stall = ['-c', `http.lowSpeedLimit=${options.lowSpeedLimit ?? 1024}`, '-c', `http.lowSpeedTime=${options.stallSec ?? 60}`];
  const gitArgs = (args: readonly string[]): string[] => [...SAFE_CONFIG.flatMap((setting) => ['-c', setting]), `--git-dir=${dir}`, ...args];

  const session: GitSession = {
    remote,
    redact,
    async run(step, args, stepWhat, runOptions = {}) {
      const network = runOptions.network === true;
      const result = await run(exec, git, network ? [...stall, ...gitArgs(args)] : gitArgs(args), { cwd: dir, env: network ? { ...env, ...auth } : env }, runOptions.signal).catch((error: unknown) => {
        throw new HostsyncError(`Cannot run ${git} for ${stepWhat}: ${errorMessage(error)}. Install git 2.31 or newer, or choose another strategy.`, 1, { cause: error });
      });
      if (result.code !== 0) throw gitFailure(step, result.code, redact(result.stderr), stepWhat, options.tokenSource, token !== undefined);
      return result;
    },
    spawn: (args) => exec(git, gitArgs(args), { cwd: dir, env }),
    async fetchCommit(commit, fetchWhat, fetchSignal) {
      if (!FULL_SHA.test(commit)) throw new Error(`Expected \`commit\` to be a full SHA, got '${commit}'.`);
      await session.run('fetch', ['fetch', '--quiet', '--depth=1', '--no-tags', '--no-write-fetch-head', '--no-recurse-submodules', remote, commit], fetchWhat, { network: true, signal: fetchSignal });
    },
    async storeBlobs(batch, context, storeWhat) {
      const progress = { doneBlobs: 0, totalBlobs: batch.shas.length, doneBytes: 0, totalBytes: batch.shas.reduce((sum, sha) => sum + (batch.sizeOf.get(sha) ?? 0), 0) };
      const child = session.spawn(['cat-file', '--batch']);
      await readBatch(child, batch.shas, context, async (sha, size, content) => {
        const written = await context.store.put(sha, size, content, `git object ${sha} (${batch.pathOf.get(sha) ?? sha}) of ${storeWhat}`);
        progress.doneBlobs++;
        progress.doneBytes += written;
        context.onProgress?.({ ...progress });
      }).catch((error: unknown) => {
        throw error instanceof HostsyncError ? error : new HostsyncError(`Reading blobs of ${storeWhat} with git cat-file failed: ${redact(errorMessage(error))}.`, 1, { cause: error });
      });
      return { bytes: progress.doneBytes, blobs: progress.doneBlobs };
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
  try {
    await session.run('init', ['init', '--bare', '--quiet', '--template='], what, { signal });
  } catch (error) {
    await session.close();
    throw error;
  }
  return session;
}

/** `GIT_CONFIG_COUNT`/`KEY_n`/`VALUE_n` for `settings`: in the environment, never in argv. */
function gitConfigEnv(settings: readonly (readonly [string, string])[]): Record<string, string> {
  if (settings.length === 0) return {};
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(settings.length) };
  settings.forEach(([key, value], n) => {
    env[`GIT_CONFIG_KEY_${n}`] = key;
    env[`GIT_CONFIG_VALUE_${n}`] = value;
  });
  return env;
}

function basicAuth(token: string): string {
  return Buffer.from(`x-access-token:${token}`, 'utf8').toString('base64');
}

/** The child's whole environment: allow-listed variables plus settings that make git hermetic. */
function baseEnv(from: Readonly<Record<string, string | undefined>>, home: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED) {
    const value = from[name];
    if (value !== undefined) env[name] = value;
  }
  return {
    ...env,
    HOME: home,
    LANG: 'C',
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_NO_REPLACE_OBJECTS: '1',
  };
}

function gitFailure(step: string, code: number | null, stderr: string, what: string, tokenSource: string | undefined, hasToken: boolean): HostsyncError {
  const detail = stderr.trim().split('\n').slice(-5).join(' / ');
  let hint = 'Check the server URL, the network and the commit.';
  if (/could not read Username|Authentication failed|401|403|terminal prompts disabled/i.test(stderr)) {
    hint = hasToken
      ? `The server refused the token from ${tokenSource ?? 'the configuration'}: it is wrong, expired or lacks contents: read on this repository.`
      : 'The repository needs a token (GITHUB_TOKEN or --token-file).';
  } else if (/not our ref|upload-pack: not our|couldn't find remote ref|no such remote ref/i.test(stderr)) {
    hint = 'The server does not have that commit (or refuses fetching it by SHA).';
  }
  return new HostsyncError(`git ${step} of ${what} failed (exit ${String(code)}): ${detail || 'no message'}. ${hint}`);
}

/** Run git to completion, keeping the last 64 KiB of stdout and stderr; kills it on abort or timeout. */
function run(exec: SpawnGit, git: string, args: readonly string[], options: GitSpawnOptions, signal: AbortSignal | undefined, timeoutMs?: number): Promise<GitRunResult> {
  return new Promise((resolve, reject) => {
    const child = exec(git, args, options);
    let stdout = '';
    let stderr = '';
    const keep = (text: string): string => (text.length > 65_536 ? text.slice(-65_536) : text);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout = keep(stdout + chunk)));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = keep(stderr + chunk)));
    child.stdin.on('error', () => undefined);
    child.stdin.end();
    const kill = (): void => {
      child.kill();
    };
    signal?.addEventListener('abort', kill, { once: true });
    const timer = timeoutMs === undefined ? undefined : setTimeout(kill, timeoutMs);
    child.on('error', (error) => {
      signal?.removeEventListener('abort', kill);
      if (timer) clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      signal?.removeEventListener('abort', kill);
      if (timer) clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Feed `shas` to a `git cat-file --batch` and hand each object's bytes, as a stream of exactly its
 * size, to `onBlob` before reading the next header: one object in flight, never one in memory.
 * Output format: `<sha> blob <size>\n<bytes>\n`, or `<sha> missing\n`.
 */
async function readBatch(
  child: GitProcess,
  shas: readonly string[],
  context: TransferContext,
  onBlob: (sha: string, size: number, content: Readable) => Promise<void>,
): Promise<void> {
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-65_536)));
  child.stdin.on('error', () => undefined);
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const spawnFailed = new Promise<never>((_resolve, reject) => child.on('error', reject));
  spawnFailed.catch(() => undefined);
  const kill = (): void => {
    child.kill();
  };
  context.signal?.addEventListener('abort', kill, { once: true });
  const reader = new ByteReader(child.stdout);
  try {
    child.stdin.end(`${shas.join('\n')}\n`);
    for (const sha of shas) {
      const header = await Promise.race([reader.line(), spawnFailed]);
      const match = header === undefined ? null : /^([0-9a-f]{40}) (\S+) (\d+)$/.exec(header);
      if (!match || match[1] !== sha || match[2] !== 'blob') {
        const said = header === undefined ? `nothing (${stderr.trim() || 'git ended'})` : `'${header.slice(0, 120)}'`;
        throw new HostsyncError(`git cat-file answered ${said} for blob ${sha}; the fetched commit does not hold it. Check that the tree and the commit agree.`);
      }
      const size = Number(match[3]);
      await onBlob(sha, size, Readable.from(reader.take(size), { objectMode: false }));
      if ((await reader.line()) !== '') throw new HostsyncError(`git cat-file output for ${sha} is malformed: no newline after ${size} bytes.`);
    }
  } finally {
    context.signal?.removeEventListener('abort', kill);
    if (child.exitCode === null) child.kill();
    await exited;
  }
}

/** Pull-based reads from a byte stream: lines (headers) and exact byte counts (bodies). */
class ByteReader {
  readonly #source: AsyncIterator<Buffer>;
  #buffer: Buffer = Buffer.alloc(0);
  #ended = false;

  constructor(stream: Readable) {
    this.#source = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  async #fill(): Promise<boolean> {
    if (this.#ended) return false;
    const next = await this.#source.next();
    if (next.done === true) {
      this.#ended = true;
      return false;
    }
    this.#buffer = this.#buffer.length === 0 ? next.value : Buffer.concat([this.#buffer, next.value]);
    return true;
  }

  /** The next line without its `\n`; undefined at the end. Headers are short: 4 KiB at most. */
  async line(): Promise<string | undefined> {
    for (;;) {
      const newline = this.#buffer.indexOf(0x0a);
      if (newline !== -1) {
        const text = this.#buffer.subarray(0, newline).toString('utf8');
        this.#buffer = this.#buffer.subarray(newline + 1);
        return text;
      }
      if (this.#buffer.length > 4096) throw new HostsyncError('git cat-file sent a header line over 4 KiB; refusing its output.');
      if (!(await this.#fill())) return this.#buffer.length === 0 ? undefined : this.#takeAll();
    }
  }

  /** Exactly `size` bytes, as they arrive; throws if the stream ends first. */
  async *take(size: number): AsyncGenerator<Buffer, void, undefined> {
    let left = size;
    while (left > 0) {
      if (this.#buffer.length === 0 && !(await this.#fill())) throw new HostsyncError(`git cat-file output ended ${left} bytes short of an object.`);
      const piece = this.#buffer.subarray(0, Math.min(left, this.#buffer.length));
      this.#buffer = this.#buffer.subarray(piece.length);
      left -= piece.length;
      yield piece;
    }
  }

  #takeAll(): string {
    const text = this.#buffer.toString('utf8');
    this.#buffer = Buffer.alloc(0);
    return text;
  }
}
