/**
 * A commit object (the bytes git hashes, without the `commit <size>\0` header) and its signature,
 * split and joined exactly as git does:
 *
 * - split: `parse_buffer_signed_by_header` in git's commit.c. The signature is the `gpgsig` header
 *   (`gpgsig-sha256` in a SHA-256 repository) with continuation lines' leading space removed; the
 *   signed payload is the object with that header, and any other `gpgsig*` header, removed.
 * - join: `add_header_signature` in commit.c puts the header after the last header line (after
 *   `committer`, `encoding` and `mergetag`), every line of the signature prefixed with one space.
 *
 * GitHub's "get a commit" answer carries the payload and the signature separately
 * (https://docs.github.com/rest/commits/commits#get-a-commit, `commit.verification`); joining them
 * and checking the object id is what ties that answer to the commit SHA.
 */
import { createHash } from 'node:crypto';
import { CommitReassemblyError } from './errors.js';

/** The hash function of a repository: SHA-1 ids are 40 hex digits, SHA-256 ids 64. */
export type ObjectFormat = 'sha1' | 'sha256';

const SIGNATURE_HEADERS: Readonly<Record<ObjectFormat, string>> = { sha1: 'gpgsig', sha256: 'gpgsig-sha256' };
const NEWLINE = 0x0a;
const SPACE = 0x20;

/** The object format a commit id belongs to, from its length; undefined if it is not an object id. */
export function objectFormatOf(sha: string): ObjectFormat | undefined {
  if (/^[0-9a-f]{40}$/i.test(sha)) return 'sha1';
  if (/^[0-9a-f]{64}$/i.test(sha)) return 'sha256';
  return undefined;
}

/** The object id git gives these commit bytes: `H("commit <size>\0" + object)`, lower-case hex. */
export function hashCommitObject(object: Buffer, format: ObjectFormat): string {
  return createHash(format).update(`commit ${object.length}\0`).update(object).digest('hex');
}

/** A commit object taken apart for verification. */
export interface SignedCommitParts {
  /** The bytes that were signed: the object without its signature headers. */
  readonly payload: Buffer;
  /** The armored signature for this object format, or undefined for an unsigned commit. */
  readonly signature: string | undefined;
  /** The committer timestamp (epoch seconds) from the signed payload, the time git checks SSH key validity at. */
  readonly committerTime: number | undefined;
}

/** Split a commit object into the signed payload and its signature, byte for byte as git does. */
export function splitSignedCommit(object: Buffer, format: ObjectFormat = 'sha1'): SignedCommitParts {
  const header = Buffer.from(SIGNATURE_HEADERS[format], 'ascii');
  const payload: Buffer[] = [];
  const signature: Buffer[] = [];
  let inSignature = false;
  let sawSignature = false;
  let otherSignature = false;
  let line = 0;
  while (line < object.length) {
    const newline = object.indexOf(NEWLINE, line);
    let next = newline === -1 ? object.length : newline + 1;
    let sigStart = -1;
    if (inSignature && object[line] === SPACE) {
      sigStart = line + 1;
    } else if (startsWith(object, line, header) && object[line + header.length] === SPACE) {
      sigStart = line + header.length + 1;
      otherSignature = false;
    } else if (startsWith(object, line, GPGSIG)) {
      // A signature for the other hash function (a repository converted between SHA-1 and SHA-256):
      // not part of what this signature covers.
      otherSignature = true;
    } else if (otherSignature && object[line] !== SPACE) {
      otherSignature = false;
    }
    if (sigStart !== -1) {
      signature.push(object.subarray(sigStart, next));
      sawSignature = true;
      inSignature = true;
    } else {
      // The blank line ends the headers: the message is payload whatever it contains.
      if (object[line] === NEWLINE) next = object.length;
      if (!otherSignature) payload.push(object.subarray(line, next));
      inSignature = false;
    }
    line = next;
  }
  const signed = Buffer.concat(payload);
  return {
    payload: signed,
    signature: sawSignature ? Buffer.concat(signature).toString('utf8') : undefined,
    committerTime: committerTime(signed),
  };
}

