/**
 * `runRollback`: restore the previous (or a named) generation exactly, from the object store,
 * with no network. The restore is an ordinary journaled apply, recorded as a new generation, and
 * a hold keeps the next poll from re-applying the commit that was rolled back from.
 */
import { HostsyncError } from '../errors.js';
import { recoverInterrupted } from '../apply/apply.js';
import { resolveOwner } from '../apply/owner.js';
import { collectGarbage, listHistory, loadGeneration, recordGeneration, type Generation } from '../apply/history.js';
import { clearHold, readHold, writeHold } from '../apply/hold.js';
import type { Manifest } from '../model.js';
import { destPaths } from '../state/layout.js';
import { loadManifest } from '../state/manifest.js';
import { createObjectStore } from '../state/objects.js';
import { scanAndPlan } from '../apply/local-plan.js';
import { countByKind, summarizeChanges, type ChangeSummary } from './summary.js';
import type { Logger } from './sync.js';
import { applyToDestination, lockDestination, resolveDestination, scanRootOf } from '../apply/destination.js';

export interface RollbackConfig {
  readonly dest: string;
  readonly stateDir: string;
  readonly historyLimit: number;
  readonly lockTimeout: number;
  readonly preserve: readonly string[];
  readonly owner: string | undefined;
  readonly group: string | undefined;
  readonly checkOnly: boolean;
  readonly layout: 'inplace' | 'symlink';
}

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

export async function runRollback(
  config: RollbackConfig,
  to: string | undefined,
  log: Logger,
  now: () => number = Date.now,
  options: { readonly lockHeld?: boolean | undefined } = {},
): Promise<RollbackResult> {
  if (to !== undefined && !/^[0-9a-fA-F]{4,40}$/.test(to)) {
    throw new HostsyncError(`--to '${to}' is not a commit SHA (4 to 40 hex digits). See 'hostsync history' for the commits you can roll back to.`, 2);
  }
  const dest = await resolveDestination(config);
  const paths = destPaths(config.stateDir, dest);
  const lock = options.lockHeld === true ? undefined : await lockDestination({ lockTimeout: config.lockTimeout, stateDir: config.stateDir }, paths, log);
  try {
    const store = createObjectStore(paths.objects);
    if (!config.checkOnly) await recoverInterrupted({ paths, store, ...(await resolveOwner(config)) });
    const current = await loadManifest(paths.manifest);
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
    const scanRoot = await scanRootOf(config, dest);
    const { plan } = await scanAndPlan({ paths, store, remote: wanted.entries, previous: current.entries, preserve: config.preserve, prune: false, scanRoot });
    const missing = plan.fetch.length;
    if (missing > 0) {
      throw new HostsyncError(
        `The local store lacks ${missing} file(s) of ${target.commit.slice(0, 12)} (e.g. ${plan.fetch[0]!.path}); a rollback never uses the network. Run 'hostsync sync --ref ${target.commit}' instead.`,
      );
    }
    const changes = summarizeChanges(plan);
    if (config.checkOnly) return { dest, from: current.commit, to: target.commit, generation: undefined, changes, checkOnly: true };
    for (const copy of plan.localCopies) await store.importFile(copy.sha, `${scanRoot}/${copy.path}`);
    const manifest: Manifest = { ...wanted, appliedAt: new Date(now()).toISOString(), strategy: 'rollback' };
    await applyToDestination(config, plan, manifest, current, { paths, store, now });
    const generation = await recordGeneration(paths, manifest, { kind: 'rollback', previousCommit: current.commit, changes: countByKind(changes) }, config.historyLimit);
    // Hold at the rolled-back generation until the ref moves; rolling forward to the held commit lifts it.
    const rolledBackFrom = (await readHold(paths))?.rolledBackFrom ?? current.commit;
    if (rolledBackFrom === target.commit) await clearHold(paths);
    else await writeHold(paths, { rolledBackFrom, since: manifest.appliedAt });
    await collectGarbage(config.stateDir, store).catch(() => undefined);
    return { dest, from: current.commit, to: target.commit, generation: generation.id, changes, checkOnly: false };
  } finally {
    await lock?.release();
  }
}
