/**
 * The repository-scoped REST endpoints: repository, commit, tree, blob, tarball redirect and
 * comparison, with GitHub's media types, limits and error bodies. Each handler returns a Reply.
 */
import { base64JsonStream, escapedBase64Length } from './blob-json.js';
import type { GitRepo } from './git-repo.js';
import { commitPayload, diffEntryPayload, fullName, nodeId, repoPayload, type Origins, type RepoRecord } from './payloads.js';
import { DOCS, errorReply, httpDate, jsonReply, notFound } from './reply.js';
import type { Reply } from './types.js';

/** Limits and switches of the API that tests change at runtime. */
export interface ApiSettings {
  /** Entries a recursive tree lists before `truncated: true`. @default 100000 */
  treeEntryLimit: number;
  /** JSON size of a tree listing before `truncated: true`. @default 7 MB */
  treeMaxBytes: number;
  /** Largest blob the blobs API returns; larger ones answer 403 too_large. @default 100 MiB */
  maxBlobBytes: number;
  /** Commits whose signature GitHub would report as verified. */
  verifiedCommits: Set<string>;
  /** Codeload URL of the tarball redirect: the resolved SHA, or the ref as asked (GitHub's form). @default 'sha' */
  tarballRedirect: 'sha' | 'ref';
  /**
   * A lying server, for the signature tests: `GET /git/trees/{key}` (a tree SHA, or what resolves to
   * it) answers with the listing of the tree in the value, under the asked SHA. @default empty
   */
  treeSubstitutes: Map<string, string>;
  /** A lying server: these fields replace `commit.verification`'s in GET commit, by commit SHA. @default empty */
  verificationOverrides: Map<string, { readonly payload?: string | null; readonly signature?: string | null }>;
}

export interface ServedRepo {
  readonly record: RepoRecord;
  readonly git: GitRepo;
}

/** A request for a repository sub-resource, after the repository was found and access checked. */
export interface RepoRequest {
  readonly repo: ServedRepo;
  /** Decoded path segments after `/repos/{owner}/{repo}`. */
  readonly rest: readonly string[];
  readonly query: URLSearchParams;
  readonly accept: string;
  readonly origins: Origins;
  readonly authenticated: boolean;
  readonly settings: ApiSettings;
  /** A codeload access token for a private repository's archive link. */
  readonly codeloadToken: () => string;
}

type Media = 'json' | 'raw' | 'sha';

/** The custom media type asked for in `Accept`. @see https://docs.github.com/rest/using-the-rest-api/getting-started-with-the-rest-api#media-types */
export function mediaOf(accept: string): Media {
  if (/application\/vnd\.github(\.v3)?\.sha\b/.test(accept)) return 'sha';
  if (/application\/vnd\.github(\.v3)?\.raw\b/.test(accept)) return 'raw';
  return 'json';
}

/** The documentation URL for errors of the operation a path belongs to. */
export function docsFor(rest: readonly string[]): string {
  const [first, second] = rest;
  if (first === undefined) return DOCS.getRepo;
  if (first === 'commits') return DOCS.getCommit;
  if (first === 'git' && second === 'trees') return DOCS.getTree;
  if (first === 'git' && second === 'blobs') return DOCS.getBlob;
  if (first === 'tarball') return DOCS.tarball;
  if (first === 'compare') return DOCS.compare;
  return DOCS.rest;
}

/** Route a repository request to its handler. */
export async function routeRepo(r: RepoRequest): Promise<Reply> {
  const [first, second, ...tail] = r.rest;
  if (first === undefined) return jsonReply(200, repoPayload(r.repo.record, r.origins, r.authenticated), { 'last-modified': httpDate('2024-01-01T00:00:00Z') });
  if (first === 'commits' && second !== undefined) return getCommit(r, [second, ...tail].join('/'));
  if (first === 'git' && second === 'trees' && tail.length > 0) return getTree(r, tail.join('/'));
  if (first === 'git' && second === 'blobs' && tail.length === 1) return getBlob(r, tail[0] ?? '');
  if (first === 'tarball') return getTarball(r, second === undefined ? undefined : [second, ...tail].join('/'));
  if (first === 'compare' && second !== undefined) return compare(r, [second, ...tail].join('/'));
  return notFound();
}

