/**
 * A sync result for people (the summary `hostsync sync` prints) and for programs (its `--json`
 * fields, also dev-update's `steps[].sync`). Counts are of files and symlinks: folders come and go
 * with their contents and are not counted (src/pipeline/summary.ts).
 */
import type { SyncResult } from '../../pipeline/sync.js';
import { countChanges } from '../../pipeline/summary.js';
import { formatBytes, type Output } from '../output.js';
import { describeHeld, type Held } from '../held.js';
import { describeRollout, describeWave } from '../../rollout/describe.js';

/** The `--json` fields of a sync (docs/output.md). */
export function syncJson(result: SyncResult, held: Held | undefined): Record<string, unknown> & { ok: boolean } {
  return {
    // A --check-only run whose commit a sync would refuse (pinned keys) is not ok.
    ok: result.ok && result.signature?.status !== 'refused',
    repo: result.repo,
    ref: result.ref,
    path: result.path,
    dest: result.dest,
    commit: result.commit,
    previousCommit: result.previousCommit ?? null,
    refCommit: result.refCommit,
    held: held === undefined ? null : { commit: held.commit, refCommit: held.refCommit },
    checkOnly: result.checkOnly,
    pending: result.pending,
    source: result.source,
    strategy: result.strategy,
    strategyReason: result.strategyReason,
    changes: result.changes,
    unmanaged: result.unmanaged,
    skipped: result.skipped,
    bytesDownloaded: result.bytesDownloaded,
    blobsDownloaded: result.blobsDownloaded,
    apiRequests: result.apiRequests,
    quotaPoints: result.quotaPoints,
    // Requests for a GitHub App token: made as the App (a JWT), never charged to the installation's quota.
    authRequests: result.auth?.requests ?? 0,
    auth: result.auth ?? null,
    poll: result.fleet.poll,
    refPattern: result.fleet.refPattern ?? null,
    rollout: result.fleet.rollout ?? null,
    httpRequests: result.httpRequests,
    bytesReceived: result.bytesReceived,
    filesHashed: result.filesHashed,
    rateLimit: result.rateLimit === undefined ? null : { remaining: result.rateLimit.remaining, reset: result.rateLimit.reset },
    recovered: result.recovered ?? null,
    durationMs: result.durationMs,
    phases: result.phases,
    signature: result.signature ?? null,
    lfs: result.lfs,
  };
}

/** "3 files" / "1 file": files and symlinks, the unit every count here is in. */
export function files(count: number): string {
  return `${count} ${count === 1 ? 'file' : 'files'}`;
}

/** One line for the state a sync left (or would leave) DEST in; dev-update's sync step uses it too. */
export function syncHeadline(result: SyncResult, held: Held | undefined): string {
  const short = result.commit.slice(0, 12);
  const count = countChanges(result.changes);
  if (held !== undefined && count === 0) return describeHeld(held);
  const rollout = result.fleet.rollout;
  if (rollout?.holding === true && count === 0) return `waiting at ${short}: ${describeWave(rollout)} takes ${result.ref} ${rollout.refCommit.slice(0, 12)} at ${rollout.applyAt ?? '?'}`;
  if (result.checkOnly) return count === 0 ? `in sync at ${result.ref} ${short}` : `${files(count)} would change (${result.ref} ${short})`;
  if (count === 0) return `in sync at ${result.ref} ${short}`;
  return `${files(count)} changed (${result.ref} ${short})`;
}

/** The human summary; `detailed` lists every path (always for --check-only). */
export function renderSync(result: SyncResult, out: Output, detailed: boolean, held: Held | undefined): void {
  const p = out.paint;
  const short = result.commit.slice(0, 12);
  const where = `${result.repo}${result.path ? `/${result.path}` : ''}@${result.ref}`;
  const count = countChanges(result.changes);
  const rollout = result.fleet.rollout;
  if (held !== undefined && count === 0) {
    out.line(`${p.yellow('held')} ${result.dest}: ${describeHeld(held)}`);
  } else if (rollout?.holding === true && count === 0) {
    out.line(`${p.yellow('waiting')} ${where} ${short} (${result.dest}): ${describeWave(rollout)} takes ${rollout.refCommit.slice(0, 12)} at ${rollout.applyAt ?? '?'}`);
  } else if (result.checkOnly) {
    out.line(count === 0 ? `${p.green('in sync')} ${where} ${short} — nothing would change` : `${p.yellow('pending')} ${where} ${short} — ${files(count)} would change in ${result.dest}:`);
  } else if (count === 0) {
    out.line(`${p.green('in sync')} ${where} ${short} (${result.dest})`);
  } else {
    const from = result.previousCommit && result.previousCommit !== result.commit ? ` (was ${result.previousCommit.slice(0, 12)})` : '';
    out.line(`${p.green('updated')} ${result.dest} to ${where} ${short}${from}`);
  }
  const kinds: [keyof SyncResult['changes'], string, (s: string) => string][] = [
    ['added', 'added', p.green],
    ['modified', 'modified', p.yellow],
    ['deleted', 'deleted', p.red],
    ['modeChanged', 'mode', p.blue],
    ['typeChanged', 'type', p.magenta],
  ];
  if (detailed) {
    for (const [key, label, color] of kinds) for (const path of result.changes[key]) out.line(`  ${color(label.padEnd(8))} ${path}`);
  } else if (count > 0) {
    out.line(`  ${files(count)}: ${kinds.map(([key, label]) => `${label} ${result.changes[key].length}`).join(', ')} (files and symlinks; folders follow their contents)`);
  }
  const signature = result.signature;
  if (signature?.status === 'verified') out.line(`  ${p.green('signed')} ${signature.message}`);
  else if (signature?.status === 'refused') out.line(`  ${p.red('refused')} ${signature.message}`);
  if (rollout !== undefined && (rollout.holding || detailed)) {
    out.line(`  ${rollout.holding ? p.yellow('rollout') : p.gray('rollout')} ${describeRollout(rollout, result.ref, result.commit, Date.now())}`);
  }
  const verb = result.checkOnly ? 'would download' : 'downloaded';
  const requests = result.checkOnly ? `${result.blobsDownloaded} more API request(s)` : `${result.apiRequests} API request(s), ${result.quotaPoints} quota point(s)`;
  // Blobs, not files: files with the same content share one.
  out.line(`  ${verb} ${result.blobsDownloaded} blob(s), ${formatBytes(result.bytesDownloaded)}; ${requests}; strategy ${result.strategy}; ${(result.durationMs / 1000).toFixed(2)} s`);
  // Git LFS objects come from the LFS server, not with the blobs.
  if (result.lfs.objects > 0) out.line(`  ${verb} ${result.lfs.objects} Git LFS object(s), ${formatBytes(result.lfs.bytes)}, for ${files(result.lfs.files)} stored with Git LFS`);
  if (result.unmanaged.length > 0) {
    out.line(`  ${p.yellow(`${result.unmanaged.length} unmanaged path(s)`)} kept (not in the commit, not placed by hostsync; --prune removes them)${detailed ? ':' : ''}`);
    if (detailed) for (const path of result.unmanaged) out.line(`    ${path}`);
  }
}
