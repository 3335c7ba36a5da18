/**
 * The one table of settings. Every config-file key is declared here once — its kind, default,
 * limits, one line of help, the environment variables that set it, and the commands whose flag
 * sets it — and everything else derives from it: the command-line options and their help text
 * (src/cli/options.ts), the parser's generic readers and defaults (parse.ts), the simple part of
 * the `Config` type (types.ts), and the checks that keep docs/config.schema.json and
 * docs/configuration.md in step (test/config). A new simple setting is one entry here plus the code
 * that uses it.
 */

/** Commands that take configuration flags. */
export type CommandName = 'sync' | 'history' | 'rollback' | 'validate' | 'dev-update' | 'diff' | 'restore';

interface Base {
  /** One line for `--help` and the docs. */
  readonly summary: string;
  /** Commands whose command line sets it; empty: config file (and environment) only. */
  readonly commands: readonly CommandName[];
  /** Environment variables besides `HOSTSYNC_<KEY>`, first set wins; all lose to the config file. */
  readonly env?: readonly string[];
  /** No `HOSTSYNC_<KEY>` variable (structured values). */
  readonly noEnv?: true;
  /** The flag's camelCase name when it is not the key (nested keys: `rebuild.when` → `rebuildWhen`). */
  readonly flag?: string;
}

export type SettingSpec =
  | (Base & { readonly kind: 'boolean'; /** Also a `--no-<flag>` to turn a configured `true` off. */ readonly negatable?: string })
  | (Base & { readonly kind: 'integer'; readonly default: number; readonly min: number; readonly max: number; readonly placeholder: string })
  | (Base & { readonly kind: 'enum'; readonly values: readonly string[]; readonly default: string; readonly placeholder: string })
  | (Base & { readonly kind: 'string'; readonly placeholder: string; readonly default?: string })
  | (Base & { readonly kind: 'path'; readonly placeholder: string })
  /** Parsed by a reader of its own in parse.ts / sections.ts (repo, ref, URLs, lists, objects). */
  | (Base & { readonly kind: 'special'; readonly placeholder?: string; readonly default?: string | number });

const DEST_COMMANDS: readonly CommandName[] = ['sync', 'history', 'rollback', 'validate', 'dev-update', 'diff', 'restore'];
const SYNC_COMMANDS: readonly CommandName[] = ['sync', 'dev-update', 'diff'];
const WRITING_COMMANDS: readonly CommandName[] = ['sync', 'rollback', 'validate', 'dev-update', 'restore'];