const emptyRepo = (docs: string): Reply => errorReply(409, 'Git Repository is empty.', docs);

async function getCommit(r: RepoRequest, ref: string): Promise<Reply> {
  const { git, record } = r.repo;
  if (await git.isEmpty()) return emptyRepo(DOCS.getCommit);
  const sha = await git.resolve(ref, 'commit', record.defaultBranch);
  if (sha === undefined) return errorReply(422, `No commit found for SHA: ${ref}`, DOCS.getCommit);
  if (mediaOf(r.accept) === 'sha') {
    return {
      status: 200,
      headers: { 'content-type': 'application/vnd.github.sha; charset=utf-8', 'x-github-media-type': 'github.v3; param=sha', etag: `"${sha}"` },
      body: { kind: 'buffer', data: Buffer.from(sha) },
      compressible: true,
    };
  }
  const commit = await git.readCommit(sha);
  const files = await git.diff(commit.parents[0], sha);
  const body = commitPayload(commit, record, r.origins, r.settings.verifiedCommits.has(sha), files);
  const override = r.settings.verificationOverrides.get(sha);
  const inner = body['commit'] as { verification: Record<string, unknown> };
  if (override !== undefined) inner.verification = { ...inner.verification, ...override };
  return jsonReply(200, body, { 'last-modified': httpDate(commit.committer.date) });
}

async function getTree(r: RepoRequest, treeish: string): Promise<Reply> {
  const { git, record } = r.repo;
  if (await git.isEmpty()) return emptyRepo(DOCS.getTree);
  const sha = await git.resolve(treeish, 'tree', record.defaultBranch);
  if (sha === undefined) return notFound(DOCS.getTree);
  const api = `${r.origins.api}/repos/${fullName(record)}`;
  // GitHub: any value of `recursive` (even 0 or false) turns recursion on.
  const entries = await git.lsTree(r.settings.treeSubstitutes.get(sha) ?? sha, r.query.has('recursive'));
  const tree: Array<Record<string, unknown>> = [];
  let bytes = 0;
  let truncated = false;
  for (const entry of entries) {
    const item: Record<string, unknown> = { path: entry.path, mode: entry.mode, type: entry.type, sha: entry.sha };
    if (entry.size !== undefined) item['size'] = entry.size;
    if (entry.type === 'blob') item['url'] = `${api}/git/blobs/${entry.sha}`;
    if (entry.type === 'tree') item['url'] = `${api}/git/trees/${entry.sha}`;
    bytes += JSON.stringify(item).length + 1;
    if (tree.length >= r.settings.treeEntryLimit || bytes > r.settings.treeMaxBytes) {
      truncated = true;
      break;
    }
    tree.push(item);
  }
  return jsonReply(200, { sha, url: `${api}/git/trees/${sha}`, tree, truncated });
}

async function getBlob(r: RepoRequest, sha: string): Promise<Reply> {
  const { git, record } = r.repo;
  if (await git.isEmpty()) return emptyRepo(DOCS.getBlob);
  if (!/^[0-9a-fA-F]{40}$/.test(sha)) {
    return errorReply(422, 'The sha parameter must be exactly 40 characters and contain only [0-9a-f].', DOCS.getBlob);
  }
  const id = sha.toLowerCase();
  const info = await git.objectInfo(id);
  if (info === undefined || info.type !== 'blob') return notFound(DOCS.getBlob);
  if (info.size > r.settings.maxBlobBytes) {
    return errorReply(
      403,
      'This API returns blobs up to 100 MB in size. The requested blob is too large to fetch via the API, but you can use the Git Database API instead.',
      DOCS.getBlob,
      { errors: [{ resource: 'Blob', field: 'data', code: 'too_large' }] },
    );
  }
  if (mediaOf(r.accept) === 'raw') {
    return {
      status: 200,
      headers: { 'content-type': 'application/vnd.github.raw', 'x-github-media-type': 'github.v3; param=raw', etag: `"${id}"` },
      body: { kind: 'stream', open: () => git.openBlob(id), length: info.size },
      compressible: true,
    };
  }
  const url = `${r.origins.api}/repos/${fullName(record)}/git/blobs/${id}`;
  const prefix = `{"sha":"${id}","node_id":"${nodeId('Blob', `${record.id}:${id}`)}","size":${info.size},"url":${JSON.stringify(url)},"content":"`;
  const suffix = '","encoding":"base64"}';
  return {
    status: 200,
    headers: { 'content-type': 'application/json; charset=utf-8', 'x-github-media-type': 'github.v3; format=json', etag: `W/"${id}"` },
    body: {
      kind: 'stream',
      open: () => base64JsonStream(git.openBlob(id), prefix, suffix),
      length: Buffer.byteLength(prefix) + escapedBase64Length(info.size) + suffix.length,
    },
    compressible: true,
  };
}

