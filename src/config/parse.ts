/**
 * `parseConfig`: the pure step from flags, config file, environment and the discovered token to a
 * validated {@link Config}. Precedence per setting: flag > config file > environment > default.
 * No I/O, no clock, no process.env: everything arrives in {@link ConfigInput}. Every problem is
 * collected, so one run shows the user all of them.
 */

import path from 'node:path';
import { defaultOf, envNameOf, envOf, flagOf, settingOf, simpleKeys, SYSTEM_STATE_DIR, valuesOf, type SimpleSettings } from './settings.js';
import { checkFileShape, readChecks, readHooks, readRebuild } from './sections.js';
import { LAYER_RANK, asBoolean, asEnum, asInteger, asPath, asString, asStringList, createLookup, describe, resolvePath } from './sources.js';
import type { Found, Lookup, Problems, Setting } from './sources.js';
import { createRedactor } from '../redact.js';
import { closestMatch } from './suggest.js';
import type { Config, ConfigInput, LooseConfig, ParseResult, ProxyConfig, StrictRequirements, TrustConfig } from './types.js';
import { apiUrlHint, checkAccount, checkGitUser, checkGlob, checkProxyUrl, checkRef, checkRepo, checkRepoPath, checkUrl, serverUrlFor } from './validate.js';
import { proxyPassword } from '../net/proxy-rules.js';
import { checkPoll, checkRefAlternatives, isRefPattern, readHostId, readRollout } from './rollout.js';
import { readGitHubApp, tokenBesideApp } from './github-app.js';

/** Where a key lives in each layer, from the settings table. */
function setting(key: string): Setting {
  settingOf(key);
  return { file: key.split('.'), flag: flagOf(key), env: envOf(key) };
}

/** The table's booleans, integers and enums, each from its highest layer or its default. */
function readSimple(find: Lookup, problems: Problems): SimpleSettings {
  const values: Record<string, unknown> = {};
  for (const key of simpleKeys()) {
    const spec = settingOf(key);
    const found = find(setting(key));
    if (spec.kind === 'boolean') values[key] = found === undefined ? false : (asBoolean(found, problems) ?? false);
    else if (spec.kind === 'integer') values[key] = found === undefined ? spec.default : (asInteger(found, { min: spec.min, max: spec.max }, problems) ?? spec.default);
    else if (spec.kind === 'enum') values[key] = (found === undefined ? undefined : asEnum(found, spec.values, problems)) ?? spec.default;
  }
  return values as SimpleSettings;
}

/**
 * The state directory when no layer sets one: `/var/lib/hostsync` for root, else
 * `$XDG_STATE_HOME/hostsync` (when absolute, as the XDG spec requires) or `~/.local/state/hostsync`.
 */
export function defaultStateDir(env: Readonly<Record<string, string | undefined>>, home: string, isRoot: boolean): string {
  if (isRoot) return SYSTEM_STATE_DIR;
  const xdg = env['XDG_STATE_HOME'];
  if (xdg !== undefined && path.isAbsolute(xdg)) return path.join(xdg, 'hostsync');
  return path.join(home, '.local', 'state', 'hostsync');
}

function readStateDir(find: Lookup, input: ConfigInput, problems: Problems): string {
  const found = find(setting('stateDir'));
  if (found === undefined) return defaultStateDir(input.env, input.home, input.isRoot);
  // systemd sets STATE_DIRECTORY to a colon-separated list when StateDirectory= names several.
  if (found.source.label === '`STATE_DIRECTORY`' && typeof found.raw === 'string') {
    const first = found.raw.split(':')[0] ?? '';
    if (first !== '') return resolvePath(first, found.source.baseDir, input.home);
  }
  return asPath(found, input.home, problems) ?? '';
}

/**
 * The explicit token file (`--token-file`, `tokenFile`, `HOSTSYNC_TOKEN_FILE`), made absolute.
 * `loadConfig` calls this before token discovery; problems land in `problems` when given.
 */
export function resolveTokenFile(
  input: Pick<ConfigInput, 'flags' | 'file' | 'env' | 'cwd' | 'home'>,
  problems: Problems = { errors: [], warnings: [] },
): string | undefined {
  return readOptionalPath(createLookup(input), 'tokenFile', input.home, problems);
}

function readOptionalPath(find: Lookup, key: string, home: string, problems: Problems): string | undefined {
  const found = find(setting(key));
  return found === undefined ? undefined : asPath(found, home, problems);
}

