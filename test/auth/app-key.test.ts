/**
 * The App's private key: which formats are taken, which refused with which fix, and where it is found
 * (`appPrivateKeyFile`, else `$CREDENTIALS_DIRECTORY/github-app-key`).
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { APP_KEY_CREDENTIAL, discoverAppKey, parseAppPrivateKey } from '../../src/auth/app-key.js';
import { AppAuthError } from '../../src/auth/errors.js';
import type { FileContent, ReadFileFn } from '../../src/config/files.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const pkcs1 = rsa.export({ type: 'pkcs1', format: 'pem' }).toString();
const pkcs8 = rsa.export({ type: 'pkcs8', format: 'pem' }).toString();
const encrypted = rsa.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret-passphrase' }).toString();
const encryptedPkcs1 = rsa.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret-passphrase' }).toString();
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const WHERE = '/etc/hostsync/app.pem';
const body = (pem: string): string[] => pem.split('\n').filter((line) => line.length >= 16 && !line.startsWith('-----'));

describe('parseAppPrivateKey', () => {
  it.each([
    ['PKCS#1, as GitHub hands it out', pkcs1],
    ['PKCS#8', pkcs8],
    ['with CRLF line ends', pkcs1.replace(/\n/g, '\r\n')],
    ['with escaped newlines, as pasted into an environment file', pkcs1.replace(/\n/g, '\\n')],
  ])('takes %s', (_name, pem) => {
    expect(parseAppPrivateKey(pem, WHERE).asymmetricKeyType).toBe('rsa');
  });

  it.each<[string, string, RegExp]>([
    ['an empty file', '  \n', /is empty/],
    ['a token', 'ghp_0123456789abcdef0123456789abcdef0123', /is not a PEM private key/],
    ['a truncated key', pkcs1.slice(0, 300), /is not a PEM private key/],
    ['an OpenSSH key', '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n', /is an OpenSSH key/],
    ['an encrypted key', encrypted, /encrypted with a passphrase/],
    ['an encrypted PKCS#1 key', encryptedPkcs1, /encrypted with a passphrase/],
    ['an EC key', ec, /is a ec key; GitHub App keys are RSA/],
  ])('refuses %s with exit 2, naming the file and never the key', (_name, pem, message) => {
    let error: unknown;
    try {
      parseAppPrivateKey(pem, WHERE);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AppAuthError);
    const e = error as AppAuthError;
    expect([e.reason, e.exitCode]).toEqual(['key', 2]);
    expect(e.message).toMatch(message);
    expect(e.message).toContain(WHERE);
    expect(e.message).toMatch(/Download a new private key/);
    for (const line of body(pem)) expect(e.message).not.toContain(line);
    expect(e.cause).toBeUndefined();
  });
});

/** A fake filesystem: path → content and mode. */
function files(entries: Record<string, FileContent>): ReadFileFn {
  return async (file) => {
    const found = entries[file];
    if (found === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
    return found;
  };
}

describe('discoverAppKey', () => {
  const credentialFile = `/run/credentials/hostsync.service/${APP_KEY_CREDENTIAL}`;
  const env = { CREDENTIALS_DIRECTORY: '/run/credentials/hostsync.service' };

  it('reads the configured file first', async () => {
    const found = await discoverAppKey({ keyFile: WHERE, env, readFile: files({ [WHERE]: { text: pkcs1, mode: 0o600 }, [credentialFile]: { text: pkcs8, mode: 0o400 } }) });
    expect(found).toEqual({ key: { pem: pkcs1, file: WHERE }, errors: [], warnings: [], seen: [pkcs1] });
  });

  it('falls back to the systemd credential github-app-key', async () => {
    const found = await discoverAppKey({ keyFile: undefined, env, readFile: files({ [credentialFile]: { text: pkcs8, mode: 0o400 } }) });
    expect(found.key).toEqual({ pem: pkcs8, file: credentialFile });
  });

  it('finds nothing, quietly, when neither is there', async () => {
    expect(await discoverAppKey({ keyFile: undefined, env, readFile: files({}) })).toEqual({ key: undefined, errors: [], warnings: [], seen: [] });
    expect(await discoverAppKey({ keyFile: undefined, env: {}, readFile: files({}) })).toEqual({ key: undefined, errors: [], warnings: [], seen: [] });
  });

  it('fails for a configured file that is missing', async () => {
    const found = await discoverAppKey({ keyFile: WHERE, env, readFile: files({}) });
    expect(found.errors).toEqual([`Cannot read the GitHub App private key ${WHERE}: it does not exist (ENOENT). Fix appPrivateKeyFile, or the file's permissions.`]);
  });

  it('fails for a file that holds no key, keeping what it read for the redactor', async () => {
    const found = await discoverAppKey({ keyFile: undefined, env, readFile: files({ [credentialFile]: { text: 'ghp_wrongfile0000000000000000000000000000', mode: 0o400 } }) });
    expect(found.key).toBeUndefined();
    expect(found.errors[0]).toMatch(/is not a PEM private key/);
    expect(found.seen).toEqual(['ghp_wrongfile0000000000000000000000000000']);
  });

  it('warns about a key readable by group or others', async () => {
    const found = await discoverAppKey({ keyFile: WHERE, env: {}, readFile: files({ [WHERE]: { text: pkcs1, mode: 0o644 } }) });
    expect(found.key?.file).toBe(WHERE);
    expect(found.warnings).toEqual([`The GitHub App private key ${WHERE} is readable by group or others (mode 0644); run \`chmod 600 ${WHERE}\`.`]);
  });
});
