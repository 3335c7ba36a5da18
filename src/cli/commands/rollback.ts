/** `hostsync rollback [--to COMMIT]`: restore the previous (or named) generation, offline. */
import { listHistory } from '../../apply/history.js';
import { ExitCode, UsageError } from '../../errors.js';
import { runRollback } from '../../pipeline/rollback.js';
import { countChanges } from '../../pipeline/summary.js';
import { destPaths } from '../../state/layout.js';
import { loadLooseCommandConfig } from '../load.js';
import type { CliIO } from '../io.js';
import { jsonDocument } from '../render/json.js';
import { withOutcome } from '../outcome.js';
import { rollbackDirection, rollbackJson, rollbackLine } from '../render/rollback.js';

export async function runCommand(flags: Record<string, unknown>, _argv: readonly string[], io: CliIO): Promise<number> {
  const { config, output } = await loadLooseCommandConfig(flags, io, { repo: false, dest: true });
  if (config.dest === undefined) throw new UsageError('rollback needs the destination: pass --dest DIR, or --config FILE with "dest".');
  const to = typeof flags['to'] === 'string' ? flags['to'] : undefined;
  const dest = config.dest;
  return withOutcome('rollback', config, io, output, async () => {
    const result = await runRollback({ ...config, dest }, to, output.log);
    const history = await listHistory(destPaths(config.stateDir, result.dest));
    const direction = rollbackDirection(history, result.from, result.to, result.generation);
    const exitCode = result.checkOnly && countChanges(result.changes) > 0 ? ExitCode.Pending : ExitCode.Ok;
    const document = jsonDocument('rollback', { ...rollbackJson(result, direction), exitCode });
    if (config.json) output.json(document);
    else output.line(rollbackLine(result, direction));
    return { exitCode, document, rolledBack: !result.checkOnly };
  });
}
