/**
 * The one place a run's source is chosen: the REST API unless the configuration or the server
 * says otherwise — a spent quota moves the run to git (no API requests) when git is installed.
 */
import type { Config } from '../config/types.js';
import { RateLimitError } from '../github/errors.js';
import type { GitHubClient } from '../github/types.js';
import type { Logger } from '../model.js';
import { createRestSource } from './rest.js';
import type { KnownRef, RemoteSource, ResolvedCommit } from './types.js';

export interface SourceDeps {
  /** A client whose requests carry the run's transfer signal. */
  readonly createClient: (config: Config) => GitHubClient;
  readonly log: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly now: () => number;
  readonly signal?: AbortSignal | undefined;
}

/** The source a run starts with. */
export function openSource(config: Config, deps: SourceDeps): RemoteSource {
  return createRestSource({ config, client: deps.createClient(config), env: deps.env, signal: deps.signal });
}

/**
 * Resolve the ref with `source`; on a spent API quota (a reset retry.ts did not wait out), move to
 * git when it is installed. Returns the source that resolved it: the rest of the run uses that one.
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
