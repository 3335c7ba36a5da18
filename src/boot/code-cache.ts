/**
 * Start the CLI from its one-file bundle (dist/hostsync.cjs, built by scripts/bundle.ts) with a V8
 * code cache, so a run does not compile the same two megabytes of JavaScript again: what Node 22's
 * `module.enableCompileCache()` does, for Node 20, which lacks it. Measured (decision 0017): an
 * unchanged poll 287 → 190 ms, of which the bundle alone is ~35 ms and the cache the rest.
 *
 * The cache is a file per (bundle file, Node version and architecture, command) in a private
 * directory: `$CACHE_DIRECTORY` (systemd's `CacheDirectory=hostsync`), else `/var/cache/hostsync` as
 * root, else `$XDG_CACHE_HOME/hostsync` or `~/.cache/hostsync`; `HOSTSYNC_CODE_CACHE=0` turns it off.
 * Compiled code is code: the directory is used only when it is a real directory (not a symlink)
 * owned by this user and writable by no one else, and files only when owned by this user — else
 * the run compiles from source, as it does when V8 rejects a cache (another V8, other flags). A run
 * that had no usable cache writes one when it exits (atomically, 0600). Nothing here can fail a run:
 * any problem means "no cache".
 *
 * This module runs before the CLI, so it imports nothing but Node's built-ins.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, futimesSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeFileSync, unlinkSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { Script } from 'node:vm';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The folder for code caches, or undefined when turned off. `home` is asked for only when nothing
 * before it decides (looking it up costs a couple of milliseconds).
 */
export function codeCacheDir(env: Env, uid: number, home: string | (() => string)): string | undefined {
  const setting = env['HOSTSYNC_CODE_CACHE'];
  if (setting === '0' || setting === 'off' || setting === 'false') return undefined;
  const systemd = env['CACHE_DIRECTORY']?.split(':')[0];
  if (systemd !== undefined && systemd.startsWith('/')) return systemd;
  if (uid === 0) return '/var/cache/hostsync';
  const xdg = env['XDG_CACHE_HOME'];
  if (xdg !== undefined && xdg.startsWith('/')) return join(xdg, 'hostsync');
  const dir = typeof home === 'string' ? home : home();
  return dir === '' ? undefined : join(dir, '.cache', 'hostsync');
}

/** Create `dir` (0700) if missing; true when it is a real directory of `uid` that no one else may write. */
export function isPrivateDir(dir: string, uid: number): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const info = lstatSync(dir);
    return info.isDirectory() && info.uid === uid && (info.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/**
 * The cache file's name: the bundle file's identity, the Node that runs it, and the command. The
 * bundle is known by its stat data — device, inode, size, mtime and ctime — the rule hostsync trusts
 * for DEST's files too: any write to the file moves its ctime, which no one but the kernel sets
 * (hashing its 2 MB instead cost ~5 ms a run).
 */
export function cacheFileName(bundle: Pick<Stats, 'dev' | 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'>, command: string): string {
  const identity = `${bundle.dev}:${bundle.ino}:${bundle.size}:${bundle.mtimeMs}:${bundle.ctimeMs}`;
  const key = createHash('sha256').update(`${identity}\0${process.version}\0${process.arch}\0${process.execArgv.join(' ')}`).digest('hex').slice(0, 32);
  const safe = /^[a-z][a-z-]{0,31}$/.test(command) ? command : 'other';
  return `hostsync-${safe}-${key}.v8cache`;
}

/**
 * The cache's bytes when the file is this user's own: a regular file (not followed through a
 * symlink), owned by `uid`, with one name, that no one else may write; else undefined. (Only its owner
 * could have written such a file, so a directory swapped by someone else cannot hand us theirs.)
 */
function readOwn(file: string, uid: number): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const info = fstatSync(fd);
    if (!info.isFile() || info.uid !== uid || info.nlink !== 1 || (info.mode & 0o022) !== 0) return undefined;
    const data = unseal(readFileSync(fd));
    if (data === undefined) return undefined;
    // In use: its mtime says so to the tidy-up of other installs sharing the directory (writeCache).
    if (Date.now() - info.mtimeMs > 24 * 60 * 60 * 1000) futimesSync(fd, info.atime, new Date());
    return data;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * A cache file is V8's data behind a header: a magic and the SHA-1 of the data. V8 checks a cache
 * against its own version, flags and the source's length, not its own bytes (release builds skip
 * that checksum): damaged data — zeroed blocks after a power cut, a flipped bit — crashes the
 * process (SIGSEGV, "Check failed"), on every run, since a crashed run never rewrites the file.
 * Checked here first, a damaged cache is "no cache" and is written anew.
 */
const MAGIC = Buffer.from('HSV8CC01');
const HEADER = MAGIC.length + 20;

function seal(data: Buffer): Buffer {
  return Buffer.concat([MAGIC, createHash('sha1').update(data).digest(), data]);
}

