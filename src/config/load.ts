/**
 * `loadConfig`: the I/O edge of config. Reads the config file named by `--config` (or, when a
 * command asks, /etc/hostsync/config.json), discovers the token, snapshots `process.env`, and
 * hands everything to the pure `parseConfig`.
 */

import os from 'node:os';
import path from 'node:path';
import { errorCode } from '../errors.js';
import { wantsColor } from './color.js';
import { osReason, readFileWithMode } from './files.js';
import type { ReadFileFn } from './files.js';
import { parseJson } from './json.js';
import { createRedactor } from '../redact.js';
import { parseConfig, resolveTokenFile } from './parse.js';
import { discoverToken } from './token.js';
import { appKeyLocation } from './github-app.js';
import { discoverAppKey } from '../auth/app-key.js';
import type { ConfigFile, ConfigRequirements, LooseConfig, ParseResult, StrictRequirements, Config, TrustConfig } from './types.js';

/** The config file every command reads when `--config` is not given (and the systemd units name). */
export const DEFAULT_CONFIG_FILE = '/etc/hostsync/config.json';

/** The variable that names another default config file (tests; a host whose config lives elsewhere). */
export const CONFIG_ENV = 'HOSTSYNC_CONFIG';

/** The config file read when `--config` is absent: `$HOSTSYNC_CONFIG`, else {@link DEFAULT_CONFIG_FILE}. */
export function defaultConfigPath(env: Readonly<Record<string, string | undefined>>): string {
  const named = env[CONFIG_ENV];
  return named !== undefined && named !== '' ? named : DEFAULT_CONFIG_FILE;
}

/** Options of {@link loadConfig}; the last four replace the real process for tests. */
export interface LoadOptions {
  /** Settings the command cannot run without. @default { repo: true, dest: true } */
  readonly require?: ConfigRequirements | undefined;
  /**
   * Read the default config file ({@link defaultConfigPath}) when `--config` is absent — silently
   * skipped if it does not exist, unless the repository or destination is then missing too.
   * @default false
   */
  readonly defaultConfigFile?: boolean | undefined;
  /** @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** @default process.cwd() */
  readonly cwd?: string | undefined;
  /** @default os.homedir() */
  readonly home?: string | undefined;
  /** @default process.getuid() === 0 */
  readonly isRoot?: boolean | undefined;
  /** @default reads the real filesystem */
  readonly readFile?: ReadFileFn | undefined;
  /**
   * Read and parse the pinned-keys files (`trust.*`) now, so that a missing or malformed one is a
   * config error (exit 2) before anything else happens; commands that sync ask for it. @default false
   */
  readonly readTrustPins?: boolean | undefined;
}

/** A copy of the process environment: the one place hostsync reads `process.env`. */
export function processEnv(): Readonly<Record<string, string | undefined>> {
  return { ...process.env };
}

/** Whether to colour output on a stream, from `FORCE_COLOR`/`NO_COLOR`/`TERM` and whether it is a terminal. */
export function colorWanted(isTTY: boolean, env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  return wantsColor(env, isTTY);
}

/** A config file read: the parsed file, or the one message saying why it could not be read. */
export type FileRead = { readonly file: ConfigFile | undefined; readonly error?: string | undefined };

/**
 * Read and parse a JSON config file. `optional`: a missing file is no error (the implicit default).
 * Exported for `validate`-style commands that want to report on a file alone.
 */
export async function tryReadConfigFile(file: string, optional: boolean, readFile: ReadFileFn = readFileWithMode): Promise<FileRead> {
  let text: string;
  try {
    text = (await readFile(file)).text;
  } catch (error: unknown) {
    if (optional && errorCode(error) === 'ENOENT') return { file: undefined };
    return { file: undefined, error: `Cannot read config file ${file}: ${osReason(error)}. Check the path given to --config and its permissions.` };
  }
  const parsed = parseJson(text);
  if (!parsed.ok) {
    return { file: undefined, error: `Config file ${file} is not valid JSON: ${parsed.reason} at line ${parsed.line}, column ${parsed.column}.` };
  }
  return { file: { path: file, data: parsed.data } };
}

function configFlag(flags: Readonly<Record<string, unknown>>): { path: string | undefined; error?: string } {
  const raw = flags['config'];
  const value: unknown = Array.isArray(raw) && raw.length === 1 ? raw[0] : raw;
  if (value === undefined || value === false) return { path: undefined };
  if (typeof value !== 'string' || value === '') return { path: undefined, error: '`--config` needs the path of a JSON file, e.g. --config /etc/hostsync/config.json.' };
  return { path: value };
}

/**
 * Gather flags, config file, environment and token, and parse them into a config.
 * Never throws for bad input: problems come back as `errors` and `warnings`.
 */
