/**
 * `hostsync restore PATH --to COMMIT`: one file back to its version at a kept generation, from the
 * local store, offline, through the journaled apply (src/pipeline/restore-file.ts).
 */
import { ExitCode, UsageError } from '../../errors.js';
import { loadLooseCommandConfig } from '../load.js';
import type { CliIO } from '../io.js';
import { jsonDocument } from '../render/json.js';
import { withOutcome } from '../outcome.js';

export async function runCommand(flags: Record<string, unknown>, _argv: readonly string[], io: CliIO, args: readonly string[]): Promise<number> {
  const { to, ...settings } = flags;
  const { config, output } = await loadLooseCommandConfig(settings, io, { repo: false, dest: true });
  if (config.dest === undefined) throw new UsageError('restore needs the destination: pass --dest DIR, or --config FILE with "dest".');
  const path = args[0];
  if (path === undefined) throw new UsageError('restore needs the file: hostsync restore PATH --to COMMIT (PATH relative to DEST).');
  if (typeof to !== 'string' && typeof to !== 'number') throw new UsageError(`restore needs --to COMMIT: 'hostsync history --file ${path}' lists the commits that hold ${path}.`);
  const dest = config.dest;
  return withOutcome('restore', config, io, output, async () => {
    const { restoreFile } = await import('../../pipeline/restore-file.js');
    const result = await restoreFile({ ...config, dest }, path, String(to), output.log);
    const exitCode = result.checkOnly && result.change !== 'unchanged' ? ExitCode.Pending : ExitCode.Ok;
    const document = jsonDocument('restore', { ok: true, exitCode, ...result, generation: result.generation ?? null });
    if (config.json) output.json(document);
    else {
      const at = `its version at ${result.commit.slice(0, 12)}`;
      if (result.change === 'unchanged') output.line(`${result.path} in ${result.dest} already is ${at}; nothing to restore.`);
      else if (result.checkOnly) output.line(`would restore ${result.path} in ${result.dest} to ${at} (${result.change})`);
      else {
        output.line(`restored ${result.path} in ${result.dest} to ${at} (generation ${result.generation}, ${result.change})`);
        output.line(`  DEST stays at ${result.appliedCommit.slice(0, 12)} otherwise; the next sync of another commit replaces ${result.path} with the repository's version.`);
      }
    }
    return { exitCode, document };
  });
}
