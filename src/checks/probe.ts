/**
 * The real {@link HostProbe}: the file system, statfs, PATH, /etc/passwd and /etc/group, the
 * destination's lock socket and journal, and the exec edge. Read-only: nothing here writes.
 */
import type { Stats } from 'node:fs';
import { constants } from 'node:fs';
import { access, lstat, readFile, stat, statfs } from 'node:fs/promises';
import { hostname } from 'node:os';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { errorCode, HostsyncError } from '../errors.js';
import { readJournal } from '../apply/journal.js';
import { loadStatCache } from '../local/stat-cache.js';
import { scanDestination, type ScanResult } from '../local/scan.js';
import type { Manifest } from '../model.js';
import { destKey, type DestPaths } from '../state/layout.js';
import type { ObjectStore } from '../state/objects.js';
import type { Accounts, FileFacts, HostProbe, JournalFacts, LockFacts, RunCommand, SpaceFacts } from './types.js';

export interface ProbeOptions {
  readonly paths: DestPaths;
  /** The directory holding DEST's content (see CheckContext.root). */
  readonly root: string;
  readonly store: ObjectStore;
  readonly manifest: Manifest | undefined;
  readonly isPreserved: (path: string) => boolean;
  readonly runCommand: RunCommand;
  /** The environment: PATH is searched, commands inherit it. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The file kind of an lstat/stat result. */
export function kindOf(info: Stats): FileFacts['kind'] {
  if (info.isFile()) return 'file';
  if (info.isDirectory()) return 'dir';
  if (info.isSymbolicLink()) return 'symlink';
  if (info.isCharacterDevice()) return 'char-device';
  if (info.isBlockDevice()) return 'block-device';
  return 'other';
}

function facts(info: Stats): FileFacts {
  return { kind: kindOf(info), mode: info.mode & 0o7777, uid: info.uid, gid: info.gid };
}

async function orUndefined<T>(work: Promise<T>): Promise<T | undefined> {
  try {
    return await work;
  } catch (error) {
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return undefined;
    throw error;
  }
}

/** `/etc/passwd` or `/etc/group` text as name → id. Pure. */
export function parseAccountFile(text: string): Map<string, number> {
  const ids = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    if (name !== undefined && name !== '' && !name.startsWith('#') && id !== undefined && /^\d+$/.test(id) && !ids.has(name)) ids.set(name, Number(id));
  }
  return ids;
}

/** Who holds the lock of `dest` (see src/state/lock.ts for how the lock works). */
export async function probeLock(paths: DestPaths): Promise<LockFacts> {
  const key = destKey(paths.dest);
  const linux = process.platform === 'linux';
  const address = linux ? `\0hostsync-${key}` : join(paths.stateDir, `${key}.lock`);
  if (!linux && (await orUndefined(lstat(address))) === undefined) return { state: 'free' };
  const answer = await new Promise<{ connected: boolean; pid: number | undefined }>((resolve) => {
    const socket = createConnection({ path: address });
    let data = '';
    let connected = false;
    socket.setTimeout(1000, () => socket.destroy());
    socket.on('connect', () => (connected = true));
    socket.on('data', (chunk) => (data += chunk.toString()));
    socket.on('close', () => resolve({ connected, pid: /^\d+$/.test(data.trim()) ? Number(data.trim()) : undefined }));
    socket.on('error', () => undefined);
  });
  if (!answer.connected) return linux ? { state: 'free' } : { state: 'stale', file: address };
  return answer.pid === process.pid ? { state: 'self' } : { state: 'other', pid: answer.pid };
}

/** Create the real probe for one pass of checks. */
export function createHostProbe(options: ProbeOptions): HostProbe {
  const { paths } = options;
  let scanned: Promise<ScanResult> | undefined;
  let accounts: Promise<Accounts> | undefined;
  return {
    fileFacts: async (path) => {
      const info = await orUndefined(lstat(path));
      return info === undefined ? undefined : facts(info);
    },
    statFacts: async (path) => {
      const info = await orUndefined(stat(path));
      return info === undefined ? undefined : facts(info);
    },
    async space(path): Promise<SpaceFacts | undefined> {
      for (let at = path; ; at = dirname(at)) {
        try {
          const fs = await statfs(at);
          return { freeBytes: fs.bavail * fs.bsize, totalBytes: fs.blocks * fs.bsize };
        } catch (error) {
          if (errorCode(error) !== 'ENOENT' && errorCode(error) !== 'ENOTDIR') return undefined;
          if (dirname(at) === at) return undefined;
        }
      }
    },
    async which(name) {
      const candidates = name.includes('/') ? [name] : (options.env['PATH'] ?? '').split(':').filter((dir) => dir !== '').map((dir) => join(dir, name));
      for (const candidate of candidates) {
        try {
          await access(candidate, constants.X_OK);
          if ((await stat(candidate)).isFile()) return candidate;
        } catch {
          // not here
        }
      }
      return undefined;
    },
    readText: (path) => orUndefined(readFile(path, 'utf8')),
    scan() {
      scanned ??= (async () => {
        const interest = new Set((options.manifest?.entries ?? []).map((entry) => entry.path));
        const statCache = await loadStatCache(paths.statCache);
        return scanDestination(options.root, { interest, isPreserved: options.isPreserved, statCache, concurrency: 8 });
      })();
      return scanned;
    },
    lock: () => probeLock(paths),
    async journal(): Promise<JournalFacts> {
      try {
        const journal = await readJournal(paths.journal);
        return journal === undefined ? { state: 'none' } : { state: 'interrupted', commit: journal.commit, startedAt: journal.startedAt, ops: journal.ops.length };
      } catch (error) {
        if (error instanceof HostsyncError) return { state: 'unreadable', message: error.message };
        throw error;
      }
    },
    async missingObjects(shas) {
      const missing: string[] = [];
      for (const sha of shas) if (!(await options.store.has(sha))) missing.push(sha);
      return missing;
    },
    accounts() {
      accounts ??= (async () => ({
        users: parseAccountFile((await orUndefined(readFile('/etc/passwd', 'utf8'))) ?? ''),
        groups: parseAccountFile((await orUndefined(readFile('/etc/group', 'utf8'))) ?? ''),
      }))();
      return accounts;
    },
    runCommand: options.runCommand,
    hostname: hostname(),
    platform: process.platform,
    isRoot: process.getuid?.() === 0,
    env: options.env,
  };
}
