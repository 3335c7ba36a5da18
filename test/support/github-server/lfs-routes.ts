/**
 * Git LFS as GitHub serves it, per the spec (https://github.com/git-lfs/git-lfs/blob/main/docs/api/batch.md,
 * basic-transfers.md): the batch API at `POST /{owner}/{repo}.git/info/lfs/objects/batch`
 * (`application/vnd.git-lfs+json` both ways; `download` and `upload`; per-object errors 404/422;
 * 401 with `LFS-Authenticate`, 406 for a wrong Accept, 422 for a malformed request) and the
 * object URLs the batch answer hands out (`/_lfs/objects/{repo id}/{oid}?token=…`): GET with
 * `Range` (206 + Content-Range), PUT (checked against the oid and size), and `verify`. Like
 * GitHub's, links are signed, expire (`expires_in`), and want the `actions.*.header` they came
 * with (`Authorization: RemoteAuth …`). Objects are stored on disk per repository.
 *
 * Faults beyond the server's generic ones (status, dropMidBody, corrupt …, matched on these paths):
 * `expiredLinks` (answers whose links are already expired and refused), `silentlyExpiredLinks`
 * (links that claim an hour but are refused), `ignoreRange`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ServedRepo } from './api-routes.js';
import type { Reply } from './types.js';

export const LFS_TYPE = 'application/vnd.git-lfs+json';

/** Switches of the LFS side that tests change at runtime. */
export interface LfsSettings {
  /** `expires_in` of the links handed out. @default 3600 */
  linkTtlSec: number;
  /** The next this many batch answers carry links that expired a minute ago (and are refused). @default 0 */
  expiredLinks: number;
  /** The next this many batch answers carry links that say `expires_in: 3600` but are refused. @default 0 */
  silentlyExpiredLinks: number;
  /** Object downloads answer 200 with the whole object, whatever `Range` asks. @default false */
  ignoreRange: boolean;
  /** Object downloads need the `header` of their action (`Authorization: RemoteAuth …`). @default true */
  requireActionHeader: boolean;
}

/** One line of the LFS log: what the batch API was asked, and what object transfers sent. */
export interface LfsLogEntry {
  readonly kind: 'batch' | 'download' | 'upload' | 'verify';
  readonly oids: readonly string[];
  /** `Range` of a download. */
  readonly range?: string | undefined;
  readonly status: number;
}

interface Link {
  readonly repoId: number;
  readonly oid: string;
  readonly size: number;
  readonly operation: 'download' | 'upload' | 'verify';
  readonly expires: number;
}

const OID = /^[0-9a-f]{64}$/;

function lfsJson(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'content-type': LFS_TYPE, ...headers }, body: { kind: 'buffer', data: Buffer.from(JSON.stringify(value)) } };
}