/** The data of a sealed cache file, or undefined when it is not one or its data is damaged. */
export function unseal(file: Buffer): Buffer | undefined {
  if (file.length <= HEADER || !file.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const data = file.subarray(HEADER);
  return createHash('sha1').update(data).digest().equals(file.subarray(MAGIC.length, HEADER)) ? data : undefined;
}

/** Temp files of killed runs older than this are removed when a cache is written. */
const STALE_TEMP_MS = 60 * 60 * 1000;

/**
 * A command's caches not used for this long are removed when one is written: an older build's, or
 * another Node's. A cache in use is touched by every run that uses it, so installs that share the
 * directory do not evict each other.
 */
const UNUSED_CACHE_MS = 30 * 24 * 60 * 60 * 1000;

/** Write the cache (0600, temp name then rename), and remove what older builds and killed runs left. */
function writeCache(file: string, make: () => Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, seal(make()), { mode: 0o600, flag: 'wx' });
    renameSync(tmp, file);
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing was written
    }
    return;
  }
  const dir = dirname(file);
  const name = basename(file);
  const command = name.slice('hostsync-'.length, name.lastIndexOf('-'));
  const sameCommand = new RegExp(`^hostsync-${command}-[0-9a-f]{32}\\.v8cache$`);
  try {
    for (const other of readdirSync(dir)) {
      if (other === name) continue;
      const temp = other.startsWith('hostsync-') && other.endsWith('.tmp');
      if (!temp && !sameCommand.test(other)) continue;
      const age = Date.now() - lstatSync(join(dir, other)).mtimeMs;
      if (age > (temp ? STALE_TEMP_MS : UNUSED_CACHE_MS)) unlinkSync(join(dir, other));
    }
  } catch {
    // a tidy-up only
  }
}

export interface RunBundleOptions {
  readonly env?: Env;
  readonly uid?: number;
  readonly home?: string;
}

/** What {@link runBundle} did with the cache (for tests); 'unreadable': the bundle was not run. */
export type CacheOutcome = 'off' | 'unsafe' | 'used' | 'written' | 'unreadable';

/**
 * Compile and run the CommonJS bundle at `bundle` (the CLI's entry, which starts itself) with a code
 * cache. Returns what happened to the cache; 'written' means one is written when the process exits;
 * 'unreadable' means the bundle could not be read and nothing ran (the caller starts the CLI otherwise).
 */
export function runBundle(bundle: string, argv: readonly string[], options: RunBundleOptions = {}): CacheOutcome {
  let source: string;
  let identity: Stats;
  try {
    const fd = openSync(bundle, 'r');
    try {
      identity = fstatSync(fd);
      source = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return 'unreadable';
  }
  return runSource({ source, identity, filename: bundle, requireFrom: bundle }, argv, options);
}

/** The asset name of the CLI's bundle in the single executable (scripts/build-binary.ts, sea-entry.ts). */
export const SEA_BUNDLE_ASSET = 'hostsync.cjs';

/** CommonJS source to run, what it is known by for the cache, and where its `require` resolves from. */
export interface BundleSource {
  readonly source: string;
  /** The file it came from (the bundle; the single executable itself), for the cache's name; without it, no cache. */
  readonly identity: Pick<Stats, 'dev' | 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'> | undefined;
  /** Its name in stack traces. */
  readonly filename: string;
  readonly requireFrom: string;
}

/**
 * Compile and run `bundle.source` (the CLI's entry, which starts itself) with a code cache: the
 * common part of {@link runBundle} and the single executable's entry (src/boot/sea-entry.ts).
 */
export function runSource(bundle: BundleSource, argv: readonly string[], options: RunBundleOptions = {}): CacheOutcome {
  const env = options.env ?? process.env;
  const uid = options.uid ?? process.getuid?.() ?? -1;
  const source = bundle.source.startsWith('#!') ? `//${bundle.source}` : bundle.source;
  const dir = codeCacheDir(env, uid, options.home ?? safeHome);
  const usable = dir !== undefined && isPrivateDir(dir, uid);
  const file = usable && bundle.identity !== undefined ? join(dir, cacheFileName(bundle.identity, argv[2] ?? '')) : undefined;
  const cachedData = file === undefined ? undefined : readOwn(file, uid);
  // The CommonJS wrapper, as Node's loader adds it.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: bundle.filename,
    ...(cachedData === undefined ? {} : { cachedData }),
  });
  let outcome: CacheOutcome = dir === undefined || bundle.identity === undefined ? 'off' : !usable ? 'unsafe' : 'used';
  if (file !== undefined && (cachedData === undefined || script.cachedDataRejected === true)) {
    outcome = 'written';
    // At exit the cache holds every function this run compiled, not only the top level.
    process.once('exit', () => writeCache(file, () => script.createCachedData()));
  }
  const module = { exports: {} };
  const start = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string) => void;
  // resolve(): createRequire wants an absolute path (it need not exist).
  start(module.exports, createRequire(resolve(bundle.requireFrom)), module, bundle.filename, dirname(bundle.filename));
  return outcome;
}

function safeHome(): string {
  try {
    return homedir();
  } catch {
    return '';
  }
}
