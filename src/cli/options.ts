/**
 * Command-line options shared by commands, in cac's syntax. Every option has a camelCase config
 * key of the same name (`--state-dir` ↔ `stateDir`); docs/configuration.md lists them all.
 */

export interface OptionSpec {
  readonly flag: string;
  readonly description: string;
  readonly default?: unknown;
}

/** Options every command that works on a destination takes. */
export const COMMON_OPTIONS: readonly OptionSpec[] = [
  { flag: '--config <file>', description: 'JSON config file; flags override its keys' },
  { flag: '--dest <dir>', description: 'Directory kept identical to the repository' },
  { flag: '--state-dir <dir>', description: 'State directory (default: $STATE_DIRECTORY, /var/lib/hostsync as root, else XDG state dir)' },
  { flag: '--json', description: 'Print one JSON object on stdout' },
  { flag: '--verbose', description: 'Print debug detail' },
  { flag: '--quiet', description: 'Print only warnings and errors' },
  { flag: '--lock-timeout <sec>', description: 'Wait this long for another run on the same DEST (default 0: fail at once, exit 4)' },
  { flag: '--history-limit <n>', description: 'Generations kept for rollback (default 5)' },
];

/** Options of commands that talk to GitHub. */
export const SYNC_OPTIONS: readonly OptionSpec[] = [
  { flag: '--repo <owner/name>', description: 'GitHub repository' },
  { flag: '--ref <ref>', description: 'Branch, tag or commit SHA (default: the default branch)' },
  { flag: '--path <subdir>', description: 'Sync only this folder of the repository into DEST' },
  { flag: '--api-url <url>', description: 'GitHub API URL (GHES: https://HOST/api/v3; env GITHUB_API_URL)' },
  { flag: '--server-url <url>', description: 'GitHub server URL for git clone fallbacks (env GITHUB_SERVER_URL)' },
  { flag: '--token-file <file>', description: 'File holding the GitHub token (else $CREDENTIALS_DIRECTORY/github-token, GITHUB_TOKEN, GH_TOKEN)' },
  { flag: '--concurrency <n>', description: 'Parallel blob downloads (default 8)' },
  { flag: '--check-only', description: 'Show what would change; change nothing (exit 3 when changes are pending)' },
  { flag: '--force-full', description: 'Fetch everything (tarball, else clone) instead of per-blob downloads' },
  { flag: '--prune', description: 'Also delete files in DEST that hostsync did not place' },
  { flag: '--timeout-sec <n>', description: 'Seconds to wait for a response (default 30)' },
  { flag: '--stall-sec <n>', description: 'Seconds without data before a download counts as stalled (default 20)' },
  { flag: '--require-signed', description: 'Refuse commits GitHub does not report as verified' },
  { flag: '--allow-downgrade', description: 'Apply a commit that is not a descendant of the last applied one' },
  { flag: '--metrics-file <file>', description: 'Write Prometheus metrics (node_exporter textfile format) here' },
  { flag: '--layout <layout>', description: 'inplace (default) or symlink: DEST a symlink to complete generations switched atomically' },
  { flag: '--preserve <glob>', description: 'Never touch paths matching this glob (relative to DEST); repeatable' },
  { flag: '--owner <user>', description: 'Owner of written files (name or id; applied as root)' },
  { flag: '--group <group>', description: 'Group of written files (name or id; applied as root)' },
  { flag: '--no-prune', description: 'Keep unmanaged files even if the config says prune' },
];

/** Options of the rebuild step and hooks (dev-update). */
export const REBUILD_OPTIONS: readonly OptionSpec[] = [
  { flag: '--rebuild <command>', description: 'Command run after a sync (e.g. "nixos-rebuild switch --flake /etc/hypervisor#$(hostname)")' },
  { flag: '--no-rebuild', description: 'Do not run a configured rebuild' },
  { flag: '--rebuild-when <when>', description: 'changed (default), always or never' },
  { flag: '--rebuild-timeout-sec <n>', description: 'Seconds before the rebuild is killed (default 1800)' },
  { flag: '--rebuild-rollback-on-failure', description: 'Restore the previous commit when the rebuild fails' },
  { flag: '--pre-sync <command>', description: 'Command run before a sync that has something to apply; failing stops the update' },
  { flag: '--post-sync <command>', description: 'Command run after a sync that changed files' },
];

/**
 * cac (via mri) turns number-looking values into numbers: `--ref 1.10` would become 1.1. Put back
 * the exact text the user typed for every value option.
 */
export function restoreStrings(flags: Record<string, unknown>, argv: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...flags };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const key = name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
    if (typeof out[key] !== 'number') continue;
    const value = eq === -1 ? argv[i + 1] : arg.slice(eq + 1);
    if (value !== undefined) out[key] = value;
  }
  return out;
}
