/**
 * `runRollback`: restore the previous (or a named) generation exactly, from the object store,
 * with no network. The restore is an ordinary journaled apply, recorded as a new generation, and
 * a hold keeps the next poll from re-applying the commit that was rolled back from.
 */
import { HostsyncError } from '../errors.js';
import { collectGarbage, listHistory, loadGeneration, recordGeneration, type Generation } from '../apply/history.js';
import { clearHold, readHold, writeHold } from '../apply/hold.js';
import type { Manifest } from '../model.js';
import { scanAndPlan } from '../apply/local-plan.js';
import { countByKind, summarizeChanges, type ChangeSummary } from './summary.js';
import type { Logger } from './sync.js';
import { withDestination, type Destination, type DestinationSettings } from '../apply/destination.js';
import type { Config } from '../config/types.js';

export type RollbackConfig = DestinationSettings & Pick<Config, 'preserve' | 'checkOnly'>;

export interface RollbackResult {
  readonly dest: string;
  readonly from: string;
  readonly to: string;
  readonly generation: number | undefined;
  readonly changes: ChangeSummary;
  readonly checkOnly: boolean;
}

/** Pick the generation to restore: `to` (a commit SHA prefix) or the newest one not at the current commit. */
export function pickGeneration(history: readonly Generation[], current: string, to: string | undefined): Generation | undefined {
  const newestFirst = [...history].reverse();
  if (to !== undefined) return newestFirst.find((g) => g.commit.startsWith(to.toLowerCase()));
  return newestFirst.find((g) => g.commit !== current);
}

/** Roll DEST back (opening it, locked); see {@link rollbackOpened}. */
export async function runRollback(config: RollbackConfig, to: string | undefined, log: Logger, now: () => number = Date.now): Promise<RollbackResult> {
  checkTo(to);
  return withDestination(config, { log, lock: true, write: !config.checkOnly }, (destination) => rollbackOpened(destination, config, to, now));
}

function checkTo(to: string | undefined): void {
  if (to !== undefined && !/^[0-9a-fA-F]{4,40}$/.test(to)) {
    throw new HostsyncError(`--to '${to}' is not a commit SHA (4 to 40 hex digits). See 'hostsync history' for the commits you can roll back to.`, 2);
  }
}

/** Restore the previous generation (or `to`) of an opened destination, from the store alone. */
export async function rollbackOpened(destination: Destination, config: RollbackConfig, to: string | undefined, now: () => number = Date.now): Promise<RollbackResult> {
  checkTo(to);
  const { paths, store } = destination;
  const dest = paths.dest;
  const current = destination.manifest;
  if (current === undefined) throw new HostsyncError(`Nothing was ever applied to ${dest} with state dir ${config.stateDir}: there is nothing to roll back to.`);
  const history = await listHistory(paths);
  const target = pickGeneration(history, current.commit, to);
  if (target === undefined) {
    throw new HostsyncError(
      to === undefined
        ? `No earlier generation of ${dest} is recorded (history holds ${history.length}). Nothing to roll back to.`
        : `No generation of ${dest} has commit ${to}. 'hostsync history' lists the ones kept (historyLimit: ${config.historyLimit}).`,
    );
  }
  const wanted = await loadGeneration(paths, target.id);
  if (wanted === undefined) throw new HostsyncError(`Generation ${target.id} (${target.commit.slice(0, 12)}) was pruned from ${paths.root}; pick another from 'hostsync history'.`);
  const scanRoot = await destination.scanRoot();
  const { plan, scan } = await scanAndPlan({ paths, store, remote: wanted.entries, previous: current.entries, preserve: config.preserve, prune: false, scanRoot, beforeStoreQuery: (shas) => destination.pins.add(shas) });
  const missing = plan.fetch.length;
  if (missing > 0) {
    throw new HostsyncError(
      `The local store lacks ${missing} file(s) of ${target.commit.slice(0, 12)} (e.g. ${plan.fetch[0]!.path}), or holds them damaged (removed now); a rollback never uses the network. Run 'hostsync sync --ref ${target.commit}' instead.`,
    );
  }
  const changes = summarizeChanges(plan);
  if (config.checkOnly) return { dest, from: current.commit, to: target.commit, generation: undefined, changes, checkOnly: true };
  for (const copy of plan.localCopies) await store.importFile(copy.sha, `${scanRoot}/${copy.path}`);
  const manifest: Manifest = { ...wanted, appliedAt: new Date(now()).toISOString(), strategy: 'rollback' };
  await destination.apply(plan, manifest, current, now, scan.statCache);
  const generation = await recordGeneration(paths, manifest, { kind: 'rollback', previousCommit: current.commit, changes: countByKind(changes) }, config.historyLimit);
  // Hold at the rolled-back generation until the ref moves; rolling forward to the held commit lifts it.
  const rolledBackFrom = (await readHold(paths))?.rolledBackFrom ?? current.commit;
  if (rolledBackFrom === target.commit) await clearHold(paths);
  else await writeHold(paths, { rolledBackFrom, since: manifest.appliedAt });
  await collectGarbage(config.stateDir, store, now).catch(() => undefined);
  return { dest, from: current.commit, to: target.commit, generation: generation.id, changes, checkOnly: false };
}
