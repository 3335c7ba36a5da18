import type { RolloutConfig } from './rollout.js';
import type { SimpleSettings } from './settings.js';

/**
 * The resolved configuration every command runs with. Produced by the pure `parseConfig`
 * (flags > config file > environment > defaults); nothing else reads process.env.
 */

/** Where the token came from: named in messages, the value never is. */
export type TokenSource = '--token-file' | 'CREDENTIALS_DIRECTORY/github-token' | 'GITHUB_TOKEN' | 'GH_TOKEN' | '~/.config/github/token' | `GitHub App ${string}`;

export interface Token {
  readonly value: string;
  readonly source: TokenSource;
  /** Path of the file it was read from, when it came from a file. */
  readonly file?: string | undefined;
}

/**
 * A GitHub App to authenticate as (`appId`, `appPrivateKeyFile` or the credential `github-app-key`,
 * `appInstallationId`): each run uses the installation token src/auth mints (or finds cached) as
 * its {@link Token}. The key's PEM is held here for src/auth alone; it is registered with the
 * redactor and never printed.
 */
export interface GitHubAppConfig {
  /** The numeric App ID, as digits. */
  readonly appId: string;
  /** Undefined: looked up from the repository (`GET /repos/{owner}/{repo}/installation`). */
  readonly installationId: number | undefined;
  /** Where the key was read: `appPrivateKeyFile`, or `$CREDENTIALS_DIRECTORY/github-app-key`. */
  readonly privateKeyFile: string;
  /** The private key, PEM, as read (checked to be an unencrypted RSA key). */
  readonly privateKey: string;
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
  /** Run after every sync, dev-update, rollback and restore with the run's JSON document on stdin. */
  readonly onOutcome?: string | undefined;
}

/** The proxies of a run: from `proxy` (both schemes), else https_proxy/HTTPS_PROXY and http_proxy/HTTP_PROXY (decision 0008). */
export interface ProxyConfig {
  /** Proxy URL for http:// requests; may carry user:password@. */
  readonly http: string | undefined;
  /** Proxy URL for https:// requests (CONNECT). */
  readonly https: string | undefined;
  /** Hosts reached directly, curl's NO_PROXY syntax; '' for none. */
  readonly noProxy: string;
}

/**
 * The keys a host pins for the commits it applies (`trust` section, decision 0012): with either file
 * set, a commit is applied only if its own signature verifies against a key in it.
 */
export interface TrustConfig {
  /** Absolute path of SSH signers in git's allowed-signers format (`--allowed-signers`). */
  readonly allowedSignersFile: string | undefined;
  /** Absolute path of armored OpenPGP public keys (`--openpgp-keys`). */
  readonly openpgpKeysFile: string | undefined;
  /**
   * The files read and parsed, when `loadConfig` was asked to (`readTrustPins`); a sync reads them
   * itself otherwise. Never set by the pure `parseConfig`.
   */
  readonly pins?: import('../trust/types.js').TrustPins | undefined;
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
  /**
   * The repository's git URL when `repo` is one — any smart-HTTP host (`https://git.example.com/acme/x.git`)
   * or SSH (`git@host:acme/x.git`, `ssh://…`): then no REST API is used. Undefined for GitHub's OWNER/NAME.
   */
  readonly gitUrl: string | undefined;
  /** User name of the token's HTTP Basic credential at a git URL. @default 'x-access-token' */
  readonly gitUser: string;
  /** Private key for an SSH repository URL. */
  readonly sshKeyFile: string | undefined;
  /** known_hosts file for an SSH repository URL (StrictHostKeyChecking=yes). */
  readonly sshKnownHostsFile: string | undefined;
  /** Proxies of every HTTP(S) request; undefined when none is configured. */
  readonly proxy: ProxyConfig | undefined;
  /** PEM file of CAs trusted besides Node's roots. */
  readonly caFile: string | undefined;
  /** @default 'https://api.github.com' */
  readonly apiUrl: string;
  /** @default 'https://github.com' */
  readonly serverUrl: string;
  /** Absolute state directory. */
  readonly stateDir: string;
  /** Globs (relative to DEST) hostsync never touches. */
  readonly preserve: readonly string[];
  /** The token of the run. With a GitHub App configured it is unset here and filled per run by src/auth. */
  readonly token: Token | undefined;
  /** Authenticate as this GitHub App instead of with a token (docs/operations.md#github-apps). */
  readonly githubApp: GitHubAppConfig | undefined;
  /** Owner and group for written files (names or numeric ids), applied when running as root. */
  readonly owner: string | undefined;
  readonly group: string | undefined;
  readonly rebuild: RebuildConfig | undefined;
  readonly hooks: HooksConfig;
  readonly checks: readonly CheckConfig[];
  readonly preset: string | undefined;
  readonly metricsFile: string | undefined;
  /** Pinned signing keys; both files undefined when none are pinned. */
  readonly trust: TrustConfig;
  /** Waves of a rollout (src/rollout/); undefined: every host takes a new commit at once. */
  readonly rollout: RolloutConfig | undefined;
  /** The host's identity for its wave and `%I`, as configured; undefined: derived at run time (src/rollout/identity.ts). */
  readonly hostId: string | undefined;
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
  /**
   * The GitHub App's private key, found and read by `discoverAppKey` (src/auth/app-key.ts) when
   * `appId` is set; or why it cannot be used (unreadable, not a key: the message names the file).
   */
  readonly appKey?: { readonly pem: string; readonly file: string } | { readonly error: string } | undefined;
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
