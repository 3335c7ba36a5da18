/**
 * `hostsync install-units`: write hostsync's systemd units (service and timer, plain and
 * templated) into <prefix>/etc/systemd/system, with ExecStart naming the hostsync that runs this
 * command. Planned first (`planUnits`, pure), then written; when an existing unit differs and
 * --force is absent nothing is written at all. The unit texts come from the package's systemd/
 * folder, else from the copies embedded in ../units.ts (single-executable builds have no package
 * folder). docs/systemd.md describes the units.
 */
import { constants } from 'node:fs';
import { access, chmod, mkdir, readFile, realpath, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { colorWanted } from '../../config/load.js';
import { ExitCode, HostsyncError, UsageError, errorCode, errorMessage } from '../../errors.js';
import { restoreStrings } from '../options.js';
import type { CliIO } from '../io.js';
import { plainOutput } from '../load.js';
import { createOutput, type Output } from '../output.js';
import { EMBEDDED_UNITS, UNIT_EXEC_PLACEHOLDER, UNIT_FILE_NAMES, type UnitFileName } from '../units.js';

/** Where systemd looks for units the administrator installs, below the prefix. */
export const UNIT_DIR = 'etc/systemd/system';

/** What happens to one unit file: `conflict` is an existing file that differs, without --force. */
export type UnitAction = 'create' | 'update' | 'unchanged' | 'conflict';

export interface UnitPlanEntry {
  readonly unit: UnitFileName;
  readonly path: string;
  readonly action: UnitAction;
  /** The text the file gets. */
  readonly text: string;
}

/** Unit texts and where they came from. */
export interface UnitTexts {
  readonly source: 'package' | 'embedded';
  readonly texts: Readonly<Record<UnitFileName, string>>;
}

export interface InstallUnitsOptions {
  /** Absolute root the units go under (`/` on the host itself). */
  readonly prefix: string;
  /** The command ExecStart runs before `dev-update …`: the executable and any arguments. */
  readonly exec: readonly string[];
  /** Replace existing units whose content differs. @default false */
  readonly force?: boolean;
  /** Plan and report; write nothing. @default false */
  readonly dryRun?: boolean;
  /** @default the package's systemd/ folder, else the embedded copies */
  readonly units?: UnitTexts;
}

export interface InstallUnitsResult {
  readonly prefix: string;
  readonly directory: string;
  readonly dryRun: boolean;
  readonly source: UnitTexts['source'];
  readonly exec: readonly string[];
  /** The ExecStart value before `dev-update`, quoted for systemd. */
  readonly execStart: string;
  readonly units: readonly UnitPlanEntry[];
  readonly warnings: readonly string[];
  readonly nextSteps: readonly string[];
}

/** The real process, for {@link resolveExecCommand}. */
export interface ExecDeps {
  readonly cwd: string;
  /** `process.execPath`: node, or the single executable itself. */
  readonly execPath: string;
  /** `process.argv[1]`: the script node runs, when not a single executable. */
  readonly argv1: string | undefined;
  readonly isSea: () => Promise<boolean>;
  readonly realpath: (file: string) => Promise<string>;
  /** Why `file` cannot be run (missing, not a file, not executable), or undefined when it can. */
  readonly whyNotExecutable: (file: string) => Promise<string | undefined>;
}

/** The command: resolve the binary, install (or plan) the units, report. Returns the exit code. */
export async function runCommand(flags: Record<string, unknown>, argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseFlags(restoreStrings(flags, argv), io.cwd);
  const output = plainOutput(io, parsed.json);
  const exec = await resolveExecCommand(parsed.bin, processExecDeps());
  const result = await installUnits({ prefix: parsed.prefix, exec, force: parsed.force, dryRun: parsed.dryRun });
  for (const warning of result.warnings) output.log('warn', warning);
  if (parsed.json) output.json(toJson(result));
  else renderInstall(result, output);
  return ExitCode.Ok;
}

interface ParsedFlags {
  readonly prefix: string;
  readonly bin: string | undefined;
  readonly force: boolean;
  readonly dryRun: boolean;
  readonly json: boolean;
}

function parseFlags(flags: Record<string, unknown>, cwd: string): ParsedFlags {
  const text = (name: string, what: string): string | undefined => {
    const value = flags[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value === '') throw new UsageError(`Expected \`--${name}\` to be ${what}, got ${JSON.stringify(value)}.`);
    return value;
  };
  const prefix = text('prefix', 'a directory');
  return {
    prefix: path.resolve(cwd, prefix ?? '/'),
    bin: text('bin', 'the path of the hostsync executable'),
    force: flags['force'] === true,
    dryRun: flags['dryRun'] === true,
    json: flags['json'] === true,
  };
}

/** The real process behind {@link ExecDeps}. */
export function processExecDeps(): ExecDeps {
  return {
    cwd: process.cwd(),
    execPath: process.execPath,
    argv1: process.argv[1],
    isSea: detectSea,
    realpath: (file) => realpath(file),
    whyNotExecutable,
  };
}

/**
 * Whether this process is a Node single executable application. `process.getBuiltinModule`
 * (Node ≥ 20.16) rather than `import('node:sea')`: a dynamic import survives esbuild's CommonJS
 * bundle as a real import(), which a single executable cannot resolve, so detection silently failed.
 */
async function detectSea(): Promise<boolean> {
  try {
    const sea = process.getBuiltinModule('node:sea') as { isSea(): boolean } | undefined;
    return sea?.isSea() === true;
  } catch {
    return false;
  }
}

async function whyNotExecutable(file: string): Promise<string | undefined> {
  try {
    if (!(await stat(file)).isFile()) return 'it is not a file';
    await access(file, constants.X_OK);
    return undefined;
  } catch (error: unknown) {
    const code = errorCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'no such file';
    if (code === 'EACCES') return 'it is not executable';
    return errorMessage(error);
  }
}

/**
 * The command the units run: `--bin` as given (made absolute), else the single executable, else
 * node with the real path of the script it runs (`bin/hostsync.js`), symlinks resolved so that an
 * npm bin link does not matter.
 */
export async function resolveExecCommand(bin: string | undefined, deps: ExecDeps): Promise<readonly string[]> {
  if (bin !== undefined) {
    const file = path.resolve(deps.cwd, bin);
    const problem = await deps.whyNotExecutable(file);
    if (problem !== undefined) throw new UsageError(`\`--bin ${file}\`: ${problem}. Pass the hostsync executable the units should run.`);
    return [file];
  }
  if (await deps.isSea()) return [deps.execPath];
  if (deps.argv1 === undefined || deps.argv1 === '') {
    throw new UsageError('Cannot tell where this hostsync is installed (no script in the process arguments); pass `--bin /path/to/hostsync`.');
  }
  let script: string;
  try {
    script = await deps.realpath(path.resolve(deps.cwd, deps.argv1));
  } catch (error: unknown) {
    throw new UsageError(`Cannot resolve the running script ${deps.argv1}: ${errorMessage(error)}; pass \`--bin /path/to/hostsync\`.`, { cause: error });
  }
  if (!/\.[cm]?js$/.test(script)) {
    throw new UsageError(`hostsync is running from ${script}, which node cannot run on its own; pass \`--bin\` with the installed hostsync, e.g. \`--bin /usr/local/bin/hostsync\`.`);
  }
  return [deps.execPath, script];
}

/**
 * One ExecStart word, quoted for systemd: `%` (specifiers) doubled, and words with blanks, quotes
 * or backslashes put in double quotes with C escapes. `$` and control characters are refused:
 * systemd would expand or split on them. See systemd.service(5), "Command lines".
 */
export function quoteExecWord(word: string): string {
  if (/[\u0000-\u001f\u007f]/.test(word)) throw new UsageError(`Cannot put ${JSON.stringify(word)} on an ExecStart line: it holds a control character.`);
  if (word.includes('$')) throw new UsageError(`Cannot put ${JSON.stringify(word)} on an ExecStart line: systemd would read \`$\` as a variable; use a path without it.`);
  const escaped = word.replace(/%/g, '%%');
  if (escaped !== '' && !/[\s"'\\]/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** `exec` as the start of an ExecStart value. */
export function formatExec(exec: readonly string[]): string {
  return exec.map(quoteExecWord).join(' ');
}

/** `text` with ExecStart pointing at `execStart` instead of {@link UNIT_EXEC_PLACEHOLDER}; timers pass through. */
export function renderUnit(unit: UnitFileName, text: string, execStart: string): string {
  const pattern = new RegExp(`^ExecStart=${escapeRegExp(UNIT_EXEC_PLACEHOLDER)}(?= )`, 'gm');
  const found = text.match(pattern)?.length ?? 0;
  const wanted = unit.endsWith('.service') ? 1 : 0;
  if (found !== wanted) {
    throw new HostsyncError(
      `The unit text of ${unit} has ${found} \`ExecStart=${UNIT_EXEC_PLACEHOLDER} …\` line(s), expected ${wanted}; reinstall hostsync to restore its systemd/ folder.`,
    );
  }
  return text.replace(pattern, () => `ExecStart=${execStart}`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Pure: what each unit file in `directory` becomes, given its current content (undefined: absent). */
export function planUnits(
  rendered: Readonly<Record<UnitFileName, string>>,
  existing: Readonly<Partial<Record<UnitFileName, string>>>,
  directory: string,
  force: boolean,
): readonly UnitPlanEntry[] {
  return UNIT_FILE_NAMES.map((unit) => {
    const text = rendered[unit];
    const current = existing[unit];
    const action: UnitAction = current === undefined ? 'create' : current === text ? 'unchanged' : force ? 'update' : 'conflict';
    return { unit, path: path.join(directory, unit), action, text };
  });
}

/** The unit texts from the package's systemd/ folder when it is there, else the embedded copies. */
export async function loadUnitTexts(): Promise<UnitTexts> {
  let root: string;
  try {
    root = fileURLToPath(new URL('../../../', import.meta.url));
  } catch {
    return { source: 'embedded', texts: EMBEDDED_UNITS };
  }
  try {
    const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { name?: unknown };
    if (pkg.name !== 'hostsync') return { source: 'embedded', texts: EMBEDDED_UNITS };
    const entries = await Promise.all(UNIT_FILE_NAMES.map(async (unit) => [unit, await readFile(path.join(root, 'systemd', unit), 'utf8')] as const));
    return { source: 'package', texts: Object.fromEntries(entries) as Record<UnitFileName, string> };
  } catch {
    return { source: 'embedded', texts: EMBEDDED_UNITS };
  }
}

/** Plan, check and (unless dry-run) write the units. Throws UsageError on conflicts without --force. */
export async function installUnits(options: InstallUnitsOptions): Promise<InstallUnitsResult> {
  const dryRun = options.dryRun ?? false;
  const units = options.units ?? (await loadUnitTexts());
  const execStart = formatExec(options.exec);
  const directory = path.join(options.prefix, UNIT_DIR);
  const rendered = Object.fromEntries(UNIT_FILE_NAMES.map((unit) => [unit, renderUnit(unit, units.texts[unit], execStart)])) as Record<UnitFileName, string>;
  const existing: Partial<Record<UnitFileName, string>> = {};
  for (const unit of UNIT_FILE_NAMES) {
    const current = await readExisting(path.join(directory, unit));
    if (current !== undefined) existing[unit] = current;
  }
  const plan = planUnits(rendered, existing, directory, options.force ?? false);
  const conflicts = plan.filter((entry) => entry.action === 'conflict');
  if (conflicts.length > 0) {
    throw new UsageError(
      `${conflicts.map((entry) => entry.path).join(', ')} already ${conflicts.length === 1 ? 'exists' : 'exist'} with different content; nothing was written. ` +
        'Pass --force to replace it with this version (keep local changes in a drop-in instead: `systemctl edit hostsync.service`).',
    );
  }
  if (!dryRun) {
    await makeDirectories(directory);
    for (const entry of plan) if (entry.action === 'create' || entry.action === 'update') await writeUnit(entry.path, entry.text);
  }
  return {
    prefix: options.prefix,
    directory,
    dryRun,
    source: units.source,
    exec: options.exec,
    execStart,
    units: plan,
    warnings: execWarnings(options.exec),
    nextSteps: nextSteps(options.prefix, directory),
  };
}

async function readExisting(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error: unknown) {
    const code = errorCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'EISDIR') throw new HostsyncError(`${file} is a directory, not a unit file; move it away and run \`hostsync install-units\` again.`);
    throw fsError(error, 'read', file);
  }
}

/**
 * `mkdir -p`, one level at a time. Node 20's `mkdir(…, { recursive: true })` spins forever when a
 * file system answers ENOENT under an existing parent (e.g. a prefix inside /proc).
 */
async function makeDirectories(directory: string): Promise<void> {
  const missing: string[] = [];
  for (let current = directory; ; current = path.dirname(current)) {
    try {
      if (!(await stat(current)).isDirectory()) throw new HostsyncError(`Cannot create ${directory}: ${current} is not a directory.`);
      break;
    } catch (error: unknown) {
      if (error instanceof HostsyncError) throw error;
      if (errorCode(error) !== 'ENOENT' || path.dirname(current) === current) throw fsError(error, 'create', directory);
      missing.push(current);
    }
  }
  for (const dir of missing.reverse()) {
    try {
      await mkdir(dir, { mode: 0o755 });
    } catch (error: unknown) {
      if (errorCode(error) !== 'EEXIST') throw fsError(error, 'create', dir);
    }
  }
}

/** Write beside the target, then rename: systemd never sees half a unit. */
async function writeUnit(file: string, text: string): Promise<void> {
  const temp = `${file}.hostsync-tmp-${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(temp, text, { flag: 'wx', mode: 0o644 });
    await chmod(temp, 0o644);
    await rename(temp, file);
  } catch (error: unknown) {
    await unlink(temp).catch(() => undefined);
    throw fsError(error, 'write', file);
  }
}

function fsError(error: unknown, verb: string, file: string): HostsyncError {
  const code = errorCode(error);
  if (code === 'EACCES' || code === 'EPERM') {
    return new HostsyncError(`Cannot ${verb} ${file}: permission denied. Run it as root, or write the units into another tree with --prefix DIR.`, ExitCode.Failure, { cause: error });
  }
  if (code === 'EROFS') {
    return new HostsyncError(
      `Cannot ${verb} ${file}: read-only file system. On NixOS /etc/systemd/system comes from the system configuration: write the units with --prefix DIR and add them with systemd.packages (docs/systemd.md).`,
      ExitCode.Failure,
      { cause: error },
    );
  }
  return new HostsyncError(`Cannot ${verb} ${file}: ${errorMessage(error)}.`, ExitCode.Failure, { cause: error });
}

/** Paths the sandbox in the units hides or that vanish later. */
export function execWarnings(exec: readonly string[]): readonly string[] {
  const warnings: string[] = [];
  for (const word of exec) {
    if (/^\/(home|root|run\/user)(\/|$)/.test(word)) {
      warnings.push(`${word} is in a home directory, which the units hide (ProtectHome=yes): the service would fail to start. Install hostsync elsewhere or pass --bin.`);
    } else if (/^\/(tmp|var\/tmp)(\/|$)/.test(word)) {
      warnings.push(`${word} is in a temporary directory, which the units replace (PrivateTmp=yes): the service would fail to start. Install hostsync elsewhere or pass --bin.`);
    } else if (word.startsWith('/nix/store/')) {
      warnings.push(`${word} is a Nix store path, which garbage collection removes after an upgrade; prefer a stable link such as --bin /run/current-system/sw/bin/hostsync.`);
    }
  }
  return warnings;
}

function nextSteps(prefix: string, directory: string): readonly string[] {
  const steps: string[] = [];
  if (prefix !== path.parse(prefix).root) steps.push(`Copy the files in ${directory} to /etc/systemd/system on the host, then:`);
  steps.push(
    'Write /etc/hostsync/config.json (repo, ref, dest, rebuild) and, for a private repository, the token: install -m 0600 /dev/null /etc/hostsync/token, then put the token in it.',
    'systemctl daemon-reload && systemctl enable --now hostsync.timer',
    'Another repository: /etc/hostsync/NAME.json and /etc/hostsync/NAME.token, then systemctl enable --now hostsync@NAME.timer',
    'A DEST other than /etc/hypervisor (or /etc/NAME), or a rebuild such as nixos-rebuild switch, needs a drop-in: see docs/systemd.md.',
  );
  return steps;
}

/** The `--json` shape. */
export function toJson(result: InstallUnitsResult): Record<string, unknown> {
  return {
    ok: true,
    dryRun: result.dryRun,
    prefix: result.prefix,
    directory: result.directory,
    source: result.source,
    exec: result.exec,
    execStart: result.execStart,
    units: result.units.map((entry) => ({ unit: entry.unit, path: entry.path, action: entry.action })),
    warnings: result.warnings,
    nextSteps: result.nextSteps,
  };
}

const DONE: Record<UnitAction, string> = { create: 'created', update: 'replaced', unchanged: 'unchanged', conflict: 'differs' };
const WOULD: Record<UnitAction, string> = { create: 'would create', update: 'would replace', unchanged: 'unchanged', conflict: 'differs' };

/** The human report: one line per unit, the ExecStart used, then what to do next. */
export function renderInstall(result: InstallUnitsResult, out: Output): void {
  const verbs = result.dryRun ? WOULD : DONE;
  const width = Math.max(...Object.values(verbs).map((verb) => verb.length));
  for (const entry of result.units) {
    const verb = verbs[entry.action];
    const painted = entry.action === 'unchanged' ? out.paint.gray(verb.padEnd(width)) : out.paint.green(verb.padEnd(width));
    out.line(`${painted} ${entry.path}`);
  }
  out.line(`ExecStart=${result.execStart} dev-update …${result.source === 'embedded' ? ' (unit texts built into this binary)' : ''}`);
  if (result.dryRun) out.line('Nothing was written (--dry-run).');
  out.line('');
  out.line('Next:');
  for (const step of result.nextSteps) out.line(`  ${step}`);
}
