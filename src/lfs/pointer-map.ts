/**
 * What hostsync learnt about LFS pointers, kept in the state dir (`<stateDir>/lfs/pointers.json`,
 * shared by its destinations like the object store): pointer blob SHA → the object it names
 * (SHA-256 `oid`, `size`) and the git blob SHA of that content (`content`), under which the store
 * holds it. An update resolves only pointers it has not seen, an LFS file whose pointer did not
 * change is never downloaded again, and a pointer that came back (a revert) needs no request.
 *
 * A cache: a damaged or missing file costs downloads, never correctness — every object is still
 * verified against the pointer's SHA-256 from the commit's tree.
 */
import { join } from 'node:path';
import { readJson, writeJsonAtomic } from '../state/files.js';
import type { ObjectStore } from '../state/objects.js';

/** One pointer's object and the content's git blob SHA. */
export interface KnownPointer {
  readonly oid: string;
  readonly size: number;
  /** Git blob SHA of the content (`sha1("blob <size>\0" + content)`). */
  readonly content: string;
  /** Bytes of the pointer blob itself. */
  readonly pointerSize: number;
}

export interface PointerMap {
  /** The object of a pointer blob, when known. */
  get(pointer: string): KnownPointer | undefined;
  /** The content's git SHA of an object, when any known pointer names it. */
  contentOf(oid: string): string | undefined;
  /** Remember a pointer (saved by {@link PointerMap.save}). */
  record(pointer: string, known: KnownPointer): void;
  /** Write what was recorded, merged with what other runs wrote meanwhile; entries whose content left the store are dropped. */
  save(store: ObjectStore, keep: ReadonlySet<string>): Promise<void>;
}

const SHA1 = /^[0-9a-f]{40}$/;
const SHA256 = /^[0-9a-f]{64}$/;

function fileOf(stateDir: string): string {
  return join(stateDir, 'lfs', 'pointers.json');
}

function isKnown(value: unknown): value is KnownPointer {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v['oid'] === 'string' && SHA256.test(v['oid']) && typeof v['content'] === 'string' && SHA1.test(v['content']) && Number.isSafeInteger(v['size']) && Number.isSafeInteger(v['pointerSize']);
}

async function readEntries(file: string): Promise<Map<string, KnownPointer>> {
  const entries = new Map<string, KnownPointer>();
  const data = await readJson(file).catch(() => undefined);
  const pointers = typeof data === 'object' && data !== null ? (data as { pointers?: unknown }).pointers : undefined;
  if (typeof pointers !== 'object' || pointers === null) return entries;
  for (const [sha, known] of Object.entries(pointers)) if (SHA1.test(sha) && isKnown(known)) entries.set(sha, { oid: known.oid, size: known.size, content: known.content, pointerSize: known.pointerSize });
  return entries;
}

/** Load the map of a state dir (empty when there is none or it cannot be read). */
export async function loadPointerMap(stateDir: string): Promise<PointerMap> {
  const file = fileOf(stateDir);
  const entries = await readEntries(file);
  const recorded = new Map<string, KnownPointer>();
  const byOid = new Map<string, string>();
  for (const known of entries.values()) byOid.set(known.oid, known.content);
  return {
    get: (pointer) => recorded.get(pointer) ?? entries.get(pointer),
    contentOf: (oid) => byOid.get(oid),
    record(pointer, known) {
      recorded.set(pointer, known);
      byOid.set(known.oid, known.content);
    },
    async save(store, keep) {
      if (recorded.size === 0) return;
      const merged = await readEntries(file);
      for (const [sha, known] of recorded) merged.set(sha, known);
      const pointers: Record<string, KnownPointer> = {};
      for (const [sha, known] of [...merged].sort(([a], [b]) => (a < b ? -1 : 1))) {
        if (keep.has(known.content) || (await store.has(known.content))) pointers[sha] = known;
      }
      await writeJsonAtomic(file, { version: 1, pointers });
    },
  };
}
