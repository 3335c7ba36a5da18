/**
 * Validators for the settings whose shape is a format rather than a type: repository, git ref,
 * repository subfolder, URLs, globs and account names. Each returns the normalised value or one
 * message that says what is wrong and shows the fix in the syntax of the layer it came from.
 */

import picomatch from 'picomatch';
import { describe } from './sources.js';
import type { Source } from './sources.js';

/** A normalised value, or why the input was rejected. */
export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const fail = (error: string): Checked<never> => ({ ok: false, error });

/** A repository split into its parts. */
export interface RepoName {
  readonly repo: string;
  readonly owner: string;
  readonly name: string;
  /** The git URL when the repository was given as one (no REST API then). */
  readonly url?: string | undefined;
}

// github.com logins are alphanumerics and single hyphens; GHES and managed users add `_`.
const OWNER = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;
// https://docs.github.com/en/repositories/creating-and-managing-repositories/creating-a-new-repository
const NAME = /^[A-Za-z0-9._-]{1,100}$/;
const URL_FORM = /^(?:[a-z+]+:\/\/(?:[^@/]+@)?[^/]+\/|git@[^:]+:|(?:www\.)?github\.com\/)([^/]+)\/([^/]+?)(?:\.git)?\/?$/i;

/**
 * `OWNER/NAME` with GitHub's allowed characters (a `.git` suffix is dropped with a warning), or a
 * git URL of any host (see {@link checkGitUrl}).
 */
export function checkRepo(value: string, source: Source, warnings: string[]): Checked<RepoName> {
  const asUrl = checkGitUrl(value, source, warnings);
  if (asUrl !== undefined) return asUrl;
  const parts = value.split('/');
  const [owner, rawName] = parts;
  if (parts.length === 2 && owner !== undefined && rawName !== undefined && OWNER.test(owner)) {
    const name = rawName.endsWith('.git') && rawName.length > 4 ? rawName.slice(0, -4) : rawName;
    if (NAME.test(name) && name !== '.' && name !== '..') {
      if (name !== rawName) {
        warnings.push(`Repository ${describe(value)}${source.where} ends in .git; using ${owner}/${name}. Write ${source.example(`${owner}/${name}`)} to silence this.`);
      }
      return ok({ repo: `${owner}/${name}`, owner, name });
    }
  }
  const fromUrl = URL_FORM.exec(value);
  const example = fromUrl?.[1] !== undefined && fromUrl[2] !== undefined ? `${fromUrl[1]}/${fromUrl[2]}` : 'acme/hypervisor';
  return fail(`Invalid repository ${describe(value)}${source.where}. Expected format OWNER/NAME, e.g. ${source.example(example)}.`);
}

// scp-like SSH syntax, as git reads it: [user@]host:path with no '/' before the first ':'.
const SCP_FORM = /^(?:([^@/:\s]+)@)?([^@/:\s[\]]+|\[[^\]\s]+\]):(?!\/\/)(.+)$/;
const SSH_HOST = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\])$/;
const SSH_USER = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/;

/** The last two path segments (`acme`, `hypervisor` of `…/acme/hypervisor.git`), for messages. */
function namesOf(path: string, host: string): { owner: string; name: string } {
  const parts = path.split('/').filter((part) => part !== '' && part !== '~');
  const last = parts[parts.length - 1] ?? host;
  const name = last.endsWith('.git') && last.length > 4 ? last.slice(0, -4) : last;
  return { owner: parts[parts.length - 2] ?? host, name };
}

/** Why a remote path cannot be handed to `git-upload-pack`, or undefined. */
function remotePathProblem(path: string): string | undefined {
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'control characters';
  if (path.replace(/^\/+/, '') === '' || path === '~') return 'no repository path';
  if (path.startsWith('-')) return "a leading '-'";
  return undefined;
}

