/**
 * Commit objects: header lines (`tree`, `parent`…, `author`, `committer`, then any others such as
 * `encoding`, `mergetag`, `gpgsig`, `gpgsig-sha256`, whose values continue on lines starting with a
 * space), a blank line, and the message. Headers are kept in order with their exact bytes so the
 * signed payload and the object id can be rebuilt.
 * @see https://git-scm.com/docs/signature-format#_commit_signatures
 */
import { ObjectFormatError } from './errors.js';
import { isObjectId } from './objects.js';

/** One header; continuation lines are joined with "\n" (their leading space removed). */
export interface CommitHeader {
  readonly key: string;
  readonly value: Buffer;
}

/** `Name <email> <unix seconds> <±hhmm>`, as bytes where the text may not be UTF-8. */
export interface Signature {
  readonly name: Buffer;
  readonly email: Buffer;
  /** Seconds since the epoch. */
  readonly timestamp: number;
  /** As written, e.g. `+0200`. */
  readonly timezone: string;
}

/** A parsed commit. */
export interface Commit {
  readonly tree: string;
  readonly parents: readonly string[];
  readonly author: Signature;
  readonly committer: Signature;
  /** Every header, in order, the ones above included. */
  readonly headers: readonly CommitHeader[];
  /** Everything after the blank line that ends the headers. */
  readonly message: Buffer;
}

const SIGNATURE = /^(.*) <([^<>]*)> (\d+) ([+-]\d{4})$/s;

/**
 * Parse an ident line value.
 * @throws {ObjectFormatError} when it is not `Name <email> seconds ±hhmm`.
 */
export function parseSignature(value: Buffer, what: string): Signature {
  // latin1 maps bytes 1:1, so the offsets found in the text are offsets in the bytes.
  const match = SIGNATURE.exec(value.toString('latin1'));
  if (!match) throw new ObjectFormatError(`The commit's ${what} line ${JSON.stringify(value.toString('latin1'))} is not "Name <email> seconds ±hhmm".`);
  const name = match[1] ?? '';
  const email = match[2] ?? '';
  return {
    name: value.subarray(0, name.length),
    email: value.subarray(name.length + 2, name.length + 2 + email.length),
    timestamp: Number(match[3]),
    timezone: match[4] ?? '',
  };
}

/** Split the header block and the message. Pure. */
function splitHeaders(data: Buffer): { headers: CommitHeader[]; message: Buffer } {
  const headers: { key: string; lines: Buffer[] }[] = [];
  let pos = 0;
  while (pos < data.length) {
    const newline = data.indexOf(0x0a, pos);
    const end = newline === -1 ? data.length : newline;
    const line = data.subarray(pos, end);
    pos = newline === -1 ? data.length : newline + 1;
    if (line.length === 0) return { headers: finish(headers), message: data.subarray(pos) };
    if (line[0] === 0x20) {
      const last = headers[headers.length - 1];
      if (last === undefined) throw new ObjectFormatError('The commit starts with a continuation line.');
      last.lines.push(line.subarray(1));
      continue;
    }
    const space = line.indexOf(0x20);
    if (space <= 0) throw new ObjectFormatError(`Commit header line ${JSON.stringify(line.toString('latin1'))} has no "key value" form.`);
    headers.push({ key: line.toString('latin1', 0, space), lines: [line.subarray(space + 1)] });
  }
  return { headers: finish(headers), message: Buffer.alloc(0) };
}

function finish(headers: readonly { key: string; lines: Buffer[] }[]): CommitHeader[] {
  return headers.map(({ key, lines }) => ({ key, value: lines.length === 1 ? (lines[0] ?? Buffer.alloc(0)) : Buffer.concat(lines.flatMap((l, i) => (i === 0 ? [l] : [NEWLINE, l]))) }));
}

const NEWLINE = Buffer.from('\n');

/**
 * Parse a commit object's content. Pure.
 * @throws {ObjectFormatError} unless it starts with one `tree`, then `parent` lines, then one
 * `author` and one `committer`, all well formed (the order git itself writes and fsck demands).
 */
export function parseCommit(data: Buffer): Commit {
  const { headers, message } = splitHeaders(data);
  let index = 0;
  const take = (key: string): CommitHeader | undefined => (headers[index]?.key === key ? headers[index++] : undefined);
  const tree = take('tree');
  if (tree === undefined) throw new ObjectFormatError('The commit does not start with a tree line.');
  const treeId = tree.value.toString('latin1');
  if (!isObjectId(treeId)) throw new ObjectFormatError(`The commit's tree ${JSON.stringify(treeId)} is not a 40-digit hex id.`);
  const parents: string[] = [];
  for (let parent = take('parent'); parent !== undefined; parent = take('parent')) {
    const id = parent.value.toString('latin1');
    if (!isObjectId(id)) throw new ObjectFormatError(`The commit's parent ${JSON.stringify(id)} is not a 40-digit hex id.`);
    parents.push(id);
  }
  const author = take('author');
  if (author === undefined) throw new ObjectFormatError('The commit has no author line after its tree and parents.');
  const committer = take('committer');
  if (committer === undefined) throw new ObjectFormatError('The commit has no committer line after its author.');
  for (const rest of headers.slice(index)) {
    if (['tree', 'parent', 'author', 'committer'].includes(rest.key)) throw new ObjectFormatError(`The commit has a second or misplaced ${rest.key} line.`);
  }
  return {
    tree: treeId,
    parents,
    author: parseSignature(author.value, 'author'),
    committer: parseSignature(committer.value, 'committer'),
    headers,
    message,
  };
}

/** The value of the first header named `key` (e.g. `gpgsig`, `encoding`), if any. */
export function commitHeader(commit: Pick<Commit, 'headers'>, key: string): Buffer | undefined {
  return commit.headers.find((header) => header.key === key)?.value;
}

/**
 * Rebuild a commit object's content from headers and message; for a commit git wrote, the result
 * is byte-identical to what was parsed. Pure.
 */
export function serializeCommit(commit: Pick<Commit, 'headers' | 'message'>): Buffer {
  const parts: Buffer[] = [];
  for (const { key, value } of commit.headers) {
    parts.push(Buffer.from(`${key} `, 'latin1'));
    let pos = 0;
    for (let newline = value.indexOf(0x0a); newline !== -1; newline = value.indexOf(0x0a, pos)) {
      parts.push(value.subarray(pos, newline), Buffer.from('\n '));
      pos = newline + 1;
    }
    parts.push(value.subarray(pos), NEWLINE);
  }
  parts.push(NEWLINE, commit.message);
  return Buffer.concat(parts);
}
