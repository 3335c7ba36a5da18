/**
 * `hostsync install-units`: write hostsync's systemd units (service and timer, plain and
 * templated) into <prefix>/etc/systemd/system, with ExecStart naming the hostsync that runs this
 * command. The work is src/units' (plan, then write); this module reads the flags and reports:
 * one line per unit, a unified diff of each unit that differs, and what to do next.
 * `--dry-run` exits 3 when something would change, 0 when every unit is already as it would be.
 */
import path from 'node:path';
import { ExitCode, UsageError } from '../../errors.js';
import { installUnits, type InstallUnitsResult } from '../../units/install.js';
import { processExecDeps, resolveExecCommand } from '../../units/exec.js';
import { dropInCommand, type UnitAction } from '../../units/plan.js';
import type { CliIO } from '../io.js';
import { plainOutput } from '../load.js';
import type { Output } from '../output.js';
import { jsonDocument } from '../render/json.js';

interface ParsedFlags {
  readonly prefix: string;
  /** `--prefix` was given: the units are for another host. */
  readonly elsewhere: boolean;
  readonly bin: string | undefined;
  readonly force: boolean;
  readonly dryRun: boolean;
  readonly json: boolean;
}

/** The command: resolve the binary, install (or plan) the units, report. Returns the exit code. */
export async function runCommand(flags: Record<string, unknown>, _argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseFlags(flags, io.cwd);
  const output = plainOutput(io, parsed.json);
  const { exec, warnings } = await resolveExecCommand(parsed.bin, { ...processExecDeps(), cwd: io.cwd }, parsed.elsewhere);
  const result = await installUnits({ prefix: parsed.prefix, exec, force: parsed.force, dryRun: parsed.dryRun });
  for (const warning of [...warnings, ...result.warnings]) output.log('warn', warning);
  const conflicts = result.units.filter((entry) => entry.action === 'conflict');
  if (conflicts.length > 0 && !parsed.dryRun) throw conflictError(result, parsed);
  const changing = result.units.some((entry) => entry.action !== 'unchanged');
  const exitCode = parsed.dryRun && changing ? ExitCode.Pending : ExitCode.Ok;
  if (parsed.json) output.json(jsonDocument('install-units', { ...toJson(result), exitCode }));
  else renderInstall(result, output);
  return exitCode;
}

function parseFlags(flags: Record<string, unknown>, cwd: string): ParsedFlags {
  const text = (name: string, what: string): string | undefined => {
    const value = flags[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value === '') throw new UsageError(`Expected \`--${name}\` to be ${what}, got ${JSON.stringify(value)}.`);
    return value;
  };
  const prefix = text('prefix', 'a directory');
  const resolved = path.resolve(cwd, prefix ?? '/');
  return {
    prefix: resolved,
    elsewhere: resolved !== path.parse(resolved).root,
    bin: text('bin', 'the path of the hostsync executable'),
    force: flags['force'] === true,
    dryRun: flags['dryRun'] === true,
    json: flags['json'] === true,
  };
}

/** The command line that shows the differences: this one, with --dry-run instead of writing. */
function dryRunCommand(parsed: ParsedFlags): string {
  const words = ['hostsync', 'install-units', ...(parsed.elsewhere ? ['--prefix', parsed.prefix] : []), ...(parsed.bin === undefined ? [] : ['--bin', parsed.bin]), '--dry-run'];
  return words.map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function conflictError(result: InstallUnitsResult, parsed: ParsedFlags): UsageError {
  const conflicts = result.units.filter((entry) => entry.action === 'conflict');
  const edits = conflicts.map((entry) => `\`${dropInCommand(entry.unit)}\``).join(', ');
  return new UsageError(
    `${conflicts.map((entry) => entry.path).join(', ')} ${conflicts.length === 1 ? 'differs' : 'differ'} from this hostsync's version; nothing was written. ` +
      `See the differences with \`${dryRunCommand(parsed)}\`. Keep local changes in a drop-in (${edits}), then pass --force to replace the ${conflicts.length === 1 ? 'file' : 'files'}.`,
  );
}

/** The `--json` fields. */
function toJson(result: InstallUnitsResult): Record<string, unknown> & { ok: boolean } {
  return {
    ok: true,
    dryRun: result.dryRun,
    wrote: result.wrote,
    prefix: result.prefix,
    directory: result.directory,
    source: result.source,
    exec: result.exec,
    execStart: result.execStart,
    units: result.units.map((entry) => ({ unit: entry.unit, path: entry.path, action: entry.action, diff: entry.diff === '' ? null : entry.diff })),
    warnings: result.warnings,
    nextSteps: result.nextSteps,
  };
}

const DONE: Record<UnitAction, string> = { create: 'created', update: 'replaced', unchanged: 'unchanged', conflict: 'differs' };
const WOULD: Record<UnitAction, string> = { create: 'would create', update: 'would replace', unchanged: 'unchanged', conflict: 'differs' };

/** The human report: one line per unit, the diffs (dry run), the ExecStart used, then what to do next. */
function renderInstall(result: InstallUnitsResult, out: Output): void {
  const verbs = result.dryRun ? WOULD : DONE;
  const width = Math.max(...Object.values(verbs).map((verb) => verb.length));
  for (const entry of result.units) {
    const verb = verbs[entry.action];
    const painted = entry.action === 'unchanged' ? out.paint.gray(verb.padEnd(width)) : entry.action === 'conflict' ? out.paint.yellow(verb.padEnd(width)) : out.paint.green(verb.padEnd(width));
    out.line(`${painted} ${entry.path}`);
  }
  if (result.dryRun) {
    for (const entry of result.units) {
      if (entry.diff === '') continue;
      out.line('');
      for (const line of entry.diff.replace(/\n$/, '').split('\n')) out.line(line.startsWith('+') && !line.startsWith('+++') ? out.paint.green(line) : line.startsWith('-') && !line.startsWith('---') ? out.paint.red(line) : line);
      if (entry.action === 'conflict') out.line(`(--force replaces it; keep local changes in a drop-in: ${dropInCommand(entry.unit)})`);
    }
    out.line('');
  }
  out.line(`ExecStart=${result.execStart} dev-update …${result.source === 'embedded' ? ' (unit texts built into this binary)' : ''}`);
  if (result.dryRun) out.line('Nothing was written (--dry-run).');
  out.line('');
  out.line('Next:');
  for (const step of result.nextSteps) out.line(`  ${step}`);
}