export function loadConfig(
  flags: Readonly<Record<string, unknown>>,
  options?: LoadOptions & { readonly require?: StrictRequirements | undefined },
): Promise<ParseResult<Config>>;
export function loadConfig(flags: Readonly<Record<string, unknown>>, options?: LoadOptions): Promise<ParseResult<LooseConfig>>;
export async function loadConfig(flags: Readonly<Record<string, unknown>>, options: LoadOptions = {}): Promise<ParseResult<LooseConfig>> {
  const env = options.env ?? processEnv();
  const cwd = options.cwd ?? process.cwd();
  const home = options.home ?? homeDirectory();
  const isRoot = options.isRoot ?? process.getuid?.() === 0;
  const readFile = options.readFile ?? readFileWithMode;

  const flag = configFlag(flags);
  if (flag.error !== undefined) return { ok: false, errors: [flag.error], warnings: [] };
  const explicit = flag.path !== undefined;
  const filePath = flag.path !== undefined ? path.resolve(cwd, flag.path) : options.defaultConfigFile === true ? path.resolve(cwd, defaultConfigPath(env)) : undefined;
  const read: FileRead = filePath === undefined ? { file: undefined } : await tryReadConfigFile(filePath, !explicit, readFile);
  if (read.error !== undefined) return { ok: false, errors: [read.error], warnings: [] };
  const absentDefault = !explicit && filePath !== undefined && read.file === undefined ? filePath : undefined;

  const tokenFile = resolveTokenFile({ flags, file: read.file, env, cwd, home });
  const discovery = await discoverToken({ tokenFile, env, home, readFile });
  // The GitHub App's key, read and checked now (a bad one is exit 2), only when appId is set.
  const appKeyAt = appKeyLocation({ flags, file: read.file, env, cwd, home });
  const app = appKeyAt.wanted ? await discoverAppKey({ keyFile: appKeyAt.keyFile, env, readFile }) : { key: undefined, errors: [], warnings: [], seen: [] };
  const appKey = app.key ?? (app.errors[0] === undefined ? undefined : { error: app.errors[0] });
  const result = parseConfig({ flags, file: read.file, env, token: discovery.token, appKey, home, isRoot, cwd, require: options.require });
  const redact = createRedactor([...discovery.seen, ...app.seen]);
  const warnings = [...discovery.warnings, ...app.warnings, ...result.warnings].map(redact);
  if (!result.ok || discovery.errors.length > 0) {
    const parseErrors = result.ok ? [] : result.errors;
    const errors = absentDefault === undefined ? parseErrors : explainAbsentDefault(parseErrors, absentDefault);
    return { ok: false, errors: [...discovery.errors, ...errors].map(redact), warnings };
  }
  if (options.readTrustPins === true) {
    const read = await readTrust(result.config.trust);
    if ('error' in read) return { ok: false, errors: [redact(read.error)], warnings };
    return { ok: true, config: { ...result.config, trust: read.trust }, warnings: [...warnings, ...read.warnings.map(redact)] };
  }
  return { ok: true, config: result.config, warnings };
}

/** The pinned-keys files read and parsed (src/trust/pins.ts, imported only when one is set). */
async function readTrust(trust: TrustConfig): Promise<{ trust: TrustConfig; warnings: readonly string[] } | { error: string }> {
  if (trust.allowedSignersFile === undefined && trust.openpgpKeysFile === undefined) return { trust, warnings: [] };
  const { loadTrustPins } = await import('../trust/pins.js');
  const { PinnedKeysError } = await import('../trust/errors.js');
  try {
    const loaded = await loadTrustPins(trust);
    return { trust: { ...trust, pins: loaded.pins }, warnings: loaded.warnings };
  } catch (error) {
    if (error instanceof PinnedKeysError) return { error: error.message };
    throw error;
  }
}

/**
 * "Missing repository" and "Missing destination" after the default config file was not found: the
 * likelier fix is the file, so say it is not there (one message for both).
 */
function explainAbsentDefault(errors: readonly string[], file: string): string[] {
  const repo = errors.some((error) => error.startsWith('Missing repository'));
  const dest = errors.some((error) => error.startsWith('Missing destination'));
  if (!repo && !dest) return [...errors];
  const flags = repo && dest ? '--repo OWNER/NAME and --dest DIR' : repo ? '--repo OWNER/NAME' : '--dest DIR';
  const rest = errors.filter((error) => !error.startsWith('Missing repository') && !error.startsWith('Missing destination'));
  return [`No config file at ${file}; pass --config FILE, or ${flags} (or write ${file}: docs/getting-started.md).`, ...rest];
}

/**
 * The home directory, or '/' when there is none: os.homedir() throws without HOME and without a
 * passwd entry (a minimal chroot, a DynamicUser= service), and a missing home only means no
 * ~/.config/github/token to find.
 */
function homeDirectory(): string {
  try {
    return os.homedir();
  } catch {
    return '/';
  }
}
