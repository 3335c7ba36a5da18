/**
 * The filesystem edge of config: read a config or token file, and say in words why a read failed.
 * Kept apart so `discoverToken` and `parseConfig` stay testable with fakes.
 */

import { open } from 'node:fs/promises';
import { errorCode, errorMessage } from '../errors.js';

/** Text of a file and its permission bits. */
export interface FileContent {
  readonly text: string;
  /** `stat.mode & 0o777`. */
  readonly mode: number;
}

/** Reads a whole small file; throws Node system errors (with `code`) when it cannot. */
export type ReadFileFn = (file: string) => Promise<FileContent>;

/** Larger files are refused: neither a token nor a config file is anywhere near this. */
export const MAX_FILE_BYTES = 1024 * 1024;

const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'it does not exist',
  ENOTDIR: 'a parent of it is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'it is a directory',
  ELOOP: 'too many levels of symbolic links',
  EFBIG: `it is larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB`,
};

/** Why a read failed, in words, from a Node system error. */
export function osReason(error: unknown): string {
  const code = errorCode(error);
  const known = code === undefined ? undefined : REASONS[code];
  if (known !== undefined) return `${known} (${code})`;
  return errorMessage(error);
}

/** Read a file as UTF-8 (without a BOM) with its mode, from one open descriptor so both describe the same file. */
export const readFileWithMode: ReadFileFn = async (file) => {
  const handle = await open(file, 'r');
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) throw Object.assign(new Error(`${file} is a directory`), { code: 'EISDIR' });
    if (stat.size > MAX_FILE_BYTES) throw Object.assign(new Error(`${file} is too large`), { code: 'EFBIG' });
    const text = await handle.readFile('utf8');
    return { text: text.replace(/^\uFEFF/, ''), mode: stat.mode & 0o777 };
  } finally {
    await handle.close();
  }
};
