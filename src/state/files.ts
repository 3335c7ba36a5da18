/**
 * Durable small-file I/O for the state dir: JSON written atomically (temp file, fsync, rename,
 * fsync of the directory) so a power cut leaves either the old or the new version, never half.
 */
import { constants } from 'node:fs';
import { chmod, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { errorCode, HostsyncError } from '../errors.js';

/**
 * Write `data` to `file` atomically and (unless `durable` is false) durably, with exactly `mode`
 * (fchmod: the umask does not decide). On any failure the temp file is removed and `file` is as it
 * was. `durable: false` is for caches whose loss or staleness after a power cut only costs work and
 * that detect a torn file themselves (the stat cache's checksum): no fsync, still atomic.
 */
export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o600, durable = true): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', mode);
  try {
    try {
      await handle.writeFile(data);
      await handle.chmod(mode);
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
  if (durable) await syncDir(dir);
}

/**
 * Write JSON atomically and durably: two-space indented with a trailing newline (humans read these
 * at 3 a.m.), or on one line with `pretty: false` (manifests and journals of thousands of
 * entries: half the bytes, and faster both ways; `jq .` reads them). `durable: false` as for
 * {@link writeFileAtomic}: for caches whose reader takes a damaged file for a missing one.
 */
export async function writeJsonAtomic(file: string, value: unknown, options: { readonly pretty?: boolean; readonly durable?: boolean } = {}): Promise<void> {
  const text = options.pretty === false ? JSON.stringify(value) : JSON.stringify(value, null, 2);
  await writeFileAtomic(file, `${text}\n`, 0o600, options.durable ?? true);
}

/**
 * Read and parse JSON; `undefined` when the file does not exist. Other errors propagate — among them
 * a path that is not a regular file, which is refused without waiting on it (a FIFO would block the
 * read, and the run with it, past any signal).
 */
export async function readJson(file: string): Promise<unknown> {
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    if (!(await handle.stat()).isFile()) throw new HostsyncError(`${file} is not a regular file.`);
    return JSON.parse(await handle.readFile('utf8')) as unknown;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  } finally {
    await handle?.close();
  }
}

/** fsync a directory so a rename in it survives a power cut. */
export async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    // Some filesystems refuse fsync on directories; the rename is still atomic there.
    if (errorCode(error) !== 'EINVAL' && errorCode(error) !== 'EISDIR') throw error;
  } finally {
    await handle?.close();
  }
}

/**
 * Create the state dir if needed and make it 0700: it holds the content of every synced file and
 * ETags of private repositories. A directory owned by someone else is left as it is.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await stat(dir);
  if ((info.mode & 0o077) !== 0 && info.uid === process.getuid?.()) await chmod(dir, 0o700);
}
