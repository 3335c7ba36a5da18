/**
 * Git smart HTTP (what `git clone https://github.com/o/r.git` talks) served by `git http-backend`
 * run as a CGI, with the upload-pack settings GitHub has (fetch any SHA, partial clone filters).
 * @see https://git-scm.com/docs/git-http-backend
 */
import type { IncomingMessage } from 'node:http';
import { basename, dirname } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { spawnGit } from '../git-cli.js';
import type { Reply } from './types.js';

/** Services GitHub offers over HTTP; pushes are not part of this fake. */
export type GitService = 'info/refs' | 'git-upload-pack' | 'git-receive-pack';

/** Match `/{owner}/{repo}(.git)?/{service}`. */
export function matchGitPath(path: string): { owner: string; repo: string; service: GitService } | undefined {
  const match = /^\/([^/]+)\/([^/]+?)(?:\.git)?\/(info\/refs|git-upload-pack|git-receive-pack)$/.exec(path);
  if (!match) return undefined;
  return { owner: match[1] ?? '', repo: match[2] ?? '', service: match[3] as GitService };
}

function textReply(status: number, text: string, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers }, body: { kind: 'buffer', data: Buffer.from(text) } };
}

/** 401 asking git for credentials, as GitHub answers for private repositories. */
export function gitAuthRequired(): Reply {
  return textReply(401, 'Authentication required.\n', { 'www-authenticate': 'Basic realm="GitHub"' });
}

export function gitNotFound(): Reply {
  return textReply(404, 'Repository not found.\n');
}

export function gitPushRefused(): Reply {
  return textReply(403, 'Write access to repository not granted.\n');
}

/** Split CGI output into status, headers and the rest of the stream. */
function parseCgi(stdout: Readable): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const crlf = head.indexOf('\r\n\r\n');
      const lf = head.indexOf('\n\n');
      const end = crlf !== -1 && (lf === -1 || crlf < lf) ? crlf : lf;
      if (end === -1) return;
      stdout.off('data', onData);
      stdout.off('end', onEnd);
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
        const colon = line.indexOf(':');
        if (colon === -1) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (name === 'status') status = Number.parseInt(value, 10) || 200;
        else headers[name] = value;
      }
      const body = new PassThrough();
      const rest = head.subarray(end + (end === crlf ? 4 : 2));
      if (rest.length > 0) body.write(rest);
      stdout.on('error', (error) => body.destroy(error));
      stdout.pipe(body);
      body.on('close', () => stdout.destroy());
      resolve({ status, headers, body: { kind: 'stream', open: () => body }, compressible: false });
    };
    const onEnd = (): void => reject(new Error(`git http-backend ended without CGI headers: ${head.toString('utf8').slice(0, 200)}`));
    stdout.on('data', onData);
    stdout.on('end', onEnd);
    stdout.on('error', reject);
  });
}

/** Run `git http-backend` for one request against the repository at `repoDir`. */
export async function runHttpBackend(req: IncomingMessage, repoDir: string, service: GitService, query: string, remoteUser: string | undefined): Promise<Reply> {
  const header = (name: string): string => {
    const value = req.headers[name];
    return Array.isArray(value) ? value.join(', ') : value ?? '';
  };
  const env: Record<string, string> = {
    GIT_PROJECT_ROOT: dirname(repoDir),
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: `/${basename(repoDir)}/${service}`,
    REQUEST_METHOD: req.method ?? 'GET',
    QUERY_STRING: query,
    CONTENT_TYPE: header('content-type'),
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    GIT_PROTOCOL: header('git-protocol'),
    HTTP_CONTENT_ENCODING: header('content-encoding'),
    // GitHub lets clients fetch any reachable SHA (`git fetch --depth 1 origin <sha>`) and filter.
    GIT_CONFIG_COUNT: '4',
    GIT_CONFIG_KEY_0: 'uploadpack.allowAnySHA1InWant',
    GIT_CONFIG_VALUE_0: 'true',
    GIT_CONFIG_KEY_1: 'uploadpack.allowReachableSHA1InWant',
    GIT_CONFIG_VALUE_1: 'true',
    GIT_CONFIG_KEY_2: 'uploadpack.allowFilter',
    GIT_CONFIG_VALUE_2: 'true',
    GIT_CONFIG_KEY_3: 'safe.directory',
    GIT_CONFIG_VALUE_3: '*',
  };
  const length = header('content-length');
  if (length !== '') env['CONTENT_LENGTH'] = length;
  if (remoteUser !== undefined) env['REMOTE_USER'] = remoteUser;
  const child = spawnGit(['http-backend'], repoDir, env);
  child.stderr.resume();
  child.stdin.on('error', () => undefined);
  if (req.method === 'POST') req.pipe(child.stdin);
  else child.stdin.end();
  child.stdout.on('close', () => {
    if (child.exitCode === null) child.kill();
  });
  return parseCgi(child.stdout);
}
