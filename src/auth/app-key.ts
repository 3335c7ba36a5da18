/**
 * The GitHub App private key: found (`appPrivateKeyFile`, else the systemd credential
 * `$CREDENTIALS_DIRECTORY/github-app-key`), read, and checked before any request. Pure apart from
 * the injected `readFile`; messages name the file, never a byte of the key.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { osReason, type ReadFileFn } from '../config/files.js';
import { errorCode } from '../errors.js';
import { AppAuthError } from './errors.js';

/** Name of the systemd credential hostsync looks for (`LoadCredential=github-app-key:/etc/…/app.pem`). */
export const APP_KEY_CREDENTIAL = 'github-app-key';

/** A private key that was read and parsed. */
export interface AppKey {
  /** The PEM as read (register it with the redactor). */
  readonly pem: string;
  /** Where it came from, for messages: a path. */
  readonly file: string;
}

/**
 * Parse a GitHub App private key (PKCS#1 `RSA PRIVATE KEY` as GitHub hands it out, or PKCS#8).
 * Throws an {@link AppAuthError} (`key`, exit 2) naming `where` and the fix.
 */
export function parseAppPrivateKey(pem: string, where: string): KeyObject {
  const fix = 'Download a new private key (.pem) from the GitHub App\'s settings page ("Private keys") and point appPrivateKeyFile at it.';
  // Keys pasted into environment files often carry literal "\n" escapes; auth-app accepts them too.
  const text = pem.replace(/\\n/g, '\n').trim();
  if (text === '') throw new AppAuthError('key', `The GitHub App private key in ${where} is empty. ${fix}`);
  if (text.includes('OPENSSH PRIVATE KEY')) {
    throw new AppAuthError('key', `The GitHub App private key in ${where} is an OpenSSH key, not a GitHub App key. ${fix}`);
  }
  // PKCS#8 "ENCRYPTED PRIVATE KEY", or PKCS#1 with "Proc-Type: 4,ENCRYPTED" (OpenSSL's messages for these vary by version).
  if (/ENCRYPTED PRIVATE KEY|Proc-Type:\s*4,\s*ENCRYPTED/.test(text)) {
    throw new AppAuthError('key', `The GitHub App private key in ${where} is encrypted with a passphrase; hostsync needs it unencrypted (openssl pkey -in KEY -out KEY.plain, kept mode 0600). ${fix}`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem' });
  } catch (error) {
    // OpenSSL's reason ("DECODER routines::unsupported") names no key material.
    const reason = error instanceof Error ? error.message.replace(/\s+/g, ' ').slice(0, 120) : 'unreadable';
    throw new AppAuthError('key', `The GitHub App private key in ${where} is not a PEM private key (${reason}). ${fix}`);
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new AppAuthError('key', `The GitHub App private key in ${where} is a ${key.asymmetricKeyType ?? 'non-RSA'} key; GitHub App keys are RSA (JWTs are signed RS256). ${fix}`);
  }
  return key;
}

/** What `discoverAppKey` needs. */
export interface AppKeyDiscoveryInput {
  /** Absolute path of the configured key file, if any. */
  readonly keyFile: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly readFile: ReadFileFn;
}

/** The key found (if any), and what went wrong on the way. */
export interface AppKeyDiscovery {
  readonly key: AppKey | undefined;
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
  /** Every PEM read, a rejected one too: for the redactor only. */
  readonly seen: readonly string[];
}

/**
 * Find the App's private key: `appPrivateKeyFile` when set (unreadable, empty or not a key is an
 * error), else `$CREDENTIALS_DIRECTORY/github-app-key` when that exists. A key file readable by
 * group or others draws a warning. Never throws.
 */
export async function discoverAppKey(input: AppKeyDiscoveryInput): Promise<AppKeyDiscovery> {
  const credentials = input.env['CREDENTIALS_DIRECTORY'];
  const explicit = input.keyFile !== undefined;
  const file = input.keyFile ?? (credentials !== undefined && credentials !== '' ? path.join(credentials, APP_KEY_CREDENTIAL) : undefined);
  if (file === undefined) return { key: undefined, errors: [], warnings: [], seen: [] };
  let content;
  try {
    content = await input.readFile(file);
  } catch (error) {
    const code = errorCode(error);
    if (!explicit && (code === 'ENOENT' || code === 'ENOTDIR')) return { key: undefined, errors: [], warnings: [], seen: [] };
    return { key: undefined, errors: [`Cannot read the GitHub App private key ${file}: ${osReason(error)}. Fix appPrivateKeyFile, or the file's permissions.`], warnings: [], seen: [] };
  }
  const warnings: string[] = [];
  if ((content.mode & 0o077) !== 0) {
    const mode = content.mode.toString(8).padStart(4, '0');
    warnings.push(`The GitHub App private key ${file} is readable by group or others (mode ${mode}); run \`chmod 600 ${file}\`.`);
  }
  try {
    parseAppPrivateKey(content.text, file);
  } catch (error) {
    return { key: undefined, errors: [error instanceof Error ? error.message : String(error)], warnings, seen: [content.text] };
  }
  return { key: { pem: content.text, file }, errors: [], warnings, seen: [content.text] };
}
