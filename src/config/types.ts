import type { SimpleSettings } from './settings.js';

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

/** The settings that need a reader of their own (formats, lists, objects, or derived values). */
export interface SpecialSettings {
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
  /** Globs (relative to DEST) hostsync never touches. */
  readonly preserve: readonly string[];
  readonly token: Token | undefined;
  /** Owner and group for written files (names or numeric ids), applied when running as root. */
  readonly owner: string | undefined;
  readonly group: string | undefined;
  readonly rebuild: RebuildConfig | undefined;
  readonly hooks: HooksConfig;
  readonly checks: readonly CheckConfig[];
  readonly preset: string | undefined;
  readonly metricsFile: string | undefined;
  /** Path of the config file read, if any. */
  readonly configFile: string | undefined;
}

/**
 * The resolved configuration: the simple settings of the table in settings.ts (booleans, integers,
 * enums — typed from the table itself) and the special ones above.
 */
export type Config = SimpleSettings & SpecialSettings;

/**
 * The config as commands that may run without a repository or destination see it
 * (`history`, `rollback`, `validate`): the same as {@link Config}, except that the target may be absent.
 */
export type LooseConfig = Omit<Config, 'repo' | 'repoOwner' | 'repoName' | 'dest'> & {
  readonly repo: string | undefined;
  readonly repoOwner: string | undefined;
  readonly repoName: string | undefined;
  readonly dest: string | undefined;
};

/** Which settings a command cannot run without. Both default to `true`. */
export interface ConfigRequirements {
  /** @default true */
  readonly repo?: boolean | undefined;
  /** @default true */
  readonly dest?: boolean | undefined;
}

/** Requirements under which `parseConfig` returns a full {@link Config} (the default). */
export interface StrictRequirements {
  readonly repo?: true | undefined;
  readonly dest?: true | undefined;
}

/** The parsed JSON of a config file and where it was read from. */
export interface ConfigFile {
  /** Absolute path: messages name it and relative paths inside it resolve against its directory. */
  readonly path: string;
  readonly data: unknown;
}

/** Everything `parseConfig` reads: the outside world, already gathered by `loadConfig`. */
export interface ConfigInput {
  /**
   * Options as the cac parser gives them: camelCase keys, strings (or numbers, since cac coerces
   * numeric-looking values) for values, booleans for switches, arrays for repeated flags.
   * Keys that are not config flags (`--`, `_`, `config`, command options) are ignored.
   */
  readonly flags: Readonly<Record<string, unknown>>;
  readonly file?: ConfigFile | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Already discovered by `discoverToken`. */
  readonly token: Token | undefined;
  /** Home directory of the user running hostsync. */
  readonly home: string;
  readonly isRoot: boolean;
  /** Absolute working directory: relative flag and environment paths resolve against it. */
  readonly cwd: string;
  /** @default { repo: true, dest: true } */
  readonly require?: ConfigRequirements | undefined;
}

/** What `parseConfig` returns: a config only when there are no errors; every error, not just the first. */
export type ParseResult<C = Config> =
  | { readonly ok: true; readonly config: C; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly errors: readonly string[]; readonly warnings: readonly string[] };
