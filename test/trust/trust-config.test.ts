/**
 * The `trust` settings: `--allowed-signers` / `--openpgp-keys` and the config file's `trust` section,
 * resolved like every path setting, and the files read at config load when a command syncs — a
 * missing, unreadable or malformed one is a config error (exit 2 through the CLI) naming the file.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { parseConfig } from '../../src/config/parse.js';
import { runInProcess } from '../support/io.js';
import { sshKey, type SshKeyPair } from './helpers.js';

let dir = '';
let key: SshKeyPair;
const base = () => ({ env: {}, cwd: dir, home: path.join(dir, 'home'), isRoot: false });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'hostsync-trust-config-'));
  await mkdir(path.join(dir, 'etc'));
  key = await sshKey(dir, 'signer', 'ed25519');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, text: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

describe('parseConfig: trust', () => {
  const parse = (flags: Record<string, unknown>, data?: unknown) =>
    parseConfig({ flags: { repo: 'a/b', dest: '/d', ...flags }, file: data === undefined ? undefined : { path: '/etc/hostsync/config.json', data }, env: {}, token: undefined, home: '/root', isRoot: true, cwd: '/work' });

  it.each([
    ['nothing pinned', {}, undefined, { allowedSignersFile: undefined, openpgpKeysFile: undefined }],
    ['flags, relative to the working directory', { allowedSigners: 'signers', openpgpKeys: '/k.asc' }, undefined, { allowedSignersFile: '/work/signers', openpgpKeysFile: '/k.asc' }],
    ['the file, relative to its directory', {}, { trust: { allowedSignersFile: 'allowed_signers' } }, { allowedSignersFile: '/etc/hostsync/allowed_signers', openpgpKeysFile: undefined }],
    ['a flag beats the file', { allowedSigners: '/flag' }, { trust: { allowedSignersFile: '/file' } }, { allowedSignersFile: '/flag', openpgpKeysFile: undefined }],
  ])('%s', (_name, flags, data, expected) => {
    const result = parse(flags, data);
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.config.trust).toEqual(expected);
  });

  it('an unknown key in the trust section is an error with a suggestion', () => {
    const result = parse({}, { trust: { allowedSigners: '/x' } });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors.join('\n')).toMatch(/Unknown key `trust\.allowedSigners`.*Did you mean `trust\.allowedSignersFile`\?/);
  });

  it('a trust section that is not an object is an error showing the shape', () => {
    const result = parse({}, { trust: '/etc/hostsync/allowed_signers' });
    expect(!result.ok && result.errors.join('\n')).toMatch(/Expected `trust` in .* to be an object like \{"allowedSignersFile"/);
  });
});

describe('loadConfig with readTrustPins', () => {
  it('reads and parses the pinned keys', async () => {
    const file = await write('good_signers', `ops@example.invalid namespaces="git" ${key.publicKey}\n`);
    const result = await loadConfig({ repo: 'a/b', dest: 'd', allowedSigners: file }, { ...base(), readTrustPins: true });
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.config.trust.pins?.allowedSigners?.entries).toHaveLength(1);
    expect(result.config.trust.pins?.openpgpKeys).toBeUndefined();
  });

  it('leaves the files alone when not asked (history, rollback, validate)', async () => {
    const result = await loadConfig({ repo: 'a/b', dest: 'd', allowedSigners: path.join(dir, 'absent') }, base());
    expect(result.ok).toBe(true);
  });

  it.each([
    ['missing', () => Promise.resolve(path.join(dir, 'absent')), /trust\.allowedSignersFile names .*absent, which does not exist/],
    ['garbled', () => write('garbled_signers', 'ops@example.invalid not-a-key-type AAAA\n'), /garbled_signers/],
    ['empty', () => write('empty_signers', '# nobody\n'), /lists no signers, so every commit would be refused/],
  ])('an allowed-signers file that is %s is a config error naming it', async (_name, make, message) => {
    const file = await make();
    const result = await loadConfig({ repo: 'a/b', dest: 'd', allowedSigners: file }, { ...base(), readTrustPins: true });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors.join('\n')).toMatch(message);
  });

  it('an OpenPGP keys file without a key is a config error naming it', async () => {
    const file = await write('keys.asc', 'not armored\n');
    const result = await loadConfig({ repo: 'a/b', dest: 'd', openpgpKeys: file }, { ...base(), readTrustPins: true });
    expect(!result.ok && result.errors.join('\n')).toMatch(/keys\.asc holds no armored OpenPGP public key/);
  });

  it.skipIf(process.getuid?.() === 0)('an unreadable file is a config error saying so', async () => {
    const file = await write('locked_signers', `ops@example.invalid namespaces="git" ${key.publicKey}\n`);
    await chmod(file, 0o000);
    const result = await loadConfig({ repo: 'a/b', dest: 'd', allowedSigners: file }, { ...base(), readTrustPins: true });
    expect(!result.ok && result.errors.join('\n')).toMatch(/which this user cannot read/);
  });
});

describe('the CLI', () => {
  it('sync with a malformed pinned-keys file exits 2 before touching anything', async () => {
    const file = await write('bad_signers', 'ops@example.invalid namespaces="git" ssh-ed25519 !!!\n');
    const dest = path.join(dir, 'dest');
    const run = await runInProcess(['sync', '--repo', 'acme/x', '--dest', dest, '--state-dir', path.join(dir, 'state'), '--allowed-signers', file], { cwd: dir, env: { HOSTSYNC_CONFIG: path.join(dir, 'none.json') } });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('bad_signers');
    await expect(import('node:fs/promises').then((fs) => fs.stat(dest))).rejects.toThrow();
  });

  it('help lists the flags', async () => {
    const run = await runInProcess(['help', 'sync'], { cwd: dir, env: {} });
    expect(run.stdout).toMatch(/--allowed-signers <file>/);
    expect(run.stdout).toMatch(/--openpgp-keys <file>/);
  });
});
