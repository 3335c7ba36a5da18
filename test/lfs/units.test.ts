/**
 * The pure parts of src/lfs, table-tested: pointer files in the spec's exact format (and what is
 * not one), `.gitattributes` filter=lfs matching as git does, `.lfsconfig`'s lfs.url, the LFS
 * endpoint and where the token may go, the batch API's ref name and link expiry.
 */
import { describe, expect, it } from 'vitest';
import { lfsPaths } from '../../src/lfs/attributes.js';
import { isExpired, refNameOf } from '../../src/lfs/batch.js';
import { lfsEndpoint, lfsUrlOf, remoteLfsUrl } from '../../src/lfs/endpoint.js';
import { formatPointer, mayBePointer, parsePointer } from '../../src/lfs/pointer.js';
import { placeholderOf } from '../../src/lfs/resolve.js';
import { gitBuffer } from '../support/git-cli.js';
import { hasGitLfs } from '../support/lfs.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const OID = '4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393';
const V1 = 'version https://git-lfs.github.com/spec/v1';
const text = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('parsePointer', () => {
  it.each([
    ['the canonical pointer', `${V1}\noid sha256:${OID}\nsize 12345\n`, { oid: OID, size: 12345, extensions: [] }],
    ["git-lfs's pre-release version URL", `version https://hawser.github.com/spec/v1\noid sha256:${OID}\nsize 0\n`, { oid: OID, size: 0, extensions: [] }],
    ['an unknown key, sorted', `${V1}\nfoo bar\noid sha256:${OID}\nsize 1\n`, { oid: OID, size: 1, extensions: [] }],
    ['extensions (named, not run)', `${V1}\next-0-foo sha256:${OID}\noid sha256:${OID}\nsize 1\n`, { oid: OID, size: 1, extensions: ['ext-0-foo'] }],
  ])('reads %s', (_name, input, expected) => {
    expect(parsePointer(text(input))).toEqual(expected);
  });

  it.each([
    ['no final newline', `${V1}\noid sha256:${OID}\nsize 12345`],
    ['CRLF line ends', `${V1}\r\noid sha256:${OID}\r\nsize 12345\r\n`],
    ['version not first', `oid sha256:${OID}\n${V1}\nsize 12345\n`],
    ['keys out of order', `${V1}\nsize 12345\noid sha256:${OID}\n`],
    ['a key twice', `${V1}\noid sha256:${OID}\noid sha256:${OID}\nsize 1\n`],
    ['another version', `version https://git-lfs.github.com/spec/v2\noid sha256:${OID}\nsize 1\n`],
    ['a version URL with a trailing slash', `${V1}/\noid sha256:${OID}\nsize 1\n`],
    ['no size', `${V1}\noid sha256:${OID}\n`],
    ['no oid', `${V1}\nsize 1\n`],
    ['another hash method', `${V1}\noid sha1:${'a'.repeat(40)}\nsize 1\n`],
    ['an upper-case oid', `${V1}\noid sha256:${OID.toUpperCase()}\nsize 1\n`],
    ['a short oid', `${V1}\noid sha256:${OID.slice(1)}\nsize 1\n`],
    ['two spaces', `${V1}\noid  sha256:${OID}\nsize 1\n`],
    ['a negative size', `${V1}\noid sha256:${OID}\nsize -1\n`],
    ['a size with a leading zero', `${V1}\noid sha256:${OID}\nsize 01\n`],
    ['an upper-case key', `${V1}\nOid sha256:${OID}\nsize 1\n`],
    ['an empty line', `${V1}\n\noid sha256:${OID}\nsize 1\n`],
    ['nothing', ''],
  ])('refuses %s', (_name, input) => {
    expect(parsePointer(text(input))).toBeUndefined();
  });

  it('refuses invalid UTF-8 and anything of 1024 bytes or more', () => {
    expect(parsePointer(Buffer.concat([text(`${V1}\nfoo `), Buffer.from([0xff]), text(`\noid sha256:${OID}\nsize 1\n`)]))).toBeUndefined();
    const padded = `${V1}\na ${'x'.repeat(1024)}\noid sha256:${OID}\nsize 1\n`;
    expect(parsePointer(text(padded))).toBeUndefined();
    expect([mayBePointer(1023), mayBePointer(1024), mayBePointer(undefined)]).toEqual([true, false, true]);
  });

  it('writes what git-lfs writes (git lfs pointer agrees byte for byte)', async () => {
    if (!(await hasGitLfs())) throw new Error('git-lfs is not installed: apt-get install git-lfs (.ci/run does).');
    const dir = await mkdtemp(join(tmpdir(), 'hostsync-pointer-'));
    try {
      await writeFile(join(dir, 'hello'), 'hello\n');
      // The pointer on stdout (its header line goes to stderr).
      const made = await gitBuffer(['lfs', 'pointer', '--file=hello'], { cwd: dir });
      const ours = formatPointer({ oid: '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03', size: 6 });
      expect(made.equals(ours)).toBe(true);
      expect(parsePointer(made)).toEqual({ oid: '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03', size: 6, extensions: [] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the placeholder of a pending object is a SHA no blob has (derived from the oid alone)', () => {
    expect(placeholderOf(OID)).toMatch(/^[0-9a-f]{40}$/);
    expect(placeholderOf(OID)).toBe(placeholderOf(OID));
    expect(placeholderOf(OID)).not.toBe(placeholderOf('0'.repeat(64)));
  });
});

describe('lfsPaths (.gitattributes)', () => {
  const tracked = lfsPaths([
    { dir: '', text: '# comment\n*.bin filter=lfs diff=lfs merge=lfs -text\n/top.iso filter=lfs\nimages/** filter=lfs\nkeep.bin -filter\n"with space.dat" filter=lfs\n!negated.bin filter=lfs\ndir/ filter=lfs\n' },
    { dir: 'vendor', text: '*.bin !filter\nfirmware/*.img filter=lfs\n' },
    { dir: 'other', text: '*.bin filter=other\n' },
  ]);
  it.each([
    ['a.bin', true],
    ['deep/down/a.bin', true],
    ['keep.bin', false],
    ['sub/keep.bin', false],
    ['top.iso', true],
    ['sub/top.iso', false],
    ['images/a/b.png', true],
    ['with space.dat', true],
    ['negated.bin', true], // the negative line is ignored; *.bin still applies
    ['dir/file', false],
    ['vendor/x.bin', false],
    ['vendor/firmware/x.img', true],
    ['vendor/other/firmware/x.img', false],
    ['other/x.bin', false],
    ['readme.md', false],
  ])('%s → %s', (path, expected) => {
    expect(tracked(path)).toBe(expected);
  });

  it('no files: nothing is tracked', () => {
    expect(lfsPaths([])('a.bin')).toBe(false);
  });
});

describe('.lfsconfig and the endpoint', () => {
  it.each([
    ['[lfs]\n\turl = https://lfs.example.com/acme/x\n', 'https://lfs.example.com/acme/x'],
    ['[LFS]\nURL = "https://lfs.example.com/a b" ; comment\n', 'https://lfs.example.com/a b'],
    ['[lfs]\nurl = https://one\nurl = https://two\n', 'https://two'],
    ['[lfs "https://x"]\nurl = https://sub\n', undefined],
    ['[remote "origin"]\nlfsurl = https://r\n', undefined],
    ['[lfs] url = https://same-line\n', 'https://same-line'],
    ['# only a comment\n', undefined],
  ])('lfs.url of %j', (input, expected) => {
    expect(lfsUrlOf(input)).toBe(expected);
  });

  it.each([
    ['https://github.com/acme/x', 'https://github.com/acme/x.git/info/lfs'],
    ['https://github.com/acme/x.git', 'https://github.com/acme/x.git/info/lfs'],
    ['git@git-server.com:foo/bar.git', 'https://git-server.com/foo/bar.git/info/lfs'],
    ['ssh://git@git-server.com/foo/bar.git', 'https://git-server.com/foo/bar.git/info/lfs'],
  ])('the server of %s is %s', (remote, expected) => {
    expect(remoteLfsUrl(remote)).toBe(expected);
  });

  const base = { gitUrl: undefined, serverUrl: 'https://github.com', repoOwner: 'acme', repoName: 'x', gitUser: 'x-access-token', token: { value: 'ghp_secret', source: 'GITHUB_TOKEN' as const } };
  const basic = `Basic ${Buffer.from('x-access-token:ghp_secret').toString('base64')}`;
  it('GitHub: <repo>.git/info/lfs with the token as git sends it', () => {
    expect(lfsEndpoint(base, undefined)).toEqual({ url: 'https://github.com/acme/x.git/info/lfs', from: 'default', authorization: basic });
  });
  it('lfs.url on the same origin gets the token; on another origin, or over plain http from https, it does not', () => {
    expect(lfsEndpoint(base, 'https://github.com/acme/store.git/info/lfs/')).toEqual({ url: 'https://github.com/acme/store.git/info/lfs', from: '.lfsconfig', authorization: basic });
    expect(lfsEndpoint(base, 'https://lfs.example.com/x').authorization).toBeUndefined();
    expect(lfsEndpoint(base, 'http://github.com/acme/x.git/info/lfs').authorization).toBeUndefined();
  });
  it('a git URL: its own user name; over SSH no token at all; no token, no header', () => {
    expect(lfsEndpoint({ ...base, gitUrl: 'https://git.example.com/acme/x.git', gitUser: 'oauth2' }, undefined)).toEqual({ url: 'https://git.example.com/acme/x.git/info/lfs', from: 'default', authorization: `Basic ${Buffer.from('oauth2:ghp_secret').toString('base64')}` });
    expect(lfsEndpoint({ ...base, gitUrl: 'git@git.example.com:acme/x.git' }, undefined)).toEqual({ url: 'https://git.example.com/acme/x.git/info/lfs', from: 'default', authorization: undefined });
    expect(lfsEndpoint({ ...base, token: undefined }, undefined).authorization).toBeUndefined();
  });
  it('an lfs.url that is not http(s) is ignored', () => {
    expect(lfsEndpoint(base, 'file:///srv/lfs').url).toBe('https://github.com/acme/x.git/info/lfs');
  });
});

describe('batch API details', () => {
  it.each([
    ['main', 'refs/heads/main'],
    ['refs/tags/v1', 'refs/tags/v1'],
    ['HEAD', undefined],
    ['0123456789abcdef0123456789abcdef01234567', undefined],
  ])('ref %s → %s', (ref, expected) => {
    expect(refNameOf(ref)).toBe(expected);
  });

  it('a link counts as expired 5 s before it expires; no expiry never expires', () => {
    expect(isExpired({ href: 'https://x', header: {}, expiresAt: 10_000 }, 4_999)).toBe(false);
    expect(isExpired({ href: 'https://x', header: {}, expiresAt: 10_000 }, 5_000)).toBe(true);
    expect(isExpired({ href: 'https://x', header: {}, expiresAt: undefined }, 1e15)).toBe(false);
  });
});
