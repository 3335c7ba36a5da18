/**
 * A plain git host nobody here wrote: Debian's lighttpd running git's own `git-http-backend` as a
 * CGI (the recipe of git-http-backend(1)), serving the bare repositories under one directory at
 * `http://127.0.0.1:PORT/git/<path>`. No REST API, no GitHub: what a self-hosted git server is.
 * With `auth`, lighttpd demands HTTP Basic credentials (mod_auth, a plain user file). Its access
 * log says which requests reached it.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { git } from './git-cli.js';
import { findBinary, freePort, startDaemon } from './daemon.js';

/** The lighttpd binary, or undefined when it is not installed (.ci/run installs it). */
export const LIGHTTPD = findBinary('/usr/sbin/lighttpd', '/usr/bin/lighttpd');
const HTTP_BACKEND = findBinary('/usr/lib/git-core/git-http-backend', '/usr/libexec/git-core/git-http-backend');

/** One request from lighttpd's access log. */
export interface HostRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly user: string;
}

export interface GitHttpHost {
  /** `http://127.0.0.1:PORT/git` */
  readonly base: string;
  /** Serve the repository (working tree or bare) at `<base>/<path>`: a bare mirror, refreshed by `update`. */
  serve(path: string, repoDir: string): Promise<string>;
  /** Push what `repoDir` has now into the served mirror of `path` (all branches and tags, forced). */
  update(path: string): Promise<void>;
  /** Turn git's partial clone (uploadpack.allowFilter) on for a served repository. */
  allowFilter(path: string): Promise<void>;
  requests(): Promise<HostRequest[]>;
  resetLog(): Promise<void>;
  close(): Promise<void>;
}

/** Start lighttpd with git-http-backend on a free loopback port. */
export async function startGitHttpHost(options: { readonly auth?: { readonly user: string; readonly password: string } } = {}): Promise<GitHttpHost> {
  if (LIGHTTPD === undefined || HTTP_BACKEND === undefined) throw new Error('lighttpd or git-http-backend is missing (apt-get install lighttpd git; .ci/run does it)');
  const dir = await mkdtemp(join(tmpdir(), 'hostsync-lighttpd-'));
  const repos = join(dir, 'repos');
  const www = join(dir, 'www');
  await mkdir(repos);
  await mkdir(www);
  const port = await freePort();
  const accessLog = join(dir, 'access.log');
  const auth = options.auth;
  if (auth !== undefined) await writeFile(join(dir, 'users'), `${auth.user}:${auth.password}\n`, { mode: 0o600 });
  const q = (text: string): string => JSON.stringify(text);
  const config = [
    `server.modules = ("mod_alias", "mod_setenv", "mod_auth", "mod_authn_file", "mod_cgi", "mod_accesslog")`,
    'server.bind = "127.0.0.1"',
    `server.port = ${port}`,
    `server.document-root = ${q(www)}`,
    `server.errorlog = ${q(join(dir, 'error.log'))}`,
    `accesslog.filename = ${q(accessLog)}`,
    // status, user, then the request line: one request per line
    'accesslog.format = "%>s %u %r"',
    `alias.url = ( "/git/" => ${q(`${HTTP_BACKEND}/`)} )`,
    '$HTTP["url"] =~ "^/git/" {',
    '  cgi.assign = ( "" => "" )',
    `  setenv.add-environment = ( "GIT_PROJECT_ROOT" => ${q(repos)}, "GIT_HTTP_EXPORT_ALL" => "" )`,
    ...(auth === undefined
      ? []
      : [
          '  auth.backend = "plain"',
          `  auth.backend.plain.userfile = ${q(join(dir, 'users'))}`,
          '  auth.require = ( "" => ( "method" => "basic", "realm" => "git", "require" => "valid-user" ) )',
        ]),
    '}',
    '',
  ].join('\n');
  await writeFile(join(dir, 'lighttpd.conf'), config);
  const daemon = await startDaemon(LIGHTTPD, ['-D', '-f', join(dir, 'lighttpd.conf')], { port, cwd: dir });
  const sources = new Map<string, string>();
  let skip = 0;
  const read = async (): Promise<string[]> => (await readFile(accessLog, 'utf8').catch(() => '')).split('\n').filter((line) => line.trim() !== '');
  /** lighttpd buffers its access log; SIGHUP (reopen logs) writes it out. */
  const lines = async (): Promise<string[]> => {
    // The signal is handled when lighttpd next gets to it, later on a loaded machine: wait until the log
    // has stayed the same length for 150 ms (at most 3 s).
    daemon.signal('SIGHUP');
    let last = -1;
    let steady = 0;
    for (let tries = 0; tries < 120 && steady < 6; tries++) {
      await sleep(25);
      const now = (await read()).length;
      steady = now === last ? steady + 1 : 0;
      last = now;
    }
    return read();
  };
  const base = `http://127.0.0.1:${port}/git`;
  const host: GitHttpHost = {
    base,
    async serve(path, repoDir) {
      const mirror = join(repos, path);
      await git(['init', '-q', '--bare', mirror], { cwd: dir });
      sources.set(path, repoDir);
      await host.update(path);
      return `${base}/${path}`;
    },
    async update(path) {
      const source = sources.get(path);
      if (source === undefined) throw new Error(`${path} is not served`);
      await git(['push', '-q', '--force', '--prune', join(repos, path), '+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'], { cwd: source });
      const head = (await git(['symbolic-ref', 'HEAD'], { cwd: source })).trim();
      await git(['symbolic-ref', 'HEAD', head], { cwd: join(repos, path) });
    },
    async allowFilter(path) {
      await git(['config', 'uploadpack.allowFilter', 'true'], { cwd: join(repos, path) });
    },
    async requests() {
      return (await lines()).slice(skip).map((line) => {
        const [status = '0', user = '-', method = '', path = ''] = line.split(' ');
        return { method, path, status: Number(status), user };
      });
    },
    async resetLog() {
      skip = (await lines()).length;
    },
    async close() {
      await daemon.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return host;
}