const GPGSIG = Buffer.from('gpgsig', 'ascii');

function startsWith(buffer: Buffer, at: number, prefix: Buffer): boolean {
  return buffer.length - at >= prefix.length && buffer.compare(prefix, 0, prefix.length, at, at + prefix.length) === 0;
}

/**
 * The committer timestamp of a commit's headers (`committer Name <email> 1700000000 +0100`), as
 * git's `parse_payload_metadata` reads it for `-Overify-time`; undefined when there is none.
 */
export function committerTime(object: Buffer): number | undefined {
  for (const line of headerLines(object)) {
    if (!line.startsWith('committer ')) continue;
    const match = />\s*(\d+)(?:\s+[+-]\d{4})?\s*$/.exec(line);
    return match?.[1] === undefined ? undefined : Number(match[1]);
  }
  return undefined;
}

/**
 * The tree a commit object names (its first header, `tree <id>`): what a verified signature
 * vouches for, to be compared with the tree that is then fetched and applied.
 */
export function commitTree(object: Buffer): string | undefined {
  const first = headerLines(object)[0] ?? '';
  return /^tree ([0-9a-f]{40}|[0-9a-f]{64})$/.exec(first)?.[1];
}

/** The header lines of a commit object (continuations included), up to the blank line. */
function headerLines(object: Buffer): string[] {
  const end = object.indexOf('\n\n');
  return object.subarray(0, end === -1 ? object.length : end).toString('latin1').split('\n');
}

/** The signature header lines git writes for `signature` (`add_header_signature`). */
export function signatureHeader(signature: string, format: ObjectFormat): Buffer {
  const lines = signature.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  return Buffer.from(`${SIGNATURE_HEADERS[format]}${lines.map((line) => ` ${line}`).join('')}`, 'utf8');
}

/**
 * Rebuild the full commit object from a signed payload and its signature (GitHub's
 * `verification.payload` and `verification.signature`) and return it once it hashes to
 * `commitSha`. The signature goes where git puts it; other header boundaries are tried after that,
 * since other signers (libgit2, go-git, GitHub's web-flow) need not follow git. Throws
 * `CommitReassemblyError` when no arrangement hashes to `commitSha`.
 */
export function rebuildSignedCommit(payload: Buffer | string, signature: string, commitSha: string): Buffer {
  const format = objectFormatOf(commitSha);
  if (format === undefined) throw new CommitReassemblyError(commitSha, `'${commitSha}' is not a commit SHA (40 or 64 hex digits).`);
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const wanted = commitSha.toLowerCase();
  const signatures = signature.endsWith('\n') ? [signature] : [`${signature}\n`, signature];
  for (const variant of signatures) {
    const header = signatureHeader(variant, format);
    for (const at of insertionPoints(bytes)) {
      const object = Buffer.concat([bytes.subarray(0, at), header, bytes.subarray(at)]);
      if (hashCommitObject(object, format) === wanted) return object;
    }
  }
  throw new CommitReassemblyError(
    commitSha,
    `GitHub's signed payload and signature for commit ${wanted.slice(0, 12)} do not rebuild an object with that SHA, so the signature cannot be tied to the commit (bytes that are not UTF-8, e.g. an 'encoding' header, do not survive GitHub's JSON). Verify over git instead (the clone path), or check --api-url points at the right server.`,
  );
}

/** Offsets where a header may be inserted: git's spot (end of headers) first, then every other header start. */
function insertionPoints(payload: Buffer): number[] {
  const blank = payload.indexOf('\n\n');
  const endOfHeaders = blank === -1 ? payload.length : blank + 1;
  const points = [endOfHeaders];
  // After the first line: git requires `tree` to come first.
  let line = payload.indexOf(NEWLINE) + 1;
  while (line > 0 && line < endOfHeaders) {
    if (payload[line] !== SPACE && line !== endOfHeaders) points.push(line);
    line = payload.indexOf(NEWLINE, line) + 1;
  }
  return points;
}
