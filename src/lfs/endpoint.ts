/**
 * Where a repository's LFS server is, and whether the run's token may go there
 * (https://github.com/git-lfs/git-lfs/blob/main/docs/api/server-discovery.md):
 *
 *   `lfs.url` in the `.lfsconfig` at the repository's root, when it sets one;
 *   else the git remote + `.git/info/lfs` — `https://github.com/acme/x.git/info/lfs` for GitHub,
 *   `https://host/x.git/info/lfs` for a git URL (an SSH remote maps to https on its host, as git-lfs
 *   guesses; git-lfs-authenticate is not run).
 *
 * The token goes, as git sends it (HTTP Basic `<gitUser>:<token>`, `x-access-token` on GitHub), only
 * to the origin the repository itself is served from: an `lfs.url` elsewhere gets no credential.
 * Pure: no I/O.
 */
import type { Config } from '../config/types.js';

/** The LFS server of a run. */
export interface LfsEndpoint {
  /** The LFS server URL, without a trailing slash (`…/info/lfs`): the batch API is `${url}/objects/batch`. */
  readonly url: string;
  /** Where it came from, for messages. */
  readonly from: 'default' | '.lfsconfig';
  /** `Authorization` for the batch request (and for object URLs on the same origin), when allowed. */
  readonly authorization: string | undefined;
}

/**
 * The value of `lfs.url` in a git-config text (`.lfsconfig`), or undefined. Section and key names
 * are case-insensitive; values may be quoted; `#` and `;` start comments outside quotes; the last
 * value wins, as with `git config --get`.
 */
export function lfsUrlOf(text: string): string | undefined {
  let section = '';
  let found: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    const header = /^\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]\s*(.*)$/.exec(line);
    if (header) {
      section = header[2] === undefined ? (header[1] ?? '').toLowerCase() : `${(header[1] ?? '').toLowerCase()}.${header[2]}`;
      line = (header[3] ?? '').trim();
      if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    }
    const match = /^([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*))?$/.exec(line);
    if (!match || section !== 'lfs' || (match[1] ?? '').toLowerCase() !== 'url' || match[2] === undefined) continue;
    found = configValue(match[2]);
  }
  return found === '' ? undefined : found;
}

/** A git-config value: quotes removed, escapes read, a comment outside quotes dropped. */
function configValue(raw: string): string {
  let out = '';
  let quoted = false;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '"') quoted = !quoted;
    else if (ch === '\\' && i + 1 < raw.length) {
      const next = raw[++i]!;
      out += next === 'n' ? '\n' : next === 't' ? '\t' : next === 'b' ? '\b' : next;
    } else if (!quoted && (ch === '#' || ch === ';')) break;
    else out += ch;
  }
  return out.trim();
}

/** The https URL git-lfs derives from a remote (`git@host:x.git`, `ssh://host/x.git`, `https://…`). */
export function remoteLfsUrl(remote: string): string {
  let url = remote;
  const scp = /^(?:[^@/]+@)?([^:/]+):(?!\/\/)(.*)$/.exec(remote);
  if (scp) url = `https://${scp[1]}/${(scp[2] ?? '').replace(/^\/+/, '')}`;
  else if (/^ssh:\/\//i.test(remote)) {
    const parsed = new URL(remote);
    url = `https://${parsed.hostname}${parsed.pathname}`;
  }
  url = url.replace(/\/+$/, '');
  return `${url.endsWith('.git') ? url : `${url}.git`}/info/lfs`;
}

/** The origin (scheme, host, port) of a URL, or undefined when it is not one. */
export function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/** The LFS endpoint of a run, given `lfs.url` from the repository's `.lfsconfig` (if any). */
export function lfsEndpoint(config: Pick<Config, 'gitUrl' | 'serverUrl' | 'repoOwner' | 'repoName' | 'gitUser' | 'token'>, lfsUrl: string | undefined): LfsEndpoint {
  const remote = config.gitUrl ?? `${config.serverUrl.replace(/\/+$/, '')}/${config.repoOwner}/${config.repoName}.git`;
  const base = remoteLfsUrl(remote);
  const configured = lfsUrl !== undefined && /^https?:\/\//i.test(lfsUrl) ? lfsUrl.replace(/\/+$/, '') : undefined;
  const url = configured ?? base;
  // The repository's own origin (over SSH there is none: the token belongs to no https origin).
  const home = /^https?:\/\//i.test(remote) ? originOf(remote) : undefined;
  const token = config.token?.value;
  const authorization = token !== undefined && token !== '' && home !== undefined && originOf(url) === home ? `Basic ${Buffer.from(`${config.gitUser}:${token}`).toString('base64')}` : undefined;
  return { url, from: configured === undefined ? 'default' : '.lfsconfig', authorization };
}
