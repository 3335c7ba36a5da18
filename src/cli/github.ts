/** The one way commands build a GitHub client from their configuration. */
import type { LooseConfig } from '../config/types.js';
import { HostsyncError } from '../errors.js';
import { createGitHubClient } from '../github/client.js';
import type { RetryPolicy } from '../github/retry.js';
import type { GitHubClient } from '../github/types.js';
import type { CliIO, Timing } from './io.js';
import { createRunAuth, type RunAuth, type RunAuthSettings } from '../auth/run-auth.js';
import type { Output } from './output.js';
import { VERSION } from '../version.js';
import type { SyncDeps } from '../pipeline/sync.js';

type ClientSettings = Pick<LooseConfig, 'apiUrl' | 'token' | 'timeoutSec' | 'stallSec' | 'concurrency' | 'lowSpeedLimit' | 'lowSpeedTimeSec'> & Partial<Pick<LooseConfig, 'proxy' | 'caFile'>>;

/** The retry policy of a run: production back-off, or what the test harness asks for. */
export function retryPolicy(timing: Timing | undefined): RetryPolicy {
  if (timing === undefined) return {};
  return {
    ...(timing.retryMinMs !== undefined ? { minTimeoutMs: timing.retryMinMs } : {}),
    ...(timing.retryMaxMs !== undefined ? { maxTimeoutMs: timing.retryMaxMs } : {}),
    ...(timing.sleep !== undefined ? { sleep: timing.sleep } : {}),
  };
}

/**
 * What a sync (and dev-update's sync, and `diff`'s plan) needs from the command line: the output's log
 * and progress, the stop signal, retries, the credential's renewal, the GitHub client.
 */
export function syncDeps(io: Pick<CliIO, 'env' | 'signal' | 'timing'>, output: Output, auth: Pick<RunAuth, 'renew'>): SyncDeps {
  return {
    renewToken: (error) => auth.renew(error),
    log: output.log,
    env: io.env,
    signal: io.signal,
    retry: retryPolicy(io.timing),
    onProgress: output.progress.work,
    onPhase: output.progress.phase,
    createClient: (c, signal) => githubClient(c, c.repo, output, io.timing, signal),
    ...(io.timing?.now === undefined ? {} : { now: io.timing.now }),
  };
}

/**
 * The run's GitHub credential (src/auth/run-auth.ts): the configured token, or the installation token
 * of the configured GitHub App, minted or cached; registered with the run's redactor.
 */
export function runAuth(config: RunAuthSettings, io: Pick<CliIO, 'redact' | 'signal' | 'timing'>, output: Pick<Output, 'log'>): RunAuth {
  return createRunAuth(config, {
    redact: io.redact,
    log: output.log,
    retry: retryPolicy(io.timing),
    signal: io.signal,
    userAgent: `hostsync/${VERSION}`,
    ...(io.timing?.now !== undefined ? { now: io.timing.now } : {}),
    ...(io.timing?.sleep !== undefined ? { sleep: io.timing.sleep } : {}),
  });
}

/**
 * A GitHub client factory for downloads a validate fix needs (repository from the config or the
 * manifest); loads Octokit only when called. With `auth`, the client carries the run's token for that repository.
 */
export function clientFactory(config: ClientSettings, output: Pick<Output, 'log'>, timing?: Timing, auth?: RunAuth): (repo: string) => Promise<GitHubClient> {
  return async (repo) => githubClient(auth === undefined ? config : await auth.withToken(config, repo), repo, output, timing);
}

/** A client for `repo` (OWNER/NAME); retries are logged as warnings. Octokit and undici load on first use. */
export function githubClient(config: ClientSettings, repo: string, output: Pick<Output, 'log'>, timing?: Timing, signal?: AbortSignal): GitHubClient {
  if (/^[a-z][a-z0-9+.-]*:\/\/|^[^/]*:/i.test(repo)) {
    // A git URL has no REST API: only the wire protocol (src/source/git-host.ts) reads it.
    throw new HostsyncError(`${repo} is a git URL; downloading from it needs a sync: run hostsync sync (it restores DEST over git's protocol).`);
  }
  const [owner = '', name = ''] = repo.split('/');
  return createGitHubClient({
    apiUrl: config.apiUrl,
    owner,
    repo: name,
    token: config.token?.value,
    tokenSource: config.token?.source,
    userAgent: `hostsync/${VERSION}`,
    timeoutMs: config.timeoutSec * 1000,
    stallMs: config.stallSec * 1000,
    connections: config.concurrency,
    retry: retryPolicy(timing),
    lowSpeed: { limit: config.lowSpeedLimit, windowMs: config.lowSpeedTimeSec * 1000 },
    net: { proxy: config.proxy, caFile: config.caFile },
    signal,
    ...(timing?.now !== undefined ? { now: timing.now } : {}),
    onRetry: (error, attempt) => output.log('warn', `retry ${attempt}: ${error instanceof Error ? error.message : String(error)}`),
  });
}
