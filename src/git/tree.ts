/**
 * Tree objects as git stores them: entries of `"<mode> <name>\0<20-byte id>"`, sorted the way git
 * sorts them (a directory compares as if its name ended in "/"). Modes and names are kept exactly
 * as written so that a tree rebuilt from its entries hashes to the id it was recorded under.
 * @see https://git-scm.com/docs/gitformat-index (entry sort order) and git's tree-walk.c
 */
import { ObjectFormatError } from './errors.js';
import { idFromBytes, isObjectId } from './objects.js';

/** One tree entry. */
export interface TreeEntry {
  /** The mode as the octal text git wrote: `40000`, `100644`, `100755`, `120000` or `160000`. */
  readonly mode: string;
  /** The name's bytes; git does not require UTF-8 (see `decodeUtf8Strict`). */
  readonly name: Buffer;
  /** The id of the blob, tree or (for a submodule) commit. */
  readonly sha: string;
}

/** What an entry is, read from the type bits of its mode. */
export type EntryKind = 'tree' | 'file' | 'executable' | 'symlink' | 'gitlink';

/** Modes git writes today, per kind. */
export const CANONICAL_MODES: Readonly<Record<EntryKind, string>> = {
  tree: '40000',
  file: '100644',
  executable: '100755',
  symlink: '120000',
  gitlink: '160000',
};

const OCTAL = /^[0-7]{1,7}$/;

/**
 * The kind of entry a mode denotes, or `undefined` for type bits git does not know. Old trees may
 * carry non-canonical modes such as `100664`; git reads any regular-file mode by its owner
 * execute bit, and so does this.
 */
export function entryKind(mode: string): EntryKind | undefined {
  if (!OCTAL.test(mode)) return undefined;
  const value = Number.parseInt(mode, 8);
  switch (value & 0o170000) {
    case 0o040000:
      return 'tree';
    case 0o100000:
      return (value & 0o100) !== 0 ? 'executable' : 'file';
    case 0o120000:
      return 'symlink';
    case 0o160000:
      return 'gitlink';
    default:
      return undefined;
  }
}

/**
 * Parse a tree object's content. Pure.
 * @throws {ObjectFormatError} on a truncated entry, a mode that is not octal, an empty name or a
 * name containing "/".
 */
export function parseTree(data: Buffer): TreeEntry[] {
  const entries: TreeEntry[] = [];
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1) throw new ObjectFormatError(`Tree entry at byte ${pos} has no space after its mode.`);
    const mode = data.toString('latin1', pos, space);
    if (!OCTAL.test(mode)) throw new ObjectFormatError(`Tree entry at byte ${pos} has mode ${JSON.stringify(mode)}, which is not octal.`);
    const nul = data.indexOf(0x00, space + 1);
    if (nul === -1) throw new ObjectFormatError(`Tree entry at byte ${pos} has no NUL after its name.`);
    if (nul === space + 1) throw new ObjectFormatError(`Tree entry at byte ${pos} has an empty name.`);
    const name = data.subarray(space + 1, nul);
    if (name.includes(0x2f)) throw new ObjectFormatError(`Tree entry at byte ${pos} has a name containing "/": ${JSON.stringify(name.toString('latin1'))}.`);
    if (nul + 21 > data.length) throw new ObjectFormatError(`Tree entry at byte ${pos} is cut off before the end of its 20-byte id.`);
    entries.push({ mode, name: Buffer.from(name), sha: idFromBytes(data.subarray(nul + 1, nul + 21)) });
    pos = nul + 21;
  }
  return entries;
}

/** True when the mode's type bits say directory: such names sort as if followed by "/". */
function sortsAsDirectory(mode: string): boolean {
  return entryKind(mode) === 'tree';
}

/**
 * Git's order of two entries: bytewise on the name, a directory's name compared as `name/`
 * (so `a.b` < `a/` < `a0`, while a file `a` sorts before `a.b`). Pure.
 */
export function compareTreeEntries(a: Pick<TreeEntry, 'mode' | 'name'>, b: Pick<TreeEntry, 'mode' | 'name'>): number {
  const common = Math.min(a.name.length, b.name.length);
  const head = Buffer.compare(a.name.subarray(0, common), b.name.subarray(0, common));
  if (head !== 0) return head;
  // After the common prefix, a name that ended is followed by "/" (directory) or NUL (anything else).
  const next = (entry: Pick<TreeEntry, 'mode' | 'name'>): number =>
    entry.name.length > common ? (entry.name[common] ?? 0) : sortsAsDirectory(entry.mode) ? 0x2f : 0;
  return next(a) - next(b);
}

/**
 * Serialize entries into a tree object's content, in git's order (the input need not be sorted).
 * Pure. The result hashes (as a "tree") to the id git gives the same entries.
 * @throws {ObjectFormatError} on a bad mode, name or id, or two entries with the same name.
 */
export function serializeTree(entries: readonly TreeEntry[]): Buffer {
  const sorted = [...entries].sort(compareTreeEntries);
  const parts: Buffer[] = [];
  // A file and a directory of the same name do not sort next to each other ("a", "a.b", "a/").
  const seen = new Set<string>();
  for (const entry of sorted) {
    if (!OCTAL.test(entry.mode)) throw new ObjectFormatError(`Tree entry mode ${JSON.stringify(entry.mode)} is not octal.`);
    if (entry.name.length === 0 || entry.name.includes(0x2f) || entry.name.includes(0)) {
      throw new ObjectFormatError(`Tree entry name ${JSON.stringify(entry.name.toString('latin1'))} is empty or contains "/" or NUL.`);
    }
    if (!isObjectId(entry.sha)) throw new ObjectFormatError(`Tree entry ${JSON.stringify(entry.name.toString('latin1'))} has id ${JSON.stringify(entry.sha)}, not 40 hex digits.`);
    const key = entry.name.toString('latin1');
    if (seen.has(key)) throw new ObjectFormatError(`Tree has two entries named ${JSON.stringify(key)}.`);
    seen.add(key);
    parts.push(Buffer.from(`${entry.mode} `, 'latin1'), entry.name, Buffer.from([0]), Buffer.from(entry.sha, 'hex'));
  }
  return Buffer.concat(parts);
}
