/** The repair writers in src/apply/restore.ts and the real probe, on a temp directory. */
import { lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureDirectories, restoreManifest, setAttributes } from '../../src/apply/restore.js';
import { createHostProbe, probeLock } from '../../src/checks/probe.js';
import { hashBlob } from '../../src/local/hash.js';
import type { Manifest } from '../../src/model.js';
import { destKey, destPaths, type DestPaths } from '../../src/state/layout.js';
import { acquireLock } from '../../src/state/lock.js';
import { createObjectStore, type ObjectStore } from '../../src/state/objects.js';
import type { Destination } from '../../src/apply/destination.js';
import { openTestDestination } from '../support/destination.js';

let dir: string;
let dest: string;
let paths: DestPaths;
let store: ObjectStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hostsync-restore-'));
  dest = join(dir, 'dest');
  await mkdir(dest);
  paths = destPaths(join(dir, 'state'), dest);
  store = createObjectStore(paths.objects);
});
let destinations: Destination[] = [];
afterEach(async () => {
  for (const destination of destinations) await destination.close();
  destinations = [];
  await rm(dir, { recursive: true, force: true });
});

/** A fresh handle on DEST (each restore runs as its own command would). */
async function opened(): Promise<Destination> {
  const destination = await openTestDestination(dest, join(dir, 'state'));
  destinations.push(destination);
  return destination;
}

async function stored(content: string): Promise<string> {
  const bytes = Buffer.from(content);
  const sha = hashBlob(bytes);
  await store.put(sha, bytes.length, Readable.from([bytes]), 'test');
  return sha;
}