/**
 * A git URL: `https://host/path` (`http://` with a warning unless the host is local),
 * `ssh://[user@]host[:port]/path`, or scp-like `[user@]host:path` (`git@github.com:acme/x.git`).
 * Undefined when `value` looks like none of them (it is then read as OWNER/NAME); an error for a
 * URL hostsync cannot use (`git://`, `file://`, credentials in it).
 */
export function checkGitUrl(value: string, source: Source, warnings: string[]): Checked<RepoName> | undefined {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(value)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    const scp = SCP_FORM.exec(value);
    if (scp === null) return undefined;
    const [, user, host = '', path = ''] = scp;
    if (!SSH_HOST.test(host) || (user !== undefined && !SSH_USER.test(user))) {
      return fail(`Invalid SSH repository ${describe(value)}${source.where}: the user or host name has characters ssh would misread. Expected e.g. ${source.example('git@git.example.com:acme/hypervisor.git')}.`);
    }
    const problem = remotePathProblem(path);
    if (problem !== undefined) return fail(`Invalid SSH repository ${describe(value)}${source.where}: the path has ${problem}. Expected e.g. ${source.example('git@git.example.com:acme/hypervisor.git')}.`);
    return ok({ repo: value, ...namesOf(path, host), url: value });
  }
  if (scheme === 'git') return fail(`Refusing ${describe(value)}${source.where}: git:// is neither authenticated nor encrypted. Use the https:// or ssh:// URL of the repository.`);
  const known = ['https', 'http', 'ssh', 'git+ssh', 'ssh+git'];
  if (!known.includes(scheme)) return fail(`Unsupported repository URL ${describe(value)}${source.where}: hostsync reads repositories over https://, http:// or ssh://, e.g. ${source.example('https://git.example.com/acme/hypervisor.git')}.`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail(`Invalid repository URL ${describe(value)}${source.where}, e.g. ${source.example('https://git.example.com/acme/hypervisor.git')}.`);
  }
  if (url.password !== '' || (scheme.startsWith('http') && url.username !== '')) {
    return fail(`Expected ${source.label} to hold no credentials, got ${describe(withoutCredentials(url))}. Put the token in a file and point tokenFile at it; the user name it is sent under is gitUser.`);
  }
  if (url.search !== '' || url.hash !== '') return fail(`Expected ${source.label} to have no query or fragment, got ${describe(value)}.`);
  const path = decodeURIComponent(url.pathname);
  const problem = remotePathProblem(path);
  if (problem !== undefined) return fail(`Invalid repository URL ${describe(value)}${source.where}: the path has ${problem}, e.g. ${source.example(`${url.protocol}//${url.host}/acme/hypervisor.git`)}.`);
  const host = url.hostname;
  if (scheme.includes('ssh')) {
    if (!SSH_HOST.test(host) || (url.username !== '' && !SSH_USER.test(decodeURIComponent(url.username)))) {
      return fail(`Invalid SSH repository ${describe(value)}${source.where}: the user or host name has characters ssh would misread.`);
    }
    return ok({ repo: value, ...namesOf(path, host), url: value });
  }
  const normal = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  if (url.protocol === 'http:' && !LOOPBACK.has(host)) {
    warnings.push(`${source.label} is ${describe(normal)}, not HTTPS: the token and the content travel unencrypted.`);
  }
  return ok({ repo: normal, ...namesOf(path, host), url: normal });
}