/** `trust.allowedSignersFile` / `--allowed-signers` and `trust.openpgpKeysFile` / `--openpgp-keys`, made absolute (read by loadConfig). */
function readTrust(find: Lookup, home: string, problems: Problems): TrustConfig {
  const read = (key: 'allowedSignersFile' | 'openpgpKeysFile'): string | undefined => {
    const found = find({ file: ['trust', key], flag: flagOf(`trust.${key}`) });
    return found === undefined ? undefined : asPath(found, home, problems);
  };
  return { allowedSignersFile: read('allowedSignersFile'), openpgpKeysFile: read('openpgpKeysFile') };
}

function readUrls(find: Lookup, problems: Problems): { apiUrl: string; serverUrl: string } {
  const apiFound = find(setting('apiUrl'));
  let apiUrl: string = defaultOf('apiUrl');
  const apiValue = apiFound === undefined ? undefined : asString(apiFound, problems);
  if (apiFound !== undefined && apiValue !== undefined) {
    const checked = checkUrl(apiValue, apiFound.source, 'https://github.example.com/api/v3', problems.warnings);
    if (checked.ok) {
      apiUrl = checked.value;
      const hint = apiUrlHint(apiUrl, apiFound.source);
      if (hint !== undefined) problems.warnings.push(hint);
    } else problems.errors.push(checked.error);
  }
  const serverFound = find(setting('serverUrl'));
  let serverUrl: string = serverUrlFor(apiUrl) ?? defaultOf('serverUrl');
  const serverValue = serverFound === undefined ? undefined : asString(serverFound, problems);
  if (serverFound !== undefined && serverValue !== undefined) {
    const checked = checkUrl(serverValue, serverFound.source, 'https://github.example.com', problems.warnings);
    if (checked.ok) serverUrl = checked.value;
    else problems.errors.push(checked.error);
  }
  return { apiUrl, serverUrl };
}

function readTarget(find: Lookup, input: ConfigInput, problems: Problems) {
  const required = { repo: input.require?.repo ?? true, dest: input.require?.dest ?? true };
  let repo: { repo: string; owner: string; name: string; url?: string | undefined } | undefined;
  const repoFound = find(setting('repo'));
  const repoValue = repoFound === undefined ? undefined : asString(repoFound, problems);
  if (repoFound !== undefined && repoValue !== undefined) {
    const checked = checkRepo(repoValue.trim(), repoFound.source, problems.warnings);
    if (checked.ok) repo = checked.value;
    else problems.errors.push(checked.error);
  } else if (repoFound === undefined && required.repo) {
    problems.errors.push(`Missing repository: give it with --repo OWNER/NAME, "repo" in the config file, or ${envNameOf('repo')}.`);
  }

  let ref: string = defaultOf('ref');
  const refFound = find(setting('ref'));
  const refValue = refFound === undefined ? undefined : asString(refFound, problems);
  if (refFound !== undefined && refValue !== undefined) {
    if (isRefPattern(refValue)) {
      const problem = checkRefAlternatives(refValue, refFound.source);
      if (problem === undefined) ref = refValue;
      else problems.errors.push(problem);
    } else {
      const checked = checkRef(refValue, refFound.source);
      if (checked.ok) ref = checked.value;
      else problems.errors.push(checked.error);
    }
  }

  const destFound = find(setting('dest'));
  const dest = destFound === undefined ? undefined : asPath(destFound, input.home, problems);
  if (destFound === undefined && required.dest) {
    problems.errors.push(`Missing destination directory: give it with --dest DIR, "dest" in the config file, or ${envNameOf('dest')}.`);
  }
  if (destFound !== undefined && dest === path.parse(dest ?? '').root) {
    problems.errors.push(`Refusing ${destFound.source.label} ${describe(dest)}: hostsync would own the whole filesystem. Give a dedicated directory, e.g. ${destFound.source.example('/etc/hypervisor')}.`);
  }

  let repoPath: string = defaultOf('path');
  const pathFound = find(setting('path'));
  const pathValue = pathFound === undefined ? undefined : asString(pathFound, problems);
  if (pathFound !== undefined && pathValue !== undefined) {
    const checked = checkRepoPath(pathValue, pathFound.source);
    if (checked.ok) repoPath = checked.value;
    else problems.errors.push(checked.error);
  }
  return { repo, ref, dest, path: repoPath };
}

/**
 * The proxies: `proxy` (flag, file, HOSTSYNC_PROXY) for both schemes, else the variables curl and
 * git read — https_proxy/HTTPS_PROXY for https://, http_proxy/HTTP_PROXY for http:// (lower case
 * first) — and `noProxy` (else no_proxy/NO_PROXY). Undefined when no proxy is set.
 */
