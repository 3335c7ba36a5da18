/**
 * The GitHub App settings as the config parser reads them (appId, appPrivateKeyFile,
 * appInstallationId; flag, file, environment), which of App and token wins, and loadConfig finding
 * the key in a file or as the systemd credential github-app-key.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { parseConfig } from '../../src/config/parse.js';
import type { ConfigInput, LooseConfig, ParseResult, Token } from '../../src/config/types.js';
import { rsaKeyPair } from './support.js';
import Ajv2020 from 'ajv/dist/2020.js';
import { readFileSync } from 'node:fs';

const FILE = '/etc/hostsync/config.json';
const KEY = { pem: '-----BEGIN RSA PRIVATE KEY-----\nstand-in: parseConfig does not read it\n-----END RSA PRIVATE KEY-----\n', file: '/run/credentials/hostsync.service/github-app-key' };

function input(over: Partial<ConfigInput> = {}): ConfigInput {
  return { flags: { repo: 'acme/hypervisor', dest: '/etc/hypervisor' }, env: {}, token: undefined, home: '/root', isRoot: true, cwd: '/', ...over };
}

function ok(result: ParseResult<LooseConfig>): LooseConfig {
  if (!result.ok) throw new Error(`expected a config, got:\n${result.errors.join('\n')}`);
  return result.config;
}

function errors(result: ParseResult<LooseConfig>): readonly string[] {
  if (result.ok) throw new Error('expected errors');
  return result.errors;
}

describe('parseConfig: the App', () => {
  it.each<[string, Partial<ConfigInput>, { appId: string; installationId: number | undefined }]>([
    ['flags', { flags: { repo: 'acme/hypervisor', dest: '/d', appId: 12345, appInstallationId: '678' } }, { appId: '12345', installationId: 678 }],
    ['the file, numbers', { file: { path: FILE, data: { repo: 'acme/hypervisor', dest: '/d', appId: 12345, appInstallationId: 678 } }, flags: {} }, { appId: '12345', installationId: 678 }],
    ['the file, strings', { file: { path: FILE, data: { repo: 'acme/hypervisor', dest: '/d', appId: '12345' } }, flags: {} }, { appId: '12345', installationId: undefined }],
    ['the environment', { env: { HOSTSYNC_APP_ID: '12345', HOSTSYNC_APP_INSTALLATION_ID: '678' } }, { appId: '12345', installationId: 678 }],
  ])('from %s', (_name, over, want) => {
    const config = ok(parseConfig(input({ appKey: KEY, ...over })));
    expect(config.githubApp).toEqual({ ...want, privateKeyFile: KEY.file, privateKey: KEY.pem });
  });

  it.each<[string, unknown, RegExp]>([
    ['a client ID', 'Iv1.0123456789abcdef', /Expected `appId` in \/etc\/hostsync\/config\.json to be a positive whole number, the "App ID" on the GitHub App's settings page .* not its client ID \(Iv1\.…\); got 'Iv1\.0123456789abcdef'\./],
    ['zero', 0, /to be a positive whole number/],
    ['a fraction', 1.5, /got 1\.5\./],
    ['a negative number', -3, /got -3\./],
  ])('refuses %s as appId', (_name, appId, message) => {
    expect(errors(parseConfig(input({ appKey: KEY, flags: {}, file: { path: FILE, data: { repo: 'acme/hypervisor', dest: '/d', appId } } })))).toEqual([expect.stringMatching(message)]);
  });

  it('refuses an installation id that is not a number, saying where to find it', () => {
    expect(errors(parseConfig(input({ appKey: KEY, env: { HOSTSYNC_APP_ID: '1', HOSTSYNC_APP_INSTALLATION_ID: 'acme' } })))).toEqual([
      expect.stringMatching(/^Expected `HOSTSYNC_APP_INSTALLATION_ID` to be a positive whole number, the number at the end of the installation's settings URL .*; got 'acme'\.$/),
    ]);
  });

  it.each(['appPrivateKeyFile', 'appInstallationId'])('refuses %s without appId', (key) => {
    const value = key === 'appPrivateKeyFile' ? '/etc/hostsync/github-app.pem' : '678';
    expect(errors(parseConfig(input({ flags: {}, file: { path: FILE, data: { repo: 'acme/hypervisor', dest: '/d', [key]: value } } })))).toEqual([
      `\`${key}\` in ${FILE} is set, but appId is not: add appId (--app-id, or "appId" in the config file), the "App ID" on the GitHub App's settings page (Settings → Developer settings → GitHub Apps → Edit), not its client ID (Iv1.…); or remove \`${key}\` in ${FILE}.`,
    ]);
  });

  it('refuses an App with a repository given as a git URL', () => {
    const result = parseConfig(input({ appKey: KEY, flags: { repo: 'https://git.example.com/acme/hypervisor.git', dest: '/d', appId: '1' } }));
    expect(errors(result)).toEqual([expect.stringMatching(/^`--app-id` makes hostsync authenticate as GitHub App 1, whose tokens are for repositories on GitHub given as OWNER\/NAME, .* Give --repo as OWNER\/NAME/)]);
  });

  it('asks for the key when none was found, naming the setting and the credential', () => {
    expect(errors(parseConfig(input({ env: { HOSTSYNC_APP_ID: '1' } })))).toEqual([
      'GitHub App 1 (`HOSTSYNC_APP_ID`) needs its private key: set appPrivateKeyFile (--app-private-key-file) to the .pem file generated on the App\'s settings page, or hand the file to the service as the systemd credential github-app-key (LoadCredential=github-app-key:/etc/hostsync/github-app.pem).',
    ]);
  });

  it('fails with the message of a key loadConfig could not use', () => {
    const error = 'Cannot read the GitHub App private key /etc/hostsync/github-app.pem: permission denied. Fix appPrivateKeyFile, or the file\'s permissions.';
    expect(errors(parseConfig(input({ appKey: { error }, env: { HOSTSYNC_APP_ID: '1' } })))).toEqual([error]);
  });
});

describe('docs/config.schema.json agrees with the parser on the App settings', () => {
  const schema = JSON.parse(readFileSync(new URL('../../docs/config.schema.json', import.meta.url), 'utf8')) as object;
  const validate = new Ajv2020.default({ strict: true, allErrors: true }).compile(schema);
  it.each<[unknown, boolean]>([
    [123456, true],
    ['123456', true],
    [0, false],
    ['0123', false],
    ['Iv1.0123456789abcdef', false],
    [1.5, false],
    [-1, false],
  ])('appId and appInstallationId %j: valid %s', (id, valid) => {
    for (const key of ['appId', 'appInstallationId']) {
      const data = { repo: 'acme/hypervisor', dest: '/d', ...(key === 'appId' ? {} : { appId: 1 }), [key]: id };
      expect(validate(data), `schema, ${key}`).toBe(valid);
      expect(parseConfig(input({ appKey: KEY, flags: {}, file: { path: FILE, data } })).ok, `parser, ${key}`).toBe(valid);
    }
  });
});

describe('parseConfig: App and token', () => {
  const token = (source: Token['source'], file?: string): Token => ({ value: 'ghp_0123456789abcdefghij', source, ...(file === undefined ? {} : { file }) });

  it.each<[string, Token, boolean]>([
    ['--token-file', token('--token-file', '/etc/hostsync/token'), true],
    ['the credential github-token', token('CREDENTIALS_DIRECTORY/github-token', '/run/credentials/x/github-token'), true],
    ['GITHUB_TOKEN', token('GITHUB_TOKEN'), false],
    ['~/.config/github/token', token('~/.config/github/token', '/root/.config/github/token'), false],
  ])('the App wins over a token from %s', (_name, found, warned) => {
    const result = parseConfig(input({ appKey: KEY, token: found, env: { HOSTSYNC_APP_ID: '1' } }));
    expect(ok(result).token).toBeUndefined();
    expect(result.warnings).toEqual(warned ? [`GitHub App 1 is configured, so hostsync authenticates as the App and does not use the token in ${found.file}. Remove that token (tokenFile, or LoadCredential=github-token:… of the unit) once the App works, or remove appId to use the token again.`] : []);
  });

  it('keeps the token without an App', () => {
    expect(ok(parseConfig(input({ token: token('GITHUB_TOKEN') }))).token?.value).toBe('ghp_0123456789abcdefghij');
  });
});

describe('loadConfig: finding the key', () => {
  let dir: string;
  const key = rsaKeyPair();
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hostsync-app-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const flags = { repo: 'acme/hypervisor', dest: '/srv/dest', appId: '12345' };

  it('reads appPrivateKeyFile, relative to the config file', async () => {
    await writeFile(join(dir, 'app.pem'), key.privatePem, { mode: 0o600 });
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...flags, appPrivateKeyFile: 'app.pem' }));
    const result = await loadConfig({ config: join(dir, 'config.json') }, { env: {}, cwd: '/', home: '/root', isRoot: true });
    expect(result.ok && result.config.githubApp).toMatchObject({ appId: '12345', privateKeyFile: join(dir, 'app.pem'), privateKey: key.privatePem });
  });

  it('takes the systemd credential github-app-key when no file is set, and warns of a key others can read', async () => {
    const credentials = join(dir, 'credentials');
    await mkdir(credentials, { recursive: true });
    await writeFile(join(credentials, 'github-app-key'), key.privatePem, { mode: 0o644 });
    const result = await loadConfig(flags, { env: { CREDENTIALS_DIRECTORY: credentials }, cwd: '/', home: '/root', isRoot: true });
    expect(result.ok && result.config.githubApp?.privateKeyFile).toBe(join(credentials, 'github-app-key'));
    expect(result.warnings).toEqual([expect.stringMatching(/readable by group or others \(mode 0644\); run `chmod 600 .*github-app-key`/)]);
  });

  it('fails on an OpenSSH key given as the App key, naming the file and never the key', async () => {
    const file = join(dir, 'id_ed25519');
    await writeFile(file, '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n', { mode: 0o600 });
    const result = await loadConfig({ ...flags, appPrivateKeyFile: file }, { env: {}, cwd: '/', home: '/root', isRoot: true });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toEqual([expect.stringMatching(new RegExp(`^The GitHub App private key in ${file} is an OpenSSH key, not a GitHub App key\\. Download a new private key`))]);
    expect(result.errors.join('\n')).not.toContain('b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ');
  });

  it('reads no key when appId is not set', async () => {
    const result = await loadConfig({ repo: 'acme/hypervisor', dest: '/srv/dest' }, { env: { CREDENTIALS_DIRECTORY: join(dir, 'credentials') }, cwd: '/', home: '/root', isRoot: true });
    expect(result.ok && result.config.githubApp).toBeUndefined();
    expect(result.warnings).toEqual([]);
  });
});
