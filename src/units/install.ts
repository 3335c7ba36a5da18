/**
 * `installUnits`: read the unit files already in <prefix>/etc/systemd/system, plan (./plan.ts,
 * pure), and — unless it is a dry run, or a file differs and `force` is off — write the plan
 * through the one atomic writer (src/state/files.ts), so systemd never sees half a unit.
 * docs/systemd.md describes the units.
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode, HostsyncError, errorCode, errorMessage } from '../errors.js';
import { writeFileAtomic } from '../state/files.js';
import { execWarnings, formatExec, nextSteps, planUnits, renderUnit, UNIT_DIR, type UnitPlanEntry } from './plan.js';
import { loadUnitTexts, UNIT_FILE_NAMES, type UnitFileName, type UnitTexts } from './texts.js';

export interface InstallUnitsOptions {
  /** Absolute root the units go under (`/` on the host itself). */
  readonly prefix: string;
  /** The command ExecStart runs before `dev-update …`: the executable and any arguments. */
  readonly exec: readonly string[];
  /** Replace existing units whose content differs. @default false */
  readonly force?: boolean;
  /** Plan and report; write nothing. @default false */
  readonly dryRun?: boolean;
  /** @default the embedded copies in the single executable, else the package's systemd/ folder */
  readonly units?: UnitTexts;
}

export interface InstallUnitsResult {
  readonly prefix: string;
  readonly directory: string;
  readonly dryRun: boolean;
  /** Whether files were written: false for a dry run, and when a file differs without --force. */
  readonly wrote: boolean;
  readonly source: UnitTexts['source'];
  readonly exec: readonly string[];
  /** The ExecStart value before `dev-update`, quoted for systemd. */
  readonly execStart: string;
  readonly units: readonly UnitPlanEntry[];
  readonly warnings: readonly string[];
  readonly nextSteps: readonly string[];
}

/** Plan and (unless a dry run or a conflict stops it) write the units. Nothing is written when one differs without `force`. */
export async function installUnits(options: InstallUnitsOptions): Promise<InstallUnitsResult> {
  const dryRun = options.dryRun ?? false;
  const units = options.units ?? (await loadUnitTexts());
  const execStart = formatExec(options.exec);
  const directory = path.join(options.prefix, UNIT_DIR);
  const rendered = Object.fromEntries(UNIT_FILE_NAMES.map((unit) => [unit, renderUnit(unit, units.texts[unit], execStart, units.docsDir ?? null)])) as Record<UnitFileName, string>;
  const existing: Partial<Record<UnitFileName, string>> = {};
  for (const unit of UNIT_FILE_NAMES) {
    const current = await readExisting(path.join(directory, unit));
    if (current !== undefined) existing[unit] = current;
  }
  const plan = planUnits(rendered, existing, directory, options.force ?? false);
  const write = !dryRun && !plan.some((entry) => entry.action === 'conflict');
  if (write) {
    await makeDirectories(directory);
    for (const entry of plan) if (entry.action === 'create' || entry.action === 'update') await writeUnit(entry.path, entry.text);
  }
  return {
    prefix: options.prefix,
    directory,
    dryRun,
    wrote: write && plan.some((entry) => entry.action === 'create' || entry.action === 'update'),
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
 * `mkdir -p` with mode 0755, one level at a time. Node 20's `mkdir(…, { recursive: true })` spins
 * forever when a file system answers ENOENT under an existing parent (e.g. a prefix inside /proc).
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

async function writeUnit(file: string, text: string): Promise<void> {
  try {
    await writeFileAtomic(file, text, 0o644);
  } catch (error: unknown) {
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
