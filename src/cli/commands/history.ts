/**
 * `hostsync history`: the generations applied to DEST, newest last; with `--file PATH`, the versions
 * of one file across them (commit, date, size, change, whether the store still holds it). Offline.
 */
import { listHistory } from '../../apply/history.js';
import { ExitCode, UsageError } from '../../errors.js';
import { formatBytes } from '../../format.js';
import { destPaths } from '../../state/layout.js';
import { resolveDestination } from '../../apply/destination.js';
import { loadLooseCommandConfig } from '../load.js';
import type { CliIO } from '../io.js';
import type { Output } from '../output.js';
import { jsonDocument } from '../render/json.js';

export async function runCommand(flags: Record<string, unknown>, _argv: readonly string[], io: CliIO): Promise<number> {
  const { file, ...settings } = flags;
  const { config, output } = await loadLooseCommandConfig(settings, io, { repo: false, dest: true });
  if (config.dest === undefined) throw new UsageError('history needs the destination: pass --dest DIR, or --config FILE with "dest".');
  const paths = destPaths(config.stateDir, await resolveDestination({ dest: config.dest, layout: config.layout }));
  if (typeof file === 'string') return fileVersions(file, paths, config.json, output);
  if (file !== undefined) throw new UsageError('--file needs a path: hostsync history --file flake.nix');
  const history = await listHistory(paths);
  if (config.json) {
    output.json(jsonDocument('history', { ok: true, dest: paths.dest, generations: history }));
    return ExitCode.Ok;
  }
  if (history.length === 0) {
    output.line(`No generations recorded for ${paths.dest} in ${config.stateDir}.`);
    return ExitCode.Ok;
  }
  output.line(`${'id'.padStart(4)}  ${'applied at (UTC)'.padEnd(20)}  ${'kind'.padEnd(9)}  ${'commit'.padEnd(12)}  ${'strategy'.padEnd(8)}  files  ref`);
  for (const g of history) {
    const c = g.changes;
    const changed = c.added + c.modified + c.deleted + c.modeChanged + c.typeChanged;
    output.line(`${String(g.id).padStart(4)}  ${g.appliedAt.slice(0, 19).replace('T', ' ').padEnd(20)}  ${g.kind.padEnd(9)}  ${g.commit.slice(0, 12)}  ${g.strategy.padEnd(8)}  ${String(changed).padStart(5)}  ${g.repo}${g.path ? `/${g.path}` : ''}@${g.ref}`);
  }
  return ExitCode.Ok;
}

/** `history --file PATH`. */
async function fileVersions(given: string, paths: ReturnType<typeof destPaths>, json: boolean, output: Output): Promise<number> {
  const [{ fileHistory, relativeToDest }, { createObjectStore }] = await Promise.all([import('../../pipeline/file-history.js'), import('../../state/objects.js')]);
  const path = relativeToDest(given, paths.dest);
  const versions = await fileHistory(paths, createObjectStore(paths.objects, { readOnly: true }), path);
  if (json) {
    output.json(jsonDocument('history', { ok: true, dest: paths.dest, file: path, versions }));
    return ExitCode.Ok;
  }
  if (versions.every((version) => version.change === 'absent')) {
    output.line(versions.length === 0 ? `No generations recorded for ${paths.dest}.` : `${path} is in none of the ${versions.length} kept generation(s) of ${paths.dest}.`);
    return ExitCode.Ok;
  }
  output.line(`${path} in ${paths.dest}, oldest first:`);
  output.line(`${'id'.padStart(4)}  ${'applied at (UTC)'.padEnd(20)}  ${'commit'.padEnd(12)}  ${'change'.padEnd(9)}  ${'size'.padStart(9)}  ${'blob'.padEnd(12)}  stored`);
  for (const v of versions) {
    const size = v.size === null ? (v.sha === null ? '' : '?') : formatBytes(v.size);
    output.line(`${String(v.generation).padStart(4)}  ${v.appliedAt.slice(0, 19).replace('T', ' ').padEnd(20)}  ${v.commit.slice(0, 12)}  ${v.change.padEnd(9)}  ${size.padStart(9)}  ${(v.sha ?? '').slice(0, 12).padEnd(12)}  ${v.sha === null ? '' : v.stored ? 'yes' : 'no'}`.trimEnd());
  }
  output.line(`\`hostsync restore ${path} --to COMMIT\` puts a stored version back, offline; the next sync of another commit replaces it with the repository's.`);
  return ExitCode.Ok;
}
