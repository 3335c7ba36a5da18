/**
 * Building GitHub-shaped replies: JSON bodies with weak ETags, error bodies with the documentation
 * URL of each operation, and the conditional-request (304) rule.
 * @see https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Reply } from './types.js';

/** `documentation_url` values GitHub sends, one per operation (from the OpenAPI `externalDocs`). */
export const DOCS = {
  rest: 'https://docs.github.com/rest',
  getRepo: 'https://docs.github.com/rest/repos/repos#get-a-repository',
  getCommit: 'https://docs.github.com/rest/commits/commits#get-a-commit',
  getTree: 'https://docs.github.com/rest/git/trees#get-a-tree',
  getBlob: 'https://docs.github.com/rest/git/blobs#get-a-blob',
  tarball: 'https://docs.github.com/rest/repos/contents#download-a-repository-archive-tar',
  compare: 'https://docs.github.com/rest/commits/commits#compare-two-commits',
  rateLimit: 'https://docs.github.com/rest/rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user',
  primaryLimit: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
  secondaryLimit: 'https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
  redirects: 'https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects',
  apiVersions: 'https://docs.github.com/rest/overview/api-versions',
} as const;

/** The REST API version this server speaks. @see https://docs.github.com/rest/about-the-rest-api/api-versions */
export const API_VERSION = '2022-11-28';

export const JSON_TYPE = 'application/json; charset=utf-8';
export const MEDIA_JSON = 'github.v3; format=json';

/** A JSON reply; 200s get a weak ETag over the body as GitHub's do. */
export function jsonReply(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  const data = Buffer.from(JSON.stringify(value), 'utf8');
  const etag = status === 200 ? { etag: `W/"${createHash('sha256').update(data).digest('hex')}"` } : {};
  return {
    status,
    headers: { 'content-type': JSON_TYPE, 'x-github-media-type': MEDIA_JSON, ...etag, ...headers },
    body: { kind: 'buffer', data },
    compressible: true,
  };
}

/** GitHub's error body: `{message, documentation_url, status}` (status as a string, as GitHub sends it). */
export function errorReply(status: number, message: string, documentationUrl: string, extra: Record<string, unknown> = {}): Reply {
  return jsonReply(status, { message, ...extra, documentation_url: documentationUrl, status: String(status) });
}

export function notFound(documentationUrl: string = DOCS.rest): Reply {
  return errorReply(404, 'Not Found', documentationUrl);
}

/** Opaque tags of an `If-None-Match` header, weak prefixes removed (weak comparison). */
function tagsOf(header: string): string[] {
  return header.split(',').map((tag) => tag.trim().replace(/^W\//, '')).filter((tag) => tag !== '');
}

/** True when a conditional GET may be answered 304 Not Modified. */
export function isNotModified(headers: IncomingHttpHeaders, reply: Reply): boolean {
  if (reply.status !== 200) return false;
  const inm = headers['if-none-match'];
  const etag = reply.headers['etag'];
  if (inm !== undefined) {
    if (etag === undefined) return false;
    const tags = tagsOf(inm);
    return tags.includes('*') || tags.includes(etag.replace(/^W\//, ''));
  }
  const ims = headers['if-modified-since'];
  const lastModified = reply.headers['last-modified'];
  if (ims === undefined || lastModified === undefined) return false;
  const since = Date.parse(ims);
  return !Number.isNaN(since) && Date.parse(lastModified) <= since;
}

/** The 304 for a reply: same validators and caching headers, no body, no content headers. */
export function notModifiedReply(reply: Reply): Reply {
  const headers = { ...reply.headers };
  delete headers['content-type'];
  delete headers['content-length'];
  return { status: 304, headers };
}

/** HTTP date of an ISO timestamp, for `last-modified`. */
export function httpDate(iso: string): string {
  return new Date(iso).toUTCString();
}
