/**
 * `hostsync restore PATH --to COMMIT`: put one file of DEST back to its version at a kept
 * generation, from the local object store, offline — through the same journaled apply as a sync
 * (Destination.apply), recorded as a generation of kind `restore`.
 *
 * The restored version becomes what hostsync placed (the manifest's entry for PATH), so validate
 * does not report it as drift and polls of the same commit keep it; the next sync of another commit
 * puts the repository's version back (a sync makes DEST the commit, whatever it was before). The
 * manifest then no longer matches the commit's tree, so its recorded trees are dropped: the next
 * pack is fetched without them as delta bases.
 */
import { collectGarbage, loadGeneration, recordGeneration } from '../apply/history.js';
import { withDestination, type DestinationSettings } from '../apply/destination.js';
import { scanAndPlan } from '../apply/local-plan.js';
import type { Config } from '../config/types.js';
import { HostsyncError } from '../errors.js';
import type { Logger, Manifest, ManifestEntry } from '../model.js';
import type { Plan } from '../plan/plan.js';
import { changeOf, fileHistory, relativeToDest, versionAt, type FileChange } from './file-history.js';
import { countByKind, summarizeChanges } from './summary.js';

export type RestoreFileConfig = DestinationSettings & Pick<Config, 'preserve' | 'checkOnly'>;

export interface RestoreFileResult {
  readonly dest: string;
  readonly path: string;
  /** The commit whose version was put back, and that version. */
  readonly commit: string;
  readonly sha: string;
  readonly mode: ManifestEntry['mode'];
  /** The commit DEST holds (unchanged by a restore). */
  readonly appliedCommit: string;
  /** What the restore did (or would do) to the file as DEST holds it. */
  readonly change: FileChange;
  readonly generation: number | undefined;
  readonly checkOnly: boolean;
}

const parentsOf = (path: string): string[] => path.split('/').slice(0, -1).map((_part, i, parts) => parts.slice(0, i + 1).join('/'));

/** Restore one file (see the module comment). */
export async function restoreFile(config: RestoreFileConfig, given: string, to: string, log: Logger, now: () => number = Date.now): Promise<RestoreFileResult> {
  return withDestination(config, { log, lock: true, write: !config.checkOnly }, async (destination) => {
    const { paths, store } = destination;
    const path = relativeToDest(given, paths.dest);
    const current = destination.manifest;
    if (current === undefined) throw new HostsyncError(`Nothing was ever applied to ${paths.dest} with state dir ${config.stateDir}: there is no version of ${path} to restore.`);
    const version = versionAt(await fileHistory(paths, store, path), to, path);
    if (version.sha === null || version.mode === null) {
      throw new HostsyncError(`${path} did not exist at ${version.commit.slice(0, 12)} (generation ${version.generation}). 'hostsync history --file ${path}' lists the commits that hold it.`);
    }
    if (current.entries.some((entry) => entry.path.startsWith(`${path}/`))) {
      throw new HostsyncError(`${path} is a folder at the commit DEST holds (${current.commit.slice(0, 12)}); restore puts back a file. Use 'hostsync rollback --to ${version.commit.slice(0, 12)}' for the whole commit.`);
    }
    const wanted: ManifestEntry = { path, mode: version.mode, sha: version.sha, ...(version.size === null ? {} : { size: version.size }) };
    // Folders the file needs that the current commit does not have, as that generation recorded them.
    const present = new Set(current.entries.map((entry) => entry.path));
    const then = new Map(((await loadGeneration(paths, version.generation))?.entries ?? []).map((entry) => [entry.path, entry]));
    const folders: ManifestEntry[] = parentsOf(path)
      .filter((dir) => !present.has(dir))
      .map((dir) => then.get(dir) ?? { path: dir, mode: '040000', sha: '4b825dc642cb6eb9a060e54bf8d69288fbee4904' }); // git's empty tree
    const entries = [...current.entries.filter((entry) => entry.path !== path), ...folders, wanted].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const scanRoot = await destination.scanRoot();
    const scanned = await scanAndPlan({ paths, store, remote: entries, previous: current.entries, preserve: config.preserve, prune: false, scanRoot, beforeStoreQuery: (shas) => destination.pins.add(shas) });
    if (scanned.plan.conflicts.length > 0 || scanned.plan.entries.every((entry) => entry.path !== path)) {
      throw new HostsyncError(`${path} matches 'preserve', so hostsync never writes it; nothing was restored.`);
    }
    // Only this file and the folders it needs: drift elsewhere is validate's business, not restore's.
    const mine = (candidate: string): boolean => candidate === path || folders.some((folder) => folder.path === candidate);
    const changes = scanned.plan.changes.filter((change) => mine(change.path));
    const blocked = scanned.plan.changes.find((change) => !mine(change.path) && path.startsWith(`${change.path}/`));
    if (blocked !== undefined) throw new HostsyncError(`${blocked.path} in DEST is not the folder ${path} needs; nothing was restored. Run 'hostsync validate --fix' first.`);
    const before = scanned.scan.entries.get(path);
    const held: ManifestEntry | undefined = before?.sha === undefined || before.mode === undefined ? undefined : { path, mode: before.mode, sha: before.sha };
    const change = changes.length === 0 ? 'unchanged' : changeOf(held, wanted);
    const result = { dest: paths.dest, path, commit: version.commit, sha: version.sha, mode: version.mode, appliedCommit: current.commit, change };
    if (config.checkOnly || changes.length === 0) return { ...result, generation: undefined, checkOnly: config.checkOnly };
    // The plan knows whether the store holds the content (checked), or another path of DEST does.
    if (scanned.plan.fetch.some((blob) => blob.sha === version.sha)) {
      throw new HostsyncError(`The local store no longer holds ${path} as of ${version.commit.slice(0, 12)} (blob ${version.sha.slice(0, 12)}): restore works offline, from the content kept for the generations 'hostsync history' lists. Nothing was restored.`);
    }
    for (const copy of scanned.plan.localCopies) if (copy.sha === version.sha) await store.importFile(copy.sha, `${scanRoot}/${copy.path}`);
    const plan: Plan = { ...scanned.plan, changes, fetch: [], localCopies: [], unmanaged: [], entries };
    const { tree: _tree, chain: _chain, ...rest } = current;
    const manifest: Manifest = { ...rest, entries, appliedAt: new Date(now()).toISOString(), strategy: 'restore' };
    await destination.apply(plan, manifest, current, now, scanned.scan.statCache);
    const generation = await recordGeneration(paths, manifest, { kind: 'restore', previousCommit: current.commit, changes: countByKind(summarizeChanges(plan)) }, config.historyLimit);
    await collectGarbage(config.stateDir, store, now).catch(() => undefined);
    return { ...result, generation: generation.id, checkOnly: false };
  });
}
