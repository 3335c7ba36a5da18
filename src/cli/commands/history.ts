/** `hostsync history`: the generations applied to DEST, newest last. Works offline. */
import { listHistory } from '../../apply/history.js';
import { ExitCode, HostsyncError } from '../../errors.js';
import { destPaths } from '../../state/layout.js';
import { resolveDestination } from '../../apply/destination.js';
import { loadLooseCommandConfig } from '../load.js';
import type { CliIO } from '../io.js';

export async function runCommand(flags: Record<string, unknown>, argv: readonly string[], io: CliIO): Promise<number> {
  const { config, output } = await loadLooseCommandConfig(flags, argv, io, { repo: false, dest: true });
  if (config.dest === undefined) throw new HostsyncError('history needs --dest (or `dest` in --config).', ExitCode.Usage);
  const paths = destPaths(config.stateDir, await resolveDestination({ dest: config.dest, layout: config.layout }));
  const history = await listHistory(paths);
  if (config.json) {
    output.json({ dest: paths.dest, generations: history });
    return ExitCode.Ok;
  }
  if (history.length === 0) {
    output.line(`No generations recorded for ${paths.dest} in ${config.stateDir}.`);
    return ExitCode.Ok;
  }
  output.line(`${'id'.padStart(4)}  ${'applied at (UTC)'.padEnd(20)}  ${'kind'.padEnd(9)}  ${'commit'.padEnd(12)}  ${'strategy'.padEnd(8)}  changes  ref`);
  for (const g of history) {
    const c = g.changes;
    const changed = c.added + c.modified + c.deleted + c.modeChanged + c.typeChanged;
    output.line(`${String(g.id).padStart(4)}  ${g.appliedAt.slice(0, 19).replace('T', ' ').padEnd(20)}  ${g.kind.padEnd(9)}  ${g.commit.slice(0, 12)}  ${g.strategy.padEnd(8)}  ${String(changed).padStart(7)}  ${g.repo}${g.path ? `/${g.path}` : ''}@${g.ref}`);
  }
  return ExitCode.Ok;
}
