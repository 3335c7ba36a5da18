/** `hostsync sync`: one sync of one destination, with a human summary or one JSON document. */
import { ExitCode } from '../../errors.js';
import type { SyncResult } from '../../pipeline/sync.js';
import { loadCommandConfig } from '../load.js';
import type { CliIO } from '../io.js';
import { recordSyncMetrics } from '../../metrics/textfile.js';
import { runAuth, syncDeps } from '../github.js';
import { heldState } from '../held.js';
import { jsonDocument } from '../render/json.js';
import { renderSync, syncJson } from '../render/sync.js';
import { withOutcome } from '../outcome.js';

export async function runCommand(flags: Record<string, unknown>, _argv: readonly string[], io: CliIO): Promise<number> {
  const { config, output } = await loadCommandConfig(flags, io);
  return withOutcome('sync', config, io, output, async () => {
    const { runSync } = await import('../../pipeline/sync.js');
    const startedAt = Date.now();
    let result: SyncResult;
    // The token of the run: configured, or the GitHub App's installation token (src/auth/run-auth.ts).
    const auth = runAuth(config, io, output);
    try {
      result = await runSync(await auth.withToken(config), syncDeps(io, output, auth));
    } catch (error) {
      output.close();
      await recordSyncMetrics(config, { startedAt, finishedAt: Date.now(), error }, output.log);
      throw error;
    } finally {
      await auth.close();
    }
    result = { ...result, auth: auth.summary() };
    output.close();
    // --check-only reports a commit a sync would refuse (pinned keys) with the exit code of that refusal.
    const exitCode = result.signature?.status === 'refused' ? ExitCode.Failure : result.checkOnly && result.pending ? ExitCode.Pending : ExitCode.Ok;
    const held = heldState(result);
    const document = jsonDocument('sync', { ...syncJson(result, held), exitCode });
    if (config.json) output.json(document);
    else renderSync(result, output, config.verbose || config.checkOnly, held);
    await recordSyncMetrics(config, { startedAt, finishedAt: Date.now(), result, exitCode }, output.log);
    return { exitCode, document };
  });
}
