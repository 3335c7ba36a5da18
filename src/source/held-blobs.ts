/**
 * Blobs a fetch brought although they were not wanted: from a server without partial clone
 * (`filter`; plain git-http-backend has `uploadpack.allowFilter` off) a --check-only fetch carries the
 * commit's blobs and the downgrade guard's history walk those of every commit walked. They stay in
 * memory — never in the object store (--check-only writes nothing) — because later entries of the
 * same pack may be deltas against them; a budget caps that memory.
 */
import { HostsyncError } from '../errors.js';
import type { BaseProvider, BlobWriter } from '../git/object-sink.js';

/** Most blob bytes one such fetch holds in memory. */
const HELD_BLOB_BYTES = 256 << 20;

/**
 * A blob kept in memory (see HELD_BLOB_BYTES); `why` names the fetch and its way out for the
 * message when the budget runs out.
 */
export function memoryWriter(held: Map<string, Buffer>, size: number, url: string, why: string): BlobWriter {
  let total = size;
  for (const blob of held.values()) total += blob.length;
  if (total > HELD_BLOB_BYTES) {
    throw new HostsyncError(`${url} does not offer partial clone (filter), so ${why} would hold over ${HELD_BLOB_BYTES >> 20} MiB of blobs in memory. Enable uploadpack.allowFilter on the server.`);
  }
  const chunks: Buffer[] = [];
  return {
    write: (chunk) => {
      chunks.push(Buffer.from(chunk));
    },
    finish: (sha) => {
      held.set(sha, Buffer.concat(chunks));
    },
    abort: () => undefined,
  };
}

/** `bases`, plus the blobs held in memory. */
export function withHeld(bases: BaseProvider, held: ReadonlyMap<string, Buffer> | undefined): BaseProvider {
  if (held === undefined) return bases;
  return {
    get(sha) {
      const blob = held.get(sha);
      if (blob === undefined) return bases.get(sha);
      return { type: 'blob', size: blob.length, read: (offset, length) => blob.subarray(offset, offset + length) };
    },
  };
}
