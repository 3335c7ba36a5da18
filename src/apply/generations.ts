/**
 * `layout: "symlink"`: DEST is a symlink to a generation directory built beside it
 * (`<DEST>.generations/<time>-<commit>`), so readers never see a mix of two commits. The new
 * generation starts as a hard-linked copy of the current one (unchanged files cost no space,
 * unmanaged and preserved files carry over), the plan is applied to it by the same `reconcile`
 * that writes in place — which replaces files by rename, so the links to the previous generation
 * are never written through — and one atomic rename of a symlink switches DEST.
 */
import { chmod, link, lstat, mkdir, readdir, readlink, realpath, rename, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { errorCode, HostsyncError } from '../errors.js';
import type { Manifest } from '../model.js';
import type { Plan } from '../plan/plan.js';
import { saveManifest } from '../state/manifest.js';
import { syncDir } from '../state/files.js';
import type { DestPaths } from '../state/layout.js';
import type { ObjectStore } from '../state/objects.js';
import { targetState } from './apply.js';
import { reconcile, type ReconcileStep } from './reconcile.js';

/** Where generation directories of a symlinked DEST live. */
export const generationsRoot = (destLink: string): string => `${destLink}.generations`;

/** The current generation directory DEST points to, or undefined when DEST does not exist yet. */
export async function currentGeneration(destLink: string): Promise<string | undefined> {
  let info;
  try {
    info = await lstat(destLink);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  if (!info.isSymbolicLink()) {
    throw new HostsyncError(`With layout "symlink", ${destLink} must be a symlink (or absent), but it is a ${info.isDirectory() ? 'directory' : 'file'}. Move it away once; hostsync then builds generations beside it.`, 2);
  }
  const target = await realpath(destLink);
  // Only ever a generation hostsync built: a DEST repointed elsewhere would be hard-linked wholesale.
  const root = await realpath(generationsRoot(destLink)).catch(() => undefined);
  if (root === undefined || dirname(target) !== root) {
    throw new HostsyncError(`${destLink} points to ${target}, which is not a generation in ${generationsRoot(destLink)}. Point it back (or remove it) and run again.`, 2);
  }
  return target;
}

/** Copy a tree with hard links for files (like `cp -al`), recreating symlinks and folders. */
async function linkTree(from: string, to: string): Promise<void> {
  await mkdir(to, { mode: 0o755 });
  await chmod(to, 0o755); // the umask must not decide folder modes
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) await linkTree(source, target);
    else if (entry.isSymbolicLink()) await symlink(await readlink(source, { encoding: 'buffer' }), target);
    else if (entry.isFile()) await link(source, target);
  }
}

export interface GenerationApplyOptions {
  readonly paths: DestPaths;
  readonly store: ObjectStore;
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
  /** Generation directories kept, the current one included. */
  readonly keep: number;
  readonly now: () => number;
  /** Paths done of the build (reconcile's progress). */
  readonly onProgress?: ((done: number, total: number) => void) | undefined;
  /** The mtime files are written with (reconcile.ts). */
  readonly stampMs?: number | undefined;
}

/** Build the new generation, switch DEST to it atomically, record the manifest, prune old ones. */
export async function applyAsGeneration(plan: Plan, manifest: Manifest, options: GenerationApplyOptions): Promise<string> {
  const destLink = options.paths.dest;
  const root = generationsRoot(destLink);
  const current = await currentGeneration(destLink);
  await mkdir(root, { recursive: true, mode: 0o755 });
  await chmod(root, 0o755);
  const dir = join(root, `${options.now()}-${manifest.commit.slice(0, 12)}`);
  try {
    if (current !== undefined) await linkTree(current, dir);
    else {
      await mkdir(dir, { mode: 0o755 });
      await chmod(dir, 0o755);
    }
    // chmod on a hard link would change the previous generation too: rewrite instead.
    const steps: ReconcileStep[] = plan.changes.map((change) => ({
      path: change.path,
      state: change.target === undefined ? { kind: 'absent' } : targetState(change.target.mode, change.target.sha),
    }));
    await reconcile(steps, { dest: dir, store: options.store, uid: options.uid, gid: options.gid, stampMs: options.stampMs }, options.onProgress);
    const tmp = join(dirname(destLink), `.${basename(destLink)}.hostsync-tmp-${randomBytes(6).toString('hex')}`);
    await symlink(relative(dirname(destLink), dir), tmp);
    await rename(tmp, destLink);
    await syncDir(dirname(destLink));
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  await saveManifest(options.paths.manifest, manifest);
  await pruneGenerations(root, dir, options.keep);
  return dir;
}

/** Remove generation directories beyond `keep`, newest kept; never the current one. */
export async function pruneGenerations(root: string, current: string, keep: number): Promise<void> {
  const names = (await readdir(root)).filter((name) => /^\d+-[0-9a-f]+$/.test(name)).sort((a, b) => Number(a.split('-')[0]) - Number(b.split('-')[0]));
  const excess = names.slice(0, Math.max(0, names.length - Math.max(1, keep)));
  for (const name of excess) if (join(root, name) !== current) await rm(join(root, name), { recursive: true, force: true });
}
