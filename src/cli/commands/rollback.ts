/** `hostsync rollback [--to COMMIT]`: restore the previous (or named) generation, offline. */
import { ExitCode, HostsyncError } from '../../errors.js';
import { runRollback } from '../../pipeline/rollback.js';
import { countChanges } from '../../pipeline/summary.js';
import { loadLooseCommandConfig } from '../load.js';
import type { CliIO } from '../io.js';
import { restoreStrings } from '../options.js';

export async function runCommand(flags: Record<string, unknown>, argv: readonly string[], io: CliIO): Promise<number> {
  const { config, output } = await loadLooseCommandConfig(flags, argv, io, { repo: false, dest: true });
  if (config.dest === undefined) throw new HostsyncError('rollback needs --dest (or `dest` in --config).', ExitCode.Usage);
  const raw = restoreStrings(flags, argv)['to'];
  const to = typeof raw === 'string' ? raw : undefined;
  const result = await runRollback({ ...config, dest: config.dest }, to, output.log);
  const count = countChanges(result.changes);
  if (config.json) output.json({ ok: true, ...result });
  else if (result.checkOnly) output.line(`would roll ${result.dest} back from ${result.from.slice(0, 12)} to ${result.to.slice(0, 12)}: ${count} change(s)`);
  else output.line(`rolled ${result.dest} back from ${result.from.slice(0, 12)} to ${result.to.slice(0, 12)} (generation ${result.generation}): ${count} change(s)`);
  return result.checkOnly && count > 0 ? ExitCode.Pending : ExitCode.Ok;
}
