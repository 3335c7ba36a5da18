import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileContent, ReadFileFn } from '../../src/config/files.js';
import { readFileWithMode } from '../../src/config/files.js';
import { discoverToken } from '../../src/config/token.js';
import type { TokenDiscovery } from '../../src/config/token.js';

const SECRET = 'ghp_0123456789abcdefSECRET';
const HOME = '/home/ops';
const HOME_TOKEN = '/home/ops/.config/github/token';
const CREDS = '/run/credentials/hostsync.service';
const CRED_TOKEN = `${CREDS}/github-token`;

/** A fake filesystem: a path maps to its content, or to the error code reading it fails with. */
function fakeFs(files: Record<string, FileContent | string>): ReadFileFn {
  return async (file) => {
    const entry = files[file];
    if (entry === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
    if (typeof entry === 'string') throw Object.assign(new Error(`${entry}: ${file}`), { code: entry });
    return entry;
  };
}

const file = (text: string, mode = 0o600): FileContent => ({ text, mode });

function messages(result: TokenDiscovery): string {
  return [...result.errors, ...result.warnings].join('\n');
}

describe('discovery order', () => {
  const all = {
    '/etc/hostsync/token': file('from-flag'),
    [CRED_TOKEN]: file('from-credentials'),
    [HOME_TOKEN]: file('from-home'),
  };
  const env = { CREDENTIALS_DIRECTORY: CREDS, GITHUB_TOKEN: 'from-github-token', GH_TOKEN: 'from-gh-token' };

  it.each([
    ['--token-file first', '/etc/hostsync/token', env, all, 'from-flag', '--token-file', '/etc/hostsync/token'],
    ['then the systemd credential', undefined, env, all, 'from-credentials', 'CREDENTIALS_DIRECTORY/github-token', CRED_TOKEN],
    ['then GITHUB_TOKEN', undefined, { ...env, CREDENTIALS_DIRECTORY: undefined }, all, 'from-github-token', 'GITHUB_TOKEN', undefined],
    ['then GH_TOKEN', undefined, { GH_TOKEN: 'from-gh-token', GITHUB_TOKEN: '' }, all, 'from-gh-token', 'GH_TOKEN', undefined],
    ['then ~/.config/github/token', undefined, {}, all, 'from-home', '~/.config/github/token', HOME_TOKEN],
    ['a credentials directory without github-token is skipped', undefined, { CREDENTIALS_DIRECTORY: CREDS, GH_TOKEN: 'from-gh-token' }, {}, 'from-gh-token', 'GH_TOKEN', undefined],
  ] as const)('%s', async (_name, tokenFile, env, files, value, source, from) => {
    const result = await discoverToken({ tokenFile, env, home: HOME, readFile: fakeFs(files) });
    expect(result.errors).toEqual([]);
    expect(result.token).toEqual(from === undefined ? { value, source } : { value, source, file: from });
  });

  it('finds nothing without complaint', async () => {
    expect(await discoverToken({ tokenFile: undefined, env: {}, home: HOME, readFile: fakeFs({}) })).toEqual({
      token: undefined,
      errors: [],
      warnings: [],
      seen: [],
    });
  });

  it('trims whitespace and the trailing newline', async () => {
    const result = await discoverToken({ tokenFile: '/t', env: {}, home: HOME, readFile: fakeFs({ '/t': file(`  ${SECRET}\n`) }) });
    expect(result.token?.value).toBe(SECRET);
  });
});

describe('problems', () => {
  it.each([
    ['explicit file missing', { '/t': 'ENOENT' }, 'Cannot read token file /t: it does not exist (ENOENT). Fix the path given as the token file, or its permissions.'],
    ['explicit file unreadable', { '/t': 'EACCES' }, 'Cannot read token file /t: permission denied (EACCES). Fix the path given as the token file, or its permissions.'],
    ['explicit file is a directory', { '/t': 'EISDIR' }, 'Cannot read token file /t: it is a directory (EISDIR). Fix the path given as the token file, or its permissions.'],
    ['explicit file empty', { '/t': file(' \n') }, 'Token file /t is empty. Write the token into it, or stop pointing the token file at it.'],
    ['explicit file with two lines', { '/t': file(`${SECRET}\n# comment`) }, 'The token in token file /t spans several lines or contains spaces or control characters; it must hold the token alone.'],
  ] as const)('%s is an error naming the file', async (_name, files, message) => {
    const result = await discoverToken({ tokenFile: '/t', env: { GITHUB_TOKEN: 'fallback' }, home: HOME, readFile: fakeFs(files) });
    expect(result.token).toBeUndefined();
    expect(result.errors).toEqual([message]);
  });

  it('an explicit file does not fall back to the environment when it fails', async () => {
    const result = await discoverToken({ tokenFile: '/t', env: { GITHUB_TOKEN: SECRET }, home: HOME, readFile: fakeFs({}) });
    expect(result.token).toBeUndefined();
  });

  it('an unreadable implicit file is a warning, and discovery goes on', async () => {
    const result = await discoverToken({
      tokenFile: undefined,
      env: { CREDENTIALS_DIRECTORY: CREDS, GH_TOKEN: 'x' },
      home: HOME,
      readFile: fakeFs({ [CRED_TOKEN]: 'EACCES' }),
    });
    expect(result.token?.source).toBe('GH_TOKEN');
    expect(result.warnings).toEqual([
      `Cannot read token file ${CRED_TOKEN} (CREDENTIALS_DIRECTORY/github-token): permission denied (EACCES); looking further.`,
    ]);
  });

  it('an empty implicit file is a warning, and discovery goes on', async () => {
    const result = await discoverToken({ tokenFile: undefined, env: {}, home: HOME, readFile: fakeFs({ [HOME_TOKEN]: file('') }) });
    expect(result.token).toBeUndefined();
    expect(result.warnings).toEqual([`Token file ${HOME_TOKEN} (~/.config/github/token) is empty; looking further.`]);
  });

  it.each([
    [0o644, '0644'],
    [0o640, '0640'],
    [0o604, '0604'],
  ])('a token file with mode %o draws a chmod warning', async (mode, shown) => {
    const result = await discoverToken({ tokenFile: '/t', env: {}, home: HOME, readFile: fakeFs({ '/t': file(SECRET, mode) }) });
    expect(result.token?.value).toBe(SECRET);
    expect(result.warnings).toEqual([`Token file /t is readable by group or others (mode ${shown}); run \`chmod 600 /t\`.`]);
  });

  it.each([0o600, 0o400])('mode %o is quiet', async (mode) => {
    const result = await discoverToken({ tokenFile: '/t', env: {}, home: HOME, readFile: fakeFs({ '/t': file(SECRET, mode) }) });
    expect(result.warnings).toEqual([]);
  });

  it('a malformed environment token is an error naming the variable', async () => {
    const result = await discoverToken({ tokenFile: undefined, env: { GITHUB_TOKEN: `${SECRET} extra` }, home: HOME, readFile: fakeFs({}) });
    expect(result.errors).toEqual([
      'The token in GITHUB_TOKEN spans several lines or contains spaces or control characters; it must hold the token alone.',
    ]);
  });
});

describe('the token value', () => {
  const scenarios: Array<[string, Parameters<typeof discoverToken>[0]]> = [
    ['world-readable file', { tokenFile: '/t', env: {}, home: HOME, readFile: fakeFs({ '/t': file(SECRET, 0o666) }) }],
    ['two-line file', { tokenFile: '/t', env: {}, home: HOME, readFile: fakeFs({ '/t': file(`${SECRET}\n${SECRET}`, 0o644) }) }],
    ['bad env token', { tokenFile: undefined, env: { GH_TOKEN: `${SECRET}\n${SECRET}` }, home: HOME, readFile: fakeFs({}) }],
  ];
  it.each(scenarios)('never appears in a message: %s', async (_name, given) => {
    const text = messages(await discoverToken(given));
    expect(text).not.toBe('');
    expect(text).not.toContain(SECRET);
  });
});

describe('readFileWithMode (the real filesystem)', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hostsync-token-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reports text and mode, and a world-readable file warns end to end', async () => {
    const tokenFile = path.join(dir, 'token');
    await writeFile(tokenFile, `\uFEFF${SECRET}\n`);
    await chmod(tokenFile, 0o644);
    expect(await readFileWithMode(tokenFile)).toEqual({ text: `${SECRET}\n`, mode: 0o644 });
    const result = await discoverToken({ tokenFile, env: {}, home: dir, readFile: readFileWithMode });
    expect(result.token).toEqual({ value: SECRET, source: '--token-file', file: tokenFile });
    expect(result.warnings).toEqual([`Token file ${tokenFile} is readable by group or others (mode 0644); run \`chmod 600 ${tokenFile}\`.`]);
  });

  it('CREDENTIALS_DIRECTORY on disk', async () => {
    await writeFile(path.join(dir, 'github-token'), 'cred-token', { mode: 0o400 });
    const result = await discoverToken({ tokenFile: undefined, env: { CREDENTIALS_DIRECTORY: dir }, home: '/nonexistent', readFile: readFileWithMode });
    expect(result).toEqual({
      token: { value: 'cred-token', source: 'CREDENTIALS_DIRECTORY/github-token', file: path.join(dir, 'github-token') },
      errors: [],
      warnings: [],
      seen: ['cred-token'],
    });
  });

  it('a directory given as the token file is an error', async () => {
    const result = await discoverToken({ tokenFile: dir, env: {}, home: dir, readFile: readFileWithMode });
    expect(result.errors).toEqual([`Cannot read token file ${dir}: it is a directory (EISDIR). Fix the path given as the token file, or its permissions.`]);
  });
});