/** Every setting, by config-file key (nested keys dotted), in documentation order. */
export const SETTINGS = {
  repo: { kind: 'special', placeholder: 'repo', summary: 'Repository: OWNER/NAME on GitHub, or a git URL (https://…/x.git, git@host:x.git)', commands: [...SYNC_COMMANDS, 'validate'] },
  ref: { kind: 'special', placeholder: 'ref', default: 'HEAD', summary: 'Branch, tag or commit SHA (default: the default branch); alternatives a|b, the first that exists wins, %H host name, %I host id', commands: SYNC_COMMANDS },
  dest: { kind: 'special', placeholder: 'dir', summary: 'Directory kept identical to the repository', commands: DEST_COMMANDS },
  path: { kind: 'special', placeholder: 'subdir', default: '', summary: 'Sync only this folder of the repository into DEST', commands: SYNC_COMMANDS },
  apiUrl: { kind: 'special', placeholder: 'url', default: 'https://api.github.com', summary: 'GitHub API URL (GHES: https://HOST/api/v3)', env: ['GITHUB_API_URL'], commands: [...SYNC_COMMANDS, 'validate'] },
  serverUrl: { kind: 'special', placeholder: 'url', default: 'https://github.com', summary: 'GitHub web URL, where git is served (default: derived from the API URL)', env: ['GITHUB_SERVER_URL'], commands: SYNC_COMMANDS },
  stateDir: { kind: 'special', placeholder: 'dir', summary: 'State directory (default: $STATE_DIRECTORY, /var/lib/hostsync as root, else the XDG state dir)', env: ['STATE_DIRECTORY'], commands: DEST_COMMANDS },
  transport: { kind: 'enum', values: ['auto', 'rest', 'git'], default: 'auto', placeholder: 'how', summary: "How content comes: auto (git's wire protocol, else the REST API), rest (REST API only), git (wire protocol only, no API requests)", commands: SYNC_COMMANDS },
  poll: { kind: 'enum', values: ['auto', 'rest', 'ls-refs'], default: 'auto', placeholder: 'how', summary: "How the ref is polled: auto (GitHub's conditional REST request, free when unchanged; git's ls-refs when the API quota runs low or the ref has alternatives), rest, or ls-refs (never any API quota)", commands: SYNC_COMMANDS },
  lfs: { kind: 'enum', values: ['auto', 'off'], default: 'auto', placeholder: 'mode', summary: 'Git LFS files: auto (their content, from the LFS server, where the commit has pointers) or off (keep the pointer files)', commands: SYNC_COMMANDS },
  tokenFile: { kind: 'path', placeholder: 'file', summary: 'File holding the token (else $CREDENTIALS_DIRECTORY/github-token, GITHUB_TOKEN, GH_TOKEN)', commands: [...SYNC_COMMANDS, 'validate'] },
  gitUser: { kind: 'string', placeholder: 'name', default: 'x-access-token', summary: 'User name the token is sent under (HTTP Basic) to a git URL: x-access-token (GitHub, Gitea, Forgejo), oauth2 (GitLab)', commands: SYNC_COMMANDS },
  sshKeyFile: { kind: 'path', placeholder: 'file', summary: "Private key (a deploy key) for an SSH repository URL (default: ssh's own keys and agent)", commands: SYNC_COMMANDS },
  sshKnownHostsFile: { kind: 'path', placeholder: 'file', summary: "known_hosts file holding the SSH server's host key; it is checked strictly (default: ~/.ssh/known_hosts)", commands: SYNC_COMMANDS },
  proxy: { kind: 'special', placeholder: 'url', summary: 'HTTP(S) proxy for every request, http://[user:password@]host:port (else https_proxy, HTTPS_PROXY, http_proxy, HTTP_PROXY)', commands: [...SYNC_COMMANDS, 'validate'] },
  noProxy: { kind: 'string', placeholder: 'hosts', summary: "Hosts reached without the proxy, curl's NO_PROXY syntax: comma list, domain suffixes, CIDR, * for all", env: ['no_proxy', 'NO_PROXY'], commands: [...SYNC_COMMANDS, 'validate'] },
  caFile: { kind: 'path', placeholder: 'file', summary: 'PEM file of CA certificates trusted for HTTPS besides the system roots (a private CA of GHES, a git host or a proxy)', commands: [...SYNC_COMMANDS, 'validate'] },
  appId: { kind: 'string', placeholder: 'id', summary: 'GitHub App ID (digits): authenticate as the App instead of with a token', commands: [...SYNC_COMMANDS, 'validate'] },
  appPrivateKeyFile: { kind: 'path', placeholder: 'file', summary: 'GitHub App private key, PEM (else $CREDENTIALS_DIRECTORY/github-app-key)', commands: [...SYNC_COMMANDS, 'validate'] },
  appInstallationId: { kind: 'string', placeholder: 'id', summary: 'GitHub App installation ID (default: looked up from the repository)', commands: [...SYNC_COMMANDS, 'validate'] },
  concurrency: { kind: 'integer', default: 8, min: 1, max: 64, placeholder: 'n', summary: 'Parallel blob downloads', commands: SYNC_COMMANDS },
  json: { kind: 'boolean', summary: 'Print one JSON document on stdout, also when the run fails (docs/output.md)', commands: DEST_COMMANDS },
  checkOnly: { kind: 'boolean', summary: 'Show what would change; change nothing (exit 3 when changes are pending)', commands: ['sync', 'dev-update', 'rollback', 'restore'] },
  forceFull: { kind: 'boolean', summary: 'Fetch everything (tarball, else clone) instead of only what changed', commands: ['sync', 'dev-update'] },
  verbose: { kind: 'boolean', summary: 'Print debug detail', commands: DEST_COMMANDS },
  quiet: { kind: 'boolean', summary: 'Print only warnings and errors', commands: DEST_COMMANDS },
  prune: { kind: 'boolean', negatable: 'Keep unmanaged files even when the config file sets prune', summary: 'Also delete files in DEST that hostsync did not place', commands: ['sync', 'dev-update', 'validate'] },
  allowSystemDest: { kind: 'boolean', summary: 'Allow a system directory (/etc, /usr, /var, a home) as DEST with --prune or layout symlink', commands: WRITING_COMMANDS },
  preserve: { kind: 'special', placeholder: 'glob', summary: 'Never touch paths matching this glob (relative to DEST); repeatable', noEnv: true, commands: ['sync', 'dev-update'] },
  layout: { kind: 'enum', values: ['inplace', 'symlink'], default: 'inplace', placeholder: 'layout', summary: 'inplace, or symlink: DEST a symlink to complete generations switched atomically', commands: ['sync', 'dev-update', 'history', 'rollback', 'validate'] },
  historyLimit: { kind: 'integer', default: 5, min: 1, max: 1000, placeholder: 'n', summary: 'Generations kept for rollback', commands: ['sync', 'dev-update', 'rollback', 'restore'] },
  lockTimeout: { kind: 'integer', default: 0, min: 0, max: 86_400, placeholder: 'sec', summary: 'Wait this long for another run on the same DEST (0: fail at once, exit 4)', commands: WRITING_COMMANDS },
  backupLimitMb: { kind: 'integer', default: 256, min: 0, max: 1_048_576, placeholder: 'MiB', summary: 'Largest drifted file (MiB) kept for an undo; bigger drift is replaced without a copy', commands: [] },
  requireSigned: { kind: 'boolean', summary: "Refuse commits GitHub does not report as verified (trusts GitHub's word; with pinned keys the host verifies instead)", commands: ['sync', 'dev-update'] },
  trust: { kind: 'special', noEnv: true, summary: 'Keys the commits this host applies must be signed with: an object with allowedSignersFile, openpgpKeysFile', commands: [] },
  'trust.allowedSignersFile': { kind: 'path', flag: 'allowedSigners', noEnv: true, placeholder: 'file', summary: "Apply only commits signed (gpg.format=ssh) by a key in this file, git's allowed-signers format; verified on this host", commands: SYNC_COMMANDS },
  'trust.openpgpKeysFile': { kind: 'path', flag: 'openpgpKeys', noEnv: true, placeholder: 'file', summary: 'Apply only commits signed by an OpenPGP key in this file of armored public keys; verified on this host', commands: SYNC_COMMANDS },
  allowDowngrade: { kind: 'boolean', summary: 'Apply a commit that is not a descendant of the last applied one', commands: ['sync', 'dev-update'] },
  owner: { kind: 'special', placeholder: 'user', summary: 'Owner of written files (name or id; applied as root)', commands: ['sync', 'dev-update'] },
  group: { kind: 'special', placeholder: 'group', summary: 'Group of written files (name or id; applied as root)', commands: ['sync', 'dev-update'] },
  rebuild: { kind: 'special', noEnv: true, summary: 'Command run after a sync: an object with command, when, timeoutSec, rollbackOnFailure', commands: [] },
  'rebuild.command': { kind: 'special', flag: 'rebuild', noEnv: true, placeholder: 'command', summary: 'Command run after a sync (e.g. "nixos-rebuild switch --flake /etc/hypervisor#$(hostname)")', commands: ['dev-update'] },
  'rebuild.when': { kind: 'enum', flag: 'rebuildWhen', noEnv: true, values: ['changed', 'always', 'never'], default: 'changed', placeholder: 'when', summary: 'When to rebuild: changed, always or never', commands: ['dev-update'] },
  'rebuild.timeoutSec': { kind: 'integer', flag: 'rebuildTimeoutSec', noEnv: true, default: 1800, min: 1, max: 86_400, placeholder: 'sec', summary: 'Seconds before the rebuild is killed', commands: ['dev-update'] },
  'rebuild.rollbackOnFailure': { kind: 'boolean', flag: 'rebuildRollbackOnFailure', noEnv: true, summary: 'Restore the previous commit when the rebuild fails', commands: ['dev-update'] },
  hooks: { kind: 'special', noEnv: true, summary: 'Commands run around a sync: an object with preSync, postSync, onOutcome', commands: [] },
  'hooks.preSync': { kind: 'special', flag: 'preSync', noEnv: true, placeholder: 'command', summary: 'Command run before a sync that has something to apply; failing stops the update', commands: ['dev-update'] },
  'hooks.postSync': { kind: 'special', flag: 'postSync', noEnv: true, placeholder: 'command', summary: 'Command run after a sync that changed files', commands: ['dev-update'] },
  'hooks.onOutcome': { kind: 'special', flag: 'onOutcome', noEnv: true, placeholder: 'command', summary: "Command run after every run (success, failure, rollback) with the run's JSON result on stdin; its failure is reported, the run's exit code kept", commands: ['sync', 'dev-update', 'rollback', 'restore'] },
  checks: { kind: 'special', noEnv: true, summary: 'Validation checks, each an object with a type', commands: [] },
  preset: { kind: 'enum', values: ['nixos-hypervisor'], default: '', placeholder: 'name', summary: 'Turn on the checks of a preset (nixos-hypervisor)', commands: ['validate', 'dev-update'] },
  rollout: { kind: 'special', noEnv: true, summary: 'Roll a new commit out in waves: an object with waves (cumulative percentages, e.g. [1, 10, 100]) and interval (e.g. "30m")', commands: [] },
  'rollout.waves': { kind: 'special', noEnv: true, summary: 'Cumulative percentages of the fleet, rising to 100; wave i (from 0) waits i × interval', commands: [] },
  'rollout.interval': { kind: 'special', noEnv: true, summary: 'Time between waves: a duration ("30m", "1h30m", "90s") or a number of seconds', commands: [] },
  hostId: { kind: 'string', placeholder: 'id', summary: "This host's identity for its rollout wave and %I (default: derived from /etc/machine-id, else the host name)", commands: SYNC_COMMANDS },
  metricsFile: { kind: 'path', placeholder: 'file', summary: 'Write Prometheus metrics (node_exporter textfile format) here after each run', commands: ['sync', 'dev-update'] },
  timeoutSec: { kind: 'integer', default: 30, min: 1, max: 3600, placeholder: 'sec', summary: 'Seconds to wait for a response to a request', commands: SYNC_COMMANDS },
  stallSec: { kind: 'integer', default: 20, min: 1, max: 3600, placeholder: 'sec', summary: 'Seconds without a byte before a download counts as stalled', commands: SYNC_COMMANDS },
  lowSpeedLimit: { kind: 'integer', default: 1024, min: 0, max: 1 << 30, placeholder: 'bytes', summary: 'A transfer slower than this many bytes/s for lowSpeedTimeSec is abandoned (0: no minimum)', commands: SYNC_COMMANDS },
  lowSpeedTimeSec: { kind: 'integer', default: 60, min: 1, max: 3600, placeholder: 'sec', summary: 'Window over which lowSpeedLimit is measured', commands: SYNC_COMMANDS },
  transferTimeoutSec: { kind: 'integer', default: 3600, min: 5, max: 86_400, placeholder: 'sec', summary: 'Longest a run may spend talking to the server, all requests together', commands: SYNC_COMMANDS },
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;

/** The spec of a key (throws for an unknown one: a bug). */
export function settingOf(key: string): SettingSpec {
  const spec = (SETTINGS as Record<string, SettingSpec>)[key];
  if (spec === undefined) throw new Error(`BUG: ${key} is not in SETTINGS`);
  return spec;
}

/** Every key with its spec, in table order. */
export function allSettings(): readonly (readonly [string, SettingSpec])[] {
  return Object.entries(SETTINGS as Record<string, SettingSpec>);
}

/** Top-level keys of the config file. */
export function topLevelKeys(): string[] {
  return allSettings().map(([key]) => key).filter((key) => !key.includes('.'));
}

/** Keys of a section (`rebuild` → command, when, …). */
export function sectionKeys(section: string): string[] {
  return allSettings().map(([key]) => key).filter((key) => key.startsWith(`${section}.`)).map((key) => key.slice(section.length + 1));
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

/** The camelCase flag of a key, or undefined when no command line sets it. */
export function flagOf(key: string): string | undefined {
  const spec = settingOf(key);
  if (spec.commands.length === 0) return undefined;
  return spec.flag ?? key;
}

/** Environment variables of a key, in precedence order. */
export function envOf(key: string): readonly string[] {
  const spec = settingOf(key);
  if ('noEnv' in spec && spec.noEnv === true) return [];
  return [envNameOf(key), ...(spec.env ?? [])];
}

/** Keys a config file may hold that are not settings. */
export const IGNORED_FILE_KEYS: readonly string[] = ['$schema'];

/** The state directory when nothing sets one: system-wide for root, XDG for everyone else. */
export const SYSTEM_STATE_DIR = '/var/lib/hostsync';

type Spec<K extends SettingKey> = (typeof SETTINGS)[K];

/** Default of an integer or enum setting. */
export function defaultOf<K extends SettingKey>(key: K): Spec<K> extends { readonly default: infer D } ? D : undefined {
  return ('default' in SETTINGS[key] ? (SETTINGS[key] as { default: unknown }).default : undefined) as never;
}

/** Values of an enum setting. */
export function valuesOf<K extends SettingKey>(key: K): Spec<K> extends { readonly values: infer V } ? V : never {
  return (SETTINGS[key] as { values?: unknown }).values as never;
}

/** Keys of top-level settings the generic readers parse (booleans, integers, enums with a default). */
type SimpleKey = {
  [K in SettingKey]: K extends `${string}.${string}` ? never : Spec<K>['kind'] extends 'boolean' | 'integer' ? K : Spec<K> extends { kind: 'enum'; values: readonly string[]; default: string } ? (Spec<K>['default'] extends '' ? never : K) : never;
}[SettingKey];

type ValueOfSpec<S> = S extends { kind: 'boolean' } ? boolean : S extends { kind: 'integer' } ? number : S extends { kind: 'enum'; values: readonly (infer V)[] } ? V : never;

/** The part of `Config` derived from the table: every top-level boolean, integer and enum. */
export type SimpleSettings = { readonly [K in SimpleKey]: ValueOfSpec<Spec<K>> };

/** The keys of {@link SimpleSettings}, for the generic reader. */
export function simpleKeys(): SimpleKey[] {
  return allSettings()
    .filter(([key, spec]) => !key.includes('.') && (spec.kind === 'boolean' || spec.kind === 'integer' || (spec.kind === 'enum' && spec.default !== '')))
    .map(([key]) => key as SimpleKey);
}
