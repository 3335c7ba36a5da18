/**
 * Token discovery. The first source that holds a token wins:
 *   1. `--token-file` / `tokenFile` / `HOSTSYNC_TOKEN_FILE` (explicit: unreadable or empty is an error)
 *   2. `$CREDENTIALS_DIRECTORY/github-token` (systemd `LoadCredential=github-token:…`)
 *   3. `GITHUB_TOKEN`, then `GH_TOKEN`
 *   4. `~/.config/github/token`
 * Pure apart from the injected `readFile`. Messages name the source and the file, never the value.
 */

import path from 'node:path';
import { osReason } from './files.js';
import type { ReadFileFn } from './files.js';
import { errorCode } from '../errors.js';
import type { Token, TokenSource } from './types.js';

/** What `discoverToken` needs. */
export interface TokenDiscoveryInput {
  /** Absolute path of the explicit token file, if one was configured. */
  readonly tokenFile: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly home: string;
  readonly readFile: ReadFileFn;
}

/** The token found (if any), and what went wrong on the way. */
export interface TokenDiscovery {
  readonly token: Token | undefined;
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
  /**
   * Every value read from a token source, including a rejected one: for redacting messages only,
   * never to be printed or used.
   */
  readonly seen: readonly string[];
}

/** Name of the systemd credential hostsync looks for in `$CREDENTIALS_DIRECTORY`. */
export const CREDENTIAL_NAME = 'github-token';

// A token goes into an HTTP header: one line, no spaces.
const MALFORMED = /[\s\u0000-\u001f\u007f]/;

type Step =
  | { readonly kind: 'token'; readonly token: Token }
  | { readonly kind: 'skip' }
  | { readonly kind: 'error'; readonly message: string; readonly value?: string };

function fromValue(raw: string, source: TokenSource, where: string, file?: string): Step {
  const value = raw.trim();
  if (MALFORMED.test(value)) {
    return {
      kind: 'error',
      message: `The token in ${where} spans several lines or contains spaces or control characters; it must hold the token alone.`,
      value,
    };
  }
  return { kind: 'token', token: file === undefined ? { value, source } : { value, source, file } };
}

async function fromFile(
  file: string,
  source: TokenSource,
  explicit: boolean,
  readFile: ReadFileFn,
  warnings: string[],
): Promise<Step> {
  let content;
  try {
    content = await readFile(file);
  } catch (error: unknown) {
    const code = errorCode(error);
    if (!explicit && (code === 'ENOENT' || code === 'ENOTDIR')) return { kind: 'skip' };
    if (explicit) return { kind: 'error', message: `Cannot read token file ${file}: ${osReason(error)}. Fix the path given as the token file, or its permissions.` };
    warnings.push(`Cannot read token file ${file} (${source}): ${osReason(error)}; looking further.`);
    return { kind: 'skip' };
  }
  if (content.text.trim() === '') {
    if (explicit) return { kind: 'error', message: `Token file ${file} is empty. Write the token into it, or stop pointing the token file at it.` };
    warnings.push(`Token file ${file} (${source}) is empty; looking further.`);
    return { kind: 'skip' };
  }
  if ((content.mode & 0o077) !== 0) {
    const mode = content.mode.toString(8).padStart(4, '0');
    warnings.push(`Token file ${file} is readable by group or others (mode ${mode}); run \`chmod 600 ${file}\`.`);
  }
  return fromValue(content.text, source, `token file ${file}`, file);
}

/** Find the GitHub token; see the module comment for the order. Never throws for a missing token. */
export async function discoverToken(input: TokenDiscoveryInput): Promise<TokenDiscovery> {
  const warnings: string[] = [];
  const steps: Array<() => Promise<Step> | Step> = [];
  if (input.tokenFile !== undefined) {
    const file = input.tokenFile;
    steps.push(() => fromFile(file, '--token-file', true, input.readFile, warnings));
  }
  const credentials = input.env['CREDENTIALS_DIRECTORY'];
  if (credentials !== undefined && credentials !== '') {
    const file = path.join(credentials, CREDENTIAL_NAME);
    steps.push(() => fromFile(file, 'CREDENTIALS_DIRECTORY/github-token', false, input.readFile, warnings));
  }
  for (const name of ['GITHUB_TOKEN', 'GH_TOKEN'] as const) {
    const raw = input.env[name];
    if (raw !== undefined && raw.trim() !== '') steps.push(() => fromValue(raw, name, name));
  }
  const homeFile = path.join(input.home, '.config', 'github', 'token');
  steps.push(() => fromFile(homeFile, '~/.config/github/token', false, input.readFile, warnings));

  for (const step of steps) {
    const result = await step();
    if (result.kind === 'token') return { token: result.token, errors: [], warnings, seen: [result.token.value] };
    if (result.kind === 'error') return { token: undefined, errors: [result.message], warnings, seen: result.value === undefined ? [] : [result.value] };
  }
  return { token: undefined, errors: [], warnings, seen: [] };
}
