/**
 * Git LFS pointer files, read exactly as the specification writes them
 * (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md): UTF-8 lines `{key} {value}\n`, one
 * space, keys of `[a-z0-9.-]`, `version` first, the other keys in ascending order, values without
 * CR or LF, `oid sha256:<64 hex>` and `size <bytes>` required — and, as git-lfs's own scanner does,
 * only blobs under 1024 bytes are candidates (`blobSizeCutoff`). Anything else is ordinary content.
 * Pure: no I/O.
 */

/** Blobs of this many bytes or more are never pointers (git-lfs: `blobSizeCutoff`). */
export const POINTER_SIZE_LIMIT = 1024;

/** The version URLs git-lfs reads (the second from its pre-release, still accepted by git-lfs). */
const VERSIONS: readonly string[] = ['https://git-lfs.github.com/spec/v1', 'https://hawser.github.com/spec/v1'];

/** What a pointer names: the content's SHA-256 and size. */
export interface LfsPointer {
  /** 64 lowercase hex digits. */
  readonly oid: string;
  readonly size: number;
  /** Extension keys (`ext-<n>-<name>`): content that needs a filter hostsync does not run. */
  readonly extensions: readonly string[];
}

const KEY = /^[a-z0-9.-]+$/;
const OID = /^sha256:([0-9a-f]{64})$/;
const SIZE = /^(0|[1-9][0-9]{0,15})$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The shortest pointer there can be: the shorter version line, `oid sha256:<64>`, `size 0`. */
const SHORTEST_POINTER = 'version https://hawser.github.com/spec/v1\n'.length + 'oid sha256:\n'.length + 64 + 'size 0\n'.length;

/** Whether a blob of `size` bytes may be a pointer (unknown sizes may). */
export function mayBePointer(size: number | undefined): boolean {
  return size === undefined || (size >= SHORTEST_POINTER && size < POINTER_SIZE_LIMIT);
}

/** The pointer `data` is, or undefined when it is ordinary content. */
export function parsePointer(data: Uint8Array): LfsPointer | undefined {
  if (data.length === 0 || data.length >= POINTER_SIZE_LIMIT || data[data.length - 1] !== 0x0a) return undefined;
  let text: string;
  try {
    text = UTF8.decode(data);
  } catch {
    return undefined;
  }
  const lines = text.slice(0, -1).split('\n');
  let oid: string | undefined;
  let size: number | undefined;
  const extensions: string[] = [];
  let previousKey = '';
  for (const [index, line] of lines.entries()) {
    const space = line.indexOf(' ');
    if (space <= 0) return undefined;
    const key = line.slice(0, space);
    const value = line.slice(space + 1);
    if (!KEY.test(key) || value.includes('\r') || value.startsWith(' ')) return undefined;
    if (index === 0) {
      if (key !== 'version' || !VERSIONS.includes(value)) return undefined;
      continue;
    }
    if (key === 'version' || key <= previousKey) return undefined; // sorted, each key once
    previousKey = key;
    if (key === 'oid') {
      oid = OID.exec(value)?.[1];
      if (oid === undefined) return undefined;
    } else if (key === 'size') {
      if (!SIZE.test(value)) return undefined;
      size = Number(value);
      if (!Number.isSafeInteger(size)) return undefined;
    } else if (key.startsWith('ext-')) {
      extensions.push(key);
    }
  }
  if (oid === undefined || size === undefined) return undefined;
  return { oid, size, extensions };
}

/** The pointer git-lfs writes for an object (the canonical form: no extensions). */
export function formatPointer(pointer: { readonly oid: string; readonly size: number }): Buffer {
  return Buffer.from(`version ${VERSIONS[0]}\noid sha256:${pointer.oid}\nsize ${pointer.size}\n`, 'utf8');
}
