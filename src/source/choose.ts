/**
 * The one place a run's source is chosen. A repository given as a git URL (any smart-HTTP host, or
 * SSH) is read by the wire protocol alone, with no REST API (src/source/git-host.ts). On GitHub
 * (OWNER/NAME), by `transport`:
 *   auto (default)  git's wire protocol (src/source/wire.ts) with the REST API for the ref poll, and
 *                   the REST API for everything when the server does not speak the protocol to us
 *   rest            the REST API alone; a spent quota moves the run to the git CLI when installed
 *   git             the wire protocol alone: no API request at all (the ref by ls-refs)
 */
import type { Config } from '../config/types.js';
import { RateLimitError } from '../github/errors.js';
import type { GitHubClient } from '../github/types.js';
import type { RetryPolicy } from '../github/retry.js';
import type { Logger, WorkProgress } from '../model.js';
import type { LowSpeed } from '../net/low-speed.js';
import { netSettingsOf } from '../net/settings.js';
import { gitHeaders, openGitHostSource } from './git-host.js';
import { createRestSource } from './rest.js';
import type { CapabilityMemo } from '../state/capabilities.js';
import type { KnownRef, RemoteSource, ResolvedCommit } from './types.js';
import { createWireSource, describeWireFailure, type HostObjects } from './wire.js';

export interface SourceDeps {
  /** A client whose requests carry the run's transfer signal. */
  readonly createClient: (config: Config) => GitHubClient;
  readonly log: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly now: () => number;
  readonly signal?: AbortSignal | undefined;
  /** What the host holds (delta bases of the wire protocol). */
  readonly host?: (() => HostObjects) | undefined;
  /** The user agent of git requests. */
  readonly userAgent?: string | undefined;
  /** Retries and back-off of git requests. */
  readonly retry?: RetryPolicy | undefined;
  /** Progress of a pack fetched while reading the tree (the wire source). */
  readonly onProgress?: ((progress: WorkProgress) => void) | undefined;
  /** The git server's advertisement remembered from an earlier run, and where to hand a new one. */
  readonly capabilities?: CapabilityMemo | undefined;
}

/** The repository's smart-HTTP URL on GitHub. */
export function gitUrlOf(config: Pick<Config, 'serverUrl' | 'repoOwner' | 'repoName'>): string {
  return `${config.serverUrl.replace(/\/+$/, '')}/${config.repoOwner}/${config.repoName}.git`;
}

/** The URL a run's wire source talks to: the configured git URL, else the repository's on GitHub. */
export function wireUrlOf(config: Config): string {
  return config.gitUrl ?? gitUrlOf(config);
}

/** The source a run starts with. */
export function openSource(config: Config, deps: SourceDeps): RemoteSource {
  if (config.gitUrl !== undefined) return openGitHostSource(config, config.gitUrl, deps);
  if (config.transport === 'rest' || deps.host === undefined) return createRestSource({ config, client: deps.createClient(config), env: deps.env, signal: deps.signal });
  const rest = config.transport === 'auto' ? createRestSource({ config, client: deps.createClient(config), env: deps.env, signal: deps.signal }) : undefined;
  const wire = createWireSource({
    config,
    url: gitUrlOf(config),
    headers: gitHeaders(config.token?.value, deps.userAgent ?? 'hostsync'),
    net: netSettingsOf(config),
    timeouts: { timeoutMs: config.timeoutSec * 1000, stallMs: config.stallSec * 1000 },
    rest,
    refsOverGit: config.transport === 'git',
    host: deps.host,
    lowSpeed: { limit: config.lowSpeedLimit, windowMs: config.lowSpeedTimeSec * 1000 } satisfies LowSpeed,
    log: deps.log,
    signal: deps.signal,
    env: deps.env,
    gitAvailable: async () => (await import('../transfer/clone.js')).isGitAvailable('git', undefined, deps.env),
    retry: deps.retry,
    onProgress: deps.onProgress,
    capabilities: deps.capabilities,
  });
  return rest === undefined ? wire : withRestFallback(wire, rest, deps.log);
}

/**
 * The wire source, falling back to the REST API for the rest of the run when the server does not
 * speak git's protocol v2 to us (one line says why); anything else fails as it is.
 */
function withRestFallback(wire: RemoteSource, rest: RemoteSource, log: Logger): RemoteSource {
  let current = wire;
  let reason = '';
  return {
    get name() {
      return current.name;
    },
    get reason() {
      return reason;
    },
    stats: wire.stats,
    resolveRef: (ref, known) => wire.resolveRef(ref, known),
    ...(wire.resolveFirst === undefined ? {} : { resolveFirst: wire.resolveFirst }),
    async readTree(commit, options) {
      try {
        return await wire.readTree(commit, options);
      } catch (error) {
        const why = describeWireFailure(error);
        if (why === undefined) throw error;
        reason = `git's wire protocol did not serve this run (${why.replace(/\.$/, '')}); used the REST API`;
        log('warn', `${why} Using GitHub's REST API for this run instead.`);
        current = rest;
        return rest.readTree(commit, options);
      }
    },
    checkTrust: (commit, previous) => current.checkTrust(commit, previous),
    // From the source that read the tree: its entries and this object belong together.
    commitObject: (commit) => current.commitObject(commit),
    chooseTransfer: (needs) => current.chooseTransfer(needs),
    // Asked before readTree, when the wire source is the one that will read it.
    describeRead: (commit, previous) => current.describeRead?.(commit, previous) ?? '',
    createStrategy: (name, commit) => current.createStrategy(name, commit),
    close: () => wire.close(),
  };
}

/**
 * Resolve the ref with `source`; on a spent API quota (a reset retry.ts did not wait out) with the
 * REST source, move to the git CLI when it is installed. Returns the source that resolved it: the
 * rest of the run uses that one. (The wire source resolves over git by itself.)
 */
export async function resolveWithFallback(config: Config, source: RemoteSource, known: KnownRef | undefined, deps: SourceDeps): Promise<{ source: RemoteSource; resolved: ResolvedCommit }> {
  try {
    return { source, resolved: await source.resolveRef(config.ref, known) };
  } catch (error) {
    if (!(error instanceof RateLimitError) || source.name !== 'rest') throw error;
    const { isGitAvailable } = await import('../transfer/clone.js');
    if (!(await isGitAvailable('git', undefined, deps.env))) throw error;
    const { createGitCliSource } = await import('./git-cli.js');
    const git = await createGitCliSource({ config, log: deps.log, env: deps.env, rateLimit: error, stats: source.stats, now: deps.now, signal: deps.signal });
    await source.close();
    return { source: git, resolved: await git.resolveRef(config.ref, undefined) };
  }
}