/** A proxy URL: http(s)://[user:password@]host[:port], no path, query or fragment. */
export function checkProxyUrl(value: string, source: Source): Checked<string> {
  const example = source.example('http://proxy.internal:3128');
  let url: URL;
  try {
    url = new URL(/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(value) ? value : `http://${value}`);
  } catch {
    return fail(`Expected ${source.label} to be a proxy URL, got ${describe(value)}, e.g. ${example}.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return fail(`Expected ${source.label} to be an http:// or https:// proxy, got ${describe(`${url.protocol}//${url.host}`)}; hostsync speaks HTTP CONNECT to proxies, e.g. ${example}.`);
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    return fail(`Expected ${source.label} to be a proxy's address only (scheme, host, port), got ${describe(withoutCredentials(url))}, e.g. ${example}.`);
  }
  return ok(url.href.replace(/\/$/, ''));
}

/** A user name for HTTP Basic auth: printable, no ':' (it separates the password). */
export function checkGitUser(value: string, source: Source): Checked<string> {
  if (/^[\x21-\x7e]+$/.test(value) && !value.includes(':')) return ok(value);
  return fail(`Expected ${source.label} to be a user name without spaces or ':', got ${describe(value)}, e.g. ${source.example('oauth2')}.`);
}

/** Why git would reject `ref` (see `git help check-ref-format`), or `undefined` if it is fine. */
export function refProblem(ref: string): string | undefined {
  if (ref === '@') return "be '@'";
  if (ref.includes('..')) return "contain '..'";
  if (/[\u0000-\u0020\u007f]/.test(ref)) return 'contain spaces or control characters';
  const special = /[~^:?*[\\]/.exec(ref);
  if (special) return `contain '${special[0]}'`;
  if (ref.includes('@{')) return "contain '@{'";
  if (ref.startsWith('-')) return "start with '-'";
  if (ref.endsWith('/')) return "end with '/'";
  if (ref.endsWith('.lock')) return "end with '.lock'";
  if (ref.endsWith('.')) return "end with '.'";
  if (ref.startsWith('/') || ref.includes('//')) return "have empty components ('//' or a leading '/')";
  if (ref.split('/').some((part) => part.startsWith('.'))) return "have a component starting with '.'";
  if (ref.split('/').some((part) => part.endsWith('.lock'))) return "have a component ending with '.lock'";
  return undefined;
}

/** A branch, tag, full ref or commit SHA that git would accept. */
export function checkRef(value: string, source: Source): Checked<string> {
  const problem = refProblem(value);
  if (problem === undefined) return ok(value);
  return fail(
    `Invalid ref ${describe(value)}${source.where}: git ref names cannot ${problem}. Use a branch, tag or commit SHA, e.g. ${source.example('main')}.`,
  );
}

/** A folder inside the repository: POSIX, no leading/trailing slash, no `.`, `..` or `.git` parts; '' is the root. */
export function checkRepoPath(value: string, source: Source): Checked<string> {
  const shown = describe(value);
  if (value.includes('\\')) {
    return fail(`Expected ${source.label} to use '/' between folders, got ${shown}, e.g. ${source.example(value.replace(/\\/g, '/'))}.`);
  }
  const parts = value.split('/').filter((part) => part !== '' && part !== '.');
  const fixed = parts.filter((part) => part !== '..').join('/') || 'hosts';
  if (value.startsWith('/')) {
    return fail(`Expected ${source.label} to be a folder relative to the repository root, got ${shown}. Drop the leading '/', e.g. ${source.example(fixed)}.`);
  }
  if (parts.includes('..')) {
    return fail(`Expected ${source.label} to stay inside the repository, got ${shown}. Give the folder's path from the repository root without '..', e.g. ${source.example(fixed)}.`);
  }
  if (parts.some((part) => part.toLowerCase() === '.git')) {
    return fail(`Expected ${source.label} not to point into .git, got ${shown}. hostsync syncs tracked files only; give a folder of the repository, e.g. ${source.example('hosts')}.`);
  }
  return ok(parts.join('/'));
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

function withoutCredentials(url: URL): string {
  const copy = new URL(url.href);
  copy.username = copy.username === '' ? '' : '***';
  copy.password = copy.password === '' ? '' : '***';
  return copy.href;
}

/** An http(s) URL without credentials, query or fragment, without a trailing slash. */
export function checkUrl(value: string, source: Source, example: string, warnings: string[]): Checked<string> {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail(`Expected ${source.label} to be an http(s) URL, got ${describe(value)}, e.g. ${source.example(example)}.`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return fail(`Expected ${source.label} to be an http(s) URL, got ${describe(value)}, e.g. ${source.example(example)}.`);
  }
  if (url.username !== '' || url.password !== '') {
    return fail(`Expected ${source.label} to hold no credentials, got ${describe(withoutCredentials(url))}. Put the token in a file and point tokenFile at it.`);
  }
  if (url.search !== '' || url.hash !== '') {
    return fail(`Expected ${source.label} to have no query or fragment, got ${describe(value)}, e.g. ${source.example(example)}.`);
  }
  const normal = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname)) {
    warnings.push(`${source.label} is ${describe(normal)}, not HTTPS: the token and the content travel unencrypted.`);
  }
  return ok(normal);
}

/**
 * The web URL (where git is served) that goes with an API URL: the known pairings of github.com, GHE.com
 * and GitHub Enterprise Server, else the API's own origin — never another host, since git requests carry
 * the token that was meant for the API (a GitHub-compatible server such as Gitea serves both on one origin).
 * An API behind a gateway that does not serve git needs `serverUrl` set.
 */
export function serverUrlFor(apiUrl: string): string | undefined {
  const url = new URL(apiUrl);
  if (url.hostname === 'api.github.com') return 'https://github.com';
  // GHE.com (data residency): https://api.SUBDOMAIN.ghe.com
  if (url.hostname.startsWith('api.') && url.hostname.endsWith('.ghe.com')) {
    return `${url.protocol}//${url.host.slice(4)}`;
  }
  // GitHub Enterprise Server: https://HOST/api/v3
  if (url.pathname.endsWith('/api/v3')) return `${url.origin}${url.pathname.slice(0, -'/api/v3'.length)}`;
  return url.origin;
}

/** A hint when an API URL looks like a GitHub Enterprise Server web URL. */
export function apiUrlHint(apiUrl: string, source: Source): string | undefined {
  const url = new URL(apiUrl);
  if (url.pathname !== '' && url.pathname !== '/') return undefined;
  if (url.hostname.startsWith('api.') || LOOPBACK.has(url.hostname)) return undefined;
  return `${source.label} is ${describe(apiUrl)}; GitHub Enterprise Server serves its REST API under /api/v3, e.g. ${source.example(`${apiUrl}/api/v3`)}.`;
}

/** A glob relative to DEST that picomatch can compile; a leading `./` is dropped. */
export function checkGlob(glob: string, source: Source): Checked<string> {
  const start = `Invalid glob ${describe(glob)} in ${source.label}`;
  if (glob.includes('\0')) return fail(`${start}: it contains a NUL character.`);
  const normal = glob.replace(/^(?:\.\/)+/, '');
  if (normal.startsWith('/')) return fail(`${start}: globs are relative to DEST; drop the leading '/'.`);
  if (normal.split('/').includes('..')) return fail(`${start}: globs match inside DEST and cannot contain '..'.`);
  if (normal === '') return fail(`${start}: it matches nothing.`);
  try {
    picomatch.makeRe(normal, { dot: true, strictBrackets: true });
  } catch (error: unknown) {
    const reason = error instanceof Error ? error.message : String(error);
    return fail(`${start}: ${reason}.`);
  }
  return ok(normal);
}

const ACCOUNT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;
const MAX_ID = 4_294_967_294;

/** A user or group name (POSIX portable, as useradd accepts) or a numeric id. */
export function checkAccount(value: string, source: Source, what: 'user' | 'group'): Checked<string> {
  if (/^\d+$/.test(value) ? Number(value) <= MAX_ID : ACCOUNT_NAME.test(value)) return ok(value);
  return fail(`Expected ${source.label} to be a ${what} name or numeric id, got ${describe(value)}, e.g. ${source.example(what === 'user' ? 'root' : 'wheel')}.`);
}