function readProxy(find: Lookup, env: ConfigInput['env'], cwd: string, problems: Problems): ProxyConfig | undefined {
  const checked = (found: Found | undefined): string | undefined => {
    const value = found === undefined ? undefined : asString(found, problems);
    if (found === undefined || value === undefined) return undefined;
    const result = checkProxyUrl(value.trim(), found.source);
    if (result.ok) return result.value;
    problems.errors.push(result.error);
    return undefined;
  };
  const fromEnv = (names: readonly string[]): Found | undefined => createLookup({ flags: {}, env, cwd })({ file: [], env: names });
  const configured = find(setting('proxy'));
  const both = checked(configured);
  const https = configured === undefined ? checked(fromEnv(['https_proxy', 'HTTPS_PROXY'])) : both;
  const http = configured === undefined ? checked(fromEnv(['http_proxy', 'HTTP_PROXY'])) : both;
  const noProxyFound = find(setting('noProxy'));
  const noProxy = (noProxyFound === undefined ? undefined : asString(noProxyFound, problems))?.trim() ?? '';
  if (https === undefined && http === undefined) return undefined;
  return { http, https, noProxy };
}

function readGitUser(find: Lookup, problems: Problems): string {
  const found = find(setting('gitUser'));
  const value = found === undefined ? undefined : asString(found, problems);
  if (found === undefined || value === undefined) return defaultOf('gitUser');
  const checked = checkGitUser(value.trim(), found.source);
  if (checked.ok) return checked.value;
  problems.errors.push(checked.error);
  return defaultOf('gitUser');
}

/** Settings that cannot apply to a repository given as a git URL (no GitHub API there). */
function checkGitUrlSettings(gitUrl: string | undefined, simple: SimpleSettings, find: Lookup, problems: Problems): void {
  const isSsh = gitUrl !== undefined && !/^https?:\/\//i.test(gitUrl);
  for (const key of ['sshKeyFile', 'sshKnownHostsFile']) {
    const found = find(setting(key));
    if (found !== undefined && !isSsh) problems.warnings.push(`${found.source.label} is set, but the repository is not an SSH URL: it is not used.`);
  }
  if (gitUrl === undefined) return;
  if (simple.transport === 'rest') {
    problems.errors.push(`transport 'rest' reads GitHub's REST API, and ${describe(gitUrl)} is a git URL. Use transport auto or git, or give the repository as OWNER/NAME on GitHub.`);
  }
  if (simple.requireSigned) {
    problems.errors.push(`requireSigned asks GitHub's API whether a commit is verified, and ${describe(gitUrl)} is a git URL. Drop requireSigned, or give the repository as OWNER/NAME on GitHub.`);
  }
}

function readPreserve(find: Lookup, problems: Problems): string[] {
  const found = find(setting('preserve'));
  if (found === undefined) return [];
  const globs: string[] = [];
  for (const glob of asStringList(found, problems) ?? []) {
    const checked = checkGlob(glob, found.source);
    if (checked.ok) globs.push(checked.value);
    else problems.errors.push(checked.error);
  }
  return [...new Set(globs)];
}

function readAccount(find: Lookup, key: 'owner' | 'group', isRoot: boolean, problems: Problems): string | undefined {
  const found = find(setting(key));
  const value = found === undefined ? undefined : asString(found, problems);
  if (found === undefined || value === undefined) return undefined;
  const checked = checkAccount(value, found.source, key === 'owner' ? 'user' : 'group');
  if (!checked.ok) {
    problems.errors.push(checked.error);
    return undefined;
  }
  if (!isRoot) problems.warnings.push(`${found.source.label} is set, but hostsync is not running as root: files will belong to the user running it.`);
  return checked.value;
}

function readPreset(find: Lookup, problems: Problems): string | undefined {
  const found = find(setting('preset'));
  const value = found === undefined ? undefined : asString(found, problems);
  if (found === undefined || value === undefined) return undefined;
  const known: readonly string[] = valuesOf('preset');
  if (known.includes(value)) return value;
  const guess = closestMatch(value, known);
  const hint = guess === undefined ? '' : ` Did you mean ${describe(guess)}?`;
  problems.errors.push(`Unknown preset ${describe(value)}${found.source.where}. Known presets: ${known.join(', ')}.${hint}`);
  return undefined;
}

