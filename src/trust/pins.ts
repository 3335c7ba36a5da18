/**
 * Reading the pinned-keys files named by `trust.allowedSignersFile` and `trust.openpgpKeysFile`:
 * the trust module's only file I/O. A file that is missing, empty or has a malformed line is a
 * configuration error (exit 2), reported before anything is fetched.
 */
import { readFile } from 'node:fs/promises';
import { errorCode, errorMessage } from '../errors.js';
import { parseAllowedSigners } from './allowed-signers.js';
import { PinnedKeysError } from './errors.js';
import type { AllowedSignersPin, TrustPins } from './types.js';

/** The settings naming pinned-keys files; either may be absent. */
export interface TrustPinFiles {
  readonly allowedSignersFile?: string | undefined;
  readonly openpgpKeysFile?: string | undefined;
}

/** Whether any pinned-keys file is configured: then the host verifies every commit it applies. */
export function pinsConfigured(files: TrustPinFiles): boolean {
  return files.allowedSignersFile !== undefined || files.openpgpKeysFile !== undefined;
}

/** Loaded pins, and lines that parse but can never admit a commit (for the CLI to warn about). */
export interface LoadedTrustPins {
  readonly pins: TrustPins;
  readonly warnings: readonly string[];
}

/** Read and parse the configured pinned-keys files. Throws `PinnedKeysError`. */
export async function loadTrustPins(files: TrustPinFiles): Promise<LoadedTrustPins> {
  const warnings: string[] = [];
  let allowedSigners: AllowedSignersPin | undefined;
  if (files.allowedSignersFile !== undefined) {
    const file = files.allowedSignersFile;
    const parsed = parseAllowedSigners(await readPinFile(file, 'trust.allowedSignersFile'), file);
    const [first, ...more] = parsed.errors;
    if (first !== undefined) {
      const others = more.length === 0 ? '' : ` (${more.length} more malformed: line${more.length > 1 ? 's' : ''} ${more.map((issue) => issue.line).join(', ')})`;
      throw new PinnedKeysError(file, first.line, `${first.message}${others}`);
    }
    if (parsed.entries.length === 0) {
      throw new PinnedKeysError(file, undefined, `${file} (trust.allowedSignersFile) lists no signers, so every commit would be refused. Add one line per signer: \`<principal> namespaces="git" <contents of the signer's .pub file>\`.`);
    }
    warnings.push(...parsed.warnings.map((issue) => issue.message));
    allowedSigners = { file, entries: parsed.entries };
  }
  let openpgpKeys: TrustPins['openpgpKeys'];
  if (files.openpgpKeysFile !== undefined) {
    const file = files.openpgpKeysFile;
    const text = await readPinFile(file, 'trust.openpgpKeysFile');
    // Imported only when OpenPGP keys are pinned: OpenPGP.js is large.
    const { readOpenPgpKeys } = await import('./openpgp.js');
    openpgpKeys = await readOpenPgpKeys(text, file);
  }
  return { pins: { allowedSigners, openpgpKeys }, warnings };
}

async function readPinFile(file: string, setting: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOENT') throw new PinnedKeysError(file, undefined, `${setting} names ${file}, which does not exist. Create it with the signers' public keys, or unset ${setting}.`, { cause: error });
    if (code === 'EACCES' || code === 'EPERM') throw new PinnedKeysError(file, undefined, `${setting} names ${file}, which this user cannot read. Make it readable by the user hostsync runs as (it holds only public keys).`, { cause: error });
    throw new PinnedKeysError(file, undefined, `Cannot read ${setting} ${file}: ${errorMessage(error)}.`, { cause: error });
  }
}
