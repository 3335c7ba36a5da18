/**
 * Putting a Reply on the wire: gzip when allowed, body faults (corrupt, drop mid-body) and
 * bandwidth throttling, streaming slice by slice so big blobs and archives are never buffered.
 */
import type { ServerResponse } from 'node:http';
import { Readable, type Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGzip } from 'node:zlib';
import { corruptTransform } from './faults.js';
import { THROTTLE_SLICE, type Throttle } from './throttle.js';
import type { Reply } from './types.js';

/** How to send one reply. */
export interface SendOptions {
  /** The client accepts gzip (the reply must also be compressible). */
  readonly acceptsGzip: boolean;
  readonly corrupt: boolean;
  /** Destroy the socket after this many body bytes on the wire ('half': half the body). */
  readonly dropAfter?: number | 'half';
  readonly throttle: Throttle;
  /** Send the body this slowly (headers go out at once). */
  readonly trickle?: { readonly bytes: number; readonly everyMs: number } | undefined;
}

/** True when `accept-encoding` allows gzip (q=0 excludes it). */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(',').some((part) => {
    const [coding = '', ...params] = part.trim().toLowerCase().split(';');
    if (coding.trim() !== 'gzip' && coding.trim() !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

function chain(source: Readable, stage: Transform, stages: Readable[]): Readable {
  source.on('error', (error) => stage.destroy(error));
  stages.push(stage);
  return source.pipe(stage);
}

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function writeThen(res: ServerResponse, data: Buffer): Promise<void> {
  return new Promise((resolve) => res.write(data, () => resolve()));
}

/** Send `reply` on `res`; resolves when the response ended, was dropped, or the client went away. */
export async function sendReply(res: ServerResponse, reply: Reply, opts: SendOptions): Promise<void> {
  const headers: Record<string, string> = { ...reply.headers };
  const body = reply.body;
  if (body === undefined) {
    if (reply.status !== 304 && reply.status !== 204) headers['content-length'] = '0';
    res.writeHead(reply.status, headers);
    res.end();
    return;
  }
  const length = body.kind === 'buffer' ? body.data.length : body.length;
  const gzip = opts.acceptsGzip && reply.compressible === true && length !== 0;
  const stages: Readable[] = [];
  let source: Readable = body.kind === 'buffer' ? Readable.from([body.data]) : body.open();
  stages.push(source);
  if (opts.corrupt) source = chain(source, corruptTransform(), stages);
  if (gzip) {
    source = chain(source, createGzip(), stages);
    headers['content-encoding'] = 'gzip';
    delete headers['content-length'];
  } else if (length !== undefined) {
    headers['content-length'] = String(length);
  }
  let dropAt = typeof opts.dropAfter === 'number' ? Math.max(1, opts.dropAfter) : undefined;
  if (opts.dropAfter === 'half' && !gzip && length !== undefined) dropAt = Math.max(1, Math.floor(length / 2));
  res.writeHead(reply.status, headers);
  res.flushHeaders();
  let sent = 0;
  try {
    for await (const chunk of source) {
      const data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      if (opts.dropAfter === 'half' && dropAt === undefined) dropAt = Math.max(1, Math.floor(data.length / 2));
      const slice = opts.trickle?.bytes ?? THROTTLE_SLICE;
      for (let offset = 0; offset < data.length; offset += slice) {
        const piece = data.subarray(offset, offset + slice);
        if (opts.trickle !== undefined) await sleep(opts.trickle.everyMs);
        await opts.throttle.take(piece.length);
        if (res.destroyed) return;
        if (dropAt !== undefined && sent + piece.length >= dropAt) {
          await writeThen(res, piece.subarray(0, dropAt - sent));
          res.socket?.destroy();
          return;
        }
        sent += piece.length;
        if (!res.write(piece)) await drainOrClose(res);
      }
    }
    if (!res.destroyed) res.end();
  } catch {
    // The body failed mid-way (git died): cut the connection so the client sees a broken body.
    res.destroy();
  } finally {
    for (const stage of stages) if (!stage.destroyed) stage.destroy();
  }
}
