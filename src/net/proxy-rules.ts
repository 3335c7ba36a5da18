/**
 * Which proxy, if any, a request to a URL goes through: curl's rules for `NO_PROXY`
 * (lib/noproxy.c, what git and most of a host's tools follow), so hostsync, its git fallback and
 * the admin's `curl` agree on the same variables. Pure; no undici, no environment (src/config reads
 * the variables and the `proxy`/`noProxy` settings). Decision 0008.
 *
 *   - entries are separated by commas and blanks (curl 7.x, Debian 12's, and git through it; curl
 *     8.x stops at a blank not followed by a comma); case does not matter; a trailing dot is ignored
 *   - `*` alone bypasses the proxy for every host (anywhere else it is an ordinary character)
 *   - a host name matches itself and every name below it: `example.com` and `.example.com` both
 *     match `example.com` and `git.example.com`, never `notexample.com`
 *   - an IP literal matches an entry that is the same address, or a CIDR range (`10.0.0.0/8`,
 *     `fd00::/8`; `/0` is every address, where curl reads it as a whole address); names are not resolved
 *   - the URL's port does not matter (`local.com` matches `local.com:8443`) — except that an entry
 *     with a port (`git.example.com:8443`) matches only that port (curl never matches such an
 *     entry; Go, Python's urllib and undici do as here)
 */
import { isIP } from 'node:net';

/** The proxy settings of a run (from `proxy`/`noProxy`, else the standard environment variables). */
export interface ProxySettings {
  /** Proxy for `http://` URLs, e.g. `http://proxy.internal:3128`; may carry `user:password@`. */
  readonly http: string | undefined;
  /** Proxy for `https://` URLs (tunnelled with CONNECT). */
  readonly https: string | undefined;
  /** Hosts reached directly, in `NO_PROXY` syntax; '' for none. */
  readonly noProxy: string;
}

/** One parsed `NO_PROXY` entry. */
type Entry =
  | { readonly kind: 'all' }
  | { readonly kind: 'name'; readonly name: string; readonly port: number | undefined }
  | { readonly kind: 'ip'; readonly bytes: readonly number[]; readonly bits: number; readonly port: number | undefined };

/** The entries of a `NO_PROXY` value, in order. Pure. */
export function parseNoProxy(value: string): Entry[] {
  if (value === '*') return [{ kind: 'all' }];
  const entries: Entry[] = [];
  for (const raw of value.split(/[\s,]+/)) {
    if (raw === '') continue;
    let token = raw;
    let port: number | undefined;
    const withPort = /^(\[[^\]]*\]|[^:]*):(\d{1,5})$/.exec(token);
    if (withPort?.[1] !== undefined && withPort[2] !== undefined) {
      token = withPort[1];
      port = Number(withPort[2]);
    }
    const bare = token.startsWith('[') && token.endsWith(']') ? token.slice(1, -1) : token;
    const [address = '', bitsText] = bare.split('/', 2);
    const bytes = ipBytes(address);
    if (bytes !== undefined) {
      const max = bytes.length * 8;
      const bits = bitsText === undefined ? max : Number(bitsText);
      if (Number.isInteger(bits) && bits >= 0 && bits <= max) entries.push({ kind: 'ip', bytes, bits, port });
      continue;
    }
    const name = token.replace(/\.$/, '').replace(/^\./, '').toLowerCase();
    if (name !== '') entries.push({ kind: 'name', name, port });
  }
  return entries;
}

/** True when `url` must be reached directly by the `noProxy` rules. Pure. */
export function bypassesProxy(url: URL, noProxy: string): boolean {
  const entries = parseNoProxy(noProxy);
  if (entries.length === 0) return false;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  const bytes = ipBytes(host);
  const name = host.replace(/\.$/, '').toLowerCase();
  return entries.some((entry) => {
    if (entry.kind === 'all') return true;
    if (entry.port !== undefined && entry.port !== port) return false;
    if (entry.kind === 'ip') return bytes !== undefined && inRange(bytes, entry.bytes, entry.bits);
    if (bytes !== undefined) return false; // an address is matched by addresses only, as curl does
    return name === entry.name || name.endsWith(`.${entry.name}`);
  });
}

/** The proxy URL a request to `url` goes through, or undefined for a direct connection. Pure. */
export function proxyFor(url: string | URL, proxy: ProxySettings | undefined): string | undefined {
  if (proxy === undefined) return undefined;
  const target = typeof url === 'string' ? new URL(url) : url;
  const chosen = target.protocol === 'https:' ? proxy.https : target.protocol === 'http:' ? proxy.http : undefined;
  if (chosen === undefined || chosen === '') return undefined;
  return bypassesProxy(target, proxy.noProxy) ? undefined : chosen;
}

/** A proxy URL for messages: the password (and a user name that may be a token) as `***`. */
export function describeProxy(proxy: string): string {
  try {
    const url = new URL(proxy);
    if (url.password !== '') url.password = '***';
    return url.href.replace(/\/$/, '');
  } catch {
    return '(unparsable proxy URL)';
  }
}

/** The password of a proxy URL, decoded, for the redactor; undefined when there is none. */
export function proxyPassword(proxy: string | undefined): string | undefined {
  if (proxy === undefined) return undefined;
  try {
    const password = new URL(proxy).password;
    return password === '' ? undefined : decodeURIComponent(password);
  } catch {
    return undefined;
  }
}

/** The address's bytes (4 or 16), or undefined when `text` is no IP literal. */
function ipBytes(text: string): number[] | undefined {
  const version = isIP(text);
  if (version === 4) return text.split('.').map(Number);
  if (version !== 6) return undefined;
  let source = text;
  // An embedded IPv4 tail (::ffff:10.0.0.1) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(source);
  if (v4?.[1] !== undefined) {
    const [a = 0, b = 0, c = 0, d = 0] = v4[1].split('.').map(Number);
    source = `${source.slice(0, -v4[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = source.split('::', 2);
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? left : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return all.flatMap((group) => [group >> 8, group & 0xff]);
}

function inRange(address: readonly number[], network: readonly number[], bits: number): boolean {
  if (address.length !== network.length) return false;
  for (let i = 0; i < address.length; i++) {
    const take = Math.max(0, Math.min(8, bits - i * 8));
    if (take === 0) return true;
    const mask = (0xff << (8 - take)) & 0xff;
    if (((address[i] ?? 0) & mask) !== ((network[i] ?? 0) & mask)) return false;
  }
  return true;
}
