import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { parseAllowedSigners } from '../../src/trust/allowed-signers.js';
import { PinnedKeysError } from '../../src/trust/errors.js';
import { loadTrustPins } from '../../src/trust/pins.js';
import { allowedSignersFile, sshKey, tempDir, type SshKeyPair } from './helpers.js';

const FILE = '/etc/hostsync/allowed_signers';

let dir: string;
let ed: SshKeyPair;
let ecdsa: SshKeyPair;

beforeAll(async () => {
  dir = await tempDir();
  [ed, ecdsa] = await Promise.all([sshKey(dir, 'ed', 'ed25519'), sshKey(dir, 'ec', 'ecdsa-256')]);
});

afterAll(() => rm(dir, { recursive: true, force: true }));

describe('parseAllowedSigners: good lines', () => {
  it('reads principals, options, key and comment, skipping comments and blank lines', () => {
    const text = [
      '# signers of the hypervisor config',
      '',
      `alice@example.com ${ed.publicLine}`,
      `   "bob@example.com,ci-*" namespaces="git,file",valid-after="20240101",valid-before="20250101Z" ${ecdsa.publicKey}`,
      `carol@example.com NAMESPACES="git",Valid-After="202401020304Z" ${ed.publicKey} a comment with words\r`,
    ].join('\n');
    const { entries, errors, warnings } = parseAllowedSigners(text, FILE, { localTime: (y, m, d, h, mi, s) => Date.UTC(y, m - 1, d, h, mi, s) / 1000 - 3600 });
    expect(errors).toEqual([]);
    expect(warnings).toEqual([]);
    expect(entries).toHaveLength(3);
    const [alice, bob, carol] = entries;
    expect(alice).toMatchObject({ line: 3, principals: 'alice@example.com', certAuthority: false, namespaces: undefined, validAfter: undefined, keyType: 'ssh-ed25519', comment: 'ed' });
    expect(alice?.publicKey.equals(Buffer.from(ed.publicKey.split(' ')[1] ?? '', 'base64'))).toBe(true);
    expect(alice?.fingerprint).toMatch(/^SHA256:/);
    // valid-after without Z is local time (here UTC+1, through the injected clock zone); with Z it is UTC.
    expect(bob).toMatchObject({ line: 4, principals: 'bob@example.com,ci-*', namespaces: 'git,file', validAfter: Date.UTC(2024, 0, 1) / 1000 - 3600, validBefore: Date.UTC(2025, 0, 1) / 1000, keyType: 'ecdsa-sha2-nistp256', comment: undefined });
    expect(carol).toMatchObject({ line: 5, namespaces: 'git', validAfter: Date.UTC(2024, 0, 2, 3, 4) / 1000, comment: 'a comment with words' });
  });

  it('takes times in the three OpenSSH forms, with Z or UTC', () => {
    const parse = (time: string): number | undefined =>
      parseAllowedSigners(`a valid-after="${time}" ${ed.publicKey}`, FILE).entries[0]?.validAfter;
    expect(parse('20240229Z')).toBe(Date.UTC(2024, 1, 29) / 1000);
    expect(parse('202402291230UTC')).toBe(Date.UTC(2024, 1, 29, 12, 30) / 1000);
    expect(parse('20240229123045z')).toBe(Date.UTC(2024, 1, 29, 12, 30, 45) / 1000);
    expect(parse('20240229')).toBe(new Date(2024, 1, 29).getTime() / 1000);
  });

  it('keeps escaped quotes in option values', () => {
    const { entries } = parseAllowedSigners(`a namespaces="git,x\\"y" ${ed.publicKey}`, FILE);
    expect(entries[0]?.namespaces).toBe('git,x"y');
  });

  it('warns about lines that can never admit a commit', () => {
    const { entries, errors, warnings } = parseAllowedSigners(`*@example.com cert-authority ${ed.publicKey}`, FILE);
    expect(errors).toEqual([]);
    expect(entries[0]?.certAuthority).toBe(true);
    expect(warnings).toEqual([{ line: 1, message: expect.stringMatching(/^\/etc\/hostsync\/allowed_signers line 1: cert-authority keys are not supported yet/) }]);
  });
});

