/**
 * `hostsync diff [--drift]`: what a sync would change in DEST (or, with --drift, what changed there
 * since the last apply) as unified diffs on stdout, a summary line on stderr. Exit 0 when nothing
 * differs, 3 when something does — the code `sync --check-only` gives pending changes
 * (docs/exit-codes.md) — and 1 on failure.
 */
import { ExitCode, UsageError } from '../../errors.js';
import type { DiffResult } from '../../pipeline/diff.js';
import { colorWanted } from '../../config/load.js';
import { loadCommandConfig, loadLooseCommandConfig } from '../load.js';
import type { CliIO } from '../io.js';
import type { Output } from '../output.js';
import { runAuth, syncDeps } from '../github.js';
import { jsonDocument } from '../render/json.js';
import { diffJson, diffSummary, renderPatch } from '../render/diff.js';

export async function runCommand(flags: Record<string, unknown>, _argv: readonly string[], io: CliIO): Promise<number> {
  const { drift, ...settings } = flags;
  const { result, output, json } = drift === true ? await driftOf(settings, io) : await pendingOf(settings, io);
  const exitCode = result.files.length > 0 ? ExitCode.Pending : ExitCode.Ok;
  if (json) {
    output.json(jsonDocument('diff', diffJson(result, exitCode)));
    return exitCode;
  }
  const colour = io.stdout.isTTY === true && colorWanted(true, io.env);
  // Off a terminal the patch goes out byte for byte (redacted): `hostsync diff > x.patch` keeps it exact.
  const write = colour ? (text: string) => output.line(text.replace(/\n$/, '')) : (text: string) => void io.stdout.write(io.redact(text));
  renderPatch(result, output, write, colour);
  output.log('info', diffSummary(result));
  return exitCode;
}

interface Compared {
  readonly result: DiffResult;
  readonly output: Output;
  readonly json: boolean;
}

/** DEST against the last applied commit, offline. */
async function driftOf(flags: Record<string, unknown>, io: CliIO): Promise<Compared> {
  const { config, output } = await loadLooseCommandConfig(flags, io, { repo: false, dest: true });
  if (config.dest === undefined) throw new UsageError('diff --drift needs the destination: pass --dest DIR, or --config FILE with "dest".');
  const { diffDrift } = await import('../../pipeline/diff.js');
  return { result: await diffDrift({ ...config, dest: config.dest }, output.log), output, json: config.json };
}

/** DEST against the commit at --ref, read as a sync reads it. */
async function pendingOf(flags: Record<string, unknown>, io: CliIO): Promise<Compared> {
  const { config, output } = await loadCommandConfig(flags, io);
  const { diffPending } = await import('../../pipeline/diff.js');
  // The token of the run: configured, or the GitHub App's installation token (src/auth/run-auth.ts).
  const auth = runAuth(config, io, output);
  try {
    const result = await diffPending(await auth.withToken(config), syncDeps(io, output, auth));
    return { result, output, json: config.json };
  } finally {
    output.close();
    await auth.close();
  }
}
