/** The cached installation token: what is taken, what is ignored, how it is written. */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dropCachedToken, readCachedToken, writeCachedToken, type CacheKey, type CachedAppToken } from '../../src/auth/token-cache.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hostsync-token-cache-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const TOKEN: CachedAppToken = {
  appId: '12345',
  installationId: 678,
  repository: 'acme/hypervisor',
  token: 'ghs_0123456789abcdefghijABCDEFGHIJ012345',
  expiresAt: '2030-01-01T01:00:00.000Z',
  mintedAt: '2030-01-01T00:00:00.000Z',
};

describe('readCachedToken', () => {
  it.each<[string, CacheKey, boolean]>([
    ['the same App, installation and repository', { appId: '12345', installationId: 678, repository: 'acme/hypervisor' }, true],
    ['any installation when none is configured', { appId: '12345', installationId: undefined, repository: 'acme/hypervisor' }, true],
    ['the repository in other letter case', { appId: '12345', installationId: 678, repository: 'Acme/Hypervisor' }, true],
    ['another App', { appId: '4242', installationId: 678, repository: 'acme/hypervisor' }, false],
    ['another installation', { appId: '12345', installationId: 679, repository: 'acme/hypervisor' }, false],
    ['another repository', { appId: '12345', installationId: 678, repository: 'acme/other' }, false],
  ])('%s: used %s', async (_name, key, used) => {
    const file = join(dir, 'token.json');
    await writeCachedToken(file, TOKEN);
    expect(await readCachedToken(file, key)).toEqual(used ? TOKEN : undefined);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['not JSON', '{'],
    ['null', 'null'],
    ['without a version', JSON.stringify(TOKEN)],
    ['an installation id as a string', JSON.stringify({ version: 1, ...TOKEN, installationId: '678' })],
    ['a bad expiry', JSON.stringify({ version: 1, ...TOKEN, expiresAt: 'tomorrow' })],
    ['a token with a space', JSON.stringify({ version: 1, ...TOKEN, token: 'ghs_0123 456789' })],
  ])('ignores a file that is %s', async (_name, content) => {
    const file = join(dir, 'token.json');
    if (content !== undefined) await writeFile(file, content);
    expect(await readCachedToken(file, { appId: '12345', installationId: 678, repository: 'acme/hypervisor' })).toBeUndefined();
  });
});

describe('writeCachedToken', () => {
  it('writes mode 0600 JSON, creating the directory 0700', async () => {
    const file = join(dir, 'auth', 'token.json');
    await writeCachedToken(file, { ...TOKEN, repository: 'Acme/Hypervisor' });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'auth'))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ version: 1, ...TOKEN });
  });

  it('is removed by dropCachedToken, which does not mind a missing file', async () => {
    const file = join(dir, 'token.json');
    await writeCachedToken(file, TOKEN);
    await dropCachedToken(file);
    await dropCachedToken(file);
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
