/** `hostsync completion bash`: print the completion script (generated from the command table). */
import { ExitCode, UsageError } from '../../errors.js';
import { bashCompletion, SHELLS } from '../completion.js';
import type { CliIO } from '../io.js';

export async function runCommand(_flags: Record<string, unknown>, _argv: readonly string[], io: CliIO, args: readonly string[]): Promise<number> {
  const shell = args[0];
  if (shell !== 'bash') throw new UsageError(`Completion is generated for ${SHELLS.join(', ')}${shell === undefined ? '' : `, not '${shell}'`}: run \`hostsync completion bash\`.`);
  io.stdout.write(bashCompletion());
  return ExitCode.Ok;
}
