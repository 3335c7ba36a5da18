/** `hostsync version` (and `--version`): the version line, or `{version}` with --json. */
import { ExitCode } from '../../errors.js';
import { VERSION } from '../../version.js';
import { versionLine } from '../help.js';
import type { CliIO } from '../io.js';
import { jsonDocument } from '../render/json.js';

export async function runCommand(flags: Record<string, unknown>, _argv: readonly string[], io: CliIO): Promise<number> {
  if (flags['json'] === true) io.stdout.write(`${JSON.stringify(jsonDocument('version', { ok: true, version: VERSION, node: process.version, platform: `${process.platform}-${process.arch}` }), null, 2)}\n`);
  else io.stdout.write(versionLine());
  return ExitCode.Ok;
}