async function manifestOf(files: Record<string, [string, '100644' | '100755']>): Promise<Manifest> {
  const entries: Manifest['entries'][number][] = [];
  const dirs = new Set<string>();
  for (const [path, [content, mode]] of Object.entries(files)) {
    entries.push({ path, mode, sha: await stored(content), size: Buffer.byteLength(content) });
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  for (const d of dirs) entries.push({ path: d, mode: '040000', sha: 'f'.repeat(40) });
  entries.sort((a, b) => (a.path < b.path ? -1 : 1));
  return { version: 1, repo: 'acme/hv', ref: 'main', path: '', commit: 'c'.repeat(40), appliedAt: 'T', strategy: 'blobs', entries };
}

describe('restoreManifest', () => {
  it('restores content, modes and missing files, keeps unmanaged files unless pruning, and records the manifest', async () => {
    const manifest = await manifestOf({ 'a.txt': ['a\n', '100644'], 'bin/run': ['#!/bin/sh\n', '100755'] });
    await writeFile(join(dest, 'a.txt'), 'tampered\n');
    await writeFile(join(dest, 'mine.txt'), 'mine\n');
    const kept = await restoreManifest(manifest, manifest, await opened(), { preserve: [], prune: false });
    expect(kept.changed).toEqual(['a.txt', 'bin', 'bin/run']);
    expect(kept.pruned).toEqual([]);
    expect(await readFile(join(dest, 'a.txt'), 'utf8')).toBe('a\n');
    expect((await stat(join(dest, 'bin/run'))).mode & 0o777).toBe(0o755);
    expect(await readFile(join(dest, 'mine.txt'), 'utf8')).toBe('mine\n');
    expect(JSON.parse(await readFile(paths.manifest, 'utf8'))).toMatchObject({ commit: manifest.commit });
    const pruned = await restoreManifest(manifest, manifest, await opened(), { preserve: [], prune: true });
    expect(pruned.pruned).toEqual(['mine.txt']);
    await expect(stat(join(dest, 'mine.txt'))).rejects.toThrow();
  });

  it('fetches blobs the store lacks through fetchBlobs, and refuses without it', async () => {
    const manifest = await manifestOf({ 'a.txt': ['a\n', '100644'] });
    await store.remove(manifest.entries[0]!.sha);
    await expect(restoreManifest(manifest, manifest, await opened(), { preserve: [], prune: false })).rejects.toThrow(/lacks 1 file\(s\) of commit c+ \(e\.g\. a\.txt\)/);
    const asked: string[] = [];
    const result = await restoreManifest(manifest, manifest, await opened(), {
      preserve: [],
      prune: false,
      fetchBlobs: async (blobs) => {
        for (const blob of blobs) asked.push(blob.path);
        await stored('a\n');
      },
    });
    expect(asked).toEqual(['a.txt']);
    expect(result.fetched).toBe(1);
    expect(await readFile(join(dest, 'a.txt'), 'utf8')).toBe('a\n');
  });

  it('rolls back: paths of the current manifest that the target lacks are removed', async () => {
    const old = await manifestOf({ 'a.txt': ['a\n', '100644'] });
    const current = { ...(await manifestOf({ 'a.txt': ['A\n', '100644'], 'new/b.txt': ['b\n', '100644'] })), commit: 'd'.repeat(40) };
    await restoreManifest(current, undefined, await opened(), { preserve: [], prune: false });
    await restoreManifest(old, current, await opened(), { preserve: [], prune: false });
    expect(await readFile(join(dest, 'a.txt'), 'utf8')).toBe('a\n');
    await expect(lstat(join(dest, 'new'))).rejects.toThrow();
  });
});

describe('ensureDirectories / setAttributes', () => {
  it('creates folders with their parents, and refuses to create through a symlink', async () => {
    expect(await ensureDirectories(dest, ['a/b/c', 'a/d'], { store })).toEqual(['a', 'a/b', 'a/b/c', 'a/d']);
    expect(await ensureDirectories(dest, ['a/b/c'], { store })).toEqual([]);
    await mkdir(join(dir, 'outside'));
    await symlink(join(dir, 'outside'), join(dest, 'link'));
    await expect(ensureDirectories(dest, ['link/x'], { store })).rejects.toThrow(/Cannot create the folder .*\/link: a symlink is in the way/);
    expect((await lstat(join(dest, 'link'))).isSymbolicLink()).toBe(true);
  });

  it('sets modes without following symlinks', async () => {
    await writeFile(join(dest, 'f'), 'x');
    await writeFile(join(dir, 'outside-file'), 'x', { mode: 0o644 });
    await symlink(join(dir, 'outside-file'), join(dest, 'l'));
    expect(await setAttributes(dest, [{ path: 'f', mode: 0o600 }, { path: 'l', mode: 0o777 }, { path: 'gone', mode: 0o600 }])).toEqual(['f']);
    expect((await stat(join(dest, 'f'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'outside-file'))).mode & 0o777).toBe(0o644);
  });
});

describe('probe', () => {
  it('tells a free lock from one this process holds', async () => {
    expect(await probeLock(paths)).toEqual({ state: 'free' });
    const lock = await acquireLock(destKey(dest), { timeoutSec: 0, fallbackDir: paths.stateDir, what: dest });
    try {
      expect(await probeLock(paths)).toEqual({ state: 'self' });
    } finally {
      await lock.release();
    }
  });

  it('finds programs on PATH, free space of the nearest existing folder, file facts', async () => {
    const host = createHostProbe({ paths, root: dest, store, manifest: undefined, isPreserved: () => false, runCommand: async () => ({ code: 0, signal: null, lastLines: [], timedOut: false }), env: { PATH: '/nonexistent:/bin:/usr/bin' } });
    expect(await host.which('sh')).toMatch(/\/sh$/);
    expect(await host.which('definitely-not-a-program')).toBeUndefined();
    expect((await host.space(join(dest, 'not/yet/there')))?.totalBytes).toBeGreaterThan(0);
    expect(await host.fileFacts(join(dest, 'nothing'))).toBeUndefined();
    expect(await host.fileFacts(dest)).toMatchObject({ kind: 'dir' });
    expect(await host.journal()).toEqual({ state: 'none' });
  });
});
