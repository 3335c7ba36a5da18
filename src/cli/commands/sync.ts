/** `hostsync sync`: one sync of one destination, with a human summary or one JSON object. */
import { ExitCode } from '../../errors.js';
import type { SyncResult } from '../../pipeline/sync.js';
import { countChanges } from '../../pipeline/summary.js';
import { formatBytes, type Output } from '../output.js';
import { loadCommandConfig } from '../load.js';
import type { CliIO } from '../io.js';
import { recordSyncMetrics } from '../metrics.js';
import { githubClient, retryPolicy } from '../github.js';

export async function runCommand(flags: Record<string, unknown>, argv: readonly string[], io: CliIO): Promise<number> {
  const { config, output } = await loadCommandConfig(flags, argv, io);
  const { runSync } = await import('../../pipeline/sync.js');
  const startedAt = Date.now();
  let result: SyncResult;
  try {
    result = await runSync(config, {
    log: output.log,
    env: io.env,
    signal: io.signal,
    retry: retryPolicy(io.timing),
    onProgress: output.progress.transfer,
    onPhase: output.progress.phase,
    createClient: (c, signal) =>
      githubClient(c, c.repo, output, io.timing, signal),
    });
  } catch (error) {
    output.close();
    await recordSyncMetrics(config, { startedAt, finishedAt: Date.now(), error }, output.log);
    throw error;
  }
  output.close();
  if (config.json) output.json(toJson(result));
  else renderSync(result, output, config.verbose || config.checkOnly);
  const exitCode = result.checkOnly && result.pending ? ExitCode.Pending : ExitCode.Ok;
  await recordSyncMetrics(config, { startedAt, finishedAt: Date.now(), result, exitCode }, output.log);
  return exitCode;
}

/** The `--json` shape (documented in docs/output.md). */
export function toJson(result: SyncResult): Record<string, unknown> {
  return {
    ok: result.ok,
    repo: result.repo,
    ref: result.ref,
    path: result.path,
    dest: result.dest,
    commit: result.commit,
    previousCommit: result.previousCommit ?? null,
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
    httpRequests: result.httpRequests,
    bytesReceived: result.bytesReceived,
    filesHashed: result.filesHashed,
    rateLimit: result.rateLimit === undefined ? null : { remaining: result.rateLimit.remaining, reset: result.rateLimit.reset },
    recovered: result.recovered ?? null,
    durationMs: result.durationMs,
    phases: result.phases,
  };
}

/** The human summary; `detailed` lists every path (always for --check-only). */
export function renderSync(result: SyncResult, out: Output, detailed: boolean): void {
  const p = out.paint;
  const short = result.commit.slice(0, 12);
  const where = `${result.repo}${result.path ? `/${result.path}` : ''}@${result.ref}`;
  const count = countChanges(result.changes);
  if (result.checkOnly) {
    out.line(count === 0 ? `${p.green('in sync')} ${where} ${short} — nothing would change` : `${p.yellow('pending')} ${where} ${short} — ${count} change(s) would be applied to ${result.dest}:`);
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
    out.line(`  ${kinds.map(([key, label]) => `${label} ${result.changes[key].length}`).join(', ')}`);
  }
  const verb = result.checkOnly ? 'would download' : 'downloaded';
  const requests = result.checkOnly ? `${result.blobsDownloaded} more API request(s)` : `${result.apiRequests} API request(s)`;
  out.line(`  ${verb} ${result.blobsDownloaded} blob(s), ${formatBytes(result.bytesDownloaded)}; ${requests}; strategy ${result.strategy}; ${(result.durationMs / 1000).toFixed(2)} s`);
  if (result.unmanaged.length > 0) {
    out.line(`  ${p.yellow(`${result.unmanaged.length} unmanaged path(s)`)} kept (not in the commit, not placed by hostsync; --prune removes them)${detailed ? ':' : ''}`);
    if (detailed) for (const path of result.unmanaged) out.line(`    ${path}`);
  }
}
