/**
 * The GitHub App settings — `appId`, `appPrivateKeyFile`, `appInstallationId` — read and checked
 * without I/O. The key itself is found and read by loadConfig (src/auth/app-key.ts:
 * `appPrivateKeyFile`, else the systemd credential `$CREDENTIALS_DIRECTORY/github-app-key`) and
 * arrives as `ConfigInput.appKey`.
 *
 * With an App configured every run authenticates as the App (src/auth/run-auth.ts): a token found
 * as well is not used, and a warning says so when it was meant for hostsync (`tokenFile`, the
 * credential `github-token`); GITHUB_TOKEN, GH_TOKEN and ~/.config/github/token are ignored quietly,
 * since they are often there for other programs.
 */
import { envOf, flagOf } from './settings.js';
import { asPath, asString, createLookup, describe, type Found, type Lookup, type Problems, type Setting } from './sources.js';
import type { ConfigInput, GitHubAppConfig, Token } from './types.js';

type AppKey = 'appId' | 'appPrivateKeyFile' | 'appInstallationId';

const setting = (key: AppKey): Setting => ({ file: [key], flag: flagOf(key), env: envOf(key) });

/** The credential the App's key is read from when `appPrivateKeyFile` is not set (`LoadCredential=github-app-key:…`). */
const CREDENTIAL_HINT = 'LoadCredential=github-app-key:/etc/hostsync/github-app.pem';

/**
 * Where loadConfig looks for the App's private key: only when `appId` is set (`wanted`), in the
 * configured file (absolute) or, without one, the systemd credential.
 */
export function appKeyLocation(input: Pick<ConfigInput, 'flags' | 'file' | 'env' | 'cwd' | 'home'>): { readonly wanted: boolean; readonly keyFile: string | undefined } {
  const find = createLookup(input);
  const keyFound = find(setting('appPrivateKeyFile'));
  // Problems with the value are reported by parseConfig, which reads it again.
  const keyFile = keyFound === undefined ? undefined : asPath(keyFound, input.home, { errors: [], warnings: [] });
  return { wanted: find(setting('appId')) !== undefined, keyFile };
}

const ID_HINTS: Readonly<Record<'appId' | 'appInstallationId', string>> = {
  appId: "the \"App ID\" on the GitHub App's settings page (Settings → Developer settings → GitHub Apps → Edit), not its client ID (Iv1.…)",
  appInstallationId: "the number at the end of the installation's settings URL (…/settings/installations/ID); or leave it out and hostsync looks it up from the repository",
};

/** A numeric id: digits in a string (flag, environment, file) or a positive integer in the file. */
function readId(find: Lookup, key: 'appId' | 'appInstallationId', problems: Problems): { value: string | undefined; found: Found | undefined } {
  const found = find(setting(key));
  if (found === undefined) return { value: undefined, found };
  const raw = found.raw;
  const text = typeof raw === 'number' ? (Number.isSafeInteger(raw) ? String(raw) : undefined) : asString(found, problems);
  if (text === undefined && typeof raw !== 'number') return { value: undefined, found }; // asString said why
  const value = text?.trim();
  if (value === undefined || !/^[1-9]\d{0,19}$/.test(value) || (key === 'appInstallationId' && !Number.isSafeInteger(Number(value)))) {
    problems.errors.push(`Expected ${found.source.label} to be a positive whole number, ${ID_HINTS[key]}; got ${describe(raw)}.`);
    return { value: undefined, found };
  }
  return { value, found };
}

/**
 * The App of the config, or undefined when `appId` is not set. Errors: another App setting without
 * `appId`, an App with a git URL (the App's token is for GitHub's REST API and git endpoints of an
 * OWNER/NAME repository), no key found.
 */
export function readGitHubApp(find: Lookup, input: Pick<ConfigInput, 'appKey' | 'home'>, gitUrl: string | undefined, problems: Problems): GitHubAppConfig | undefined {
  const appId = readId(find, 'appId', problems);
  const installation = readId(find, 'appInstallationId', problems);
  const keyFound = find(setting('appPrivateKeyFile'));
  if (keyFound !== undefined) asPath(keyFound, input.home, problems); // checked here, read by loadConfig
  if (appId.found === undefined) {
    for (const orphan of [keyFound, installation.found]) {
      if (orphan === undefined) continue;
      problems.errors.push(`${orphan.source.label} is set, but appId is not: add appId (--app-id, or "appId" in the config file), ${ID_HINTS.appId}; or remove ${orphan.source.label}.`);
    }
    return undefined;
  }
  if (appId.value === undefined) return undefined;
  if (gitUrl !== undefined) {
    problems.errors.push(`${appId.found.source.label} makes hostsync authenticate as GitHub App ${appId.value}, whose tokens are for repositories on GitHub given as OWNER/NAME, and ${describe(gitUrl)} is a git URL. Give --repo as OWNER/NAME (with apiUrl for GitHub Enterprise Server), or remove appId and use a token.`);
    return undefined;
  }
  const key = input.appKey;
  if (key !== undefined && 'error' in key) {
    problems.errors.push(key.error);
    return undefined;
  }
  if (key === undefined) {
    if (keyFound === undefined) {
      problems.errors.push(`GitHub App ${appId.value} (${appId.found.source.label}) needs its private key: set appPrivateKeyFile (--app-private-key-file) to the .pem file generated on the App's settings page, or hand the file to the service as the systemd credential github-app-key (${CREDENTIAL_HINT}).`);
    }
    return undefined;
  }
  if (installation.found !== undefined && installation.value === undefined) return undefined;
  return { appId: appId.value, installationId: installation.value === undefined ? undefined : Number(installation.value), privateKeyFile: key.file, privateKey: key.pem };
}

/**
 * The token a run starts with: none when an App is configured (the App's installation token takes
 * its place, run by run), with a warning when the token was configured for hostsync.
 */
export function tokenBesideApp(token: Token | undefined, app: GitHubAppConfig | undefined, problems: Problems): Token | undefined {
  if (app === undefined || token === undefined) return token;
  if (token.source === '--token-file' || token.source === 'CREDENTIALS_DIRECTORY/github-token') {
    problems.warnings.push(
      `GitHub App ${app.appId} is configured, so hostsync authenticates as the App and does not use the token in ${token.file ?? token.source}. ` +
        'Remove that token (tokenFile, or LoadCredential=github-token:… of the unit) once the App works, or remove appId to use the token again.',
    );
  }
  return undefined;
}