/** `--verbose` and `--quiet` contradict each other: a higher layer overrides a lower one; in one layer it is an error. */
function reconcileVerbosity(
  verbose: { value: boolean; found: Found | undefined },
  quiet: { value: boolean; found: Found | undefined },
  problems: Problems,
): { verbose: boolean; quiet: boolean } {
  if (!verbose.value || !quiet.value || verbose.found === undefined || quiet.found === undefined) {
    return { verbose: verbose.value, quiet: quiet.value };
  }
  const v = LAYER_RANK[verbose.found.source.layer];
  const q = LAYER_RANK[quiet.found.source.layer];
  if (v > q) return { verbose: true, quiet: false };
  if (q > v) return { verbose: false, quiet: true };
  problems.errors.push(`${verbose.found.source.label} and ${quiet.found.source.label} contradict each other; use one of them.`);
  return { verbose: false, quiet: false };
}

function checkStateOutsideDest(stateDir: string, dest: string | undefined, problems: Problems): void {
  if (dest === undefined || stateDir === '' || dest === path.parse(dest).root) return;
  const rel = path.relative(dest, stateDir);
  const outside = rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel);
  if (!outside) {
    problems.errors.push(`The state directory ${describe(stateDir)} is inside the destination ${describe(dest)}; hostsync would sync over its own history. Choose another with --state-dir, e.g. --state-dir ${SYSTEM_STATE_DIR}.`);
  }
}

/**
 * Validate and merge the configuration layers. Returns `{ ok: true, config }` only when there is no
 * error; otherwise every error found. Warnings come either way. The token's value never appears
 * in a message.
 */
export function parseConfig(input: ConfigInput & { readonly require?: StrictRequirements | undefined }): ParseResult;
export function parseConfig(input: ConfigInput): ParseResult<LooseConfig>;
export function parseConfig(input: ConfigInput): ParseResult<LooseConfig> {
  const problems: Problems = { errors: [], warnings: [] };
  if (input.file !== undefined) checkFileShape(input.file, problems);

  // cac reports `rebuild: true` when `--no-rebuild` is declared but not given; only `false` means something.
  const flags: Record<string, unknown> = { ...input.flags };
  const rebuildOff = flags['rebuild'] === false;
  if (typeof flags['rebuild'] === 'boolean') delete flags['rebuild'];
  const find = createLookup({ ...input, flags });

  const target = readTarget(find, input, problems);
  const urls = readUrls(find, problems);
  const stateDir = readStateDir(find, input, problems);
  checkStateOutsideDest(stateDir, target.dest, problems);
  readOptionalPath(find, 'tokenFile', input.home, problems); // validated here, read by loadConfig
  const githubApp = readGitHubApp(find, input, target.repo?.url, problems);
  const simple = readSimple(find, problems);
  checkGitUrlSettings(target.repo?.url, simple, find, problems);
  checkPoll(simple.poll, find(setting('poll')), simple.transport, target.repo?.url, problems);
  const proxy = readProxy(find, input.env, input.cwd, problems);
  const gitUser = readGitUser(find, problems);
  const verbosity = reconcileVerbosity({ value: simple.verbose, found: find(setting('verbose')) }, { value: simple.quiet, found: find(setting('quiet')) }, problems);

  const config: LooseConfig = {
    ...simple,
    repo: target.repo?.repo,
    repoOwner: target.repo?.owner,
    repoName: target.repo?.name,
    gitUrl: target.repo?.url,
    gitUser,
    sshKeyFile: readOptionalPath(find, 'sshKeyFile', input.home, problems),
    sshKnownHostsFile: readOptionalPath(find, 'sshKnownHostsFile', input.home, problems),
    proxy,
    caFile: readOptionalPath(find, 'caFile', input.home, problems),
    ref: target.ref,
    dest: target.dest,
    path: target.path,
    apiUrl: urls.apiUrl,
    serverUrl: urls.serverUrl,
    stateDir,
    verbose: verbosity.verbose,
    quiet: verbosity.quiet,
    preserve: readPreserve(find, problems),
    token: tokenBesideApp(input.token, githubApp, problems),
    githubApp,
    owner: readAccount(find, 'owner', input.isRoot, problems),
    group: readAccount(find, 'group', input.isRoot, problems),
    rebuild: readRebuild(find, rebuildOff, input.file, problems),
    hooks: readHooks(find, problems),
    checks: readChecks(find, problems),
    preset: readPreset(find, problems),
    metricsFile: readOptionalPath(find, 'metricsFile', input.home, problems),
    rollout: readRollout(find, problems),
    hostId: readHostId(find, setting('hostId'), problems),
    trust: readTrust(find, input.home, problems),
    configFile: input.file?.path,
  };

  const redact = createRedactor([input.token?.value, proxyPassword(proxy?.https), proxyPassword(proxy?.http)]);
  const warnings = problems.warnings.map(redact);
  if (problems.errors.length > 0) return { ok: false, errors: problems.errors.map(redact), warnings };
  return { ok: true, config, warnings };
}
