/**
 * The resolved configuration every command runs with. Produced by the pure `parseConfig`
 * (flags > config file > environment > defaults); nothing else reads process.env.
 */

/** Where the token came from: named in messages, the value never is. */
export type TokenSource = '--token-file' | 'CREDENTIALS_DIRECTORY/github-token' | 'GITHUB_TOKEN' | 'GH_TOKEN' | '~/.config/github/token';

export interface Token {
  readonly value: string;
  readonly source: TokenSource;
  /** Path of the file it was read from, when it came from a file. */
  readonly file?: string | undefined;
}

export interface RebuildConfig {
  /** Shell command, run with `/bin/sh -c`. */
  readonly command: string;
  /** @default 'changed' */
  readonly when: 'changed' | 'always' | 'never';
  /** @default 1800 */
  readonly timeoutSec: number;
  /** @default false */
  readonly rollbackOnFailure: boolean;
}

export interface HooksConfig {
  readonly preSync?: string | undefined;
  readonly postSync?: string | undefined;
}

/** A check declared as data in the config file; `type` names a check module. */
export interface CheckConfig {
  readonly type: string;
  readonly [key: string]: unknown;
}

export interface Config {
  /** OWNER/NAME */
  readonly repo: string;
  readonly repoOwner: string;
  readonly repoName: string;
  /** Branch, tag or commit SHA; `HEAD` means the repository's default branch. */
  readonly ref: string;
  /** Absolute destination directory. */
  readonly dest: string;
  /** Subfolder of the repository to sync, POSIX, no leading/trailing slash; '' for all. */
  readonly path: string;
  /** @default 'https://api.github.com' */
  readonly apiUrl: string;
  /** @default 'https://github.com' */
  readonly serverUrl: string;
  /** Absolute state directory. */
  readonly stateDir: string;
  /** Parallel blob downloads. @default 8 */
  readonly concurrency: number;
  readonly json: boolean;
  readonly checkOnly: boolean;
  readonly forceFull: boolean;
  readonly verbose: boolean;
  readonly quiet: boolean;
  /** Remove files in DEST that hostsync did not place and the commit does not have. */
  readonly prune: boolean;
  /** Globs (relative to DEST) hostsync never touches. */
  readonly preserve: readonly string[];
  readonly token: Token | undefined;
  /** `inplace` renames files into DEST; `symlink` makes DEST a symlink to a generation dir. @default 'inplace' */
  readonly layout: 'inplace' | 'symlink';
  /** Generations kept for rollback. @default 5 */
  readonly historyLimit: number;
  /** Seconds to wait for another run's lock. @default 0 */
  readonly lockTimeout: number;
  readonly requireSigned: boolean;
  readonly allowDowngrade: boolean;
  /** Owner and group for written files (names or numeric ids), applied when running as root. */
  readonly owner: string | undefined;
  readonly group: string | undefined;
  readonly rebuild: RebuildConfig | undefined;
  readonly hooks: HooksConfig;
  readonly checks: readonly CheckConfig[];
  readonly preset: string | undefined;
  readonly metricsFile: string | undefined;
  /** Per-request timeout in seconds. @default 30 */
  readonly timeoutSec: number;
  /** Seconds without a byte before a transfer counts as stalled. @default 20 */
  readonly stallSec: number;
  /** Path of the config file read, if any. */
  readonly configFile: string | undefined;
}

/** What `parseConfig` returns: a config only when there are no errors. */
export type ParseResult =
  | { readonly ok: true; readonly config: Config; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly errors: readonly string[]; readonly warnings: readonly string[] };