async function getTarball(r: RepoRequest, ref: string | undefined): Promise<Reply> {
  const { git, record } = r.repo;
  if (await git.isEmpty()) return notFound(DOCS.tarball);
  const asked = ref ?? record.defaultBranch;
  const sha = await git.resolve(asked, 'commit', record.defaultBranch);
  if (sha === undefined) return notFound(DOCS.tarball);
  const target = r.settings.tarballRedirect === 'ref' ? asked : sha;
  const token = record.private ? `?token=${r.codeloadToken()}` : '';
  const location = `${r.origins.codeload}/_codeload/${fullName(record)}/legacy.tar.gz/${target}${token}`;
  return { status: 302, headers: { location, 'content-type': 'text/html;charset=utf-8', 'cache-control': 'public, must-revalidate, max-age=0' } };
}

async function compare(r: RepoRequest, basehead: string): Promise<Reply> {
  const { git, record } = r.repo;
  const dots = basehead.indexOf('...');
  if (dots <= 0 || dots + 3 >= basehead.length) return notFound(DOCS.compare);
  if (await git.isEmpty()) return notFound(DOCS.compare);
  const baseRef = basehead.slice(0, dots);
  const headRef = basehead.slice(dots + 3);
  const [base, head] = await Promise.all([
    git.resolve(baseRef, 'commit', record.defaultBranch),
    git.resolve(headRef, 'commit', record.defaultBranch),
  ]);
  if (base === undefined || head === undefined) return notFound(DOCS.compare);
  const mergeBase = await git.mergeBase(base, head);
  if (mergeBase === undefined) return errorReply(404, `No common ancestor between ${baseRef} and ${headRef}.`, DOCS.compare);
  const [ahead, behind, files] = await Promise.all([git.commitsBetween(base, head), git.commitsBetween(head, base), git.diff(mergeBase, head)]);
  const status = ahead.length === 0 ? (behind.length === 0 ? 'identical' : 'behind') : behind.length === 0 ? 'ahead' : 'diverged';
  const load = async (sha: string): Promise<Record<string, unknown>> =>
    commitPayload(await git.readCommit(sha), record, r.origins, r.settings.verifiedCommits.has(sha));
  // Without pagination GitHub lists at most 250 commits, ending with the most recent one.
  const listed = await Promise.all(ahead.slice(-250).map(load));
  const name = fullName(record);
  const web = `${r.origins.web}/${name}`;
  return jsonReply(200, {
    url: `${r.origins.api}/repos/${name}/compare/${basehead}`,
    html_url: `${web}/compare/${basehead}`,
    permalink_url: `${web}/compare/${record.owner}:${base}...${record.owner}:${head}`,
    diff_url: `${web}/compare/${basehead}.diff`,
    patch_url: `${web}/compare/${basehead}.patch`,
    base_commit: await load(base),
    merge_base_commit: await load(mergeBase),
    status,
    ahead_by: ahead.length,
    behind_by: behind.length,
    total_commits: ahead.length,
    commits: listed,
    files: files.slice(0, 300).map((f) => diffEntryPayload(f, record, r.origins, head)),
  });
}
