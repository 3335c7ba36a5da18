/**
 * A repository on any git host, given as a URL: `https://git.example.com/acme/hypervisor.git`
 * (smart HTTP, any server that speaks protocol v2: Gitea, Forgejo, GitLab, cgit or lighttpd/nginx in
 * front of git-http-backend, GitHub itself) or SSH (`git@host:acme/x.git`, `ssh://…`, a deploy key).
 * No REST API: the ref by `ls-refs` (with `ref-prefix`), content and the downgrade guard from the
 * wire source (wire.ts) with `rest: undefined`, the token as HTTP Basic `<gitUser>:<token>`.
 */
import type { Config } from '../config/types.js';
import { HostsyncError } from '../errors.js';
import { netSettingsOf } from '../net/settings.js';
import type { LowSpeed } from '../net/low-speed.js';
import { createGitSshTransport } from '../git/ssh-transport.js';
import type { SourceDeps } from './choose.js';
import type { RemoteSource } from './types.js';
import { createWireSource } from './wire.js';

/**
 * Headers of git requests: the token as HTTP Basic `<user>:<token>` — `x-access-token` is what GitHub
 * takes for git (Gitea and Forgejo take any name, GitLab `oauth2`).
 */
export function gitHeaders(token: string | undefined, userAgent: string, user = 'x-access-token'): Record<string, string> {
  return {
    'user-agent': userAgent,
    ...(token === undefined ? {} : { authorization: `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}` }),
  };
}

/** True for `ssh://…` and scp-like `user@host:path`; false for http(s). */
export function isSshUrl(url: string): boolean {
  return !/^https?:\/\//i.test(url);
}

/** The wire source for a repository given as a git URL. */
export function openGitHostSource(config: Config, url: string, deps: SourceDeps): RemoteSource {
  if (deps.host === undefined) throw new HostsyncError(`BUG: ${url} is read over git's wire protocol, which needs the host's objects.`);
  const ssh = isSshUrl(url);
  return createWireSource({
    config,
    url,
    headers: gitHeaders(config.token?.value, deps.userAgent ?? 'hostsync', config.gitUser),
    net: netSettingsOf(config),
    timeouts: { timeoutMs: config.timeoutSec * 1000, stallMs: config.stallSec * 1000 },
    ...(ssh
      ? {
          transport: createGitSshTransport({
            url,
            keyFile: config.sshKeyFile,
            knownHostsFile: config.sshKnownHostsFile,
            connectTimeoutSec: config.timeoutSec,
            env: deps.env,
          }),
        }
      : {}),
    rest: undefined,
    refsOverGit: true,
    host: deps.host,
    lowSpeed: { limit: config.lowSpeedLimit, windowMs: config.lowSpeedTimeSec * 1000 } satisfies LowSpeed,
    log: deps.log,
    signal: deps.signal,
    env: deps.env,
    gitAvailable: async () => false,
    retry: deps.retry,
    onProgress: deps.onProgress,
    // SSH hands the advertisement over on connect: nothing to save there.
    capabilities: ssh ? undefined : deps.capabilities,
  });
}
