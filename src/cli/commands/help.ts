/** `hostsync help [command]`: the help of hostsync, or of one command. */
import { ExitCode } from '../../errors.js';
import { commandHelp, programHelp } from '../help.js';
import type { CliIO } from '../io.js';
import { commandSpec } from '../program.js';
import { unknownCommand } from '../suggest.js';

export async function runCommand(_flags: Record<string, unknown>, _argv: readonly string[], io: CliIO, args: readonly string[]): Promise<number> {
  const name = args[0];
  if (name === undefined) {
    io.stdout.write(programHelp());
    return ExitCode.Ok;
  }
  const spec = commandSpec(name);
  if (spec === undefined) throw unknownCommand(name);
  io.stdout.write(commandHelp(spec));
  return ExitCode.Ok;
}
