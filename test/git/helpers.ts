/**
 * Oracles and fixtures for the git wire client's tests: packs made by `git pack-objects`, object
 * contents from `git cat-file`, and the pack bytes as an async stream cut into arbitrary pieces.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gitBuffer, git } from '../support/git-cli.js';
import type { ObjectType } from '../../src/git/objects.js';
import type { MemoryObjectStore } from '../../src/git/memory-store.js';

/** Options of {@link packObjects}. */
export interface PackObjectsOptions {
  /** `--thin`: deltas against objects outside the pack (the `^excluded` revisions). */
  readonly thin?: boolean;
  /** `--delta-base-offset` (OFS_DELTA); REF_DELTA without it. @default true */
  readonly ofs?: boolean;
  /** `--depth` of delta chains. */
  readonly depth?: number;
  /** `--window`. */
  readonly window?: number;
  /** Extra arguments. */
  readonly args?: readonly string[];
}

/** Run `git pack-objects --revs --stdout` with `revs` on stdin (e.g. [new, `^old`]); the pack bytes. */
export async function packObjects(dir: string, revs: readonly string[], opts: PackObjectsOptions = {}): Promise<Buffer> {
  const args = ['pack-objects', '--revs', '--stdout', '-q'];
  if (opts.thin === true) args.push('--thin');
  if (opts.ofs !== false) args.push('--delta-base-offset');
  if (opts.depth !== undefined) args.push(`--depth=${opts.depth}`);
  if (opts.window !== undefined) args.push(`--window=${opts.window}`);
  args.push(...(opts.args ?? []));
  return gitBuffer(args, { cwd: dir, input: `${revs.join('\n')}\n` });
}

/** One object as git sees it. */
export interface GitObject {
  readonly type: ObjectType;
  readonly data: Buffer;
}

/** Read objects with `git cat-file --batch`. */
export async function catObjects(dir: string, shas: readonly string[]): Promise<Map<string, GitObject>> {
  const out = await gitBuffer(['cat-file', '--batch'], { cwd: dir, input: `${shas.join('\n')}\n` });
  const objects = new Map<string, GitObject>();
  let pos = 0;
  while (pos < out.length) {
    const newline = out.indexOf(0x0a, pos);
    const [sha = '', type = '', size = ''] = out.toString('latin1', pos, newline).split(' ');
    if (type === 'missing') throw new Error(`git cat-file: ${sha} missing`);
    const start = newline + 1;
    const end = start + Number(size);
    objects.set(sha, { type: type as ObjectType, data: out.subarray(start, end) });
    pos = end + 1;
  }
  return objects;
}

/** Every object id reachable from `commit` without walking history: the commit, its trees and blobs. */
export async function objectsOfCommit(dir: string, commit: string): Promise<string[]> {
  const out = await git(['rev-list', '--objects', '--no-walk', commit], { cwd: dir });
  return out.split('\n').filter((line) => line !== '').map((line) => line.slice(0, 40));
}

/** One entry of a pack as `git verify-pack -v` lists it, with its stored kind read from the pack. */
export interface PackEntry {
  readonly sha: string;
  readonly type: ObjectType;
  readonly offset: number;
  /** How the entry is stored: 1-4 whole, 6 OFS_DELTA, 7 REF_DELTA. */
  readonly storedAs: number;
  /** Delta chain depth (0 for whole objects). */
  readonly depth: number;
  readonly base: string | undefined;
}

/** git's own listing of a (non-thin) pack: `git index-pack` then `git verify-pack -v`. */
export async function verifyPack(pack: Buffer): Promise<PackEntry[]> {
  const dir = await mkdtemp(join(tmpdir(), 'hostsync-pack-'));
  try {
    const file = join(dir, 'test.pack');
    await writeFile(file, pack);
    await git(['index-pack', file], { cwd: dir });
    const out = await git(['verify-pack', '-v', file], { cwd: dir });
    return out
      .split('\n')
      .filter((line) => /^[0-9a-f]{40} /.test(line))
      .map((line) => {
        const [sha = '', type = '', , , offset = '', depth, base] = line.trim().split(/\s+/);
        return { sha, type: type as ObjectType, offset: Number(offset), storedAs: ((pack[Number(offset)] ?? 0) >> 4) & 7, depth: depth === undefined ? 0 : Number(depth), base };
      });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The store's objects as git's: same ids, same types, same bytes. */
export function storeMatches(store: MemoryObjectStore, expected: Map<string, GitObject>): void {
  for (const [sha, object] of expected) {
    const got = store.objects.get(sha);
    if (got === undefined) throw new Error(`object ${sha} (${object.type}) was not delivered`);
    if (got.type !== object.type) throw new Error(`object ${sha}: type ${got.type}, git says ${object.type}`);
    if (!got.data.equals(object.data)) throw new Error(`object ${sha}: content differs from git's`);
  }
}

/** Feed `bytes` as an async stream in pieces of `size` bytes (or pseudo-random sizes with a seed). */
export async function* chunked(bytes: Buffer, size: number | { seed: number; max: number }): AsyncGenerator<Buffer> {
  let state = typeof size === 'number' ? 0 : size.seed;
  for (let pos = 0; pos < bytes.length; ) {
    let n: number;
    if (typeof size === 'number') n = size;
    else {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      n = 1 + (state % size.max);
    }
    yield bytes.subarray(pos, pos + n);
    pos += n;
  }
}

/** Basic auth as GitHub takes a token over git smart HTTP. */
export function basicAuth(token: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}` };
}