describe('parseAllowedSigners: malformed lines', () => {
  const cases: ReadonlyArray<readonly [string, (key: string) => string, RegExp]> = [
    ['only one field', () => 'alice@example.com', /only one field; expected `principals \[options\] keytype base64-key/],
    ['an unknown option', (key) => `a namespace="git" ${key}`, /unknown option 'namespace'; the options are cert-authority, namespaces=/],
    ['options without a key', () => 'a namespaces="git"', /no key after the options/],
    ['an unquoted value', (key) => `a valid-after=20240101 ${key}`, /"valid-after" must be in double quotes/],
    ['an impossible date', (key) => `a valid-after="20240230" ${key}`, /"valid-after" time '20240230' is not YYYYMMDD/],
    ['a malformed time', (key) => `a valid-before="2024-01-01" ${key}`, /"valid-before" time '2024-01-01'/],
    ['before not after after', (key) => `a valid-after="20250101Z",valid-before="20240101Z" ${key}`, /"valid-before" is not later than "valid-after"/],
    ['a repeated option', (key) => `a namespaces="git",namespaces="file" ${key}`, /"namespaces" is given twice/],
    ['a trailing comma', (key) => `a namespaces="git", ${key}`, /end with a comma/],
    ['an unterminated quote', (key) => `a namespaces="git ${key}`, /unterminated quote/],
    ['an unknown key type', () => 'a ssh-foo AAAA', /'ssh-foo' is not an SSH key type/],
    ['key data that is not base64', () => 'a ssh-ed25519 AAAA!!!!', /not valid base64/],
    ['a missing key body', () => 'a ssh-ed25519', /has no base64 data/],
    ['a key whose type is not its label', (key) => `a ssh-rsa ${key.split(' ')[1] ?? ''}`, /says 'ssh-rsa' but the key data is a 'ssh-ed25519' key/],
    ['a cut key', (key) => `a ssh-ed25519 ${Buffer.from(key.split(' ')[1] ?? '', 'base64').subarray(0, 30).toString('base64')}`, /truncated/],
    ['an unclosed quoted principal', (key) => `"alice ${key}`, /no closing quote/],
  ];

  it.each(cases)('reports %s with file and line', (_name, make, pattern) => {
    const text = `# header\n${make(ed.publicKey)}\n`;
    const { entries, errors } = parseAllowedSigners(text, FILE);
    expect(entries).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.line).toBe(2);
    expect(errors[0]?.message).toMatch(/^\/etc\/hostsync\/allowed_signers line 2: /);
    expect(errors[0]?.message).toMatch(pattern);
  });

  it('reports every bad line and keeps the good ones', () => {
    const { entries, errors } = parseAllowedSigners(`bad\nalice ${ed.publicKey}\nworse ssh-ed25519\n`, FILE);
    expect(entries.map((entry) => entry.line)).toEqual([2]);
    expect(errors.map((issue) => issue.line)).toEqual([1, 3]);
  });
});

describe('loadTrustPins (allowed signers)', () => {
  it('loads a good file', async () => {
    const file = await allowedSignersFile(dir, 'good', [`alice ${ed.publicKey}`]);
    const { pins, warnings } = await loadTrustPins({ allowedSignersFile: file });
    expect(pins.allowedSigners?.file).toBe(file);
    expect(pins.allowedSigners?.entries).toHaveLength(1);
    expect(pins.openpgpKeys).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it('refuses a file with a bad line, naming the first and counting the rest (exit 2)', async () => {
    const file = await allowedSignersFile(dir, 'bad', [`alice ${ed.publicKey}`, 'bob', 'carol x', 'dave']);
    const error = await loadTrustPins({ allowedSignersFile: file }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PinnedKeysError);
    expect(error).toMatchObject({ file, line: 2, exitCode: ExitCode.Usage });
    expect((error as Error).message).toMatch(new RegExp(`^${file} line 2: only one field.*\\(2 more malformed: lines 3, 4\\)$`));
  });

  it('refuses a missing file and a file without signers', async () => {
    await expect(loadTrustPins({ allowedSignersFile: `${dir}/absent` })).rejects.toThrow(/trust.allowedSignersFile names .*absent, which does not exist/);
    const empty = await allowedSignersFile(dir, 'empty', ['# nobody yet']);
    await expect(loadTrustPins({ allowedSignersFile: empty })).rejects.toThrow(/lists no signers, so every commit would be refused/);
  });
});
