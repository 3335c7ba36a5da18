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
}

// github.com logins are alphanumerics and single hyphens; GHES and managed users add `_`.
const OWNER = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;
// https://docs.github.com/en/repositories/creating-and-managing-repositories/creating-a-new-repository
const NAME = /^[A-Za-z0-9._-]{1,100}$/;
const URL_FORM = /^(?:[a-z+]+:\/\/(?:[^@/]+@)?[^/]+\/|git@[^:]+:|(?:www\.)?github\.com\/)([^/]+)\/([^/]+?)(?:\.git)?\/?$/i;

/** `OWNER/NAME` with GitHub's allowed characters. A `.git` suffix is dropped with a warning. */
export function checkRepo(value: string, source: Source, warnings: string[]): Checked<RepoName> {
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

/** The web URL that goes with an API URL, when the pairing is a known one. */
export function serverUrlFor(apiUrl: string): string | undefined {
  const url = new URL(apiUrl);
  if (url.hostname === 'api.github.com') return 'https://github.com';
  // GHE.com (data residency): https://api.SUBDOMAIN.ghe.com
  if (url.hostname.startsWith('api.') && url.hostname.endsWith('.ghe.com')) {
    return `${url.protocol}//${url.host.slice(4)}`;
  }
  // GitHub Enterprise Server: https://HOST/api/v3
  if (url.pathname.endsWith('/api/v3')) return `${url.origin}${url.pathname.slice(0, -'/api/v3'.length)}`;
  return undefined;
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
