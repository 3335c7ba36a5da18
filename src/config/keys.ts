/**
 * The table of settings: every config-file key, the command-line flag and environment variables that
 * set it, its default and its limits. `parseConfig` validates against it, the CLI can register its
 * flags from it, and test/config checks docs/config.schema.json against it.
 */

/** Where a setting may come from, besides the config file. */
export interface KeySpec {
  /** Config-file key (camelCase). */
  readonly key: string;
  /** Flag as cac hands it over (camelCase); the user types its kebab-case. `undefined`: file only. */
  readonly flag: string | undefined;
  /** Environment variables, first set wins; all lose to the config file. */
  readonly env: readonly string[];
  /** One line for help output and docs. */
  readonly summary: string;
}

/** An inclusive integer range. */
export interface IntegerRange {
  readonly min: number;
  readonly max: number;
}

const ENV_PREFIX = 'HOSTSYNC_';

/** `stateDir` → `HOSTSYNC_STATE_DIR`. */
export function envNameOf(key: string): string {
  return ENV_PREFIX + key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

/** `stateDir` → `state-dir`, the flag as typed. */
export function kebabOf(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function scalar(key: string, summary: string, extraEnv: readonly string[] = []): KeySpec {
  return { key, flag: key, env: [envNameOf(key), ...extraEnv], summary };
}

/** Top-level keys of the config file, in documentation order. */
export const CONFIG_KEYS: readonly KeySpec[] = [
  scalar('repo', 'Repository to sync, OWNER/NAME.'),
  scalar('ref', 'Branch, tag or commit SHA; HEAD is the default branch.'),
  scalar('dest', 'Directory kept identical to the repository.'),
  scalar('path', 'Subfolder of the repository to sync.'),
  scalar('apiUrl', 'GitHub REST API base URL.', ['GITHUB_API_URL']),
  scalar('serverUrl', 'GitHub web URL, used by the git clone fallback.', ['GITHUB_SERVER_URL']),
  scalar('stateDir', 'Where manifests, history and locks live.', ['STATE_DIRECTORY']),
  scalar('concurrency', 'Parallel blob downloads.'),
  scalar('json', 'Print one JSON document instead of text.'),
  scalar('checkOnly', 'Show what would change and change nothing; exit 3 when changes are pending.'),
  scalar('forceFull', 'Fetch everything (tarball, else clone) instead of per-blob downloads.'),
  scalar('verbose', 'Print more detail.'),
  scalar('quiet', 'Print only warnings and errors.'),
  scalar('prune', 'Delete files in DEST that hostsync did not place and the commit does not have.'),
  { key: 'preserve', flag: 'preserve', env: [], summary: 'Globs, relative to DEST, that hostsync never touches.' },
  scalar('tokenFile', 'File holding the GitHub token.'),
  scalar('layout', 'inplace or symlink.'),
  scalar('historyLimit', 'Generations kept for rollback.'),
  scalar('lockTimeout', 'Seconds to wait for another run to release the lock.'),
  scalar('requireSigned', 'Refuse commits GitHub does not report as verified.'),
  scalar('allowDowngrade', 'Allow moving DEST to a commit older than the one applied.'),
  scalar('owner', 'User (name or id) that owns written files, when running as root.'),
  scalar('group', 'Group (name or id) that owns written files, when running as root.'),
  { key: 'rebuild', flag: 'rebuild', env: [], summary: 'Command run after a sync; see the rebuild keys.' },
  { key: 'hooks', flag: undefined, env: [], summary: 'Commands run before and after a sync.' },
  { key: 'checks', flag: undefined, env: [], summary: 'Validation checks, each an object with a type.' },
  scalar('preset', 'Named bundle of defaults for a kind of host.'),
  scalar('metricsFile', 'Write Prometheus textfile metrics here after each run.'),
  scalar('timeoutSec', 'Per-request timeout in seconds.'),
  scalar('stallSec', 'Seconds without a byte before a transfer counts as stalled.'),
];

/** Keys of the `rebuild` object, with the flags that set them. */
export const REBUILD_KEYS: readonly KeySpec[] = [
  { key: 'command', flag: 'rebuild', env: [], summary: 'Shell command, run with /bin/sh -c.' },
  { key: 'when', flag: 'rebuildWhen', env: [], summary: 'changed, always or never.' },
  { key: 'timeoutSec', flag: 'rebuildTimeoutSec', env: [], summary: 'Seconds before the rebuild is killed.' },
  {
    key: 'rollbackOnFailure',
    flag: 'rebuildRollbackOnFailure',
    env: [],
    summary: 'Roll DEST back to the previous generation when the rebuild fails.',
  },
];

/** Keys of the `hooks` object, with the flags that set them. */
export const HOOK_KEYS: readonly KeySpec[] = [
  { key: 'preSync', flag: 'preSync', env: [], summary: 'Shell command run before changes are applied.' },
  { key: 'postSync', flag: 'postSync', env: [], summary: 'Shell command run after changes are applied.' },
];

/** Keys a config file may hold that are not settings. */
export const IGNORED_FILE_KEYS: readonly string[] = ['$schema'];

/** Presets hostsync knows. */
export const KNOWN_PRESETS: readonly string[] = ['nixos-hypervisor'];

/** Values of `layout`. */
export const LAYOUTS = ['inplace', 'symlink'] as const;

/** Values of `rebuild.when`. */
export const REBUILD_WHEN = ['changed', 'always', 'never'] as const;

/** Defaults of everything that has one (stateDir's depends on the host; see `defaultStateDir`). */
export const DEFAULTS = {
  ref: 'HEAD',
  path: '',
  apiUrl: 'https://api.github.com',
  serverUrl: 'https://github.com',
  concurrency: 8,
  layout: 'inplace',
  historyLimit: 5,
  lockTimeout: 0,
  timeoutSec: 30,
  stallSec: 20,
  rebuildWhen: 'changed',
  rebuildTimeoutSec: 1800,
} as const;

/** Integer limits, inclusive. */
export const RANGES = {
  concurrency: { min: 1, max: 64 },
  historyLimit: { min: 1, max: 1000 },
  lockTimeout: { min: 0, max: 86_400 },
  timeoutSec: { min: 1, max: 3600 },
  stallSec: { min: 1, max: 3600 },
  rebuildTimeoutSec: { min: 1, max: 86_400 },
} as const satisfies Record<string, IntegerRange>;

/** The state directory when nothing sets one: system-wide for root, XDG for everyone else. */
export const SYSTEM_STATE_DIR = '/var/lib/hostsync';
