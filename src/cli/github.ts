/** The one way commands build a GitHub client from their configuration. */
import type { LooseConfig } from '../config/types.js';
import { createGitHubClient } from '../github/client.js';
import type { RetryPolicy } from '../github/retry.js';
import type { GitHubClient } from '../github/types.js';
import type { Timing } from './io.js';
import type { Output } from './output.js';
import { VERSION } from '../version.js';

type ClientSettings = Pick<LooseConfig, 'apiUrl' | 'token' | 'timeoutSec' | 'stallSec' | 'concurrency' | 'lowSpeedLimit' | 'lowSpeedTimeSec'>;

/** The retry policy of a run: production back-off, or what the test harness asks for. */
export function retryPolicy(timing: Timing | undefined): RetryPolicy {
  if (timing === undefined) return {};
  return {
    ...(timing.retryMinMs !== undefined ? { minTimeoutMs: timing.retryMinMs } : {}),
    ...(timing.retryMaxMs !== undefined ? { maxTimeoutMs: timing.retryMaxMs } : {}),
    ...(timing.sleep !== undefined ? { sleep: timing.sleep } : {}),
  };
}

/** A client for `repo` (OWNER/NAME); retries are logged as warnings. Octokit and undici load on first use. */
export function githubClient(config: ClientSettings, repo: string, output: Pick<Output, 'log'>, timing?: Timing, signal?: AbortSignal): GitHubClient {
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
    signal,
    ...(timing?.now !== undefined ? { now: timing.now } : {}),
    onRetry: (error, attempt) => output.log('warn', `retry ${attempt}: ${error instanceof Error ? error.message : String(error)}`),
  });
}