export function lfsError(status: number, message: string, headers: Record<string, string> = {}): Reply {
  return lfsJson(status, { message, documentation_url: 'https://docs.github.com/repositories/working-with-files/managing-large-files', request_id: randomBytes(4).toString('hex') }, headers);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req) {
    length += (chunk as Buffer).length;
    if (length > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Match `/{owner}/{repo}(.git)?/info/lfs/objects/batch` and the other LFS API paths. */
export function matchLfsApiPath(path: string): { owner: string; repo: string; rest: string } | undefined {
  const match = /^\/([^/]+)\/([^/]+?)(?:\.git)?\/info\/lfs\/(.+)$/.exec(path);
  return match ? { owner: match[1] ?? '', repo: match[2] ?? '', rest: match[3] ?? '' } : undefined;
}

/** Whether a path belongs to LFS (the batch API or an object link). */
export function isLfsPath(path: string): boolean {
  return path.startsWith('/_lfs/') || matchLfsApiPath(path) !== undefined;
}

/** The LFS server of the fake: settings, stored objects, links, the LFS log. */
export class LfsServer {
  readonly settings: LfsSettings = { linkTtlSec: 3600, expiredLinks: 0, silentlyExpiredLinks: 0, ignoreRange: false, requireActionHeader: true };
  readonly log: LfsLogEntry[] = [];
  readonly #root: string;
  readonly #links = new Map<string, Link>();
  readonly #revoked = new Set<string>();

  constructor(root: string) {
    this.#root = root;
  }

  /** Where the object `oid` of a repository is stored (it may not exist). */
  pathOf(repoId: number, oid: string): string {
    return join(this.#root, String(repoId), 'objects', oid.slice(0, 2), oid.slice(2, 4), oid);
  }

  /** Store content as an LFS object of the repository; resolves its oid. */
  async put(repoId: number, data: Buffer): Promise<string> {
    const oid = createHash('sha256').update(data).digest('hex');
    const path = this.pathOf(repoId, oid);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, data);
    return oid;
  }

  async #sizeOf(repoId: number, oid: string): Promise<number | undefined> {
    try {
      return (await stat(this.pathOf(repoId, oid))).size;
    } catch {
      return undefined;
    }
  }

  #link(origin: string, repoId: number, oid: string, size: number, operation: Link['operation'], now: number): { href: string; header: Record<string, string>; token: string } {
    const token = randomBytes(12).toString('hex');
    const expired = operation === 'download' && this.settings.expiredLinks > 0;
    this.#links.set(token, { repoId, oid, size, operation, expires: expired ? now - 60_000 : now + this.settings.linkTtlSec * 1000 });
    if (operation === 'download' && this.settings.silentlyExpiredLinks > 0) this.#revoked.add(token);
    const path = operation === 'verify' ? `/_lfs/verify/${repoId}` : `/_lfs/objects/${repoId}/${oid}`;
    return { href: `${origin}${path}?token=${token}`, header: { Authorization: `RemoteAuth ${token}` }, token };
  }

  /** The batch API of a repository the caller may see; `canWrite` for uploads. */
  async batch(req: IncomingMessage, repo: ServedRepo, origin: string, canWrite: boolean): Promise<Reply> {
    const accept = req.headers.accept ?? '';
    if (!accept.includes(LFS_TYPE) && !accept.includes('*/*')) return lfsError(406, `Accept header must be ${LFS_TYPE}.`);
    const body = await readBody(req, 10 << 20);
    if (body === undefined) return lfsError(413, 'Request too large.');
    let request: { operation?: unknown; transfers?: unknown; objects?: unknown; hash_algo?: unknown };
    try {
      request = JSON.parse(body.toString('utf8')) as typeof request;
    } catch {
      return lfsError(422, 'Invalid request: malformed JSON.');
    }
    const operation = request.operation;
    if (operation !== 'download' && operation !== 'upload') return lfsError(422, 'Invalid request: operation must be download or upload.');
    if (request.transfers !== undefined && (!Array.isArray(request.transfers) || !request.transfers.includes('basic'))) return lfsError(422, 'Invalid request: no supported transfer adapter.');
    if (request.hash_algo !== undefined && request.hash_algo !== 'sha256') return lfsError(409, 'Unsupported hash algorithm.');
    if (!Array.isArray(request.objects) || request.objects.length > 1000) return lfsError(422, 'Invalid request: objects must be an array of at most 1000.');
    if (operation === 'upload' && !canWrite) return lfsError(403, 'You do not have permission to push to this repository.');
    const now = Date.now();
    const id = repo.record.id;
    const objects: unknown[] = [];
    const oids: string[] = [];
    for (const item of request.objects as { oid?: unknown; size?: unknown }[]) {
      const oid = typeof item?.oid === 'string' ? item.oid : '';
      const size = item?.size;
      oids.push(oid);
      if (!OID.test(oid) || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
        objects.push({ oid, size, error: { code: 422, message: 'Invalid object: oid must be 64 hex characters and size a non-negative integer.' } });
        continue;
      }
      const stored = await this.#sizeOf(id, oid);
      if (operation === 'download') {
        if (stored === undefined) objects.push({ oid, size, error: { code: 404, message: 'Object does not exist' } });
        else if (stored !== size) objects.push({ oid, size, error: { code: 422, message: `Object size mismatch: stored ${stored} bytes` } });
        else {
          const link = this.#link(origin, id, oid, size, 'download', now);
          const expiry = this.settings.expiredLinks > 0 ? { expires_at: new Date(now - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z') } : { expires_in: this.settings.linkTtlSec };
          objects.push({ oid, size, authenticated: true, actions: { download: { href: link.href, header: link.header, ...expiry } } });
        }
      } else if (stored === size) {
        objects.push({ oid, size, authenticated: true }); // already there: no actions
      } else {
        const upload = this.#link(origin, id, oid, size, 'upload', now);
        const verify = this.#link(origin, id, oid, size, 'verify', now);
        objects.push({ oid, size, authenticated: true, actions: { upload: { href: upload.href, header: upload.header, expires_in: this.settings.linkTtlSec }, verify: { href: verify.href, header: verify.header, expires_in: this.settings.linkTtlSec } } });
      }
    }
    if (operation === 'download') {
      if (this.settings.expiredLinks > 0) this.settings.expiredLinks -= 1;
      if (this.settings.silentlyExpiredLinks > 0) this.settings.silentlyExpiredLinks -= 1;
    }
    this.log.push({ kind: 'batch', oids, status: 200 });
    return lfsJson(200, { transfer: 'basic', objects, hash_algo: 'sha256' });
  }

  /** The token's link when it is valid for this request (query token, action header, expiry). */
  #check(req: IncomingMessage, url: URL, operation: Link['operation']): Link | Reply {
    const token = url.searchParams.get('token') ?? '';
    const link = this.#links.get(token);
    if (link === undefined || link.operation !== operation) return lfsError(404, 'Not Found');
    if (link.expires <= Date.now() || this.#revoked.has(token)) return lfsError(403, 'Request has expired');
    if (this.settings.requireActionHeader && req.headers.authorization !== `RemoteAuth ${token}`) return lfsError(401, 'Missing or wrong Authorization header', { 'lfs-authenticate': 'Basic realm="GitHub"' });
    return link;
  }

  /** GET, PUT or verify of an object link. */
  async object(req: IncomingMessage, url: URL): Promise<Reply> {
    const download = /^\/_lfs\/objects\/(\d+)\/([0-9a-f]{64})$/.exec(url.pathname);
    const verify = /^\/_lfs\/verify\/(\d+)$/.exec(url.pathname);
    if (download && (req.method === 'GET' || req.method === 'HEAD')) {
      const link = this.#check(req, url, 'download');
      if (!('oid' in link)) return this.#logged('download', [download[2] ?? ''], link, req.headers.range);
      const path = this.pathOf(link.repoId, link.oid);
      const size = await this.#sizeOf(link.repoId, link.oid);
      if (size === undefined) return this.#logged('download', [link.oid], lfsError(404, 'Object does not exist'), req.headers.range);
      const range = this.settings.ignoreRange ? undefined : /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      if (range) {
        const start = Number(range[1]);
        const end = range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1);
        if (start >= size || end < start) return this.#logged('download', [link.oid], { status: 416, headers: { 'content-range': `bytes */${size}` } }, req.headers.range);
        return this.#logged('download', [link.oid], { status: 206, headers: { 'content-type': 'application/octet-stream', 'content-range': `bytes ${start}-${end}/${size}`, 'accept-ranges': 'bytes' }, body: { kind: 'stream', open: () => createReadStream(path, { start, end }), length: end - start + 1 } }, req.headers.range);
      }
      return this.#logged('download', [link.oid], { status: 200, headers: { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' }, body: { kind: 'stream', open: () => createReadStream(path), length: size } }, req.headers.range);
    }
    if (download && req.method === 'PUT') {
      const link = this.#check(req, url, 'upload');
      if (!('oid' in link)) return this.#logged('upload', [download[2] ?? ''], link);
      const path = this.pathOf(link.repoId, link.oid);
      const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
      await mkdir(dirname(path), { recursive: true });
      const hash = createHash('sha256');
      let bytes = 0;
      await pipeline(req, async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hash.update(chunk);
          bytes += chunk.length;
          yield chunk;
        }
      }, createWriteStream(tmp));
      if (bytes !== link.size || hash.digest('hex') !== link.oid) {
        await rm(tmp, { force: true });
        return this.#logged('upload', [link.oid], lfsError(422, 'Object does not match its oid and size'));
      }
      await rename(tmp, path);
      return this.#logged('upload', [link.oid], { status: 200, headers: {} });
    }
    if (verify && req.method === 'POST') {
      const link = this.#check(req, url, 'verify');
      if (!('oid' in link)) return this.#logged('verify', [], link);
      const body = await readBody(req, 1 << 16);
      const asked = JSON.parse(body?.toString('utf8') ?? '{}') as { oid?: string; size?: number };
      const size = await this.#sizeOf(link.repoId, asked.oid ?? '');
      return this.#logged('verify', [asked.oid ?? ''], size !== undefined && size === asked.size ? { status: 200, headers: {} } : lfsError(404, 'Object does not exist'));
    }
    return lfsError(404, 'Not Found');
  }

  #logged(kind: LfsLogEntry['kind'], oids: readonly string[], reply: Reply, range?: string): Reply {
    this.log.push({ kind, oids, status: reply.status, ...(range === undefined ? {} : { range }) });
    return reply;
  }
}
